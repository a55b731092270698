/**
 * What does the trainer contract cost the built-in trainer, against the direct path it replaced?
 *
 *   npx tsx bench/trainerContract.bench.ts [--repeat 3] [--fraction 1] [--epochs 8]
 *
 * Data: the real corpus (demo/corpus.ts, 6,046 e-mails; --fraction keeps an evenly spaced share),
 * split as test/helpers.ts does, frozen into one snapshot through the control plane's own activity.
 *
 * Direct (the path before the contract, in this process): the snapshot's training split read from the
 * database (db/queries snapshotMembers), trained in a worker thread (trainers/threadPool), the held-out
 * split read and scored in memory (predictBatch).
 *
 * Contract (what a run does now): planTraining, then trainer.train on the training queue through
 * Temporal (the trainerCall workflow), which reads the split as NDJSON over HTTP from the data plane,
 * trains in the same thread pool and PUTs the artifact into the store; then planArtifactScoring,
 * trainer.score (reads the artifact and the held-out split over HTTP, PUTs the scores), and the score
 * set read back from the database. Real dev server (TEMPORAL_TEST_ADDRESS or one started here), the
 * database of DATABASE_URL or in-memory PGlite, API and workers in this process.
 *
 * Both sides must produce the same artifact bytes (the trainer is deterministic) and the same scores:
 * the bench checks it. Rounds are interleaved (direct, contract, again); the best of --repeat each, and
 * the overhead as contract / direct - 1.
 */
import { parseArgs } from 'node:util';
import { createActivities } from '../activities/index';
import { snapshotMembers } from '../db/queries';
import { completedScoreSet } from '../db/trainerData';
import { loadCorpus } from '../demo/corpus';
import { sha256Of } from '../trainers/dataClient';
import { deserializeArtifact, predictBatch } from '../trainers/hashedLogReg';
import { trainInThread } from '../trainers/threadPool';
import { TRAINER_CALL_WORKFLOW_TYPE, type TrainerCallInput } from '../workflows/messages';
import type { TrainOutput } from '../trainers/contract';
import { startTestEnv, toExampleInputs, uid } from '../test/helpers';
import { examples, models, runs } from '../db/schema';

const { values } = parseArgs({
  args: process.argv.slice(2),
  strict: true,
  options: { repeat: { type: 'string', default: '3' }, fraction: { type: 'string', default: '1' }, epochs: { type: 'string', default: '8' } },
});
const repeat = Number(values.repeat);
const fraction = Number(values.fraction);
const epochs = Number(values.epochs);
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat: bad count ${values.repeat}`);
if (!(fraction > 0 && fraction <= 1)) throw new Error(`--fraction: bad value ${values.fraction}`);
if (!Number.isInteger(epochs) || epochs < 1 || epochs > 100) throw new Error(`--epochs: bad value ${values.epochs}`);

const env = await startTestEnv();
try {
  const db = env.services.opened.db;
  const acts = createActivities({ db, dataPlane: { apiUrl: () => env.url } });
  const emails = loadCorpus().filter((_, i) => Math.floor((i + 1) * fraction) > Math.floor(i * fraction));
  const [model] = await db.insert(models).values({ name: `bench-contract-${uid()}`, createdBy: 'bench' }).returning();
  const rows = toExampleInputs(emails);
  for (let i = 0; i < rows.length; i += 2000) {
    await db.insert(examples).values(rows.slice(i, i + 2000).map((r) => ({ modelId: model!.id, externalId: r.externalId, input: r.input, label: r.label, slices: r.slices, split: r.split })));
  }
  const runId = `bench-${uid()}`;
  await db.insert(runs).values({ id: runId, modelId: model!.id, trigger: 'manual', requestedBy: 'bench' });
  const snapshot = await acts.freezeSnapshot({ runId, modelId: model!.id });
  const params = { epochs };
  process.stderr.write(`corpus: ${emails.length} e-mails, snapshot ${snapshot.trainCount} train / ${snapshot.heldoutCount} held-out, epochs ${epochs}\n`);

  async function direct() {
    const t = performance.now();
    const train = await snapshotMembers(db, snapshot.snapshotId, 'train');
    const read = performance.now();
    const bytes = await trainInThread(train.map((m) => ({ input: m.input, label: m.label as 0 | 1 })), { ...params, seed: 1 });
    const trained = performance.now();
    const heldout = await snapshotMembers(db, snapshot.snapshotId, 'heldout');
    const readHeldout = performance.now();
    const scores = predictBatch(deserializeArtifact(bytes), heldout.map((m) => m.input));
    const ms = (a: number, b: number) => Math.round(b - a);
    const phases = { readTrain: ms(t, read), train: ms(read, trained), readHeldout: ms(trained, readHeldout), score: ms(readHeldout, performance.now()) };
    return { seconds: (performance.now() - t) / 1000, sha: sha256Of(bytes), scores, phases };
  }

  let round = 0;
  async function contract() {
    const t = performance.now();
    const key = `${runId}-${++round}`;
    const job = await acts.planTraining({ runId: key, modelId: model!.id, snapshotId: snapshot.snapshotId, trainerParams: params, trainingTaskQueue: env.services.taskQueues.training });
    const call = (activity: TrainerCallInput['activity'], input: unknown) =>
      env.services.client.workflow.execute(TRAINER_CALL_WORKFLOW_TYPE, {
        taskQueue: env.services.taskQueues.control,
        workflowId: `bench-${activity}-${key}`,
        args: [{ taskQueue: env.services.taskQueues.training, activity, input } satisfies TrainerCallInput],
      });
    const planned = performance.now();
    const trained = (await call('trainer.train', job.input)) as TrainOutput;
    const trainedAt = performance.now();
    const scoring = await acts.planArtifactScoring({ modelId: model!.id, snapshotId: snapshot.snapshotId, jobKey: `${key}/heldout`, artifact: trained.artifact });
    const scoringPlanned = performance.now();
    await call('trainer.score', scoring);
    const scoredAt = performance.now();
    const set = await completedScoreSet(db, scoring.jobKey);
    if (!set) throw new Error('no score set');
    const ms = (a: number, b: number) => Math.round(b - a);
    const phases = { plan: ms(t, planned), train: ms(planned, trainedAt), trainerSeconds: trained.metrics?.seconds, planScoring: ms(trainedAt, scoringPlanned), score: ms(scoringPlanned, scoredAt), read: ms(scoredAt, performance.now()) };
    return { seconds: (performance.now() - t) / 1000, sha: trained.artifact.sha256, scores: set.scores, phases };
  }

  const d: number[] = [];
  const c: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const a = await direct();
    const b = await contract();
    if (a.sha !== b.sha) throw new Error(`artifacts differ: direct ${a.sha}, contract ${b.sha}`);
    let maxDiff = 0;
    for (let i = 0; i < a.scores.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.scores[i]! - b.scores[i]!));
    if (a.scores.length !== b.scores.length || maxDiff > 1e-12) throw new Error(`scores differ (max ${maxDiff})`);
    d.push(a.seconds);
    c.push(b.seconds);
    process.stderr.write(`round ${r + 1}: direct ${a.seconds.toFixed(2)} s, contract ${b.seconds.toFixed(2)} s (same artifact ${a.sha.slice(0, 19)}…, same scores); direct phases (ms): ${JSON.stringify(a.phases)}; contract phases (ms): ${JSON.stringify(b.phases)}\n`);
  }
  const best = (xs: number[]) => Math.min(...xs);
  console.log(`| path | best of ${repeat} (s) | all rounds (s) |`);
  console.log('|---|---|---|');
  console.log(`| direct (db → thread → predictBatch) | ${best(d).toFixed(2)} | ${d.map((x) => x.toFixed(2)).join(', ')} |`);
  console.log(`| contract (Temporal + NDJSON over HTTP + store) | ${best(c).toFixed(2)} | ${c.map((x) => x.toFixed(2)).join(', ')} |`);
  console.log(`overhead: ${((best(c) / best(d) - 1) * 100).toFixed(1)}% (target < 10%)`);
} finally {
  await env.stop();
}
