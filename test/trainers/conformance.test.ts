// The trainer conformance suite (`retrain trainer check`) against the built-in trainer on the control
// plane's own training queue, on real Temporal and the real data plane: every check passes; and a queue
// nobody serves fails describe naming the queue within the time-to-start.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NativeConnection, Worker } from '@temporalio/worker';
import { eq } from 'drizzle-orm';
import { issueToken } from '../../db/tokens';
import type { TrainInput } from '../../trainers/contract';
import { datasetSnapshots, models } from '../../db/schema';
import { BUILTIN_TRAINER_NAME } from '../../trainers/builtin';
import { checkTargetOf, checkTrainer, formatCheckReport, payloadSizes, slowParams } from '../../temporal-config/trainerCheck';
import { builtinDescription, createBuiltinTrainer } from '../../activities/index';
import { startTestEnv, uid, type TestEnv } from '../helpers';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.stop();
});

test('the built-in trainer passes every check of the conformance suite', async () => {
  const started = Date.now();
  const lines: string[] = [];
  const report = await checkTrainer({
    ...checkTargetOf(env.services),
    taskQueue: env.services.taskQueues.training,
    rows: 1200,
    largeRows: 50_000,
    log: (m) => lines.push(m),
  });
  const wall = (Date.now() - started) / 1000;
  console.log(formatCheckReport(report));
  console.log(`suite wall time: ${wall.toFixed(1)} s`);
  const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
  assert.deepEqual(Object.keys(byName), ['describe', 'data', 'train', 'score', 'learns', 'determinism', 'idempotent-retry', 'bad-params', 'cancellation', 'large-snapshot']);
  for (const c of report.checks) assert.equal(c.status, 'passed', `${c.name}: ${c.status}: ${c.detail}`);
  assert.equal(report.passed, true);
  assert.equal(report.trainer?.name, BUILTIN_TRAINER_NAME);
  // The scratch model is left in place, with its two snapshots (small, and large by reference).
  const [m] = await env.services.opened.db.select().from(models).where(eq(models.name, report.model!));
  assert.ok(m, `scratch model ${report.model} exists`);
  assert.equal(m.trainerQueue, env.services.taskQueues.training);
  const snaps = await env.services.opened.db.select().from(datasetSnapshots).where(eq(datasetSnapshots.modelId, m.id));
  assert.equal(snaps.length, 2);
  assert.equal(Math.max(...snaps.map((s) => s.trainCount + s.heldoutCount)), 50_000);
  assert.match(byName['large-snapshot']!.detail, /rows\/s/);
});

test('a queue nobody serves fails describe, naming the queue, within the time-to-start', async () => {
  const queue = `nobody-${uid()}`;
  const started = Date.now();
  const report = await checkTrainer({ ...checkTargetOf(env.services), taskQueue: queue, timeToStartSeconds: 3 });
  const wall = (Date.now() - started) / 1000;
  assert.equal(report.passed, false);
  const [describe, ...rest] = report.checks;
  assert.equal(describe!.name, 'describe');
  assert.equal(describe!.status, 'failed');
  assert.ok(describe!.detail.includes(queue), describe!.detail);
  assert.match(describe!.detail, /within 3 s/);
  assert.ok(wall < 3 + 10, `answered in ${wall} s`);
  assert.ok(rest.length > 0 && rest.every((c) => c.status === 'inconclusive'), JSON.stringify(rest));
  assert.equal(report.model, null, 'no scratch model without a trainer');
});

test('a sloppy trainer (params ignored, any contract version taken, a fresh seed each time, data-sized answers) fails the checks it breaks', async () => {
  // The built-in trainer with its promises broken: what the suite exists to catch.
  const { token } = await issueToken(env.services.opened.db, { subject: `sloppy-${uid()}`, role: 'trainer', createdBy: 'test' });
  const builtin = createBuiltinTrainer({ token: () => token, apiUrl: () => env.url });
  let draws = 0;
  const sloppy = {
    'trainer.describe': builtin['trainer.describe'],
    'trainer.train': async (input: TrainInput) => {
      const out = await builtin['trainer.train']({ ...input, contractVersion: 1, params: {}, seed: input.seed + 1000 * ++draws });
      // Per-row losses in its answer: a payload that grows with the data.
      return { ...out, metrics: Object.fromEntries(Array.from({ length: Math.min(out.trainedOn, 5000) }, (_, i) => [`loss${i}`, 0.5])) };
    },
    'trainer.score': builtin['trainer.score'],
  };
  const queue = `sloppy-${uid()}`;
  const connection = await NativeConnection.connect({ address: env.services.temporalAddress });
  const worker = await Worker.create({ connection, namespace: env.services.namespace, taskQueue: queue, activities: sloppy });
  try {
    const report = await worker.runUntil(checkTrainer({ ...checkTargetOf(env.services), taskQueue: queue, rows: 800, largeRows: 1000 }));
    console.log(formatCheckReport(report));
    const status = Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
    const detail = Object.fromEntries(report.checks.map((c) => [c.name, c.detail]));
    assert.equal(report.passed, false);
    for (const name of ['describe', 'data', 'train', 'score', 'learns']) assert.equal(status[name], 'passed', `${name}: ${detail[name]}`);
    assert.equal(status.determinism, 'failed', detail.determinism);
    assert.match(detail.determinism!, /the same seed under another job key scores differently/);
    assert.equal(status['idempotent-retry'], 'failed', detail['idempotent-retry']);
    assert.equal(status['bad-params'], 'failed', detail['bad-params']);
    assert.match(detail['bad-params']!, /unknown-param: trainer.train succeeded; it should fail with TrainerBadParams/);
    assert.match(detail['bad-params']!, /contract-v2: trainer.train succeeded; it should fail with TrainerUnsupportedContract/);
    assert.equal(status['large-snapshot'], 'failed', detail['large-snapshot']);
    assert.match(detail['large-snapshot']!, /a payload of \d+ bytes \(bound 4096\)/);
  } finally {
    await connection.close();
  }
});

test('the suite measures what it judges: payload bytes in a history, the slow params it picks', () => {
  const payload = (n: number) => ({ metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new Uint8Array(n) });
  const sizes = payloadSizes({ events: [{ input: { payloads: [payload(100)] } }, { result: { payloads: [payload(3000), payload(5)] } }] });
  assert.deepEqual(sizes, { total: 3105 + 3 * ('encoding'.length + 'json/plain'.length), largest: 3000 + 18, count: 3 });
  assert.deepEqual(slowParams(builtinDescription.paramsSchema), { epochs: 1000 });
  assert.deepEqual(slowParams({ properties: { max_iter: { type: 'integer', maximum: 5000 }, C: { type: 'number', maximum: 10 }, n_estimators: { type: ['integer', 'null'], maximum: 500 } } }), { max_iter: 5000, n_estimators: 500 });
});
