// The CLI as a script runs it: spawned against a real stack, judged by exit codes, stdout and the API's rows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TRPCClientError } from '@trpc/client';
import { count, eq } from 'drizzle-orm';
import { examples, models } from '../../db/schema';
import { CliError, EXIT, UnreachableError, exampleOf, exitCodeOf, readRecords } from '../../bin/cli';
import { eventOf } from '../../bin/commands/ingest';
import { heldOutOf, runExitCode } from '../../bin/commands/runs';
import { approveAsRead, registerModelWithData, startTestEnv, uid, type TestEnv } from '../helpers';

const dir = mkdtempSync(path.join(tmpdir(), 'retrain-cli-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
const trpcError = (code: string, httpStatus: number) => new TRPCClientError('x', { result: { error: { message: 'x', code: -1, data: { code, httpStatus } } } as never });

test('exit codes: one per cause', () => {
  assert.equal(exitCodeOf(trpcError('UNAUTHORIZED', 401)), EXIT.auth);
  assert.equal(exitCodeOf(trpcError('FORBIDDEN', 403)), EXIT.auth);
  assert.equal(exitCodeOf(trpcError('NOT_FOUND', 404)), EXIT.notFound);
  assert.equal(exitCodeOf(trpcError('CONFLICT', 409)), EXIT.conflict);
  assert.equal(exitCodeOf(trpcError('PRECONDITION_FAILED', 412)), EXIT.conflict);
  assert.equal(exitCodeOf(trpcError('INTERNAL_SERVER_ERROR', 503)), EXIT.unreachable);
  assert.equal(exitCodeOf(trpcError('BAD_REQUEST', 400)), EXIT.other);
  assert.equal(exitCodeOf(new TRPCClientError('fetch failed', { cause: new UnreachableError('http://h/trpc', new Error('refused')) })), EXIT.unreachable);
  assert.equal(exitCodeOf(new CliError('no token', EXIT.auth)), EXIT.auth);
  assert.equal(exitCodeOf(new Error('boom')), EXIT.other);
  assert.deepEqual(['promoted', 'awaiting_approval', 'rejected', 'rolled_back', 'failed'].map(runExitCode), [0, 8, 6, 6, 1]);
});

test('--held-out: split, a duration, or a fraction (the server judges the window)', () => {
  assert.deepEqual(heldOutOf('split'), { kind: 'split' });
  assert.deepEqual(heldOutOf('30d'), { kind: 'time', newest: '30d' });
  assert.deepEqual(heldOutOf(' 0.2 '), { kind: 'time', newest: 0.2 });
  assert.deepEqual(heldOutOf('.25'), { kind: 'time', newest: 0.25 });
  assert.deepEqual(heldOutOf('2'), { kind: 'time', newest: 2 });
});

test('CSV events: attributes.<k> columns, numbers typed, empty cells left out', () => {
  assert.deepEqual(eventOf({ requestId: 'q', version: '3', score: '0.5', decision: '', 'attributes.lang': 'en' }, true, ['version', 'score']), {
    requestId: 'q',
    version: 3,
    score: 0.5,
    attributes: { lang: 'en' },
  });
  const jsonl = { kind: 'thumbs', up: true };
  assert.equal(eventOf(jsonl, false, []), jsonl);
});

test('files: JSONL and CSV records keep their line numbers; CSV rows become examples typed by the features', () => {
  assert.deepEqual(readRecords('{"a":1}\n\n{"a":2}\n', 'x.jsonl'), [
    { line: 1, record: { a: 1 } },
    { line: 3, record: { a: 2 } },
  ]);
  assert.throws(() => readRecords('{"a":1}\nnope\n', 'x.jsonl'), /x\.jsonl:2: not valid JSON/);
  const rows = readRecords('externalId,label,split,body,n,slice.lang\ne1,1,heldout,"hi, there",3,en\ne2,,,x,,\n', 'x.csv');
  assert.deepEqual(
    rows.map((r) => r.line),
    [2, 3],
  );
  const features = [
    { name: 'body', kind: 'text' as const },
    { name: 'n', kind: 'number' as const },
  ];
  assert.deepEqual(exampleOf(rows[0]!.record, true, features), { externalId: 'e1', label: 1, split: 'heldout', input: { body: 'hi, there', n: 3 }, slices: { lang: 'en' } });
  assert.deepEqual(exampleOf(rows[1]!.record, true, features), { externalId: 'e2', label: null, split: 'train', input: { body: 'x', n: null }, slices: {} });
});

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.stop();
});

/** Spawned asynchronously: the API under test answers from this process's event loop. */
function cli(args: string[], token?: string, url?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bin/retrain.ts', ...args],
      { encoding: 'utf8', env: { ...process.env, RETRAIN_API_URL: url ?? env.url, RETRAIN_TOKEN: token ?? '' }, timeout: 300_000 },
      (err, out, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out, err: stderr }),
    );
  });
}

test('models register + import CSV and JSONL, a bad row reported by its line', async () => {
  const name = `cli-${uid()}`;
  const policy = file('policy.json', JSON.stringify({ minSliceSupport: 10, rules: [{ kind: 'bound', id: 'fpr', metric: 'fpr', slices: 'overall', max: 0.1 }] }));
  const reg = await cli(['models', 'register', name, '--description', 'from the CLI', '--policy', policy, '--review-sla', '3600', '--json'], env.tokens.operator);
  assert.equal(reg.code, 0, reg.err);
  assert.equal(JSON.parse(reg.out).policyVersion, 1);
  const review = await cli(['review', name, '--json'], env.tokens.viewer);
  assert.equal(JSON.parse(review.out).slaSeconds, 3600, 'the review SLA the model was registered with');
  assert.equal((await cli(['models', 'register', `${name}-x`, '--review-sla', 'soon'], env.tokens.operator)).code, EXIT.usage);
  const csv = file('ex.csv', 'externalId,label,split,body,slice.lang\nc1,1,train,win money now,en\nc2,0,heldout,"lunch, tomorrow?",de\n');
  const jsonl = file('ex.jsonl', [JSON.stringify({ externalId: 'j1', input: { body: 'hello' }, label: 0, split: 'train' }), JSON.stringify({ externalId: 'j2', input: { body: 'x' }, label: 7, split: 'train' })].join('\n'));
  const a = await cli(['models', 'import', name, csv, '--json'], env.tokens.operator);
  assert.equal(a.code, 0, a.err);
  assert.deepEqual(JSON.parse(a.out).totals, { inserted: 2, duplicates: 0 });
  const b = await cli(['models', 'import', name, jsonl, '--json'], env.tokens.operator);
  assert.equal(b.code, EXIT.other, 'a refused row fails the command');
  const summary = JSON.parse(b.out);
  assert.equal(summary.totals.inserted, 1);
  assert.deepEqual(summary.bad.map((x: { line: number }) => x.line), [2]);
  assert.match(b.err, /ex\.jsonl:2: refused/);
  const rows = await env.services.opened.db
    .select({ id: examples.externalId, label: examples.label, split: examples.split })
    .from(examples)
    .innerJoin(models, eq(models.id, examples.modelId))
    .where(eq(models.name, name))
    .orderBy(examples.externalId);
  assert.deepEqual(
    rows.map((r) => [r.id, r.label, r.split]),
    [
      ['c1', 1, 'train'],
      ['c2', 0, 'heldout'],
      ['j1', 0, 'train'],
    ],
  );
});

test('models import sends batches in parallel: every good row once, the bad ones by line in order, a second import all duplicates', async () => {
  const name = `cli-par-${uid()}`;
  assert.equal((await cli(['models', 'register', name, '--description', 'parallel import', '--json'], env.tokens.operator)).code, 0);
  const bad = new Set([700, 2300, 4999]);
  const lines = Array.from({ length: 5000 }, (_, i) =>
    JSON.stringify({ externalId: `p${i + 1}`, input: { body: `row ${i + 1}` }, label: bad.has(i + 1) ? 7 : (i % 2) as 0 | 1, split: i % 5 ? 'train' : 'heldout' }),
  );
  const jsonl = file('many.jsonl', lines.join('\n'));
  const first = await cli(['models', 'import', name, jsonl, '--batch', '1000', '--parallel', '3', '--json'], env.tokens.operator);
  assert.equal(first.code, EXIT.other, 'refused rows fail the command');
  const summary = JSON.parse(first.out);
  assert.deepEqual(summary.bad.map((x: { line: number }) => x.line), [700, 2300, 4999]);
  assert.deepEqual([summary.rows, summary.sent, summary.totals], [5000, 4997, { inserted: 4997, duplicates: 0 }]);
  const again = await cli(['models', 'import', name, jsonl, '--json'], env.tokens.operator);
  assert.deepEqual(JSON.parse(again.out).totals, { inserted: 0, duplicates: 4997 });
  const [n] = await env.services.opened.db.select({ n: count() }).from(examples).innerJoin(models, eq(models.id, examples.modelId)).where(eq(models.name, name));
  assert.equal(n!.n, 4997);
  assert.equal((await cli(['models', 'import', name, jsonl, '--parallel', '0'], env.tokens.operator)).code, EXIT.usage);
});

test('tokens list --json names no secret; policy set then diff; a 404, a bad token, an unreachable URL', async () => {
  const list = await cli(['tokens', 'list', '--json'], env.tokens.admin);
  assert.equal(list.code, 0, list.err);
  assert.ok(JSON.parse(list.out).length >= 4);
  for (const t of Object.values(env.tokens)) assert.ok(!list.out.includes(t), 'a secret in the output');

  const model = await registerModelWithData(env);
  const current = await env.clients.viewer.gates.getPolicy.query({ model });
  const next = { ...current.policy, rules: current.policy.rules.map((r) => (r.id === 'overall-fpr' ? { ...r, max: 0.1 } : r)) };
  const set = await cli(['policy', 'set', model, file('p2.json', JSON.stringify(next)), '--json'], env.tokens.operator);
  assert.equal(set.code, 0, set.err);
  assert.equal(JSON.parse(set.out).version, 2);
  const diff = await cli(['policy', 'diff', model, '--json'], env.tokens.viewer);
  assert.equal(diff.code, 0, diff.err);
  assert.deepEqual(JSON.parse(diff.out).changes, [{ path: 'rules[overall-fpr].max', kind: 'changed', before: 0.08, after: 0.1 }]);

  const missing = await cli(['models', 'get', `no-such-${uid()}`], env.tokens.viewer);
  assert.equal(missing.code, EXIT.notFound, missing.err);
  const bad = await cli(['models', 'list'], 'not-a-token');
  assert.equal(bad.code, EXIT.auth, bad.err);
  const down = await cli(['models', 'list'], 'x', 'http://127.0.0.1:9');
  assert.equal(down.code, EXIT.unreachable, down.err);
  assert.match(down.err, /could not reach http:\/\/127\.0\.0\.1:9\/trpc\/models\.list/);
  const version = await cli(['--version']);
  assert.equal(version.out.trim(), '0.1.0');
});

test('runs start --wait stops at the gate (exit 8), runs watch follows to promoted (0); predictions and feedback from files', async () => {
  const model = await registerModelWithData(env);
  const r = await cli(['runs', 'start', '--model', model, '--wait', '--json', '--interval', '0.5'], env.tokens.operator);
  assert.equal(r.code, EXIT.awaitingApproval, r.err);
  const run = JSON.parse(r.out);
  assert.equal(run.status, 'awaiting_approval');
  assert.equal((await env.clients.viewer.runs.get.query({ runId: run.runId })).status, 'awaiting_approval');
  assert.match(r.err, /started run/);

  // Approved by a second person: `runs watch` follows it to promoted (exit 0).
  await approveAsRead(env.clients.approver, run.runId, 'read the packet');
  const watched = await cli(['runs', 'watch', run.runId, '--json', '--interval', '0.5'], env.tokens.viewer);
  assert.equal(watched.code, 0, watched.err);
  assert.equal(JSON.parse(watched.out).status, 'promoted');

  // The new champion answers traffic logged from a file, and feedback on it arrives from another.
  const v = run.candidateVersion as number;
  const now = new Date().toISOString();
  const preds = file('preds.csv', `requestId,version,score,occurredAt,attributes.lang\nq1,${v},0.9,${now},en\nq2,${v},0.2,${now},de\n`);
  const logged = await cli(['predictions', 'log', model, preds, '--json'], env.tokens.admin);
  assert.equal(logged.code, 0, logged.err);
  assert.equal(JSON.parse(logged.out).totals.logged, 2);
  const events = file('events.jsonl', [JSON.stringify({ idempotencyKey: 'k1', kind: 'thumbs', up: false, version: v, requestId: 'q1', occurredAt: now })].join('\n'));
  const fed = await cli(['feedback', 'ingest', model, events, '--json'], env.tokens.admin);
  assert.equal(fed.code, 0, fed.err);
  assert.deepEqual(JSON.parse(fed.out).totals, { received: 1, inserted: 1, duplicates: 0, labelled: 0, conflicts: 0, unlinked: 0 });
});
