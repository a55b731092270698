// The trainers registry through real HTTP, real Temporal and the control plane's own worker (which runs the
// trainerCall workflow): a trainer on its own queue (a tiny TypeScript worker here, standing in for a
// trainer in any language) describes itself and is stored by name; one that answers garbage is refused
// naming the bad field; a queue nobody serves is refused naming the queue, at once when no worker ever
// polled it, after the time-to-start when one did and stopped. And a run whose trainer job waits for its
// queue says so in runs.get (waitingForTrainer).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NativeConnection, Worker } from '@temporalio/worker';
import { and, eq } from 'drizzle-orm';
import { pendingTrainerActivity } from '../../api/routers/runs';
import { insertQueuedRun } from '../../db/runs';
import { auditLog, models, trainers } from '../../db/schema';
import { upsertTrainer } from '../../db/trainers';
import { TRAINER_CALL_WORKFLOW_TYPE, type TrainerCallInput } from '../../workflows/messages';
import type { TrainerDescription } from '../../trainers/contract';
import { startTestEnv, uid, waitFor, waitForPoller, type TestEnv } from '../helpers';

let env: TestEnv;
let connection: NativeConnection;
const suffix = uid();
const goodQueue = `trainer-ok-${suffix}`;
const garbageQueue = `trainer-garbage-${suffix}`;
const stoppedQueue = `trainer-stopped-${suffix}`;
const description: TrainerDescription = {
  contractVersion: 1,
  name: `acme/tabular-${suffix}`,
  version: '1.2.0',
  codeDigest: `sha256:${'ab'.repeat(32)}`,
  paramsSchema: { type: 'object', additionalProperties: false, properties: { C: { type: 'number', exclusiveMinimum: 0 } } },
  labelSets: ['binary'],
  featureKinds: ['number', 'category', 'boolean'],
};
const workers: { worker: Worker; running: Promise<void> }[] = [];
let describeCalls = 0;

async function serve(taskQueue: string, describe: () => Promise<unknown>) {
  const worker = await Worker.create({ connection, namespace: env.services.namespace, taskQueue, activities: { 'trainer.describe': describe } });
  const entry = { worker, running: worker.run() };
  workers.push(entry);
  // Serving means polling (as a user who registers a trainer before it is up is told).
  await waitForPoller(env, taskQueue);
  return entry;
}

before(async () => {
  env = await startTestEnv();
  connection = await NativeConnection.connect({ address: env.services.temporalAddress });
  await serve(goodQueue, async () => {
    describeCalls++;
    return description;
  });
  // Wrong digest format, a feature kind the contract does not have, and a missing version.
  await serve(garbageQueue, async () => ({ contractVersion: 1, name: 'acme/garbage', codeDigest: 'md5:1234', paramsSchema: {}, labelSets: ['binary'], featureKinds: ['pixels'] }));
});

after(async () => {
  for (const w of workers) {
    if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
    await w.running.catch(() => {});
  }
  await connection?.close();
  await env?.stop();
});

const rest = (path: string, init: { token: string; method?: string; body?: unknown }) =>
  fetch(`${env.url}/api${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${init.token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });

const trainerRows = (name: string) => env.services.opened.db.select().from(trainers).where(eq(trainers.name, name));

test('a trainer serving its queue describes itself, is stored by name, audited, and listed', async () => {
  const res = await rest('/trainers', { token: env.tokens.operator!, body: { taskQueue: goodQueue, timeToStartSeconds: 20 } });
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(describeCalls, 1, 'the trainer was asked once, on its own queue');
  assert.equal(body.name, description.name);
  assert.equal(body.taskQueue, goodQueue);
  assert.deepEqual(body.paramsSchema, description.paramsSchema);
  assert.deepEqual(body.featureKinds, description.featureKinds);

  const [row] = await trainerRows(description.name);
  assert.ok(row, 'stored');
  assert.equal(row.version, '1.2.0');
  assert.equal(row.codeDigest, description.codeDigest);
  assert.equal(row.taskQueue, goodQueue);
  assert.deepEqual(row.description, description);
  assert.match(row.registeredBy, /^operator-/);
  const audits = await env.services.opened.db.select().from(auditLog).where(and(eq(auditLog.action, 'trainers.register'), eq(auditLog.actor, row.registeredBy)));
  assert.equal(audits.length, 1, 'the registration is in the audit log');

  // Registering again refreshes the row: still one.
  const again = await rest('/trainers', { token: env.tokens.operator!, body: { taskQueue: goodQueue } });
  assert.equal(again.status, 200);
  assert.equal((await trainerRows(description.name)).length, 1);

  // Viewers read it: the list, and one by name (percent-encoded in a REST path, as a name holds '/').
  const listed = await env.clients.viewer.trainers.list.query();
  assert.ok(listed.some((t) => t.name === description.name && t.taskQueue === goodQueue));
  const one = await rest(`/trainers/${encodeURIComponent(description.name)}`, { token: env.tokens.viewer! });
  assert.equal(one.status, 200);
  assert.equal(((await one.json()) as { codeDigest: string }).codeDigest, description.codeDigest);
  const missing = await rest(`/trainers/${encodeURIComponent('acme/nobody')}`, { token: env.tokens.viewer! });
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as { message: string }).message, /trainer 'acme\/nobody' is not registered/);

  // A viewer may not register.
  const refused = await rest('/trainers', { token: env.tokens.viewer!, body: { taskQueue: goodQueue } });
  assert.equal(refused.status, 403);
});

test('an answer that does not follow the contract is refused naming the bad fields, and nothing is stored', async () => {
  const res = await rest('/trainers', { token: env.tokens.operator!, body: { taskQueue: garbageQueue, timeToStartSeconds: 20 } });
  const body = (await res.json()) as { message: string };
  assert.equal(res.status, 502, body.message);
  assert.match(body.message, new RegExp(`the trainer on queue ${garbageQueue} answered trainer.describe with a description that does not follow the trainer contract`));
  for (const field of ['version', 'codeDigest', 'featureKinds']) assert.match(body.message, new RegExp(field), `names ${field}: ${body.message}`);
  assert.equal((await trainerRows('acme/garbage')).length, 0);
});

test('a queue no worker has polled is refused at once, naming the queue', async () => {
  const queue = `nobody-${suffix}`;
  const started = Date.now();
  const res = await rest('/trainers', { token: env.tokens.operator!, body: { taskQueue: queue, timeToStartSeconds: 30 } });
  const body = (await res.json()) as { message: string };
  assert.equal(res.status, 412, body.message);
  assert.match(body.message, new RegExp(`no worker served trainer.describe on queue ${queue}.*is the trainer running\\?`));
  assert.ok(Date.now() - started < 10_000, 'without waiting the time-to-start');
});

test('a queue whose worker stopped is refused after the time-to-start, naming the queue and the time', async () => {
  // Temporal remembers a queue's pollers for a few minutes: this one polled, then went away.
  const stopped = await serve(stoppedQueue, async () => description);
  await waitFor('the poller to be seen', async () => {
    const res = await env.services.client.workflowService.describeTaskQueue({ namespace: env.services.namespace, taskQueue: { name: stoppedQueue }, taskQueueType: 2 });
    return (res.pollers?.length ?? 0) > 0;
  }, 20_000);
  stopped.worker.shutdown();
  await stopped.running;
  const started = Date.now();
  const res = await rest('/trainers', { token: env.tokens.operator!, body: { taskQueue: stoppedQueue, timeToStartSeconds: 3 } });
  const body = (await res.json()) as { message: string };
  const waited = Date.now() - started;
  assert.equal(res.status, 412, body.message);
  assert.equal(body.message, `no worker served trainer.describe on queue ${stoppedQueue} within 3 s: is the trainer running?`);
  assert.ok(waited >= 3000 && waited < 20_000, `waited ${waited} ms`);
});

test("a trainer job nobody takes is read from the workflow's pending activities, and runs.get says the run waits for its trainer", async () => {
  const db = env.services.opened.db;
  const queue = `unserved-${suffix}`;
  // A trainer whose queue nobody serves, registered directly, and a model that names it.
  await upsertTrainer(db, { description: { ...description, name: `acme/unserved-${suffix}` }, taskQueue: queue, registeredBy: 'test' });
  const model = `unserved-${suffix}`;
  await env.clients.operator.models.register.mutate({ name: model, trainer: { name: `acme/unserved-${suffix}`, timeToStartSeconds: 120 }, features: [{ name: 'age', kind: 'number' }] });
  const [modelRow] = await db.select({ id: models.id }).from(models).where(eq(models.name, model));
  assert.ok(modelRow);

  // The run's workflow is a trainerCall scheduling trainer.describe on that queue (the run's own train step
  // on the model's queue is another engineer's work): what runs.get reads is the pending trainer job.
  const runId = `run-${model}-waiting`;
  await insertQueuedRun(db, { id: runId, modelId: modelRow.id, trigger: 'manual', requestedBy: 'test', params: {} });
  const call: TrainerCallInput = { taskQueue: queue, activity: 'trainer.describe', timeToStartSeconds: 120, maximumAttempts: 1 };
  const handle = await env.services.client.workflow.start(TRAINER_CALL_WORKFLOW_TYPE, { taskQueue: env.services.taskQueues.control, workflowId: runId, args: [call] });
  try {
    const pending = await waitFor('the trainer job to be scheduled', () => pendingTrainerActivity(handle), 20_000);
    assert.equal(pending.activity, 'trainer.describe');
    assert.equal(pending.attempt, 1);
    assert.ok(pending.since && Math.abs(Date.parse(pending.since) - Date.now()) < 60_000, `since ${pending.since}`);

    const started = Date.now();
    const run = await env.clients.viewer.runs.get.query({ runId });
    assert.ok(Date.now() - started < 6000, 'within the live status cap');
    assert.deepEqual(run.waitingForTrainer, { trainer: `acme/unserved-${suffix}`, taskQueue: queue, activity: 'trainer.describe', since: pending.since, timeToStartSeconds: 120 });

    // A worker arrives: the job is taken, and nothing waits any more.
    await serve(queue, async () => description);
    await handle.result();
    assert.equal(await pendingTrainerActivity(handle), null);
  } finally {
    await handle.terminate('test over').catch(() => {});
  }
});
