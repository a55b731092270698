// A worker killed with SIGKILL while training: a new worker picks the run up after the heartbeat
// timeout, and the candidate is trained, stored and promoted exactly once.
// Worker processes need a database they can share with this one, so this test runs on PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { deploymentEvents, modelVersions, runs } from '../../db/schema';
import { crashTestRig, needsSharedDatabase, registerModelWithData, type TestEnv, waitFor, waitForStatus } from '../helpers';

const skip = needsSharedDatabase;
const rig = crashTestRig('crash');
let env: TestEnv;
const startWorker = () => rig.startWorker();

before(async () => {
  if (skip) return;
  env = await rig.start();
});
after(() => rig.stop());

test('SIGKILL during training: the run completes and the candidate is promoted exactly once', { skip, timeout: 240_000 }, async () => {
  const db = env.services.opened.db;
  const model = await registerModelWithData(env);
  const first = startWorker();
  // Long enough training (many epochs, several seconds) that the kill lands mid-way.
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trainerParams: { epochs: 600 } });
  const handle = env.services.client.workflow.getHandle(runId);
  // Kill as soon as the training activity has heartbeated from inside its epochs.
  await waitFor('a training heartbeat', async () => {
    const [row] = await db.select().from(runs).where(eq(runs.id, runId));
    if (row?.step !== 'training') return false;
    const description = await handle.describe();
    return description.raw.pendingActivities?.some((a) => a.activityType?.name === 'trainer.train' && a.heartbeatDetails);
  }, 120_000);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  assert.equal((await db.select().from(modelVersions).where(eq(modelVersions.runId, runId))).length, 0, 'killed before the candidate was stored');

  startWorker();
  await waitForStatus(env, runId, ['awaiting_approval'], 180_000);
  await env.clients.approver.gates.approve.mutate({ runId, reason: 'survived a worker crash', packetHash: (await env.clients.approver.reports.get.query({ runId })).packetHash ?? '' });
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 60_000);
  assert.equal(run.status, 'promoted');

  const versions = await db.select().from(modelVersions).where(eq(modelVersions.runId, runId));
  assert.equal(versions.length, 1, 'one candidate version');
  assert.equal(versions[0]!.status, 'production');
  const events = await db.select().from(deploymentEvents).where(eq(deploymentEvents.runId, runId));
  assert.equal(events.length, 1, 'promoted exactly once');

  // The history shows the training activity was attempted again after the crash.
  const history = await env.services.client.workflow.getHandle(runId).fetchHistory();
  const attempts = (history.events ?? [])
    .map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0)
    .reduce((a, b) => Math.max(a, b), 0);
  assert.ok(attempts >= 2, `an activity was retried after the kill (max attempt ${attempts})`);
});
