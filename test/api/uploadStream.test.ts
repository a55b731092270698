// The streamed upload (api/uploadRoute): POST /api/reports/evaluate-file with the file as the body
// (text/csv, application/x-ndjson) and the options in the query string. It refuses what the JSON
// procedure refuses, in the same order and shape (401, 403, then the input), answers the same
// document, writes the same audit row (without the file), and stops reading a body past its cap (413),
// as every request the edge reads does.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { listAuditLog } from '../../db/auditLog';
import { closeEvaluateFilePool } from '../../api/evaluateFileWorker';
import { startCallerEnv, type CallerEnv } from '../caller';

let env: CallerEnv & { url: string };

before(async () => {
  const callerEnv = await startCallerEnv();
  env = Object.assign(callerEnv, { url: await callerEnv.serve() });
});
after(async () => {
  await closeEvaluateFilePool();
  await env?.stop();
});

interface Answer {
  status: number;
  text: string;
  ms: number;
}

/**
 * Sends `chunks` one write at a time (with a pause between, so they arrive as separate reads), or
 * `size` bytes of filler without buffering them; resolves on the answer, even if the server stops
 * reading before the body is sent.
 */
function send(path: string, opts: { token?: string; type?: string; chunks?: Buffer[]; size?: number; declareLength?: boolean; prefix?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const total = opts.chunks ? opts.chunks.reduce((s, c) => s + c.length, 0) : (opts.size ?? 0);
    const req = http.request(`${env.url}${path}`, {
      method: 'POST',
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.type ? { 'content-type': opts.type } : {}),
        ...(opts.declareLength === false ? {} : { 'content-length': String(total) }),
      },
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(got).toString('utf8'), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    void (async () => {
      if (opts.chunks) {
        for (const c of opts.chunks) {
          if (answered || req.destroyed) return;
          req.write(c);
          await new Promise((r) => setTimeout(r, 5));
        }
        return req.end();
      }
      const filler = Buffer.alloc(1 << 20, 0x61);
      if (opts.prefix) req.write(opts.prefix);
      for (let sent = opts.prefix?.length ?? 0; sent < total; sent += filler.length) {
        if (answered || req.destroyed) return;
        const ok = req.write(filler.subarray(0, Math.min(filler.length, total - sent)));
        if (!ok) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    })().catch(() => {});
  });
}

function csv(rows: number, groups: string[]): string {
  let s = 20251206;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  const lines = ['label,score,group'];
  for (let i = 0; i < rows; i++) {
    const y = rnd() < 0.4 ? 1 : 0;
    lines.push(`${y},${Math.min(1, Math.max(0, (y ? 0.65 : 0.35) + (rnd() - 0.5) * 0.8)).toFixed(4)},${groups[i % groups.length]}`);
  }
  return `${lines.join('\n')}\n`;
}

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;
const UPLOAD = '/api/reports/evaluate-file';

test('a CSV body with query options is evaluated, and answers what the JSON body answers', async () => {
  const file = csv(400, ['a', 'b']);
  const streamed = await send(`${UPLOAD}?fileName=s.csv&slices=group&sensitive=group&threshold=0.5&bootstrap=50`, { token: env.tokens.operator, type: 'text/csv', chunks: [Buffer.from(file)] });
  assert.equal(streamed.status, 200, streamed.text.slice(0, 500));
  const viaJson = await env.clients.operator.reports.evaluateFile.mutate({ content: file, fileName: 's.csv', format: 'csv', slices: ['group'], sensitive: ['group'], threshold: 0.5, bootstrap: 50 });
  assert.deepEqual(json(streamed.text), JSON.parse(JSON.stringify(viaJson)));
});

test('a multi-byte character split between reads and between the 1 MiB slices gives the same packet as the JSON body', async () => {
  // Slice values of two, three and four bytes a character; filler rows in front until a character straddles byte 2^20.
  const rows = csv(100_000, ['zoë', '日本', '🙂x']).slice('label,score,group\n'.length);
  let file = '';
  for (let pad = 0; pad < 100 && (Buffer.from(file)[1 << 20] ?? 0) >> 6 !== 0b10; pad++) file = `label,score,group\n${'1,0.5,ab\n'.repeat(pad)}${rows}`;
  const bytes = Buffer.from(file);
  assert.equal(bytes[1 << 20]! & 0xc0, 0x80, 'a character straddles the slice boundary');
  // Reads cut in the middle of a character too.
  const cut = bytes.indexOf(Buffer.from('日')) + 1;
  const chunks = [bytes.subarray(0, cut), bytes.subarray(cut, (1 << 20) - 1), bytes.subarray((1 << 20) - 1, (1 << 20) + 1), bytes.subarray((1 << 20) + 1)];
  const streamed = await send(`${UPLOAD}?slices=group&sensitive=group&fileName=u.csv`, { token: env.tokens.operator, type: 'text/csv; charset=utf-8', chunks });
  assert.equal(streamed.status, 200, streamed.text.slice(0, 500));
  const viaJson = await env.clients.operator.reports.evaluateFile.mutate({ content: file, fileName: 'u.csv', format: 'csv', slices: ['group'], sensitive: ['group'] });
  const doc = json(streamed.text) as { fairness: { group: { by_group: Record<string, unknown> } } };
  assert.deepEqual(Object.keys(doc.fairness.group.by_group).sort(), ['ab', 'zoë', '日本', '🙂x'].sort());
  assert.deepEqual(doc, JSON.parse(JSON.stringify(viaJson)));
});

test('JSONL as application/x-ndjson and application/jsonl', async () => {
  const file = Array.from({ length: 50 }, (_, i) => JSON.stringify({ label: i % 2, score: (i % 10) / 10, g: i % 3 ? 'x' : 'y' })).join('\n');
  for (const type of ['application/x-ndjson', 'application/jsonl']) {
    const res = await send(`${UPLOAD}?slices=g`, { token: env.tokens.operator, type, chunks: [Buffer.from(file)] });
    assert.equal(res.status, 200, `${type}: ${res.text.slice(0, 300)}`);
    assert.equal(json(res.text).rows, 50);
  }
});

test('refusals: 401 without a token, 403 for a viewer, 415 for another media type or charset, 400 naming the option or the line', async () => {
  const body = [Buffer.from('label,score\n1,0.9\n')];
  const none = await send(UPLOAD, { type: 'text/csv', chunks: body });
  assert.equal(none.status, 401, none.text);
  assert.equal(json(none.text).code, 'UNAUTHORIZED');
  const viewer = await send(UPLOAD, { token: env.tokens.viewer, type: 'text/csv', chunks: body });
  assert.equal(viewer.status, 403, viewer.text);
  assert.match(json(viewer.text).message as string, /needs 'operator'/);
  const plain = await send(UPLOAD, { token: env.tokens.operator, type: 'text/plain', chunks: body });
  assert.equal(plain.status, 415, plain.text);
  const latin1 = await send(UPLOAD, { token: env.tokens.operator, type: 'text/csv; charset=iso-8859-1', chunks: body });
  assert.equal(latin1.status, 415, latin1.text);

  const cases: [string, RegExp][] = [
    ['threshold=2', /'threshold'/],
    ['threshold=high', /'threshold'/],
    ['bootstrap=3', /'bootstrap'/],
    ['bootstrap=50&bootstrap=60', /'bootstrap' is given 2 times/],
    ['colour=red', /'colour' is not an option/],
    ['constructor=1', /'constructor' is not an option/],
    ['format=jsonl', /'format'/],
    ['policy=%7Bnot', /'policy' is not valid JSON/],
    ['policy=%7B%22rules%22%3A5%7D', /'policy/],
    [`slices=${'x'.repeat(101)}`, /'slices/],
    ['fileName=a%00b', /'fileName'.*cannot be stored/],
    ['slices=a,b%00c', /'slices.1'.*cannot be stored/],
  ];
  for (const [query, message] of cases) {
    const res = await send(`${UPLOAD}?${query}`, { token: env.tokens.operator, type: 'text/csv', chunks: body });
    assert.equal(res.status, 400, `${query}: ${res.text}`);
    const err = json(res.text);
    assert.equal(err.code, 'BAD_REQUEST');
    assert.match(err.message as string, message, query);
  }
  const badRow = await send(UPLOAD, { token: env.tokens.operator, type: 'text/csv', chunks: [Buffer.from('label,score\n1,0.9\n0,0.2\n0,high\n')] });
  assert.equal(badRow.status, 400, badRow.text);
  assert.match(json(badRow.text).message as string, /^line 4, column score/);
  const empty = await send(UPLOAD, { token: env.tokens.operator, type: 'text/csv', chunks: [] });
  assert.equal(empty.status, 400, empty.text);
});

test('the audit row is written, with the options and the size of the file, not the file', async () => {
  const file = csv(200, ['a']);
  const res = await send(`${UPLOAD}?fileName=audit.csv&slices=group`, { token: env.tokens.operator, type: 'text/csv', chunks: [Buffer.from(file)] });
  assert.equal(res.status, 200, res.text.slice(0, 300));
  const [row] = (await listAuditLog(env.db, { limit: 50 })).filter((a) => a.action === 'reports.evaluateFile');
  assert.ok(row, 'an audit row');
  assert.equal(row.actor, env.identities.operator.subject);
  assert.deepEqual(row.details, { role: 'operator', input: { fileName: 'audit.csv', slices: ['group'], format: 'csv', content: `[${Buffer.byteLength(file)} bytes, not kept]` } });
});

test('413 past the cap, quickly and without reading the rest: a streamed file, a JSON body, a tRPC body, declared or chunked', async () => {
  const big = 65 * 1024 * 1024;
  const tries = [
    { what: 'streamed, declared', path: UPLOAD, type: 'text/csv', declareLength: true },
    { what: 'streamed, chunked', path: UPLOAD, type: 'text/csv', declareLength: false },
    { what: 'REST JSON, declared', path: UPLOAD, type: 'application/json', declareLength: true, prefix: '{"content":"' },
    { what: 'REST JSON, chunked', path: UPLOAD, type: 'application/json', declareLength: false, prefix: '{"content":"' },
    { what: 'tRPC JSON, declared', path: '/trpc/reports.evaluateFile', type: 'application/json', declareLength: true, prefix: '{"content":"' },
  ];
  for (const { what, ...opts } of tries) {
    const res = await send(opts.path, { token: env.tokens.operator, size: big, ...opts }).catch((err: Error) => ({ status: 0, text: `${err.message}`, ms: 0 }));
    assert.equal(res.status, 413, `${what}: ${res.text.slice(0, 300)}`);
    assert.ok(res.ms < 10_000, `${what}: answered in ${Math.round(res.ms)} ms`);
  }
  // The server still serves.
  const health = await fetch(`${env.url}/api/health`);
  assert.equal(health.status, 200);
});
