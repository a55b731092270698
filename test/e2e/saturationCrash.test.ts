// A worker killed with SIGKILL midway through the saturation check's fan-out: a new worker finishes the
// check, every point stored before the kill keeps its row (same id, same created_at, same content) and
// none of them is trained again (each point's trainer.train completed once, before the kill), the point in
// training at the kill is trained again by the new worker, the run finishes and the report is stored.
// Worker processes need a database they can share with this one, so this test runs on PostgreSQL.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { asc, eq } from 'drizzle-orm';
import { runs, saturationPoints, saturationReports } from '../../db/schema';
import type { TrainInput } from '../../trainers/contract';
import type { SaturationSummary } from '../../workflows/messages';
import { crashTestRig, needsSharedDatabase, registerModelWithData, type TestEnv, waitFor, waitForStatus } from '../helpers';

const skip = needsSharedDatabase;
const rig = crashTestRig('scrash', { RETRAIN_TRAINING_THREADS: '2' });
let env: TestEnv;
const startWorker = () => rig.startWorker();
const kill = (child: ChildProcess) => rig.kill(child);

before(async () => {
  if (skip) return;
  env = await rig.start();
});
after(() => rig.stop());

const pointKey = (p: { variant: string; fraction: number; seed: number }) => `${p.variant}/${p.fraction}/${p.seed}`;

/** The point a trainer job trains (jobKey `<run>/saturation/<variant>/<fraction>/<seed>`). */
const pointOfJob = (jobKey: string) => jobKey.split('/saturation/')[1]!;

/** Per trainer.train activity of a saturationCheck history: its point, last attempt and whether it completed. */
async function trainingActivities(workflowId: string) {
  const history = await env.services.client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const scheduled = new Map<string, { activityId: string; point: string; attempt?: number; completed: boolean }>();
  for (const e of events) {
    const id = String(e.eventId);
    const s = e.activityTaskScheduledEventAttributes;
    if (s?.activityType?.name === 'trainer.train') {
      const input = defaultPayloadConverter.fromPayload<TrainInput>(s.input!.payloads![0]!);
      scheduled.set(id, { activityId: s.activityId!, point: pointOfJob(input.jobKey), completed: false });
    }
    const started = e.activityTaskStartedEventAttributes;
    const entry = started && scheduled.get(String(started.scheduledEventId));
    if (started && entry) entry.attempt = started.attempt ?? 1;
    const completed = e.activityTaskCompletedEventAttributes;
    const done = completed && scheduled.get(String(completed.scheduledEventId));
    if (completed && done) done.completed = true;
  }
  return [...scheduled.values()];
}

test('a worker killed midway through the fan-out: completed points are not retrained', { skip, timeout: 600_000 }, async () => {
  const db = env.services.opened.db;
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  const first = startWorker();
  // 6 fractions × 3 seeds = 18 points (and 6 more on the newest and oldest halves of the dated mail), each trained for 1,000 epochs (about 1-8 s here, two at a time):
  // long enough that the kill lands mid-way through a training. A point's training is now only its
  // trainer.train (its scoring is a job of its own), so it is made longer than the whole point once was:
  // at 300 epochs a loaded CI machine saw no training in flight for 300 s of polling.
  const { runId } = await env.clients.operator.runs.start.mutate({
    model,
    trigger: 'bootstrap',
    saturation: { seeds: 3 },
    trainerParams: { epochs: 1000 },
  });
  const pointsOf = () => db.select().from(saturationPoints).where(eq(saturationPoints.runId, runId)).orderBy(asc(saturationPoints.id));

  // Kill once about a third of the points are stored and a point is in training (its activity has
  // heartbeated): the activity ids of the points in flight at the kill.
  const check = env.services.client.workflow.getHandle(`saturation-${runId}`);
  // What the last look saw, for the failure message should the moment never come.
  let seen = 'nothing yet';
  const inFlight = await waitFor(
    '6 stored saturation points and one in training',
    async () => {
      const stored = (await pointsOf()).length;
      const [run] = await db.select({ status: runs.status, step: runs.step }).from(runs).where(eq(runs.id, runId));
      seen = `${stored} points stored, run ${run?.status}/${run?.step}`;
      if (stored < 6) return false;
      const pending = (await check.describe()).raw.pendingActivities ?? [];
      seen += `, pending ${pending.map((a) => `${a.activityType?.name}${a.heartbeatDetails ? '+hb' : ''}`).join(' ') || 'none'}`;
      const training = pending.filter((a) => a.activityType?.name === 'trainer.train' && a.heartbeatDetails).map((a) => a.activityId!);
      return training.length > 0 && training;
    },
    300_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${seen}`);
  });
  await kill(first);
  const killedAt = new Date();
  // Read after the kill: every row here was stored by the killed worker (a superset of the ones seen above).
  const before = await pointsOf();
  process.stderr.write(`saturationCrash: killed at ${elapsed()} (${killedAt.toISOString()}) with ${before.length} of 24 points stored\n`);
  assert.ok(before.length >= 6 && before.length < 24, `some but not all points stored at the kill (${before.length})`);

  startWorker();
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 420_000);
  process.stderr.write(`saturationCrash: run ${run.status} at ${elapsed()} (${((Date.now() - killedAt.getTime()) / 1000).toFixed(1)} s after the kill)\n`);
  assert.notEqual(run.status, 'failed', JSON.stringify(run.result));

  // All 24 points, each once; the ones stored before the kill untouched (same id, created_at, content).
  const afterRows = await pointsOf();
  assert.equal(afterRows.length, 24, '6 fractions × 3 seeds and the two halves × 3 seeds, no ablation without an annotation batch');
  assert.equal(new Set(afterRows.map(pointKey)).size, 24, 'one row per point');
  for (const b of before) {
    const a = afterRows.find((r) => r.id === b.id);
    assert.ok(a, `point ${pointKey(b)} (id ${b.id}) still stored`);
    assert.deepEqual(a, b, `point ${pointKey(b)} not rewritten`);
  }
  const beforeIds = new Set(before.map((b) => b.id));
  for (const r of afterRows.filter((r) => !beforeIds.has(r.id))) {
    assert.ok(r.createdAt.getTime() >= killedAt.getTime(), `point ${pointKey(r)} stored after the kill`);
  }

  // Not retrained: in the check's history each point was trained by one trainer.train activity; the ones
  // stored before the kill completed on their first attempt, before it.
  const activities = await trainingActivities(`saturation-${runId}`);
  assert.equal(activities.length, 24, 'one trainer.train activity per point');
  assert.equal(new Set(activities.map((a) => a.point)).size, 24, 'no point scheduled twice');
  assert.ok(activities.every((a) => a.completed), 'every training completed');
  const beforeKeys = new Set(before.map(pointKey));
  for (const a of activities.filter((x) => beforeKeys.has(x.point))) {
    assert.equal(a.attempt, 1, `point ${a.point}, stored before the kill, was trained once`);
  }
  // A point in training at the kill is attempted again after it (once the heartbeat timeout noticed
  // the dead worker), by the new worker.
  const retried = activities.filter((a) => (a.attempt ?? 1) >= 2);
  const interrupted = activities.filter((a) => inFlight.includes(a.activityId) && !beforeKeys.has(a.point));
  for (const a of interrupted) assert.ok((a.attempt ?? 1) >= 2, `point ${a.point}, in training at the kill, was attempted again`);
  assert.ok(retried.length >= 1, 'an attempt was interrupted by the kill and retried');
  process.stderr.write(`saturationCrash: retried ${retried.map((a) => `${a.point} (attempt ${a.attempt})`).join(', ')}\n`);

  const summary = await env.services.client.workflow.getHandle<() => Promise<SaturationSummary>>(`saturation-${runId}`).result();
  assert.equal(summary.points, 24);
  assert.equal(summary.reused, 0, 'no point found stored: the check itself was not restarted');

  const [report] = await db.select().from(saturationReports).where(eq(saturationReports.runId, runId));
  assert.ok(report, 'the saturation report is stored');
  assert.equal(report.contentHash, summary.contentHash);
  assert.equal((report.report as { points: unknown[] }).points.length, 24);
});
