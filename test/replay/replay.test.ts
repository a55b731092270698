// Replays recorded histories against today's workflow code: a change that breaks determinism for
// runs already in flight fails here (use patched() for such changes). Each history names its workflow
// type in its first event; workflows/index.ts (the worker's workflowsPath) exports every type. All of
// them live in test/fixtures/histories (recorded by test/replay/record.ts):
//   retrainingRun without annotation (approved, rejected, approval deadline); a retrainingRun with an
//   annotation batch, and that annotationBatch's own history; an annotationBatch that continued as new
//   past its event limit (its first run, ending in the hand-over, and its last run); a retrainingRun with a saturation check
//   (ablation included), and that saturationCheck's own history; a retrainingRun whose approved candidate
//   is rolled back by a failed canary analysis window, and that rollout's own history; a rollout paused by
//   an inconclusive window, then resumed, paused and promoted early through its Updates (before and after
//   the shadow comparison); a biasReaudit that alerts and starts a retraining run, and a driftMonitor that
//   finds that run under way
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowsPath } from '../../temporal-config/worker';

const HISTORIES = path.join(import.meta.dirname, '..', 'fixtures', 'histories');

test('recorded retrainingRun, annotationBatch, saturationCheck, rollout, biasReaudit and driftMonitor histories replay without nondeterminism', async () => {
  const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json')).map((f) => path.join(HISTORIES, f));
  const names = files.map((f) => path.basename(f));
  assert.ok(names.filter((f) => f.startsWith('retrainingRun-')).length >= 4, `expected recorded retrainingRun histories in ${HISTORIES}`);
  const recordedBy: Record<string, string> = {
    'retrainingRun-annotation.json': 'annotation',
    'annotationBatch-complete.json': 'annotation',
    // patched 'annotation-continue-as-new': the first run hands over, the last one started from the carried state.
    'annotationBatch-continued-as-new.json': 'continued',
    'annotationBatch-continued-last-run.json': 'continued',
    'retrainingRun-saturation.json': 'saturation',
    'saturationCheck.json': 'saturation',
    'retrainingRun-rollout.json': 'rollout',
    'rollout-rolled-back.json': 'rollout',
    // Recorded before the shadow comparison (patched 'shadow-comparison'): rollouts in flight then still replay.
    'rollout-paused-promoted.json': 'rollout',
    'rollout-shadow-paused-promoted.json': 'rollout',
    'biasReaudit-alert-started-run.json': 'scheduled',
    'driftMonitor-run-under-way.json': 'scheduled',
    // patched 'trainer-contract': training and scoring on the trainer's queue, data by reference.
    'retrainingRun-contract.json': 'contract',
    'saturationCheck-contract.json': 'contract',
    'trainerCall-describe.json': 'contract',
  };
  for (const [expected, scenario] of Object.entries(recordedBy)) {
    assert.ok(names.includes(expected), `${expected} is recorded (npx tsx test/replay/record.ts ${scenario})`);
  }
  const histories = files.map((f) => ({ workflowId: path.basename(f), history: historyFromJSON(JSON.parse(readFileSync(f, 'utf8'))) }));
  const types = new Set(histories.map((h) => h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name));
  assert.deepEqual([...types].sort(), ['annotationBatch', 'biasReaudit', 'driftMonitor', 'retrainingRun', 'rollout', 'saturationCheck', 'trainerCall']);
  // The rollout's Update handlers run in a recorded history, not only its timers and activities.
  const updates = histories
    .find((h) => h.workflowId === 'rollout-paused-promoted.json')!
    .history.events!.flatMap((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ?? []);
  assert.deepEqual(updates, ['resume', 'pause', 'promoteNow'], 'rollout-paused-promoted.json holds the resume, pause and promoteNow Updates');
  const shadowHistory = histories.find((h) => h.workflowId === 'rollout-shadow-paused-promoted.json')!.history.events!;
  assert.ok(
    shadowHistory.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'analyzeShadowWindow'),
    'rollout-shadow-paused-promoted.json holds the shadow comparison',
  );
  const handedOver = histories.find((h) => h.workflowId === 'annotationBatch-continued-as-new.json')!.history.events!;
  assert.ok(handedOver.at(-1)?.workflowExecutionContinuedAsNewEventAttributes, 'annotationBatch-continued-as-new.json ends in continue-as-new');
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowsPath }, histories)) {
    assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
    replayed++;
  }
  assert.equal(replayed, files.length);
});

test('the replay fails a history whose commands differ from the code (the control for the test above)', async () => {
  const file = path.join(HISTORIES, 'retrainingRun-approved.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as { events: { activityTaskScheduledEventAttributes?: { activityType?: { name?: string } } }[] };
  const scheduled = json.events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);
  assert.ok(scheduled.length >= 2, 'the history schedules activities');
  // Swap the first two scheduled activities: the code now issues its commands in another order than recorded.
  const [a, b] = [scheduled[0]!.activityTaskScheduledEventAttributes!.activityType!, scheduled[1]!.activityTaskScheduledEventAttributes!.activityType!];
  assert.notEqual(a.name, b.name, 'two different activities to swap');
  [a.name, b.name] = [b.name, a.name];
  await assert.rejects(Worker.runReplayHistory({ workflowsPath }, historyFromJSON(json), 'reordered'), (err: Error) => {
    assert.match(`${err.name}: ${err.message}`, /nondetermin/i);
    return true;
  });
});
