// models.importExamples at the size it is used at: full batches (MAX_IMPORT_BATCH), through the shortcut
// past zod (ordinary examples) and through zod (anything else). Replays count as duplicates and change
// nothing; a bad example anywhere in a batch refuses all of it with its index; every accepted call leaves
// one audit row. On PGlite, and on PostgreSQL with DATABASE_URL; the REST face is checked over HTTP too.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { and, asc, eq } from 'drizzle-orm';
import { MAX_IMPORT_BATCH } from '../../api/routers/models';
import { auditLog, examples, models } from '../../db/schema';
import { assertNothingWritten, fingerprint, startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv;
before(async () => {
  env = await startCallerEnv();
});
after(async () => {
  await env?.stop();
});

const example = (i: number, label: 0 | 1 | null = 1) => ({
  externalId: `row-${i}`,
  input: { subject: `s${i}`, body: `w${i % 97} free` },
  label,
  slices: { lang: i % 2 ? 'en' : 'de' },
  split: (i % 5 === 0 ? 'heldout' : 'train') as 'train' | 'heldout',
});
const batch = (from: number, n: number, label: 0 | 1 = 1) => Array.from({ length: n }, (_, i) => example(from + i, label));

async function newModel() {
  const name = `import-${uid()}`;
  await env.clients.operator.models.register.mutate({ name, description: 'import test' });
  const [m] = await env.db.select({ id: models.id }).from(models).where(eq(models.name, name));
  return { name, id: m!.id };
}
const stored = (modelId: number) =>
  env.db.select({ externalId: examples.externalId, label: examples.label, slices: examples.slices, split: examples.split }).from(examples).where(eq(examples.modelId, modelId)).orderBy(asc(examples.id));
const audits = (name: string) => env.db.select({ details: auditLog.details }).from(auditLog).where(and(eq(auditLog.action, 'models.importExamples'), eq(auditLog.target, name)));

test('a full batch, then its replay, then an overlapping one: new ones counted once, known ones left as they were, one audit row per call', async () => {
  const { name, id } = await newModel();
  const op = env.clients.operator.models.importExamples;
  assert.deepEqual(await op.mutate({ name, examples: batch(0, MAX_IMPORT_BATCH) }), { inserted: MAX_IMPORT_BATCH, duplicates: 0 });
  // The replay with other labels: nothing changes.
  assert.deepEqual(await op.mutate({ name, examples: batch(0, MAX_IMPORT_BATCH, 0) }), { inserted: 0, duplicates: MAX_IMPORT_BATCH });
  assert.deepEqual(await op.mutate({ name, examples: batch(MAX_IMPORT_BATCH - 10, 30, 0) }), { inserted: 20, duplicates: 10 });
  const rows = await stored(id);
  assert.equal(rows.length, MAX_IMPORT_BATCH + 20);
  assert.deepEqual(rows.slice(0, 3), [
    { externalId: 'row-0', label: 1, slices: { lang: 'de' }, split: 'heldout' },
    { externalId: 'row-1', label: 1, slices: { lang: 'en' }, split: 'train' },
    { externalId: 'row-2', label: 1, slices: { lang: 'de' }, split: 'train' },
  ]);
  assert.equal(rows.filter((r) => r.label === 1).length, MAX_IMPORT_BATCH, 'the replayed labels did not overwrite');
  assert.deepEqual(rows.at(-1), { externalId: `row-${MAX_IMPORT_BATCH + 19}`, label: 0, slices: { lang: 'en' }, split: 'train' });
  const trail = await audits(name);
  assert.deepEqual(
    trail.map((a) => (a.details as { input: { examples: string } }).input.examples),
    [`[${MAX_IMPORT_BATCH} items]`, `[${MAX_IMPORT_BATCH} items]`, '[30 items]'],
  );
});

test('examples without slices, with observedAt, with label null: stored as zod would have given them', async () => {
  const { name, id } = await newModel();
  const { slices: _, ...bare } = example(1);
  const dated = { ...example(2), observedAt: '2026-03-01T10:00:00+02:00' };
  const unlabelled = example(3, null);
  assert.deepEqual(await env.clients.operator.models.importExamples.mutate({ name, examples: [bare, dated, unlabelled] }), { inserted: 3, duplicates: 0 });
  const rows = await env.db.select().from(examples).where(eq(examples.modelId, id)).orderBy(asc(examples.id));
  assert.deepEqual(rows.map((r) => [r.externalId, r.slices, r.label, r.observedAt?.toISOString() ?? null]), [
    ['row-1', {}, 1, null],
    ['row-2', { lang: 'de' }, 1, '2026-03-01T08:00:00.000Z'],
    ['row-3', { lang: 'en' }, null, null],
  ]);
});

test('one bad example anywhere in a full batch refuses the batch with its index, and nothing is written', async () => {
  const { name } = await newModel();
  const cases: [string, number, Record<string, unknown>, RegExp][] = [
    ['label 2 last', MAX_IMPORT_BATCH - 1, { label: 2 }, new RegExp(`examples\\[${MAX_IMPORT_BATCH - 1}\\]|examples\\.${MAX_IMPORT_BATCH - 1}`)],
    ['an unknown split in the middle', 1000, { split: 'test' }, /examples\[1000\]|examples\.1000/],
    ['a number where the model takes text', 1500, { input: { subject: 'x', body: 42 } }, /examples\[1500\].*body/],
    ['an externalId seen earlier in the batch', 1999, { externalId: 'row-7' }, /examples\[1999\]\.externalId 'row-7' appears twice/],
  ];
  for (const [what, at, change, names] of cases) {
    const before = await fingerprint(env.db);
    const examplesIn = batch(0, MAX_IMPORT_BATCH).map((e, i) => (i === at ? { ...e, ...change } : e));
    const err = await env.clients.operator.models.importExamples.mutate({ name, examples: examplesIn as never }).then(
      () => assert.fail(`${what}: accepted`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TRPCClientError, `${what}: ${String(err)}`);
    assert.equal((err.data as { code: string }).code, 'BAD_REQUEST', `${what}: ${err.message}`);
    assert.match(`${err.message} ${JSON.stringify(err.data)}`, names, what);
    await assertNothingWritten(env.db, before, what);
  }
});

test('over REST: a batch and its replay, and a bad one refused with 400', async () => {
  const { name, id } = await newModel();
  const url = await env.serve();
  const post = (body: unknown) =>
    fetch(`${url}/api/models/${name}/examples`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const first = await post({ examples: batch(0, 500) });
  assert.equal(first.status, 200);
  assert.deepEqual(await first.json(), { inserted: 500, duplicates: 0 });
  const again = await post({ examples: batch(0, 500) });
  assert.deepEqual(await again.json(), { inserted: 0, duplicates: 500 });
  const bad = await post({ examples: [...batch(500, 10), { ...example(510), label: 'yes' }] });
  assert.equal(bad.status, 400);
  // trpc-to-openapi's message is general; the issues name the field.
  const body = (await bad.json()) as { message: string; issues?: { path?: unknown[] }[] };
  assert.deepEqual(body.issues?.[0]?.path, ['examples', 10, 'label'], JSON.stringify(body));
  assert.equal((await stored(id)).length, 500);
});
