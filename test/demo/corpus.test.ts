import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignHeldOut, chronologicalParts, loadCorpus, parseEmail, type CorpusEmail } from '../../demo/corpus';

function counts<T extends string>(emails: CorpusEmail[], f: (e: CorpusEmail) => T): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of emails) out[f(e)] = (out[f(e)] ?? 0) + 1;
  return out;
}

test('loads all 6,046 e-mails with unique ids and the real group counts', () => {
  const emails = loadCorpus();
  assert.equal(emails.length, 6046);
  assert.equal(new Set(emails.map((e) => e.externalId)).size, 6046);
  // Counted from the package's data/ folders.
  assert.deepEqual(counts(emails, (e) => e.externalId.split('/')[0]!), {
    'easy-ham-1': 2500,
    'easy-ham-2': 1400,
    'hard-ham-1': 250,
    'spam-1': 500,
    'spam-2': 1396,
  });
  assert.deepEqual(counts(emails, (e) => e.slices.corpus_group), { easy_ham: 3900, hard_ham: 250, spam: 1896 });
  assert.deepEqual(counts(emails, (e) => String(e.label)), { '0': 4150, '1': 1896 });
  for (const e of emails) assert.equal(e.label, e.slices.corpus_group === 'spam' ? 1 : 0);
});

test('is cached and sorted chronologically, unknown dates last', () => {
  const a = loadCorpus();
  const b = loadCorpus();
  assert.notEqual(a, b, 'returns a fresh array');
  assert.equal(a[0], b[0], 'but the parsed objects are cached');
  let seenNull = false;
  for (let i = 1; i < a.length; i++) {
    const prev = a[i - 1]!;
    const cur = a[i]!;
    if (cur.sentAt === null) {
      seenNull = true;
      if (prev.sentAt === null) assert.ok(prev.externalId < cur.externalId);
      continue;
    }
    assert.ok(!seenNull, 'a dated e-mail after an undated one');
    assert.ok(prev.sentAt! < cur.sentAt! || (prev.sentAt === cur.sentAt && prev.externalId < cur.externalId));
  }
  const dated = a.filter((e) => e.sentAt !== null);
  assert.ok(dated.length >= 6000, `only ${dated.length} dated`);
  for (const e of dated) {
    const y = Number(e.sentAt!.slice(0, 4));
    assert.ok(y >= 1995 && y <= 2010);
    assert.equal(e.slices.month, e.sentAt!.slice(0, 7));
  }
});

test('every slice attribute is populated with a plausible distribution', () => {
  const emails = loadCorpus();
  const fmt = counts(emails, (e) => e.slices.format);
  assert.ok(fmt.html! > 500 && fmt.plain! > 3000, JSON.stringify(fmt));
  const tld = counts(emails, (e) => e.slices.sender_tld);
  assert.ok(tld.country_code! > 300 && tld.generic! > 3000, JSON.stringify(tld));
  const cs = counts(emails, (e) => e.slices.charset);
  for (const k of ['ascii', 'latin', 'none', 'cjk', 'utf8', 'other']) assert.ok((cs[k] ?? 0) > 0, `charset ${k}: ${JSON.stringify(cs)}`);
  const len = counts(emails, (e) => e.slices.length);
  for (const k of ['short', 'medium', 'long']) assert.ok((len[k] ?? 0) > 100, `length ${k}: ${JSON.stringify(len)}`);
  const months = counts(emails, (e) => e.slices.month);
  assert.ok(Object.keys(months).filter((m) => months[m]! >= 50).length >= 6, JSON.stringify(months));
  // html is much commoner in spam than in ham: a sanity check that slices carry signal.
  const htmlRate = (g: string): number => {
    const grp = emails.filter((e) => e.slices.corpus_group === g);
    return grp.filter((e) => e.slices.format === 'html').length / grp.length;
  };
  assert.ok(htmlRate('spam') > 3 * htmlRate('easy_ham'));
  for (const e of emails) {
    assert.deepEqual(Object.keys(e.input).sort(), ['body', 'charset', 'content_type', 'from_domain', 'subject']);
    assert.ok(e.input.body!.length <= 8000);
    if (e.slices.format === 'html') assert.ok(!/<\/?(html|body|td|font)\b/i.test(e.input.body!), `tags left in ${e.externalId}`);
  }
  // Plain-text mail that only mentions a few tags keeps them; that should stay rare.
  assert.ok(emails.filter((e) => /<\/?(html|body|td|font)\b/i.test(e.input.body!)).length < 10);
});

test('parseEmail handles headers, MIME, QP, html and odd dates', () => {
  const text = [
    'From someone@example.com  Tue Aug  6 11:51:02 2002',
    'From: "Sales" <Deals@Shop.Example.CO.UK>',
    'Subject: =?iso-8859-1?Q?Caf=E9_deals?=',
    'Date: Thu, 22 Aug 0102 12:07:35 +0800',
    'Content-Type: multipart/alternative;',
    '\tboundary="XYZ"',
    '',
    'preamble',
    '--XYZ',
    'Content-Type: text/plain; charset="ISO-8859-1"',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Buy n=',
    'ow =3D cheap',
    '--XYZ',
    'Content-Type: text/html; charset="ISO-8859-1"',
    '',
    '<html><body><b>Buy now</b></body></html>',
    '--XYZ--',
    '',
  ].join('\n');
  const e = parseEmail({ id: '00001', group: 'spam-1', checksum: { value: '0123456789abcdef' }, text });
  assert.equal(e.externalId, 'spam-1/00001/01234567');
  assert.equal(e.label, 1);
  assert.equal(e.sentAt, '2002-08-22T04:07:35.000Z'); // "0102" is the tm_year bug for 2002
  assert.deepEqual(e.input, {
    subject: 'Café deals',
    from_domain: 'shop.example.co.uk',
    content_type: 'multipart/alternative',
    charset: 'iso-8859-1',
    body: 'Buy now = cheap',
  });
  assert.deepEqual(e.slices, {
    corpus_group: 'spam',
    format: 'html',
    sender_tld: 'country_code',
    charset: 'latin',
    length: 'short',
    month: '2002-08',
  });

  const bad = parseEmail({
    id: '2',
    group: 'easy-ham-2',
    checksum: { value: 'ffffffffff' },
    text: 'From: nobody\nDate: Mon, 28 Jul 1980 14:01:35\n\nhello',
  });
  assert.equal(bad.sentAt, null);
  assert.equal(bad.slices.month, 'unknown');
  assert.equal(bad.slices.sender_tld, 'unknown');
  assert.equal(bad.slices.charset, 'none');
  assert.equal(bad.slices.format, 'plain');
  assert.equal(bad.label, 0);
});

test('held-out split is stratified, seeded and independent of input order', () => {
  const emails = loadCorpus();
  const split = assignHeldOut(emails);
  assert.equal(split.size, emails.length);
  const held = emails.filter((e) => split.get(e.externalId) === 'heldout');
  assert.deepEqual(counts(held, (e) => e.slices.corpus_group), {
    easy_ham: Math.round(0.25 * 3900),
    hard_ham: Math.round(0.25 * 250),
    spam: Math.round(0.25 * 1896),
  });

  // Deterministic shuffle of the input must not change anything.
  const shuffled = emails.slice();
  let s = 12345;
  for (let i = shuffled.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  assert.deepEqual(assignHeldOut(shuffled), split);

  const other = assignHeldOut(emails, { seed: 8 });
  let differ = 0;
  for (const [id, v] of split) if (other.get(id) !== v) differ++;
  assert.ok(differ > 500, 'a different seed gives a different split');

  const tenth = assignHeldOut(emails, { fraction: 0.1 });
  assert.equal([...tenth.values()].filter((v) => v === 'heldout').length, 390 + 25 + 190);
});

test('chronologicalParts cuts the chronological order', () => {
  const emails = loadCorpus();
  const reversed = emails.slice().reverse();
  const [first, second] = chronologicalParts(reversed, [0.5]);
  assert.equal(first!.length, 3023);
  assert.equal(second!.length, 3023);
  assert.deepEqual(first, emails.slice(0, 3023));
  const parts = chronologicalParts(emails, [0.25, 0.5, 0.75]);
  assert.equal(parts.length, 4);
  assert.equal(parts.reduce((n, p) => n + p.length, 0), emails.length);
  assert.deepEqual(chronologicalParts(emails, []), [emails]);
  assert.throws(() => chronologicalParts(emails, [0.6, 0.4]), /ascending/);
});
