// Workflow timers on Temporal's time-skipping test server: the rollout's hours-long shadow and canary
// analysis windows and the run's days-long approval deadline pass in seconds of wall time. Activities
// are stubs that record their calls: these tests prove the workflows' timing and decisions, not the db.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../../activities';
import { judgeShadowCounts, type MeasurementPhase, type WindowJudgement } from '../../analysis/rollout';
import { ensureTestServer } from '../../temporal-config/testServer';
import { workflowBundle } from '../../temporal-config/worker';
import { SEARCH_ATTRIBUTES } from '../../workflows/names';
import { resumeUpdate, rolloutStatusQuery, statusQuery, type RetrainingRunInput, type RolloutInput } from '../../workflows/messages';
import type { retrainingRun } from '../../workflows/retrainingRun';
import type { rollout } from '../../workflows/rollout';
import { uid } from '../helpers';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Slack for the real milliseconds activities and workflow tasks take between timers. */
const SLACK = 60_000;

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `time-skipping-${uid()}`;

// ───────────────────────────── stub activities ─────────────────────────────

type StubbedName =
  | 'setRolloutRoute'
  | 'analyzeCanaryWindow'
  | 'analyzeShadowWindow'
  | 'completeRollout'
  | 'rollbackRollout'
  | 'recordRunStep'
  | 'freezeSnapshot'
  | 'planTraining'
  | 'recordCandidate'
  | 'planEvaluationScoring'
  | 'evaluateVersions'
  | 'judgeGate'
  | 'recordApproval'
  | 'rejectCandidate'
  | 'finishRun';
type Stubs = Pick<Activities, StubbedName>;
type InputOf<K extends StubbedName> = Parameters<Stubs[K]>[0];

const calls: { name: StubbedName; input: unknown }[] = [];
function record<K extends StubbedName>(name: K, input: InputOf<K>): void {
  calls.push({ name, input });
}
/** Calls of one activity whose input matches `where` (every test uses its own model and run ids). */
function callsOf<K extends StubbedName>(name: K, where: (input: InputOf<K>) => boolean): InputOf<K>[] {
  return calls.filter((c) => c.name === name).map((c) => c.input as InputOf<K>).filter(where);
}

/** What analyzeCanaryWindow answers for a model, by window (1-based). */
const analysisScript = new Map<number, (window: number) => MeasurementPhase>();

const stubs: Stubs = {
  async setRolloutRoute(input) {
    record('setRolloutRoute', input);
  },
  async analyzeCanaryWindow(input): Promise<WindowJudgement> {
    record('analyzeCanaryWindow', input);
    const window = callsOf('analyzeCanaryWindow', (c) => c.modelId === input.modelId).length;
    const phase = analysisScript.get(input.modelId)?.(window) ?? 'Successful';
    return { phase, measurements: [], reasons: [`stub window ${window}: ${phase}`] };
  },
  async analyzeShadowWindow(input) {
    record('analyzeShadowWindow', input);
    // A candidate that agrees with production on all of 1000 requests: the shadow window succeeds.
    return { ...judgeShadowCounts({ requests: 1000, newBlocks: 0, newPasses: 0, servedBlocks: 300, slices: {} }), servedRequests: 1000, coverage: 1 };
  },
  async completeRollout(input) {
    record('completeRollout', input);
    return { applied: true, fromVersionId: null, toVersionId: input.versionId };
  },
  async rollbackRollout(input) {
    record('rollbackRollout', input);
  },
  async recordRunStep(input) {
    record('recordRunStep', input);
  },
  async freezeSnapshot(input) {
    record('freezeSnapshot', input);
    return { snapshotId: 11, contentHash: 'sha256:snapshot', trainCount: 100, heldoutCount: 40 };
  },
  async planTraining(input) {
    record('planTraining', input);
    const url = 'http://127.0.0.1:9/api/trainer';
    return {
      trainer: { name: 'builtin/hashed-logreg', taskQueue: input.trainingTaskQueue, timeToStartSeconds: 60 },
      input: {
        contractVersion: 1,
        jobKey: `${input.runId}/candidate`,
        model: { id: input.modelId, name: 'm', features: null, labelSet: { kind: 'binary', labels: [0, 1] } },
        params: {},
        seed: 1,
        data: { train: { url: `${url}/snapshots/11/examples?split=train`, rows: 100 } },
        artifactStore: { url: `${url}/artifacts` },
      },
    };
  },
  async recordCandidate(input) {
    record('recordCandidate', input);
    return { versionId: 22, version: 2, artifactHash: input.trained.artifact.sha256, trainedOn: 100 };
  },
  async planEvaluationScoring(input) {
    record('planEvaluationScoring', input);
    return [];
  },
  async evaluateVersions(input) {
    record('evaluateVersions', input);
    return {
      candidate: { reportId: 33, versionId: input.candidateVersionId, contentHash: 'sha256:candidate' },
      champion: { reportId: 34, versionId: 21, contentHash: 'sha256:champion' },
      packetHash: 'sha256:packet',
    };
  },
  async judgeGate(input) {
    record('judgeGate', input);
    return { policyVersion: 1, decision: 'needs_approval', reasons: ['sign-off: a human must approve'], rules: [] };
  },
  async recordApproval(input) {
    record('recordApproval', input);
  },
  async rejectCandidate(input) {
    record('rejectCandidate', input);
  },
  async finishRun(input) {
    record('finishRun', input);
  },
};

const SHA = `sha256:${'ab'.repeat(32)}`;
const trainerStubs = {
  async 'trainer.train'(input: { jobKey: string }) {
    return { contractVersion: 1, jobKey: input.jobKey, artifact: { uri: `retrain-store:${SHA}`, sha256: SHA, size: 1 }, trainedOn: 100, trainer: { name: 'builtin/hashed-logreg', version: '1', codeDigest: SHA } };
  },
};

before(
  async () => {
    const path = await ensureTestServer({ log: (msg) => process.stderr.write(`${msg}\n`) });
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } });
    // retrainingRun upserts its step as a search attribute; the test server knows only the ones it is told of.
    const keyword = encodeSearchAttributeIndexedValueType('KEYWORD')!;
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(Object.values(SEARCH_ATTRIBUTES).map((name) => [name, keyword])),
    });
    worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      // The built-in trainer's job, stubbed on the same queue (the run's training queue).
      activities: { ...stubs, ...trainerStubs },
    });
    running = worker.run();
  },
  { timeout: 300_000 }, // the first run may pip-install the test server
);

after(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running?.catch(() => undefined);
  await env?.teardown();
});

// ───────────────────────────── rollout ─────────────────────────────

const threeSixHourSteps: RolloutInput['plan'] = {
  shadowSeconds: 2 * 3600,
  steps: [
    { weight: 0.05, analysisSeconds: 6 * 3600 },
    { weight: 0.25, analysisSeconds: 6 * 3600 },
    { weight: 0.5, analysisSeconds: 6 * 3600 },
  ],
};

let nextModelId = 1000;
function rolloutInput(script: (window: number) => MeasurementPhase): RolloutInput {
  const modelId = nextModelId++;
  analysisScript.set(modelId, script);
  return { runId: `run-${uid()}`, modelId, candidateVersionId: 2, championVersionId: 1, requestedBy: 'requester', plan: threeSixHourSteps };
}

const ms = (iso: string) => new Date(iso).getTime();
function assertAbout(actualMs: number, expectedMs: number, what: string) {
  assert.ok(actualMs >= expectedMs && actualMs <= expectedMs + SLACK, `${what}: ${actualMs} ms, expected ${expectedMs} ms (+ at most ${SLACK} ms)`);
}

async function waitForQuery<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a rollout with a 2 h shadow and three 6 h analysis windows promotes in seconds of wall time', { timeout: 120_000 }, async () => {
  const input = rolloutInput(() => 'Successful');
  const wall0 = Date.now();
  const handle = await env.client.workflow.start<typeof rollout>('rollout', { taskQueue, workflowId: `rollout-${input.runId}`, args: [input] });
  const result = await handle.result();
  const wallMs = Date.now() - wall0;

  assert.equal(result.outcome, 'promoted');
  const mine = { modelId: (c: { modelId: number }) => c.modelId === input.modelId };
  assert.deepEqual(
    callsOf('setRolloutRoute', mine.modelId).map((c) => [c.kind, c.weight]),
    [
      ['shadow', 1],
      ['canary', 0.05],
      ['canary', 0.25],
      ['canary', 0.5],
    ],
  );
  assert.equal(callsOf('completeRollout', mine.modelId).length, 1);
  assert.equal(callsOf('rollbackRollout', mine.modelId).length, 0);

  // Each window is the step's 6 h analysis, in workflow time, and the next one starts where it ended.
  const windows = callsOf('analyzeCanaryWindow', mine.modelId);
  assert.equal(windows.length, 3);
  const { startTime, closeTime } = await handle.describe();
  assertAbout(ms(windows[0]!.from) - startTime.getTime(), 2 * HOUR, 'shadow window');
  // The shadow window's decisions are compared once, over its 2 h, before the first canary step.
  const shadow = callsOf('analyzeShadowWindow', mine.modelId);
  assert.equal(shadow.length, 1);
  assertAbout(ms(shadow[0]!.to) - ms(shadow[0]!.from), 2 * HOUR, 'shadow comparison window');
  assert.equal(shadow[0]!.shadowVersionId, 2);
  assert.equal(shadow[0]!.servingVersionId, 1);
  assert.equal(result.shadow?.phase, 'Successful');
  for (const [i, w] of windows.entries()) {
    assertAbout(ms(w.to) - ms(w.from), 6 * HOUR, `analysis window ${i + 1}`);
    if (i > 0) assertAbout(ms(w.from) - ms(windows[i - 1]!.from), 6 * HOUR, `start of window ${i + 1} after window ${i}`);
  }
  assert.deepEqual(
    result.analyses.map((a) => [a.step, a.from, a.to, a.phase]),
    windows.map((w, i) => [i + 1, w.from, w.to, 'Successful']),
  );
  const workflowMs = closeTime!.getTime() - startTime.getTime();
  assert.ok(workflowMs >= 20 * HOUR, `workflow time ${workflowMs} ms, expected at least 20 h`);
  assert.ok(wallMs < 30_000, `wall time ${wallMs} ms for ${(workflowMs / HOUR).toFixed(1)} h of workflow time`);
});

test('a planted regression is rolled back within its first analysis window', { timeout: 120_000 }, async () => {
  const input = rolloutInput((window) => (window === 1 ? 'Failed' : 'Successful'));
  const handle = await env.client.workflow.start<typeof rollout>('rollout', { taskQueue, workflowId: `rollout-${input.runId}`, args: [input] });
  const result = await handle.result();

  const mine = (c: { modelId: number }) => c.modelId === input.modelId;
  assert.equal(result.outcome, 'rolled_back');
  assert.match(result.reason, /canary step 1 \(5%\) failed its analysis/);
  assert.equal(result.analyses.length, 1);
  assert.equal(callsOf('analyzeCanaryWindow', mine).length, 1);
  const rollbacks = callsOf('rollbackRollout', mine);
  assert.equal(rollbacks.length, 1);
  assert.equal(rollbacks[0]!.actor, 'analysis');
  assert.equal(rollbacks[0]!.championVersionId, 1);
  assert.equal(callsOf('completeRollout', mine).length, 0);
  // Never went past the first canary step.
  assert.deepEqual(callsOf('setRolloutRoute', mine).map((c) => c.weight), [1, 0.05]);
  // Rolled back right after the first window: 2 h shadow + 6 h analysis of workflow time.
  const { startTime, closeTime } = await handle.describe();
  assertAbout(closeTime!.getTime() - startTime.getTime(), 8 * HOUR, 'time to rollback');
});

test('an inconclusive window pauses for a human however long it takes, and resume continues to promotion', { timeout: 120_000 }, async () => {
  const input = rolloutInput((window) => (window === 1 ? 'Inconclusive' : 'Successful'));
  const mine = (c: { modelId: number }) => c.modelId === input.modelId;
  const handle = await env.client.workflow.start<typeof rollout>('rollout', { taskQueue, workflowId: `rollout-${input.runId}`, args: [input] });

  // Skip past the shadow and the first analysis window (8 h), then it waits for a human.
  await env.sleep(8 * HOUR + SLACK);
  const paused = await waitForQuery('the rollout to pause', () => handle.query(rolloutStatusQuery), (s) => s.phase === 'paused');
  assert.equal(paused.step, 1);
  assert.match(paused.pausedBecause ?? '', /analysis of step 1 inconclusive/);

  // Three more days: no timer, no guessing; still paused on step 1 with one analysis.
  const before3d = await env.currentTimeMs();
  await env.sleep(3 * DAY);
  assert.ok((await env.currentTimeMs()) - before3d >= 3 * DAY, 'the test server skipped three days');
  const still = await handle.query(rolloutStatusQuery);
  assert.equal(still.phase, 'paused');
  assert.equal(still.step, 1);
  assert.equal(still.analyses.length, 1);
  assert.equal(callsOf('analyzeCanaryWindow', mine).length, 1);
  assert.equal(callsOf('completeRollout', mine).length + callsOf('rollbackRollout', mine).length, 0);

  const resumed = await handle.executeUpdate(resumeUpdate, { args: [{ caller: { subject: 'ops-on-call', role: 'operator' }, reason: 'thin traffic overnight; dashboards look fine' }] });
  assert.equal(resumed.pausedBecause, null);
  const result = await handle.result();

  assert.equal(result.outcome, 'promoted');
  assert.deepEqual(result.analyses.map((a) => a.phase), ['Inconclusive', 'Successful', 'Successful']);
  assert.equal(callsOf('completeRollout', mine).length, 1);
  assert.equal(callsOf('rollbackRollout', mine).length, 0);
  assert.deepEqual(callsOf('setRolloutRoute', mine).map((c) => c.weight), [1, 0.05, 0.25, 0.5]);
  // Step 2's window opened only after the pause: at least three days after step 1's closed.
  const [w1, w2] = result.analyses;
  assert.ok(ms(w2!.from) - ms(w1!.to) >= 3 * DAY, `step 2 opened ${ms(w2!.from) - ms(w1!.to)} ms after step 1 closed`);
  assertAbout(ms(w2!.to) - ms(w2!.from), 6 * HOUR, 'analysis window 2');
});

// ───────────────────────────── retrainingRun ─────────────────────────────

test('a gate nobody decides is rejected at its 3-day approval deadline', { timeout: 120_000 }, async () => {
  const runId = `run-${uid()}`;
  const mine = (c: { runId: string }) => c.runId === runId;
  const input: RetrainingRunInput = {
    runId,
    modelId: 7,
    model: 'spam-time-skipping',
    trigger: 'manual',
    requestedBy: 'requester',
    approvalTimeoutSeconds: 3 * 24 * 3600,
    trainingTaskQueue: taskQueue,
  };
  const handle = await env.client.workflow.start<typeof retrainingRun>('retrainingRun', { taskQueue, workflowId: runId, args: [input] });
  const result = await handle.result();

  assert.equal(result.outcome, 'rejected');
  assert.equal(result.gateDecision, 'needs_approval');
  assert.equal(result.humanDecision, 'timeout');
  assert.equal(result.reason, 'approval deadline passed');
  assert.equal(result.candidateVersionId, 22);
  assert.equal(result.productionVersionId, 21);

  assert.deepEqual(callsOf('recordApproval', mine), [
    { runId, decision: 'rejected', approver: 'system:deadline', reason: `no decision within ${3 * 24 * 3600} s`, reportHash: 'sha256:packet' },
  ]);
  assert.deepEqual(callsOf('rejectCandidate', mine), [{ runId, versionId: 22 }]);
  const finished = callsOf('finishRun', mine);
  assert.equal(finished.length, 1);
  assert.equal(finished[0]!.status, 'rejected');
  assert.deepEqual(
    callsOf('recordRunStep', mine).map((c) => [c.step, c.status ?? null]),
    [
      ['snapshot', null],
      ['training', null],
      ['evaluating', null],
      ['gate', null],
      ['awaiting_approval', 'awaiting_approval'],
      ['rejecting', 'running'],
    ],
  );

  // The deadline the run showed is three days after the wait began, and that is when the run ended.
  const status = await handle.query(statusQuery);
  const { startTime, closeTime } = await handle.describe();
  assertAbout(ms(status.approval!.deadline) - startTime.getTime(), 3 * DAY, 'approval deadline');
  assert.ok(closeTime!.getTime() >= ms(status.approval!.deadline), 'the run ended at or after its deadline');
  assert.equal(status.step, 'done');
});
