/**
 * What does the saturation check cost, against the training it has to do anyway, and does it keep
 * both cores busy?
 *
 *   [TEMPORAL_TEST_ADDRESS=127.0.0.1:7400] [DATABASE_URL=postgres://...] TEMPORAL_CLI_PATH=/tmp/tbin/bin/temporal npx tsx bench/saturation.bench.ts
 *       [--fraction 1] [--seeds 3] [--threads 2,1] [--repeat 3]
 *
 * Data: the real corpus (demo/corpus.ts, 6,046 e-mails; --fraction keeps an evenly spaced share of
 * it), split as test/helpers.ts does (held-out 0.3, seed 7). Fractions are the check's defaults
 * (0.1 … 1.0), --seeds seeds each; no annotation batch, so no ablation points.
 *
 * Peer A: the check's training jobs back to back in this process on the main thread: for each
 * (fraction, seed) the nested subset the check takes (analysis/nestedSubset.ts nestedOrder, the order
 * the data plane serves it in), trainHashedLogReg with the default params and that seed, the artifact
 * through its bytes (serialise, deserialise: the trainer stores it and scores from the stored copy),
 * then the held-out scoring each point does (predictBatch, the evaluation engine overall and per slice,
 * wrong rows: trainer.score and recordSaturationPoint between them). One untimed warm-up training
 * first. Every point is checked against the check's stored point (same train size, same error: the
 * trainer is deterministic), so both sides did the same work.
 *
 * The check: startTestEnv (real Temporal dev server; in-memory PGlite, or with DATABASE_URL a database
 * of its own on that server; workers and API in this process; the built-in trainer serves the training queue and reads its data over HTTP from this
 * process's data plane), a model with the corpus imported through the API in batches of 500, one
 * bootstrap run with `saturation: { seeds }`. Each point runs six activities (workflows/saturationCheck.ts):
 * storedSaturationPoint, planSaturationTraining, trainer.train (reads the nested subset as NDJSON,
 * trains in the pool, stores the artifact), planArtifactScoring, trainer.score (reads the artifact and
 * the held-out split, puts the scores back), recordSaturationPoint (judges the scores). Measured: the
 * child workflow saturation-<run> start → close (wall), the time the run's `step` column shows
 * 'saturation' (polled every 50 ms), the sum of the per-point `seconds` in saturation_points (the
 * trainer's own measure of trainer.train: read, train, store), and from the child's history: the
 * execution time of the six per-point activities summed (the point's work, compared with peer A), the
 * queue wait and execution time of trainer.train (training) and trainer.score, the most trainings and
 * the most trainer jobs (train + score, which share the training worker's slots) executing at once;
 * this process's CPU time over the step (main thread, training threads, Temporal core; the Temporal
 * server is another process and not counted) and the most training-pool threads seen. One case per
 * --threads value: RETRAIN_TRAINING_THREADS is set before that case's startTestEnv, which fixes both
 * the training worker's concurrency (temporal-config/worker.ts trainingConcurrency) and the pool size
 * (trainers/threadPool.ts); each case has its own services, stopped (pool closed) after it.
 *
 * --repeat rounds are interleaved (peer A, then every case, again) so peer and cases see the same
 * background load; the table shows the best round of each (peer A by its total, a case by its wall)
 * with the 1-minute load average, and every round is listed below it. On a shared machine wall
 * seconds (and so the stored per-point seconds) suffer from other processes; CPU seconds much less.
 * Last, the per-point work besides training and scoring is timed piece by piece: the data plane's
 * reads (the full nested subset, the held-out split), the nested order alone, the artifact store's
 * round trip, the clone into the training thread, the artifact's (de)serialisation.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { tsToMs } from '@temporalio/common/lib/time';
import { eq } from 'drizzle-orm';
import { defaultEvaluationSettings, heldOutErrors } from '../analysis/report';
import { nestedOrder, nestedPermutation } from '../analysis/nestedSubset';
import { snapshotMembers } from '../db/queries';
import { datasetSnapshots, runs, saturationPoints } from '../db/schema';
import { issueToken } from '../db/tokens';
import { loadCorpus, type CorpusEmail } from '../demo/corpus';
import { trainingConcurrency } from '../temporal-config/worker';
import {
  defaultTrainerParams,
  deserializeArtifact,
  predictBatch,
  serializeArtifact,
  trainHashedLogReg,
  type HashedLogRegArtifact,
} from '../trainers/hashedLogReg';
import { createDataPlaneClient } from '../trainers/dataClient';
import { closeTrainingPool, setTrainingThreads, trainInThread, trainingPoolLoad } from '../trainers/threadPool';
import { DEFAULT_SATURATION_FRACTIONS } from '../workflows/messages';
import { startTestEnv, toExampleInputs, uid, type TestEnv } from '../test/helpers';

type Row = ReturnType<typeof toExampleInputs>[number];

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      fraction: { type: 'string', default: '1' },
      seeds: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2,1' },
      repeat: { type: 'string', default: '3' },
    },
  });
  const fraction = Number(values.fraction);
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`--fraction: bad value ${values.fraction} (a number in (0, 1])`);
  const seeds = Number(values.seeds);
  if (!Number.isInteger(seeds) || seeds < 1 || seeds > 10) throw new Error(`--seeds: bad value ${values.seeds} (an integer in 1..10)`);
  const threads = values.threads.split(',').map((s) => {
    const t = Number(s);
    if (!Number.isInteger(t) || t < 1 || t > 64) throw new Error(`--threads: bad thread count ${s}`);
    return t;
  });
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat: bad count ${values.repeat}`);
  return { fraction, seeds, threads, repeat };
}

/** An evenly spaced share of the corpus (every e-mail at fraction 1). */
function pick(emails: CorpusEmail[], fraction: number): CorpusEmail[] {
  return emails.filter((_, i) => Math.floor((i + 1) * fraction) > Math.floor(i * fraction));
}

/**
 * The held-out scoring a point does (trainer.score: scores; recordSaturationPoint: the evaluation
 * engine's counts and Wilson intervals overall and per slice, the wrong rows).
 */
function scoreHeldOut(artifact: HashedLogRegArtifact, heldout: { input: Record<string, string>; label: number; slices: Record<string, string> }[]) {
  const r = heldOutErrors(heldout, predictBatch(artifact, heldout.map((m) => m.input)), defaultEvaluationSettings.threshold);
  return { error: r.error.estimate, slices: Object.keys(r.sliceErrors).length, wrong: r.wrongRows.length };
}

interface PeerPoint {
  fraction: number;
  seed: number;
  trainSize: number;
  error: number;
  seconds: number;
}

interface Peer {
  points: PeerPoint[];
  /** Wall seconds, summed over the points. */
  seconds: number;
  /** This process's CPU seconds over the points. */
  cpuSeconds: number;
  full: HashedLogRegArtifact;
  load: number;
}

async function peerA(train: Row[], heldout: Row[], fractions: number[], seeds: number[]): Promise<Peer> {
  const asExamples = (rows: Row[]) => rows.map((m) => ({ input: m.input, label: m.label as 0 | 1 }));
  // Warm-up (JIT), untimed: one 10% training and scoring.
  const warm = await trainHashedLogReg(asExamples(nestedOrder(train, 99).slice(0, Math.max(1, Math.round(0.1 * train.length)))), { ...defaultTrainerParams, seed: 99 });
  scoreHeldOut(warm, heldout);
  const load = os.loadavg()[0]!;
  const points: PeerPoint[] = [];
  let cpu = 0;
  let full: HashedLogRegArtifact | undefined;
  for (const seed of seeds) {
    const ordered = nestedOrder(train, seed);
    for (const fraction of fractions) {
      const subset = asExamples(ordered.slice(0, Math.max(1, Math.round(fraction * ordered.length))));
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      // The trainer stores the artifact's bytes and scores from the stored copy: so does the peer.
      const artifact = deserializeArtifact(serializeArtifact(await trainHashedLogReg(subset, { ...defaultTrainerParams, seed })));
      const { error } = scoreHeldOut(artifact, heldout);
      points.push({ fraction, seed, trainSize: subset.length, error, seconds: (performance.now() - t0) / 1000 });
      const c = process.cpuUsage(c0);
      cpu += (c.user + c.system) / 1e6;
      if (fraction === 1 && seed === 1) full = artifact;
    }
  }
  return { points, seconds: points.reduce((a, p) => a + p.seconds, 0), cpuSeconds: cpu, full: full ?? warm, load };
}

const GATE_POLICY = {
  minSliceSupport: 10,
  rules: [
    { kind: 'bound' as const, id: 'overall-fpr', metric: 'fpr' as const, slices: 'overall' as const, max: 0.08 },
    { kind: 'no_regression' as const, id: 'accuracy-vs-champion', metric: 'accuracy' as const, slices: 'overall' as const, margin: 0.05 },
  ],
};

async function registerModel(env: TestEnv, rows: Row[]): Promise<string> {
  const name = `satbench-${uid()}`;
  await env.clients.operator.models.register.mutate({ name, description: 'saturation bench', gatePolicy: GATE_POLICY });
  for (let i = 0; i < rows.length; i += 500) {
    await env.clients.operator.models.importExamples.mutate({ name, examples: rows.slice(i, i + 500) });
  }
  return name;
}

interface ActivityTimes {
  count: number;
  waitSeconds: number;
  execSeconds: number;
}

/** A point's activities in the check (workflows/saturationCheck.ts), in the order it runs them. */
const POINT_ACTIVITIES = ['storedSaturationPoint', 'planSaturationTraining', 'trainer.train', 'planArtifactScoring', 'trainer.score', 'recordSaturationPoint'];

/** Most of these spans open at once. */
function mostAtOnce(spans: { start: number; end: number }[]): number {
  const edges = spans.flatMap((s) => [
    { t: s.start, d: 1 },
    { t: s.end, d: -1 },
  ]);
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let live = 0;
  let most = 0;
  for (const e of edges) most = Math.max(most, (live += e.d));
  return most;
}

interface CheckResult {
  label: string;
  threads: number;
  runId: string;
  snapshotId: number;
  outcome: string;
  points: { fraction: number; seed: number; trainSize: number; error: number; seconds: number }[];
  sumPointSeconds: number;
  /** saturation-<run> child workflow, start → close. */
  wallSeconds: number;
  /** The run's step column at 'saturation', as polled. */
  stepSeconds: number;
  /** First point stored − step entered (snapshot already frozen: the first point's own time + scheduling). */
  firstPointAfterSeconds: number;
  /** The six per-point activities' execution (started → completed), summed: the points' work. */
  pointWorkSeconds: number;
  /** Per activity type of the child: count, scheduled → started (queue wait) and started → completed, summed. */
  activities: Map<string, ActivityTimes>;
  /** Most trainer.train executing at once; most trainer jobs (train + score, same worker slots) at once. */
  maxConcurrentTrainings: number;
  maxConcurrentJobs: number;
  /** The training worker's maxConcurrentActivityTaskExecutions. */
  allowed: number;
  cpuSeconds: number;
  maxPoolThreads: number;
  /** 1-minute load average when the step began. */
  load: number;
}

async function runCheck(env: TestEnv, rows: Row[], seeds: number, label: string, threads: number, allowed: number): Promise<CheckResult> {
  const db = env.services.opened.db;
  const model = await registerModel(env, rows);
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap', saturation: { seeds } });
  let enter: { t: number; cpu: NodeJS.CpuUsage; wall: number; load: number } | undefined;
  let leave: { t: number; cpu: NodeJS.CpuUsage } | undefined;
  let maxPoolThreads = 0;
  let status = 'running';
  const deadline = Date.now() + 60 * 60_000;
  for (;;) {
    const [row] = await db.select({ step: runs.step, status: runs.status }).from(runs).where(eq(runs.id, runId));
    const now = performance.now();
    if (row?.step === 'saturation' && !enter) enter = { t: now, cpu: process.cpuUsage(), wall: Date.now(), load: os.loadavg()[0]! };
    if (enter && !leave && row?.step !== 'saturation') leave = { t: now, cpu: process.cpuUsage() };
    if (enter && !leave) maxPoolThreads = Math.max(maxPoolThreads, trainingPoolLoad().threads);
    status = row?.status ?? 'missing';
    if (['promoted', 'rejected', 'failed', 'cancelled'].includes(status)) break;
    if (Date.now() > deadline) throw new Error(`${label}: run ${runId} still ${status} after an hour`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!enter || !leave) throw new Error(`${label}: run ${runId} (${status}) was never seen in step 'saturation'`);
  const stored = await db.select().from(saturationPoints).where(eq(saturationPoints.runId, runId));
  if (stored.length === 0) throw new Error(`${label}: run ${runId} (${status}) stored no saturation points`);
  const [snap] = await db.select().from(datasetSnapshots).where(eq(datasetSnapshots.runId, runId));
  const child = env.services.client.workflow.getHandle(`saturation-${runId}`);
  const described = await child.describe();
  if (!described.closeTime) throw new Error(`${label}: saturation-${runId} has not closed`);
  const history = await child.fetchHistory();
  // Activity timings from the child's history, by scheduled event id.
  const scheduled = new Map<string, { name: string; t: number }>();
  const started = new Map<string, number>();
  const activities = new Map<string, ActivityTimes>();
  const spans = new Map<string, { start: number; end: number }[]>();
  for (const e of history.events ?? []) {
    const t = tsToMs(e.eventTime);
    const a = e.activityTaskScheduledEventAttributes;
    if (a) scheduled.set(String(e.eventId), { name: a.activityType?.name ?? '?', t });
    const s = e.activityTaskStartedEventAttributes;
    if (s) started.set(String(s.scheduledEventId), t);
    const c = e.activityTaskCompletedEventAttributes;
    const sch = c ? scheduled.get(String(c.scheduledEventId)) : undefined;
    const st = c ? started.get(String(c.scheduledEventId)) : undefined;
    if (sch && st !== undefined) {
      const times = activities.get(sch.name) ?? { count: 0, waitSeconds: 0, execSeconds: 0 };
      times.count++;
      times.waitSeconds += (st - sch.t) / 1000;
      times.execSeconds += (t - st) / 1000;
      activities.set(sch.name, times);
      spans.set(sch.name, [...(spans.get(sch.name) ?? []), { start: st, end: t }]);
    }
  }
  const trainings = spans.get('trainer.train') ?? [];
  if (trainings.length !== stored.length) throw new Error(`${label}: ${trainings.length} trainer.train activities completed in saturation-${runId}, ${stored.length} points stored`);
  const cpu = (leave.cpu.user - enter.cpu.user + leave.cpu.system - enter.cpu.system) / 1e6;
  const firstStored = Math.min(...stored.map((p) => p.createdAt.getTime()));
  return {
    label,
    threads,
    runId,
    snapshotId: snap!.id,
    outcome: status,
    points: stored.map((p) => ({ fraction: p.fraction, seed: p.seed, trainSize: p.trainSize, error: p.error.estimate, seconds: p.seconds })),
    sumPointSeconds: stored.reduce((a, p) => a + p.seconds, 0),
    wallSeconds: (described.closeTime.getTime() - described.startTime.getTime()) / 1000,
    stepSeconds: (leave.t - enter.t) / 1000,
    firstPointAfterSeconds: (firstStored - enter.wall) / 1000,
    pointWorkSeconds: POINT_ACTIVITIES.reduce((sum, name) => sum + (activities.get(name)?.execSeconds ?? 0), 0),
    activities,
    maxConcurrentTrainings: mostAtOnce(trainings),
    maxConcurrentJobs: mostAtOnce([...trainings, ...(spans.get('trainer.score') ?? [])]),
    allowed,
    cpuSeconds: cpu,
    maxPoolThreads,
    load: enter.load,
  };
}

/** Same (fraction, seed) points, same train sizes, same errors. */
function sameAsPeer(check: CheckResult, peer: PeerPoint[]): string {
  const bad: string[] = [];
  for (const p of peer) {
    const q = check.points.find((c) => Math.abs(c.fraction - p.fraction) < 1e-6 && c.seed === p.seed);
    if (!q) bad.push(`f=${p.fraction} s=${p.seed} missing`);
    else if (q.trainSize !== p.trainSize || Math.abs(q.error - p.error) > 1e-12) {
      bad.push(`f=${p.fraction} s=${p.seed}: check n=${q.trainSize} err=${q.error} vs peer n=${p.trainSize} err=${p.error}`);
    }
  }
  if (check.points.length !== peer.length) bad.push(`${check.points.length} points stored vs ${peer.length}`);
  return bad.length === 0 ? `all ${peer.length} points identical to peer A (train size and held-out error)` : `MISMATCH: ${bad.slice(0, 3).join('; ')}`;
}

function bestMs<T>(repeat: number, f: () => T | Promise<T>): Promise<number> {
  return (async () => {
    await f();
    let ms = Infinity;
    for (let r = 0; r < repeat; r++) {
      const t0 = performance.now();
      await f();
      ms = Math.min(ms, performance.now() - t0);
    }
    return ms;
  })();
}

/**
 * The check's per-point work besides training and scoring, timed piece by piece on a case's database,
 * through its API (the data plane and the artifact store, as the built-in trainer reaches them).
 */
async function overheads(env: TestEnv, snapshotId: number, full: HashedLogRegArtifact, nPoints: number, peerSeconds: number): Promise<string[]> {
  const lines: string[] = [];
  // Per-point overheads, one by one, on the same database and snapshot (best of 3 after a warm-up).
  const db = env.services.opened.db;
  const { token } = await issueToken(db, { subject: `bench-trainer-${uid()}`, role: 'trainer', createdBy: 'bench' });
  const store = `${env.url}/api/trainer/artifacts`;
  const client = createDataPlaneClient({ token, artifactStoreUrl: () => store });
  const members = await snapshotMembers(db, snapshotId, 'train');
  const heldoutRows = (await snapshotMembers(db, snapshotId, 'heldout')).length;
  const examplesUrl = (query: string) => `${env.url}/api/trainer/snapshots/${snapshotId}/examples?${query}`;
  /** Every row of a data plane stream, as the trainer reads it. */
  const read = async (query: string, rows: number, labelled: boolean) => {
    const out: { input: Record<string, string>; label: 0 | 1 }[] = [];
    for await (const row of client.rows({ url: examplesUrl(query), rows, labelled })) out.push({ input: row.input as Record<string, string>, label: (row.label ?? 0) as 0 | 1 });
    return out;
  };
  const readTrain = await bestMs(3, () => read('split=train&fraction=1&seed=1', members.length, true));
  const readHeld = await bestMs(3, () => read('split=heldout', heldoutRows, false));
  const loadHeld = await bestMs(3, () => snapshotMembers(db, snapshotId, 'heldout'));
  const order = await bestMs(3, () =>
    nestedPermutation(
      members.map((m) => m.externalId),
      1,
    ),
  );
  const payload = await read('split=train&fraction=1&seed=1', members.length, true);
  const clone = await bestMs(3, () => structuredClone({ examples: payload, params: { ...defaultTrainerParams, seed: 1 } }));
  const bytes = serializeArtifact(full);
  const ser = await bestMs(3, () => serializeArtifact(full));
  const deser = await bestMs(3, () => deserializeArtifact(bytes));
  const stored = await client.putArtifact(store, bytes);
  const put = await bestMs(3, () => client.putArtifact(store, bytes));
  const get = await bestMs(3, () => client.getArtifact(stored.uri, stored.sha256));
  await closeTrainingPool();
  setTrainingThreads(1);
  let t0 = performance.now();
  await trainInThread(payload, { ...defaultTrainerParams, seed: 1 });
  const coldThread = performance.now() - t0;
  t0 = performance.now();
  await trainInThread(payload, { ...defaultTrainerParams, seed: 1 });
  const warmThread = performance.now() - t0;
  await closeTrainingPool();
  t0 = performance.now();
  await trainHashedLogReg(payload, { ...defaultTrainerParams, seed: 1 });
  const mainTrain = performance.now() - t0;
  const perPoint = readTrain + readHeld + clone + ser + put + get + deser;
  lines.push(
    `per point, full train split of ${members.length.toLocaleString('en-US')}: read the nested subset through the data plane (GET NDJSON, trainer.train) ${s1(readTrain)} ms ` +
      `(of which the nested order, sha256 per member + sort: ${s1(order)} ms), read the held-out split (trainer.score) ${s1(readHeld)} ms, ` +
      `structured clone of the job for the thread ${s1(clone)} ms, serialise artifact ${s1(ser)} ms, PUT to the store ${s1(put)} ms, GET from it ${s1(get)} ms, deserialise ${s1(deser)} ms; ` +
      `sum ${s1(perPoint)} ms x ${nPoints} points = ${s1((perPoint * nPoints) / 1000)} s upper bound (smaller subsets read and clone less) ` +
      `= ${Math.round((100 * perPoint * nPoints) / 1000 / peerSeconds)}% of peer A; the two reads alone ${s1(((readTrain + readHeld) * nPoints) / 1000)} s. ` +
      `Once per check: load held-out members (snapshotMembers, recordSaturationPoint, cached) ${s1(loadHeld)} ms`,
  );
  lines.push(
    `full-set training (fraction 1, seed 1): main thread ${s1(mainTrain)} ms; trainInThread ${s1(coldThread)} ms on a fresh thread, ${s1(warmThread)} ms on the same thread again`,
  );
  return lines;
}

const s1 = (x: number) => x.toFixed(1);
const ratio = (a: number, b: number) => (a / b).toFixed(2) + 'x';

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const fractions = [...DEFAULT_SATURATION_FRACTIONS];
  const seeds = Array.from({ length: flags.seeds }, (_, i) => i + 1);
  const emails = pick(loadCorpus(), flags.fraction);
  const rows = toExampleInputs(emails);
  const train = rows.filter((r) => r.split === 'train');
  const heldout = rows.filter((r) => r.split === 'heldout');
  const nPoints = fractions.length * seeds.length;
  const cores = os.availableParallelism();
  console.log(
    `saturation check bench: ${emails.length.toLocaleString('en-US')} e-mails (train ${train.length.toLocaleString('en-US')}, held-out ${heldout.length.toLocaleString('en-US')}), ` +
      `fractions ${fractions.join(',')} x ${seeds.length} seeds = ${nPoints} trainings; best of ${flags.repeat}; node ${process.version}, ${cores} cores (availableParallelism), ${os.cpus()[0]?.model ?? '?'}`,
  );

  const peers: Peer[] = [];
  const cases = new Map<string, CheckResult[]>();
  const verdicts = new Set<string>();
  let overheadLines: string[] = [];
  // Interleaved rounds, so the peer and the cases see the same background load. Each case gets its
  // own services: the training worker's concurrency and the pool size are fixed when they start.
  for (let rep = 0; rep < flags.repeat; rep++) {
    peers.push(await peerA(train, heldout, fractions, seeds));
    for (const [k, t] of flags.threads.entries()) {
      process.env.RETRAIN_TRAINING_THREADS = String(t);
      await closeTrainingPool();
      const env = await startTestEnv();
      try {
        const label = `check, RETRAIN_TRAINING_THREADS=${t}`;
        const r = await runCheck(env, rows, seeds.length, label, t, trainingConcurrency());
        cases.set(label, [...(cases.get(label) ?? []), r]);
        verdicts.add(`${label}: ${sameAsPeer(r, peers[0]!.points)}`);
        if (r.outcome === 'failed') throw new Error(`${label}: run ${r.runId} failed`);
        if (rep === flags.repeat - 1 && k === flags.threads.length - 1) overheadLines = await overheads(env, r.snapshotId, peers.at(-1)!.full, nPoints, Math.min(...peers.map((p) => p.seconds)));
      } finally {
        await env.stop();
        await closeTrainingPool();
      }
    }
  }

  const peer = peers.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const best = [...cases.values()].map((rs) => rs.reduce((a, b) => (b.wallSeconds < a.wallSeconds ? b : a)));
  const table: string[][] = [
    ['', 'wall s', 'sum of point s', 'point work s', 'overhead (work/peer A)', 'process CPU s', 'CPU/peer A CPU', 'speed-up (peer A/wall)', 'trainings at once', 'trainer jobs at once (allowed)', 'pool threads (max)', 'core use', 'load avg'],
    [`peer A: ${nPoints} jobs back to back, main thread`, s1(peer.seconds), s1(peer.seconds), s1(peer.seconds), '1.00x', s1(peer.cpuSeconds), '1.00x', '1.00x', '1', '1 (1)', '0', `${Math.round((100 * peer.cpuSeconds) / (peer.seconds * cores))}%`, peer.load.toFixed(1)],
  ];
  for (const r of best) {
    const overhead = r.pointWorkSeconds / peer.seconds;
    table.push([
      r.label,
      s1(r.wallSeconds),
      s1(r.sumPointSeconds),
      s1(r.pointWorkSeconds),
      `${overhead.toFixed(2)}x ${overhead < 1.15 ? '(<1.15 ok)' : '(>1.15 over)'}`,
      s1(r.cpuSeconds),
      ratio(r.cpuSeconds, peer.cpuSeconds),
      ratio(peer.seconds, r.wallSeconds),
      String(r.maxConcurrentTrainings),
      `${r.maxConcurrentJobs} (${r.allowed})`,
      `${r.maxPoolThreads} (${r.threads})`,
      `${Math.round((100 * r.cpuSeconds) / (r.stepSeconds * cores))}%`,
      r.load.toFixed(1),
    ]);
  }
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  console.log(
    'wall = child workflow saturation-<run> start -> close; sum of point s = saturation_points.seconds (the trainer\'s own time of trainer.train: read, train, store); ' +
      `point work s = execution of the six per-point activities (${POINT_ACTIVITIES.join(', ')}) summed, from the child's history (target < 1.15x peer A's, which trains and scores); ` +
      'process CPU = this process (main + training threads + Temporal core; not the Temporal server) while the run was in step saturation, peer A: over its jobs; ' +
      'trainings / trainer jobs at once = trainer.train / trainer.train + trainer.score executing at once (child history; both take the training worker\'s slots); ' +
      'core use = CPU / (step time x cores); load avg = 1-min load when the step began.',
  );
  console.log(`repeats (wall / point work s): peer A ${peers.map((p) => `${s1(p.seconds)} (load ${p.load.toFixed(1)})`).join(', ')}`);
  for (const [label, rs] of cases) {
    console.log(`  ${label}: ${rs.map((r) => `${s1(r.wallSeconds)}/${s1(r.pointWorkSeconds)} (load ${r.load.toFixed(1)})`).join(', ')}`);
  }
  for (const r of best) {
    console.log(
      `  ${r.label}: step ${s1(r.stepSeconds)} s, first point stored ${s1(r.firstPointAfterSeconds)} s after it began; run ${r.outcome}; ` +
        `activities (count: queue wait / execution s, summed): ${[...r.activities.entries()]
          .sort((a, b) => b[1].execSeconds - a[1].execSeconds)
          .map(([name, a]) => `${name} ${a.count}: ${s1(a.waitSeconds)}/${s1(a.execSeconds)}`)
          .join(', ')}`,
    );
  }
  for (const v of verdicts) console.log(v);

  for (const line of overheadLines) console.log(line);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
