// Records workflow histories for the replay test: `npx tsx test/replay/record.ts [scenario]`.
//   gates (default): retrainingRun approved / rejected with a champion / approval deadline 
//   annotation: a retrainingRun with an annotation batch (sampling → annotating → aggregating → … → promoted)
//               and that batch's own annotationBatch history (labelSubmitted signals, sweeps)
//   continued: an annotationBatch whose history passes its event limit (patched 'annotation-continue-as-new')
//              and continues as new: the first run's history, ending in the hand-over, and the last run's
//   saturation: a retrainingRun with a saturation check (patched 'saturation-check' branch) over a
//               snapshot holding a newest annotation batch, so the ablation runs, and that check's own
//               saturationCheck history (nested fractions × seeds and the without-newest points)
//   rollout: a retrainingRun (patched 'rollout' branch) whose approved candidate is rolled back by its first
//            canary analysis window (planted regression), and that rollout's own history; then a second
//            rollout (shadow window, then an inconclusive window that pauses) driven by Updates: resume,
//            pause, promoteNow by an approver
//   contract: a retrainingRun with a saturation check through the trainer contract (patched 'trainer-contract':
//             plan, trainer.train and trainer.score on the trainer's queue, record), its saturationCheck, and a
//             trainerCall asking the built-in trainer to describe itself
//   scheduled: a biasReaudit over a window with a planted country-code disparity that alerts and starts a
//              retraining run (child, abandoned), and a driftMonitor over country-code-only traffic that finds
//              that run under way and starts none
// Every history goes to test/fixtures/histories, the one folder the replay test reads.
// Re-record only on purpose (a deliberate, patched() change to the workflow); the committed histories
// are what proves a code change stays deterministic for runs already in flight.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { ApiClient } from '../../api/client';
import { loadCorpus, type CorpusEmail } from '../../demo/corpus';
import { aggregatedLabels, annotationAssignments, annotationBatches, annotationTasks, examples, feedbackEvents, labels, models, predictions, routes, runs } from '../../db/schema';
import { BIAS_REAUDIT_WORKFLOW_TYPE, DRIFT_MONITOR_WORKFLOW_TYPE, TRAINER_CALL_WORKFLOW_TYPE, type BiasReauditInput, type DriftMonitorInput, type TrainerCallInput } from '../../workflows/messages';
import { findTemporalBinary } from '../../temporal-config/devServer';
import { dataDir } from '../../temporal-config/env';
import { annotatorClient, continuingAnnotationBatch, logTraffic, plantAnsweredTraffic, registerModelWithData, startTestEnv, uid, waitFor, waitForStatus, type TestEnv } from '../helpers';

interface HistoryJson {
  events: {
    eventType?: string;
    activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
    workflowExecutionUpdateAcceptedEventAttributes?: { acceptedRequest?: { input?: { name?: string } } };
  }[];
}

/** The one folder of recorded histories (test/replay/replay.test.ts reads it). */
const HISTORIES = path.join(import.meta.dirname, '..', 'fixtures', 'histories');

const scenarios: Record<string, (env: TestEnv) => Promise<void>> = { gates, annotation, continued, saturation, rollout, scheduled, contract };
const scenario = process.argv[2] ?? 'gates';
const run = scenarios[scenario];
if (!run) throw new Error(`unknown scenario '${scenario}': one of ${Object.keys(scenarios).join(', ')}`);

const env = await startTestEnv();
/** The packet hash the approver reads and signs. */
const signed = async (runId: string) => (await env.clients.approver.reports.get.query({ runId })).packetHash ?? '';
try {
  await run(env);
} finally {
  await env.stop();
}

/** The CLI writes the proto3 JSON that historyFromJSON reads, as Temporal's own tooling does. */
async function record(env: TestEnv, workflowId: string, file: string, runId?: string): Promise<HistoryJson> {
  const cli = await findTemporalBinary({ dataDir: dataDir() });
  const json = execFileSync(cli, ['workflow', 'show', '--workflow-id', workflowId, ...(runId ? ['--run-id', runId] : []), '--address', env.services.temporalAddress, '--output', 'json'], {
    maxBuffer: 64 << 20,
  }).toString();
  writeFileSync(file, json);
  const history = JSON.parse(json) as HistoryJson;
  console.log(`recorded ${path.basename(file)}: ${history.events.length} events`);
  return history;
}

async function gates(env: TestEnv): Promise<void> {
  const model = await registerModelWithData(env);
  const approved = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await waitForStatus(env, approved.runId, ['awaiting_approval']);
  await env.clients.approver.gates.approve.mutate({ runId: approved.runId, reason: 'recorded for replay', packetHash: await signed(approved.runId) });
  await waitForStatus(env, approved.runId, ['promoted']);

  const second = await env.clients.operator.runs.start.mutate({ model });
  await waitForStatus(env, second.runId, ['awaiting_approval']);
  await env.clients.approver.gates.reject.mutate({ runId: second.runId, reason: 'recorded for replay' });
  await waitForStatus(env, second.runId, ['rejected']);

  const timedOut = await env.clients.operator.runs.start.mutate({ model, approvalTimeoutSeconds: 1 });
  await waitForStatus(env, timedOut.runId, ['rejected']);

  for (const [name, id] of [['approved', approved.runId], ['rejected-with-champion', second.runId], ['deadline', timedOut.runId]] as const) {
    await record(env, id, path.join(HISTORIES, `retrainingRun-${name}.json`));
  }
}

async function annotation(env: TestEnv): Promise<void> {
  const db = env.services.opened.db;
  const suffix = uid();
  const model = await registerModelWithData(env);
  const bootstrap = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await waitForStatus(env, bootstrap.runId, ['awaiting_approval']);
  await env.clients.approver.gates.approve.mutate({ runId: bootstrap.runId, reason: 'recorded for replay', packetHash: await signed(bootstrap.runId) });
  await waitForStatus(env, bootstrap.runId, ['promoted']);

  const truth = new Map<string, CorpusEmail>(loadCorpus().map((e) => [e.externalId, e]));
  await logTraffic(env, model, loadCorpus().filter((_, i) => i % 5 === 1).slice(0, 30));
  const pool: { subject: string; client: ApiClient }[] = [];
  for (const name of ['ann', 'ben', 'cat']) pool.push({ subject: `${name}-${suffix}`, client: await annotatorClient(env, `${name}-${suffix}`) });

  // assignmentSeconds 4: the batch sweeps every 2 s, so the history holds timer-paced sweeps.
  const { runId } = await env.clients.operator.runs.start.mutate({
    model,
    annotation: { budget: 6, overlap: 2, goldShare: 0, quorum: 1, deadlineSeconds: 300, assignmentSeconds: 4, seed: 1 },
  });
  const batchId = `batch-${runId}`;
  const batch = env.services.client.workflow.getHandle(batchId);
  await waitFor('the annotationBatch workflow', async () => {
    try {
      return (await batch.describe()).status.name === 'RUNNING';
    } catch {
      return false;
    }
  });

  // One annotator takes a task and walks away: a sweep takes it back (and someone else labels it).
  const walkAway = (await pool[0]!.client.annotation.next.mutate({})).task!;
  await waitFor(
    'a sweep to take the abandoned task back',
    async () =>
      (
        await db
          .select()
          .from(annotationAssignments)
          .where(and(eq(annotationAssignments.taskId, walkAway.taskId), eq(annotationAssignments.annotator, pool[0]!.subject)))
      )[0]?.status === 'expired',
    60_000,
  );

  // Everyone labels (the true label) until no task is left, one at a time, pausing once for a sweep.
  let turn = 0;
  let idle = 0;
  let submitted = 0;
  while (idle < pool.length) {
    const a = pool[turn++ % pool.length]!;
    const { task } = await a.client.annotation.next.mutate({});
    if (!task) {
      idle++;
      continue;
    }
    idle = 0;
    await a.client.annotation.submit.mutate({ taskId: task.taskId, label: truth.get(task.example.externalId)!.label, specVersion: task.spec.version });
    if (++submitted === 5) await new Promise((r) => setTimeout(r, 2500));
  }

  await waitForStatus(env, runId, ['awaiting_approval'], 180_000);
  await env.clients.approver.gates.approve.mutate({ runId, reason: 'recorded for replay', packetHash: await signed(runId) });
  const done = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 120_000);
  if (done.status !== 'promoted') throw new Error(`the annotation run ended ${done.status}: ${JSON.stringify(done.result)}`);

  const runHistory = await record(env, runId, path.join(HISTORIES, 'retrainingRun-annotation.json'));
  const batchHistory = await record(env, batchId, path.join(HISTORIES, 'annotationBatch-complete.json'));
  const signals = batchHistory.events.filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED').length;
  const sweeps = batchHistory.events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sweepAnnotationBatch').length;
  const child = runHistory.events.some((e) => e.eventType === 'EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED');
  console.log(`annotation: ${submitted} labels, ${signals} signals, ${sweeps} sweeps; child completed in the run history: ${child}`);
  if (signals !== submitted || sweeps < 2 || !child) throw new Error('the recorded histories do not cover signals, sweeps and the child');
}

/** An annotationBatch started with a low event limit, kept busy with label hints until it continues as new. */
async function continued(env: TestEnv): Promise<void> {
  const { batchId, handle } = await continuingAnnotationBatch(env, { mails: loadCorpus().slice(0, 30), continueAfterEvents: 40, rounds: 3, actor: 'recorder' });
  const first = await record(env, batchId, path.join(HISTORIES, 'annotationBatch-continued-as-new.json'), handle.firstExecutionRunId);
  if (first.events.at(-1)?.eventType !== 'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW') throw new Error('the recorded batch did not continue as new');
  await record(env, batchId, path.join(HISTORIES, 'annotationBatch-continued-last-run.json'));
}

async function saturation(env: TestEnv): Promise<void> {
  const db = env.services.opened.db;
  const model = await registerModelWithData(env);
  const [m] = await db.select().from(models).where(eq(models.name, model));
  // A newest annotation batch over 40 training examples (labelled as they are, inserted directly as
  // test/e2e/saturation.test.ts does), so the check finds a newest batch and trains the ablation.
  const relabelled = (
    await db
      .select({ id: examples.id, label: examples.label })
      .from(examples)
      .where(and(eq(examples.modelId, m!.id), eq(examples.split, 'train')))
      .orderBy(asc(examples.id))
  ).slice(0, 40);
  const batchId = `batch-replay-${m!.id}`;
  await db.insert(annotationBatches).values({ id: batchId, modelId: m!.id, specVersion: 1, overlap: 1, goldShare: 0, deadline: new Date(), status: 'complete', createdBy: 'record' });
  const tasks = await db
    .insert(annotationTasks)
    .values(relabelled.map((e) => ({ batchId, exampleId: e.id, stratum: 'remainder', inclusionProbability: 1, status: 'done' as const })))
    .returning({ id: annotationTasks.id, exampleId: annotationTasks.exampleId });
  const labelOf = new Map(relabelled.map((e) => [e.id, e.label!]));
  await db.insert(labels).values(tasks.map((t) => ({ taskId: t.id, annotator: 'recorder', label: labelOf.get(t.exampleId)!, specVersion: 1 })));
  await db.insert(aggregatedLabels).values(
    tasks.map((t) => {
      const label = labelOf.get(t.exampleId)!;
      return { taskId: t.id, batchId, exampleId: t.exampleId, label, posterior: 1, majorityLabel: label, dawidSkeneLabel: label, method: 'dawid_skene' as const, labelCount: 1 };
    }),
  );
  await db.update(examples).set({ labelSource: 'annotation' }).where(inArray(examples.id, relabelled.map((e) => e.id)));

  // Default fractions (6) × 2 seeds + 2 ablation points: 14 trainings in parallel activities.
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap', saturation: { seeds: 2 } });
  await waitForStatus(env, runId, ['awaiting_approval'], 240_000);
  await env.clients.approver.gates.approve.mutate({ runId, reason: 'recorded for replay', packetHash: await signed(runId) });
  const done = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 120_000);
  if (done.status !== 'promoted') throw new Error(`the saturation run ended ${done.status}: ${JSON.stringify(done.result)}`);

  const runHistory = await record(env, runId, path.join(HISTORIES, 'retrainingRun-saturation.json'));
  const checkHistory = await record(env, `saturation-${runId}`, path.join(HISTORIES, 'saturationCheck.json'));
  const activities = (h: HistoryJson, name: string) => h.events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
  const points = activities(checkHistory, 'trainSaturationPoint');
  const ablation = activities(checkHistory, 'newestLabelledBatch') === 1 && points === 6 * 2 + 2;
  const report = activities(checkHistory, 'storeSaturationReport') === 1;
  const marker = runHistory.events.some((e) => e.eventType === 'EVENT_TYPE_MARKER_RECORDED');
  const child = runHistory.events.some((e) => e.eventType === 'EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED');
  console.log(`saturation: ${points} point trainings, report ${report}; patch marker ${marker}, child completed in the run history ${child}`);
  if (!ablation || !report || !marker || !child) throw new Error('the recorded histories do not cover the fan-out with the ablation, the report, the patch and the child');
}

async function contract(env: TestEnv): Promise<void> {
  const model = await registerModelWithData(env);
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap', saturation: { seeds: 2 }, trainerParams: { epochs: 2 } });
  await waitForStatus(env, runId, ['awaiting_approval'], 240_000);
  await env.clients.approver.gates.approve.mutate({ runId, reason: 'recorded for replay', packetHash: await signed(runId) });
  const done = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 120_000);
  if (done.status !== 'promoted') throw new Error(`the contract run ended ${done.status}: ${JSON.stringify(done.result)}`);
  const runHistory = await record(env, runId, path.join(HISTORIES, 'retrainingRun-contract.json'));
  const checkHistory = await record(env, `saturation-${runId}`, path.join(HISTORIES, 'saturationCheck-contract.json'));
  const describeId = `trainerCall-describe-${uid()}`;
  await env.services.client.workflow.execute(TRAINER_CALL_WORKFLOW_TYPE, {
    taskQueue: env.services.taskQueues.control,
    workflowId: describeId,
    args: [{ taskQueue: env.services.taskQueues.training, activity: 'trainer.describe' } satisfies TrainerCallInput],
  });
  await record(env, describeId, path.join(HISTORIES, 'trainerCall-describe.json'));
  const activities = (h: HistoryJson, name: string) => h.events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
  const marker = runHistory.events.some((e) => e.eventType === 'EVENT_TYPE_MARKER_RECORDED');
  const counts = { runTrain: activities(runHistory, 'trainer.train'), runScore: activities(runHistory, 'trainer.score'), checkTrain: activities(checkHistory, 'trainer.train'), checkScore: activities(checkHistory, 'trainer.score') };
  console.log(`contract: ${JSON.stringify(counts)}; patch marker ${marker}`);
  if (!marker || counts.runTrain !== 1 || counts.runScore !== 1 || counts.checkTrain !== 12 || counts.checkScore !== 12) throw new Error('the recorded histories do not cover the contract path');
}

async function rollout(env: TestEnv): Promise<void> {
  const db = env.services.opened.db;
  const client = env.services.client;
  const model = await registerModelWithData(env);
  const [m] = await db.select().from(models).where(eq(models.name, model));
  const modelId = m!.id;
  const approve = async (runId: string) => {
    await waitForStatus(env, runId, ['awaiting_approval']);
    await env.clients.approver.gates.approve.mutate({ runId, reason: 'recorded for replay', packetHash: await signed(runId) });
  };
  const bootstrap = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await approve(bootstrap.runId);
  await waitForStatus(env, bootstrap.runId, ['promoted']);
  const [prod] = await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'production')));
  /** Resolves once the rollout has started `timers` timers: its analysis window (or shadow) is open, `from` taken. */
  const timerStarted = (runId: string, timers = 1) =>
    waitFor(`rollout-${runId} to start timer ${timers}`, async () => {
      try {
        const h = await client.workflow.getHandle(`rollout-${runId}`).fetchHistory();
        return (h.events ?? []).filter((e) => e.timerStartedEventAttributes).length >= timers;
      } catch {
        return false;
      }
    });
  const traffic = (versionId: number, requests: number, overrides: number) => plantAnsweredTraffic(db, modelId, versionId, requests, overrides, 'record');

  const candidateOf = async (runId: string) => (await db.select().from(runs).where(eq(runs.id, runId)))[0]!.candidateVersionId!;

  // (a) Approved at the gate, then rolled back by the first canary window: the planted regression lands
  // inside that window (after its timer started, well before it fires).
  const failing = await env.clients.operator.runs.start.mutate({
    model,
    rollout: {
      steps: [
        { weight: 0.5, analysisSeconds: 5 },
        { weight: 0.9, analysisSeconds: 5 },
      ],
      rules: [{ metric: 'override_rate', maxIncrease: 0.01, minRequests: 100, perSlice: false }],
    },
  });
  await approve(failing.runId);
  await timerStarted(failing.runId);
  await traffic(prod!.versionId, 400, 4);
  await traffic(await candidateOf(failing.runId), 400, 80);
  const failed = await waitForStatus(env, failing.runId, ['rolled_back', 'promoted', 'failed'], 120_000);
  if (failed.status !== 'rolled_back') throw new Error(`the rollout run ended ${failed.status}: ${JSON.stringify(failed.result)}`);

  // (c) A shadow window without traffic (its comparison is inconclusive: pause) and an operator resumes;
  // then a canary window without traffic (inconclusive: pause) and an operator resumes again; the second
  // window is paused by hand, and an approver other than the requester promotes it early.
  const pausing = await env.clients.operator.runs.start.mutate({
    model,
    rollout: {
      shadowSeconds: 2,
      steps: [
        { weight: 0.1, analysisSeconds: 3 },
        { weight: 0.5, analysisSeconds: 600 },
      ],
    },
  });
  await approve(pausing.runId);
  const status = (predicate: (s: { phase: string; step: number }) => boolean, what: string) =>
    waitFor(what, async () => {
      const s = await env.clients.viewer.runs.rollout.query({ runId: pausing.runId }).catch(() => null);
      return s && predicate(s) ? s : null;
    });
  const shadowPaused = await status((s) => s.phase === 'paused', 'the inconclusive shadow comparison');
  if ((shadowPaused as { shadow?: { phase?: string } | null }).shadow?.phase !== 'Inconclusive') throw new Error(`expected an inconclusive shadow comparison: ${JSON.stringify(shadowPaused)}`);
  await env.clients.operator.runs.resume.mutate({ runId: pausing.runId, reason: 'no traffic in the shadow window, carry on' });
  const paused = await status((s) => s.phase === 'paused' && s.step === 1 && (s as { analyses?: unknown[] }).analyses?.length === 1, 'the inconclusive pause');
  if (paused.analyses[0]?.phase !== 'Inconclusive') throw new Error(`expected an inconclusive first window: ${JSON.stringify(paused)}`);
  await env.clients.operator.runs.resume.mutate({ runId: pausing.runId, reason: 'looked at the empty window, carry on' });
  await status((s) => s.phase === 'canary' && s.step === 2, 'the second canary step');
  await timerStarted(pausing.runId, 3);
  await env.clients.operator.runs.pause.mutate({ runId: pausing.runId, reason: 'holding while the support desk checks' });
  await env.clients.approver.runs.promoteNow.mutate({ runId: pausing.runId, reason: 'reviewed the canary by hand' });
  const promoted = await waitForStatus(env, pausing.runId, ['promoted', 'rolled_back', 'failed'], 60_000);
  if (promoted.status !== 'promoted') throw new Error(`the paused rollout run ended ${promoted.status}: ${JSON.stringify(promoted.result)}`);

  const runHistory = await record(env, failing.runId, path.join(HISTORIES, 'retrainingRun-rollout.json'));
  const rolledBack = await record(env, `rollout-${failing.runId}`, path.join(HISTORIES, 'rollout-rolled-back.json'));
  // rollout-paused-promoted.json (recorded before the shadow comparison) stays: it proves rollouts in
  // flight then still replay.
  const pausedPromoted = await record(env, `rollout-${pausing.runId}`, path.join(HISTORIES, 'rollout-shadow-paused-promoted.json'));
  const activities = (h: HistoryJson, name: string) => h.events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
  const updates = pausedPromoted.events
    .filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED' || e.workflowExecutionUpdateAcceptedEventAttributes)
    .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ?? 'completed');
  const marker = runHistory.events.some((e) => e.eventType === 'EVENT_TYPE_MARKER_RECORDED');
  const child = runHistory.events.some((e) => e.eventType === 'EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED');
  const signal = runHistory.events.some((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED' || e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED');
  const rolledBackOk = activities(rolledBack, 'analyzeCanaryWindow') === 1 && activities(rolledBack, 'rollbackRollout') === 1 && activities(rolledBack, 'completeRollout') === 0;
  const accepted = updates.filter((u) => u !== 'completed');
  const pausedOk =
    activities(pausedPromoted, 'setRolloutRoute') === 3 &&
    activities(pausedPromoted, 'analyzeShadowWindow') === 1 &&
    activities(pausedPromoted, 'analyzeCanaryWindow') === 1 &&
    activities(pausedPromoted, 'completeRollout') === 1 &&
    accepted.join(',') === 'resume,resume,pause,promoteNow' &&
    updates.length === 8;
  console.log(
    `rollout: patch marker ${marker}, approval ${signal}, child completed in the run history ${child}; rolled back by analysis ${rolledBackOk}; ` +
      `paused → updates [${accepted.join(', ')}] (${updates.length - accepted.length} completed) → promoted ${pausedOk}`,
  );
  if (!marker || !signal || !child || !rolledBackOk || !pausedOk) {
    throw new Error('the recorded histories do not cover the patch, the approval, the child, the analysis rollback and the rollout Updates');
  }
}

async function scheduled(env: TestEnv): Promise<void> {
  const db = env.services.opened.db;
  const model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  const bootstrap = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await waitForStatus(env, bootstrap.runId, ['promoted']);
  const [m] = await db.select().from(models).where(eq(models.name, model));
  const modelId = m!.id;
  const [prod] = await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'production')));
  const end = new Date(Date.now() - 86_400_000);
  const at = new Date(end.getTime() - 3_600_000);
  // Reviewed traffic in which ham from country-code senders is blocked 60% of the time.
  const mail = loadCorpus().filter((_, i) => i % 5 === 3).slice(0, 900);
  let k = 0;
  const rows = mail.map((e) => ({
    modelId,
    versionId: prod!.versionId,
    requestId: `rec-${uid()}-${e.externalId}`,
    score: 0.5,
    decision: e.label === 0 && e.slices.sender_tld === 'country_code' && k++ % 10 < 6 ? 1 : e.label,
    attributes: { ...e.slices } as Record<string, string>,
    occurredAt: at,
    loggedBy: 'record',
  }));
  await db.insert(predictions).values(rows);
  await db.insert(feedbackEvents).values(
    rows.map((r, i) => ({ modelId, versionId: r.versionId, idempotencyKey: `${r.requestId}:c`, requestId: r.requestId, kind: 'correction' as const, value: { correctedLabel: mail[i]!.label }, occurredAt: at, ingestedBy: 'record' })),
  );
  // The day before, mail from country-code senders only: the population drifts.
  const driftEnd = new Date(end.getTime() - 86_400_000);
  const cc = loadCorpus().filter((e, i) => i % 5 === 4 && e.slices.sender_tld === 'country_code').slice(0, 400);
  await db.insert(predictions).values(
    cc.map((e) => ({ modelId, versionId: prod!.versionId, requestId: `rec-cc-${uid()}-${e.externalId}`, score: 0.5, decision: e.label, attributes: { ...e.slices } as Record<string, string>, occurredAt: new Date(driftEnd.getTime() - 3_600_000), loggedBy: 'record' })),
  );
  const common = { modelId, model, scheduleId: null, windowDays: 1, windowEnd: end.toISOString(), trainingTaskQueue: env.services.taskQueues.training };
  const reauditId = `reaudit-${uid()}`;
  const reaudit = await env.services.client.workflow.execute(BIAS_REAUDIT_WORKFLOW_TYPE, {
    taskQueue: env.services.taskQueues.control,
    workflowId: reauditId,
    args: [{ ...common, policy: { maxFprIncrease: 0.05, maxFairnessGap: 0.15, minSupport: 30, attributes: ['sender_tld'], startRetraining: true } } satisfies BiasReauditInput],
  });
  if (!reaudit.alert || !reaudit.retrainingRunStarted) throw new Error(`the re-audit should alert and start a run: ${JSON.stringify(reaudit)}`);
  const driftId = `drift-${uid()}`;
  const drift = await env.services.client.workflow.execute(DRIFT_MONITOR_WORKFLOW_TYPE, {
    taskQueue: env.services.taskQueues.control,
    workflowId: driftId,
    args: [{ ...common, windowEnd: driftEnd.toISOString(), policy: { attributes: ['sender_tld', 'format'], startRetraining: true } } satisfies DriftMonitorInput],
  });
  if (!drift.drift || drift.retrainingRunStarted) throw new Error(`the drift monitor should find run ${reaudit.retrainingRunId} under way: ${JSON.stringify(drift)}`);
  await record(env, reauditId, path.join(HISTORIES, 'biasReaudit-alert-started-run.json'));
  await record(env, driftId, path.join(HISTORIES, 'driftMonitor-run-under-way.json'));
  await waitForStatus(env, reaudit.retrainingRunId!, ['promoted', 'rejected', 'failed']);
}
