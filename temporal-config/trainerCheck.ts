// The trainer conformance suite (`retrain trainer check --queue Q`): drives whatever serves the trainer
// contract on a task queue, in any language, through the contract's promises (trainers/contract/README.md)
// with real jobs on a scratch model: describe, train, score, determinism per seed, one artifact per job
// key, refused params and contract versions, cancellation through the heartbeat, and data by reference
// whatever its size. Every call is a trainerCall workflow with one attempt, so each answer is judged as given.
import { randomBytes } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { and, asc, eq } from 'drizzle-orm';
import { createActivities } from '../activities/index';
import { rocAuc } from '../analysis/classification';
import { Rng } from '../analysis/random';
import type { Db } from '../db/index';
import { artifacts, datasetSnapshotMembers, examples, models, runs } from '../db/schema';
import { completedScoreSet } from '../db/trainerData';
import {
  CONTRACT_VERSION,
  TRAINER_ERRORS,
  scoreOutput,
  storeUri,
  trainerDescription,
  trainOutput,
  type FeatureKind,
  type FeatureSpec,
  type ScoreInput,
  type TrainerDescription,
  type TrainInput,
  type TrainOutput,
} from '../trainers/contract';
import { TRAINER_CALL_WORKFLOW_TYPE, type TrainerCallInput } from '../workflows/messages';

export type CheckStatus = 'passed' | 'failed' | 'inconclusive';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  seconds: number;
}

export interface CheckReport {
  taskQueue: string;
  /** Who answered trainer.describe (null when nothing did). */
  trainer: { name: string; version: string; codeDigest: string } | null;
  /** The scratch model the checks trained on: data, left in place. */
  model: string | null;
  checks: CheckResult[];
  /** True when no check failed (inconclusive ones do not fail the suite). */
  passed: boolean;
  seconds: number;
}

export interface CheckTrainerOptions {
  /** Temporal client of the namespace the trainer serves. */
  client: Client;
  db: Db;
  /** The control plane's base URL as the trainer reaches it (the data plane's). */
  apiUrl: string;
  /** A queue whose worker runs the control plane's workflows (trainerCall). */
  controlQueue: string;
  /** The trainer's task queue: what is checked. */
  taskQueue: string;
  log?: (msg: string) => void;
  /** How long a job may wait for the trainer to pick it up (default 30 s). */
  timeToStartSeconds?: number;
  /** Rows of the small snapshot (train and held-out together; default 1500). */
  rows?: number;
  /** Rows of the large snapshot, trained by reference (default 100,000). */
  largeRows?: number;
  /**
   * How soon after the cancel the call must close cancelled. Default 17 s: a cancel reaches an activity
   * with the next heartbeat its worker sends, and SDK workers send at most one per 0.8 × the heartbeat
   * timeout (15 s here, so 12 s), then a few seconds to acknowledge.
   */
  cancelBoundSeconds?: number;
  /** Largest single payload the large job's history may hold (default 4 KiB). */
  maxPayloadBytes?: number;
  /** The feature kinds the scratch model uses (default: every kind the trainer takes). */
  featureKinds?: readonly FeatureKind[];
  /** Params the cancellation check trains with (default: iteration-like integer params at their maximum). */
  slowParams?: Record<string, unknown>;
}

/** The Services (temporal-config/services.ts) fields the suite runs on. */
export interface ServicesLike {
  client: Client;
  opened: { db: Db };
  api: { url: string } | null;
  taskQueues: { control: string };
}

export function checkTargetOf(services: ServicesLike, apiUrl?: string): Pick<CheckTrainerOptions, 'client' | 'db' | 'apiUrl' | 'controlQueue'> {
  const url = apiUrl ?? services.api?.url;
  if (!url) throw new Error('the conformance suite needs the data plane: start the API in this process or give its URL');
  return { client: services.client, db: services.opened.db, apiUrl: url, controlQueue: services.taskQueues.control };
}

const HELD_OUT_FRACTION = 0.3;
/** Scores of the same model and seed must agree to this (float noise across runs, nothing more). */
const SAME_SCORES = 1e-9;
/** The synthetic signal is strong: a trainer that learns anything clears this easily. */
const MIN_AUC = 0.75;
/** Params named like these are the trainer's "work longer" knobs: the cancellation check sets them high. */
const SLOW_PARAM = /epoch|iter|estimator|round|step|boost/i;
/** The cancelled job's heartbeat timeout: the contract's beat (at least every 10 s) with room to spare. */
const CANCEL_HEARTBEAT_SECONDS = 15;

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

// ---- synthetic data with a learnable signal, in the kinds the trainer takes -------------------------------

type Input = Record<string, string | number | boolean | null>;

/** Features the scratch model declares: a column (or two) of every kind the trainer says it takes, each carrying signal but `noise`. */
export function scratchFeatures(kinds: readonly string[]): FeatureSpec[] {
  const out: FeatureSpec[] = [];
  if (kinds.includes('text')) out.push({ name: 'body', kind: 'text', missing: false });
  if (kinds.includes('number')) out.push({ name: 'amount', kind: 'number', missing: false }, { name: 'noise', kind: 'number', missing: false });
  if (kinds.includes('category')) out.push({ name: 'channel', kind: 'category', missing: false });
  if (kinds.includes('boolean')) out.push({ name: 'flagged', kind: 'boolean', missing: false });
  return out;
}

const POSITIVE_WORDS = ['prize', 'winner', 'free', 'claim', 'urgent', 'offer', 'cash', 'bonus'];
const NEGATIVE_WORDS = ['meeting', 'agenda', 'report', 'lunch', 'review', 'schedule', 'minutes', 'draft'];
/** Words of both classes: a vocabulary wide enough that rows have many distinct features, as real text does. */
const SHARED_WORDS = Array.from({ length: 2000 }, (_, i) => `w${i}`);
const CHANNELS = ['web', 'mail', 'phone', 'store'];
/** An email's length, roughly: long enough that training at a trainer's slowest params outlasts a heartbeat throttle. */
const WORDS_PER_TEXT = 128;

/** One example: label drawn first, features drawn from it (noisy, so scores are not all 0 or 1). */
function syntheticExample(features: FeatureSpec[], rand: () => number): { input: Input; label: 0 | 1 } {
  const label: 0 | 1 = rand() < 0.5 ? 1 : 0;
  const input: Input = {};
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  for (const f of features) {
    if (f.kind === 'text') {
      const words: string[] = [];
      for (let i = 0; i < WORDS_PER_TEXT; i++) {
        const r = rand();
        // One word in ten carries the class; one in ten of those points the wrong way.
        words.push(r < 0.1 ? pick((rand() < 0.9) === (label === 1) ? POSITIVE_WORDS : NEGATIVE_WORDS) : pick(SHARED_WORDS));
      }
      input[f.name] = words.join(' ');
    } else if (f.kind === 'number') {
      input[f.name] = f.name === 'noise' ? Math.round(gaussian(rand) * 1000) / 1000 : Math.round((gaussian(rand) + 1.5 * label) * 1000) / 1000;
    } else if (f.kind === 'category') {
      input[f.name] = rand() < 0.6 ? CHANNELS[label === 1 ? 0 : 1]! : pick(CHANNELS);
    } else {
      input[f.name] = rand() < (label === 1 ? 0.7 : 0.3);
    }
  }
  return { input, label };
}

// ---- helpers ------------------------------------------------------------------------------------------

const seconds = (since: number) => Math.round((Date.now() - since) / 10) / 100;
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The failure under a trainerCall's WorkflowFailedError: the activity's own (ApplicationFailure, timeout, ...). */
function rootCause(err: unknown): unknown {
  let e = err;
  while ((e instanceof ActivityFailure || (e instanceof Error && e.name === 'WorkflowFailedError')) && e.cause) e = e.cause;
  return e;
}

function describeFailure(err: unknown): string {
  const c = rootCause(err);
  if (c instanceof ApplicationFailure) return `${c.type ?? 'Error'}${c.nonRetryable ? ' (non-retryable)' : ''}: ${c.message}`;
  if (c instanceof TimeoutFailure) return `timed out (${String(c.timeoutType)})`;
  return message(c);
}

/** Bytes of every payload in a history (data and metadata), and the largest one. */
export function payloadSizes(history: unknown): { total: number; largest: number; count: number } {
  let total = 0;
  let largest = 0;
  let count = 0;
  const walk = (v: unknown): void => {
    if (!v || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
    if (Array.isArray(v)) return v.forEach(walk);
    const o = v as Record<string, unknown>;
    if (o.data instanceof Uint8Array && o.metadata && typeof o.metadata === 'object') {
      let size = o.data.byteLength;
      for (const [k, m] of Object.entries(o.metadata as Record<string, unknown>)) size += k.length + (m instanceof Uint8Array ? m.byteLength : 0);
      total += size;
      largest = Math.max(largest, size);
      count++;
      return;
    }
    for (const x of Object.values(o)) walk(x);
  };
  walk(history);
  return { total, largest, count };
}

/** The params that make the trainer work longest: its integer iteration-like params at their maximum. */
export function slowParams(paramsSchema: Record<string, unknown>): Record<string, number> {
  const props = (paramsSchema.properties ?? {}) as Record<string, { type?: unknown; maximum?: unknown }>;
  const out: Record<string, number> = {};
  for (const [name, spec] of Object.entries(props)) {
    if (SLOW_PARAM.test(name) && (spec.type === 'integer' || (Array.isArray(spec.type) && spec.type.includes('integer'))) && typeof spec.maximum === 'number') out[name] = spec.maximum;
  }
  return out;
}

// ---- the suite ----------------------------------------------------------------------------------------

interface Snapshot {
  runId: string;
  snapshotId: number;
  trainCount: number;
  heldoutCount: number;
}

export async function checkTrainer(opts: CheckTrainerOptions): Promise<CheckReport> {
  const started = Date.now();
  const log = opts.log ?? (() => {});
  const { client, db, taskQueue } = opts;
  const timeToStart = opts.timeToStartSeconds ?? 30;
  const smallRows = opts.rows ?? 1500;
  const largeRows = opts.largeRows ?? 100_000;
  const cancelBound = opts.cancelBoundSeconds ?? 0.8 * CANCEL_HEARTBEAT_SECONDS + 5;
  const maxPayload = opts.maxPayloadBytes ?? 4096;
  const uid = randomBytes(4).toString('hex');
  const safeQueue = taskQueue.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 60);
  const scratch = `conformance-${safeQueue}-${uid}`;
  const activities = createActivities({ db, dataPlane: { apiUrl: () => opts.apiUrl } });
  const checks: CheckResult[] = [];
  const report = (): CheckReport => ({
    taskQueue,
    trainer: description ? { name: description.name, version: description.version, codeDigest: description.codeDigest } : null,
    model: modelId === null ? null : scratch,
    checks,
    passed: checks.every((c) => c.status !== 'failed'),
    seconds: seconds(started),
  });
  let description: TrainerDescription | null = null;
  let modelId: number | null = null;
  let calls = 0;

  /** Runs one check; a thrown error fails it with its message. */
  async function check(name: string, body: () => Promise<{ status: CheckStatus; detail: string }>): Promise<CheckStatus> {
    const t = Date.now();
    log(`${name}: running`);
    let result: { status: CheckStatus; detail: string };
    try {
      result = await body();
    } catch (err) {
      result = { status: 'failed', detail: describeFailure(err) };
    }
    checks.push({ name, ...result, seconds: seconds(t) });
    log(`${name}: ${result.status}: ${result.detail}`);
    return result.status;
  }
  const skip = (names: string[], why: string) => {
    for (const name of names) if (!checks.some((c) => c.name === name)) checks.push({ name, status: 'inconclusive', detail: `not run: ${why}`, seconds: 0 });
  };

  /** Starts one trainer activity on the checked queue, as a trainerCall workflow (one attempt). */
  function start(step: string, call: Omit<TrainerCallInput, 'taskQueue' | 'maximumAttempts'>): Promise<WorkflowHandle> {
    const input: TrainerCallInput = { taskQueue, maximumAttempts: 1, timeToStartSeconds: timeToStart, ...call };
    return client.workflow.start(TRAINER_CALL_WORKFLOW_TYPE, {
      taskQueue: opts.controlQueue,
      workflowId: `trainer-check/${safeQueue}/${uid}/${step}/${++calls}`,
      args: [input],
    });
  }
  const run = async (step: string, call: Omit<TrainerCallInput, 'taskQueue' | 'maximumAttempts'>): Promise<unknown> => (await start(step, call)).result();

  async function train(step: string, input: TrainInput, extra: Partial<TrainerCallInput> = {}): Promise<TrainOutput> {
    const out = await run(step, { activity: 'trainer.train', input, ...extra });
    const parsed = trainOutput.safeParse(out);
    if (!parsed.success) throw new Error(`trainer.train answered outside train.output: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }

  /** Scores an artifact on the small snapshot's held-out split; the stored scores, in exampleId order. */
  async function score(step: string, snap: Snapshot, jobKey: string, artifact: TrainOutput['artifact']): Promise<{ input: ScoreInput; sha256: string; scored: number; scores: Float64Array; contentHash: string }> {
    const input = await activities.planArtifactScoring({ modelId: modelId!, snapshotId: snap.snapshotId, jobKey, artifact });
    const out = scoreOutput.safeParse(await run(step, { activity: 'trainer.score', input }));
    if (!out.success) throw new Error(`trainer.score answered outside score.output: ${out.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    if (out.data.jobKey !== jobKey) throw new Error(`trainer.score answered jobKey ${JSON.stringify(out.data.jobKey)} for ${JSON.stringify(jobKey)}`);
    const stored = await completedScoreSet(db, jobKey);
    if (!stored) throw new Error(`trainer.score answered, but score set ${jobKey} is not complete: the scores were never PUT`);
    return { input, sha256: out.data.sha256, scored: out.data.scored, scores: stored.scores, contentHash: stored.contentHash };
  }

  async function expectRefusal(step: string, input: TrainInput, type: string): Promise<string> {
    try {
      await run(step, { activity: 'trainer.train', input });
    } catch (err) {
      const c = rootCause(err);
      if (!(c instanceof ApplicationFailure)) return `${step}: failed, but not with an application error: ${describeFailure(err)}`;
      if (c.type !== type) return `${step}: failed with ${c.type ?? 'an untyped error'} (${c.message}), not ${type}`;
      if (!c.nonRetryable) return `${step}: ${type} is not marked non-retryable (it would be retried)`;
      return '';
    }
    return `${step}: trainer.train succeeded; it should fail with ${type}`;
  }

  // 1. describe ------------------------------------------------------------------------------------------
  const described = await check('describe', async () => {
    let answer: unknown;
    try {
      answer = await run('describe', { activity: 'trainer.describe' });
    } catch (err) {
      const c = rootCause(err);
      if (c instanceof TimeoutFailure && c.timeoutType === TimeoutType.SCHEDULE_TO_START) {
        return { status: 'failed', detail: `no worker took trainer.describe on task queue "${taskQueue}" within ${timeToStart} s: is a trainer serving that queue (and this namespace)?` };
      }
      throw err;
    }
    const parsed = trainerDescription.safeParse(answer);
    if (!parsed.success) return { status: 'failed', detail: `answer outside describe.output: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
    const d = parsed.data;
    const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
    let validate;
    try {
      validate = ajv.compile(d.paramsSchema);
    } catch (err) {
      return { status: 'failed', detail: `paramsSchema does not compile as JSON Schema 2020-12: ${message(err)}` };
    }
    if (!d.labelSets.includes('binary')) return { status: 'failed', detail: `labelSets ${JSON.stringify(d.labelSets)} leave out binary` };
    const untaken = (opts.featureKinds ?? []).filter((k) => !d.featureKinds.includes(k));
    if (untaken.length) return { status: 'failed', detail: `the trainer does not take feature kinds ${untaken.join(', ')} (it takes ${d.featureKinds.join(', ')})` };
    description = d;
    const slow = opts.slowParams ?? slowParams(d.paramsSchema);
    const notes = [validate({}) ? 'empty params valid' : `empty params invalid (${ajv.errorsText(validate.errors)})`];
    if (Object.keys(slow).length && !validate(slow)) notes.push(`slow params ${JSON.stringify(slow)} invalid`);
    return { status: 'passed', detail: `${d.name} ${d.version} (${d.codeDigest.slice(0, 19)}…), kinds ${d.featureKinds.join('/')}, ${notes.join(', ')}` };
  });
  const rest = ['data', 'train', 'score', 'learns', 'determinism', 'idempotent-retry', 'bad-params', 'cancellation', 'large-snapshot'];
  if (described !== 'passed' || !description) {
    skip(rest, 'describe did not pass');
    return report();
  }
  const d: TrainerDescription = description;

  // 2. data: the scratch model, its examples, a frozen snapshot and the planned jobs ------------------------
  const features = scratchFeatures(opts.featureKinds ?? d.featureKinds);
  const rng = new Rng(0x5eed);
  const rand = () => rng.next();
  let count = 0;
  async function addExamples(n: number): Promise<void> {
    const chunk = 2000;
    for (let i = 0; i < n; i += chunk) {
      const rows = [];
      for (let k = i; k < Math.min(n, i + chunk); k++) {
        const { input, label } = syntheticExample(features, rand);
        const id = count++;
        rows.push({
          modelId: modelId!,
          externalId: `c-${String(id).padStart(7, '0')}`,
          // The column is typed for text models; the contract allows numbers and booleans too.
          input: input as Record<string, string>,
          label,
          split: rand() < HELD_OUT_FRACTION ? ('heldout' as const) : ('train' as const),
        });
      }
      await db.insert(examples).values(rows);
    }
  }
  async function freeze(step: string): Promise<Snapshot> {
    const runId = `${scratch}/${step}`;
    // freezeSnapshot keys a snapshot by its run: a scratch run row, closed at once, never a workflow.
    await db.insert(runs).values({
      id: runId,
      modelId: modelId!,
      trigger: 'manual',
      requestedBy: 'trainer-check',
      status: 'cancelled',
      step: 'trainer-check',
      result: { note: 'scratch run of retrain trainer check: its snapshot feeds the conformance suite' },
      finishedAt: new Date(),
    });
    const s = await activities.freezeSnapshot({ runId, modelId: modelId! });
    return { runId, ...s };
  }

  let small: Snapshot | null = null;
  let job: TrainInput | null = null;
  const dataOk = await check('data', async () => {
    const [m] = await db
      .insert(models)
      .values({ name: scratch, description: `scratch model of the trainer conformance suite (queue ${taskQueue})`, trainerName: d.name, trainerQueue: taskQueue, featureSchema: features, createdBy: 'trainer-check' })
      .returning({ id: models.id });
    modelId = m!.id;
    await addExamples(smallRows);
    small = await freeze('small');
    job = (await activities.planTraining({ runId: small.runId, modelId: modelId, snapshotId: small.snapshotId, trainingTaskQueue: taskQueue })).input;
    return {
      status: 'passed',
      detail: `model ${scratch}: ${features.map((f) => `${f.name}:${f.kind}`).join(', ')}; snapshot ${small.snapshotId} (${small.trainCount} train, ${small.heldoutCount} held-out)`,
    };
  });
  if (dataOk !== 'passed' || !small || !job) {
    skip(rest, 'the scratch data could not be built');
    return report();
  }
  const snap: Snapshot = small;
  const baseJob: TrainInput = job;
  const heldoutLabels = (
    await db
      .select({ label: datasetSnapshotMembers.label })
      .from(datasetSnapshotMembers)
      .where(and(eq(datasetSnapshotMembers.snapshotId, snap.snapshotId), eq(datasetSnapshotMembers.split, 'heldout')))
      .orderBy(asc(datasetSnapshotMembers.exampleId))
  ).map((r) => r.label);

  // 3. train ---------------------------------------------------------------------------------------------
  let trained: TrainOutput | null = null;
  await check('train', async () => {
    const t = await train('train', baseJob);
    const problems: string[] = [];
    if (t.jobKey !== baseJob.jobKey) problems.push(`jobKey ${JSON.stringify(t.jobKey)} is not the job's ${JSON.stringify(baseJob.jobKey)}`);
    if (t.trainedOn !== baseJob.data.train.rows) problems.push(`trainedOn ${t.trainedOn}, the data reference holds ${baseJob.data.train.rows} rows`);
    if (t.artifact.size <= 0) problems.push('artifact.size is 0');
    if (t.trainer.name !== d.name || t.trainer.version !== d.version || t.trainer.codeDigest !== d.codeDigest) problems.push(`trainer ${JSON.stringify(t.trainer)} is not what describe said`);
    if (t.artifact.uri.startsWith('retrain-store:')) {
      if (t.artifact.uri !== storeUri(t.artifact.sha256)) problems.push(`artifact.uri ${t.artifact.uri} does not name its sha256 ${t.artifact.sha256}`);
      const [stored] = await db.select({ size: artifacts.size }).from(artifacts).where(eq(artifacts.sha256, t.artifact.sha256));
      if (!stored) problems.push(`artifact ${t.artifact.sha256} is not in the control plane's store`);
      else if (stored.size !== t.artifact.size) problems.push(`artifact.size ${t.artifact.size}, the store holds ${stored.size} bytes`);
    } else if (!/^[a-z][a-z0-9+.-]*:/i.test(t.artifact.uri)) {
      problems.push(`artifact.uri ${JSON.stringify(t.artifact.uri)} is not a URI`);
    }
    if (problems.length) return { status: 'failed', detail: problems.join('; ') };
    trained = t;
    return { status: 'passed', detail: `${t.trainedOn} rows, artifact ${t.artifact.uri.slice(0, 40)}… (${t.artifact.size} bytes)` };
  });
  if (!trained) {
    skip(rest, 'train did not pass');
    return report();
  }
  const candidate: TrainOutput = trained;

  // 4. score, and 4b. the scores separate the classes -------------------------------------------------------
  let firstScores: Float64Array | null = null;
  await check('score', async () => {
    const jobKey = `${snap.runId}/score/candidate`;
    const s = await score('score', snap, jobKey, candidate.artifact);
    const problems: string[] = [];
    if (s.scored !== snap.heldoutCount) problems.push(`scored ${s.scored}, the held-out split holds ${snap.heldoutCount}`);
    if (s.scores.length !== snap.heldoutCount) problems.push(`the stored set holds ${s.scores.length} scores for ${snap.heldoutCount} rows`);
    const bad = s.scores.findIndex((x) => !(x >= 0 && x <= 1));
    if (bad >= 0) problems.push(`score ${s.scores[bad]} at row ${bad} is outside [0, 1]`);
    if (s.sha256 !== s.contentHash) problems.push(`answered sha256 ${s.sha256}, the stored set's is ${s.contentHash}`);
    const again = await score('score-again', snap, jobKey, candidate.artifact);
    if (again.sha256 !== s.sha256) problems.push(`scoring the same job key again answered ${again.sha256}, first ${s.sha256}`);
    if (problems.length) return { status: 'failed', detail: problems.join('; ') };
    firstScores = s.scores;
    return { status: 'passed', detail: `${s.scored} held-out rows, each once, in [0, 1]; content hash matches; a repeated job answers the same set` };
  });
  await check('learns', async () => {
    if (!firstScores) return { status: 'inconclusive', detail: 'no scores (the score check failed)' };
    // The evaluation engine's AUC (analysis/classification, proven against scikit-learn); null: one class only.
    const auc = rocAuc(heldoutLabels, firstScores) ?? Number.NaN;
    const detail = `held-out AUC ${auc.toFixed(3)} on a synthetic signal (needs ≥ ${MIN_AUC})`;
    return { status: auc >= MIN_AUC ? 'passed' : 'failed', detail };
  });

  // 5. determinism per seed -----------------------------------------------------------------------------
  await check('determinism', async () => {
    if (!firstScores) return { status: 'inconclusive', detail: 'no scores of the first model to compare with' };
    const reference = firstScores;
    const sameSeed = await train('same-seed', { ...baseJob, jobKey: `${baseJob.jobKey}/same-seed` });
    const same = await score('score-same-seed', snap, `${snap.runId}/score/same-seed`, sameSeed.artifact);
    let maxDiff = 0;
    for (let i = 0; i < reference.length; i++) maxDiff = Math.max(maxDiff, Math.abs(reference[i]! - (same.scores[i] ?? NaN)));
    if (same.scores.length !== reference.length || !(maxDiff < SAME_SCORES)) {
      return { status: 'failed', detail: `the same seed under another job key scores differently: max |diff| ${maxDiff} over ${reference.length} rows` };
    }
    const otherSeed = await train('other-seed', { ...baseJob, jobKey: `${baseJob.jobKey}/other-seed`, seed: baseJob.seed + 1 });
    const other = await score('score-other-seed', snap, `${snap.runId}/score/other-seed`, otherSeed.artifact);
    let otherDiff = 0;
    for (let i = 0; i < reference.length; i++) otherDiff = Math.max(otherDiff, Math.abs(reference[i]! - other.scores[i]!));
    const artifactNote = sameSeed.artifact.sha256 === candidate.artifact.sha256 ? 'same artifact bytes' : 'different artifact bytes, same scores';
    return {
      status: 'passed',
      detail: `seed ${baseJob.seed} twice: max |diff| ${maxDiff} (${artifactNote}); seed ${baseJob.seed + 1} ${otherDiff > SAME_SCORES ? `differs (max |diff| ${otherDiff.toPrecision(3)})` : 'scores the same (the seed does not change this model)'}`,
    };
  });

  // 6. a retried job records one artifact ------------------------------------------------------------------
  await check('idempotent-retry', async () => {
    const again = await train('retry', baseJob);
    if (again.artifact.sha256 !== candidate.artifact.sha256 || again.artifact.uri !== candidate.artifact.uri) {
      return { status: 'failed', detail: `train again under job key ${baseJob.jobKey} answered artifact ${again.artifact.uri}, the first answer was ${candidate.artifact.uri}: one job key, two artifacts` };
    }
    return { status: 'passed', detail: `the same job key answered the same artifact (${again.artifact.sha256.slice(0, 19)}…)` };
  });

  // 7. refused params and contract versions -------------------------------------------------------------
  await check('bad-params', async () => {
    const problems = [
      await expectRefusal('unknown-param', { ...baseJob, jobKey: `${baseJob.jobKey}/bad-params`, params: { ...baseJob.params, conformanceUnknownParam: 1 } }, TRAINER_ERRORS.badParams),
      await expectRefusal('contract-v2', { ...baseJob, jobKey: `${baseJob.jobKey}/contract-v2`, contractVersion: (CONTRACT_VERSION + 1) as typeof CONTRACT_VERSION }, TRAINER_ERRORS.unsupportedContract),
    ].filter(Boolean);
    if (problems.length) return { status: 'failed', detail: problems.join('; ') };
    return { status: 'passed', detail: `an unknown param fails ${TRAINER_ERRORS.badParams}, contractVersion ${CONTRACT_VERSION + 1} fails ${TRAINER_ERRORS.unsupportedContract}, both non-retryable` };
  });

  // The large snapshot: the small one's rows and more, frozen under a run of its own.
  let large: Snapshot | null = null;
  let largeJob: TrainInput | null = null;
  try {
    const t = Date.now();
    await addExamples(Math.max(0, largeRows - count));
    large = await freeze('large');
    largeJob = (await activities.planTraining({ runId: large.runId, modelId: modelId!, snapshotId: large.snapshotId, trainingTaskQueue: taskQueue })).input;
    log(`large snapshot ${large.snapshotId}: ${large.trainCount} train rows, built in ${seconds(t)} s`);
  } catch (err) {
    skip(['cancellation', 'large-snapshot'], `the large snapshot could not be built: ${message(err)}`);
  }

  // 8. cancellation through the heartbeat -----------------------------------------------------------------
  if (largeJob) {
    const heavy: TrainInput = largeJob;
    await check('cancellation', async () => {
      const slow = opts.slowParams ?? slowParams(d.paramsSchema);
      const handle = await start('cancel', { activity: 'trainer.train', input: { ...heavy, jobKey: `${heavy.jobKey}/cancel`, params: { ...heavy.params, ...slow } }, heartbeatSeconds: CANCEL_HEARTBEAT_SECONDS });
      const t0 = Date.now();
      // Wait for the trainer's first heartbeat (the contract: at least every 10 s).
      let beat = false;
      while (!beat) {
        const desc = await handle.describe();
        if (desc.status.name !== 'RUNNING') return { status: 'inconclusive', detail: `the training closed ${desc.status.name} before its first heartbeat was seen (${seconds(t0)} s)` };
        beat = (desc.raw.pendingActivities ?? []).some((a) => (a.heartbeatDetails?.payloads?.length ?? 0) > 0 || a.lastHeartbeatTime);
        if (!beat && Date.now() - t0 > (timeToStart + 20) * 1000) return { status: 'failed', detail: `no heartbeat within ${seconds(t0)} s of the job's start (the contract asks for one at least every 10 s)` };
        if (!beat) await new Promise((r) => setTimeout(r, 200));
      }
      const cancelled = Date.now();
      await handle.cancel();
      for (;;) {
        const desc = await handle.describe();
        const status = desc.status.name;
        const after = seconds(cancelled);
        if (status === 'CANCELLED') return { status: after <= cancelBound ? 'passed' : 'failed', detail: `heartbeat seen after ${Math.round((cancelled - t0) / 100) / 10} s (params ${JSON.stringify(slow)}); the trainer acknowledged the cancel ${after} s after it (bound ${cancelBound} s)` };
        if (status === 'COMPLETED') {
          return after <= cancelBound
            ? { status: 'inconclusive', detail: `the training (params ${JSON.stringify(slow)}) finished ${after} s after the cancel, before it landed: give it more rows (largeRows) to cancel` }
            : { status: 'failed', detail: `the trainer ignored the cancel and finished ${after} s later` };
        }
        if (status !== 'RUNNING') {
          const why = await handle.result().then(
            () => 'no error',
            (err: unknown) => describeFailure(err),
          );
          return { status: 'failed', detail: `the call closed ${status} after the cancel, not CANCELLED: ${why}` };
        }
        if (after > cancelBound + 30) return { status: 'failed', detail: `still running ${after} s after the cancel: the trainer does not stop when cancelled` };
        await new Promise((r) => setTimeout(r, 200));
      }
    });
  }

  // 9. a large snapshot travels by reference ---------------------------------------------------------------
  if (largeJob && large) {
    const big: TrainInput = largeJob;
    const bigSnap: Snapshot = large;
    await check('large-snapshot', async () => {
      const t = Date.now();
      const handle = await start('large', { activity: 'trainer.train', input: big });
      const raw = await handle.result();
      const secs = seconds(t);
      const out = trainOutput.parse(raw);
      const sizes = payloadSizes(await handle.fetchHistory());
      const rate = Math.round(out.trainedOn / Math.max(secs, 0.001));
      const detail = `${out.trainedOn} rows trained in ${secs} s (${rate} rows/s read and trained); history payloads ${sizes.count}, ${sizes.total} bytes, largest ${sizes.largest}`;
      if (out.trainedOn !== bigSnap.trainCount) return { status: 'failed', detail: `trainedOn ${out.trainedOn}, the snapshot holds ${bigSnap.trainCount}; ${detail}` };
      if (sizes.largest > maxPayload) return { status: 'failed', detail: `a payload of ${sizes.largest} bytes (bound ${maxPayload}): data travels in payloads; ${detail}` };
      return { status: 'passed', detail };
    });
  }
  return report();
}

/** The report as a table for a terminal. */
export function formatCheckReport(r: CheckReport): string {
  const head = [
    `trainer conformance: queue ${r.taskQueue}` + (r.trainer ? `, ${r.trainer.name} ${r.trainer.version}` : ''),
    ...(r.model ? [`scratch model (left in place): ${r.model}`] : []),
  ];
  const rows = [['check', 'result', 'seconds', 'detail'], ...r.checks.map((c) => [c.name, c.status, c.seconds.toFixed(1), c.detail])];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('  '));
  const failed = r.checks.filter((c) => c.status === 'failed').length;
  const inconclusive = r.checks.filter((c) => c.status === 'inconclusive').length;
  return [...head, '', ...lines, '', `${r.passed ? 'PASSED' : 'FAILED'}: ${r.checks.length - failed - inconclusive} passed, ${failed} failed, ${inconclusive} inconclusive in ${r.seconds} s`].join('\n');
}
