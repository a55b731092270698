// The reference Python trainer (trainers/python, sklearn/tabular) on the real Temporal server, driven the
// way the control plane drives any trainer: the `trainerCall` workflow schedules trainer.describe,
// trainer.train and trainer.score on the trainer's own queue. Data comes from a stand-in data plane
// (dataPlaneFixture.ts) over UCI Adult. Set-up installs the trainer's venv (a minute or two the first
// time, then a marker skips it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, ActivityFailure, CancelledFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { rocAuc } from '../../analysis/classification';
import { loadAdult, ADULT_FEATURES, type AdultRow } from '../../demo/adult';
import { startDevServer, type DevServer } from '../../temporal-config/devServer';
import { ensurePythonTrainer, pythonTrainerDir, startPythonTrainer, type PythonTrainerProcess } from '../../temporal-config/pythonTrainer';
import { workflowBundle } from '../../temporal-config/worker';
import { BINARY_LABELS, scoreInput, scoreOutput, trainerDescription, trainInput, trainOutput, type TrainOutput } from '../../trainers/contract';
import { uid } from '../helpers';
import { startDataPlaneFixture, type DataPlaneFixture } from './dataPlaneFixture';

const log = (msg: string) => {
  if (process.env.RETRAIN_TEST_VERBOSE) process.stderr.write(`${msg}\n`);
};
// Kept between runs (the venv and the Adult wheel are slow to fetch, and do not change between tests).
const cacheDir = process.env.RETRAIN_TEST_PYTHON_DIR ?? path.join(os.tmpdir(), 'retrain-test-python');
const suffix = uid();
const token = `trainer-token-${suffix}`;
const trainerQueue = `sklearn-${suffix}`;
const controlQueue = `control-py-${suffix}`;

let devServer: DevServer | undefined;
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let worker: Worker;
let running: Promise<void>;
let trainer: PythonTrainerProcess;
let fixture: DataPlaneFixture;
let artifactsDir: string;
let adult: AdultRow[];
let snapshot: number;
let installSeconds = 0;
let trainerPython: string;
let temporalAddress: string;

before(async () => {
  let t = performance.now();
  const { python } = await ensurePythonTrainer({ dataDir: cacheDir, log });
  trainerPython = python;
  installSeconds = (performance.now() - t) / 1000;
  process.stderr.write(`python trainer venv ready in ${installSeconds.toFixed(1)} s\n`);
  t = performance.now();
  adult = await loadAdult(cacheDir, { python, log });
  fixture = await startDataPlaneFixture(token);
  snapshot = fixture.addSnapshot(adult);
  let address = process.env.TEMPORAL_TEST_ADDRESS;
  if (!address) {
    devServer = await startDevServer({ dataDir: path.join(cacheDir, 'temporal'), dbFile: null, uiPort: null, log });
    address = devServer.address;
  }
  temporalAddress = address;
  connection = await Connection.connect({ address });
  client = new Client({ connection, namespace: 'default' });
  nativeConnection = await NativeConnection.connect({ address });
  // The control side: workflows only (trainerCall), no activities, as in production.
  worker = await Worker.create({ connection: nativeConnection, namespace: 'default', taskQueue: controlQueue, workflowBundle: await workflowBundle() });
  running = worker.run();
  artifactsDir = await mkdtemp(path.join(os.tmpdir(), 'sklearn-artifacts-'));
  trainer = await startPythonTrainer({ python, temporalAddress: address, namespace: 'default', taskQueue: trainerQueue, apiToken: token, artifactsDir, log, graceMs: 5_000 });
  await trainer.ready;
}, { timeout: 600_000 });

after(async () => {
  await trainer?.stop();
  worker?.shutdown();
  await running?.catch(() => undefined);
  await nativeConnection?.close();
  await connection?.close();
  await fixture?.close();
  await devServer?.stop();
  if (artifactsDir) await rm(artifactsDir, { recursive: true, force: true });
});

function call(activity: 'trainer.describe' | 'trainer.train' | 'trainer.score', input?: unknown, queue = trainerQueue) {
  return client.workflow.execute('trainerCall', {
    taskQueue: controlQueue,
    workflowId: `trainer-call-${uid()}`,
    args: [{ taskQueue: queue, activity, input, timeToStartSeconds: 60 }],
  });
}

const model = { id: 1, name: 'adult-income', features: ADULT_FEATURES, labelSet: BINARY_LABELS };

function trainJob(jobKey: string, params: Record<string, unknown>, seed = 7, snapshotId = snapshot) {
  return trainInput.parse({
    contractVersion: 1,
    jobKey,
    model,
    params,
    seed,
    data: { train: { url: fixture.examplesUrl(snapshotId, 'train'), rows: fixture.rows(snapshotId, 'train').length } },
    artifactStore: { url: `${fixture.url}/api/trainer/artifacts` },
  });
}

function scoreJob(jobKey: string, artifact: TrainOutput['artifact'], snapshotId = snapshot, scoredModel: unknown = model) {
  return scoreInput.parse({
    contractVersion: 1,
    jobKey,
    model: scoredModel,
    artifact,
    data: { examples: { url: fixture.examplesUrl(snapshotId, 'heldout'), rows: fixture.rows(snapshotId, 'heldout').length } },
    scores: { url: fixture.scoresUrl(jobKey, { snapshotId, split: 'heldout' }) },
  });
}

/** Scores the held-out rows with an artifact; answers the stored scores in row order and their AUC. */
async function heldOutScores(jobKey: string, artifact: TrainOutput['artifact']) {
  const out = scoreOutput.parse(await call('trainer.score', scoreJob(jobKey, artifact)));
  const rows = fixture.rows(snapshot, 'heldout');
  const stored = fixture.scoreSets.get(jobKey)!;
  assert.equal(out.scored, rows.length);
  assert.equal(stored.scores.size, rows.length);
  assert.equal(out.sha256, stored.sha256);
  const scores = rows.map((r) => stored.scores.get(r.exampleId)!);
  return { scores, auc: rocAuc(rows.map((r) => r.label), scores)! };
}

function artifactFile(uri: string): string {
  assert.match(uri, /^file:\/\//);
  return fileURLToPath(uri);
}

/** The trainer's failure, under the workflow's and the activity's. */
async function trainerFailure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => assert.fail('the call succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.ok(err.cause instanceof ActivityFailure, String(err.cause));
  assert.ok(err.cause.cause instanceof ApplicationFailure, String(err.cause.cause));
  return err.cause.cause;
}

test('describe: a contract description whose params schema compiles (draft 2020-12) and whose code digest covers its sources', async () => {
  const description = trainerDescription.parse(await call('trainer.describe'));
  assert.equal(description.name, 'sklearn/tabular');
  assert.deepEqual(description.labelSets, ['binary']);
  assert.deepEqual([...description.featureKinds].sort(), ['boolean', 'category', 'number', 'text']);
  const validate = new Ajv2020({ strict: true, allErrors: true }).compile(description.paramsSchema);
  assert.equal(validate({}), true);
  assert.equal(validate({ estimator: 'gradient_boosting', max_iter: 50, learning_rate: 0.2, max_depth: 4, class_weight: 'balanced' }), true);
  assert.equal(validate({ C: 0 }), false);
  assert.equal(validate({ estimator: 'svm' }), false);
  assert.equal(validate({ unknown: 1 }), false);
  // sha256 over the trainer's own files, sorted by name (name, NUL, bytes, NUL each).
  const pkg = path.join(pythonTrainerDir, 'retrain_trainer');
  const files = [...readdirSync(pkg).filter((f) => f.endsWith('.py')).map((f) => path.join(pkg, f)), path.join(pythonTrainerDir, 'requirements.txt')];
  const h = createHash('sha256');
  for (const f of files.sort((a, b) => (path.basename(a) < path.basename(b) ? -1 : 1))) {
    h.update(`${path.basename(f)}\u0000`).update(readFileSync(f)).update('\u0000');
  }
  assert.equal(description.codeDigest, `sha256:${h.digest('hex')}`);
});

let logistic: TrainOutput;
let logisticSeconds = 0;
let logisticScores: number[] = [];

test('logistic regression on Adult: held-out AUC above 0.85, artifact where it says, one stream resumed after a dropped connection', { timeout: 300_000 }, async () => {
  const trainRows = fixture.rows(snapshot, 'train').length;
  // The stream drops once mid-way: the trainer asks again from offset=<rows read>.
  fixture.dropNextStreamAfter(5_000);
  const t = performance.now();
  logistic = trainOutput.parse(await call('trainer.train', trainJob(`run-${suffix}/candidate`, { estimator: 'logistic_regression' })));
  logisticSeconds = (performance.now() - t) / 1000;
  assert.ok(fixture.requests.some((r) => r.url.includes('split=train') && r.url.includes('offset=5000')), 'resumed with offset=5000');
  assert.equal(logistic.trainedOn, trainRows);
  assert.equal(logistic.jobKey, `run-${suffix}/candidate`);
  assert.equal(logistic.trainer.name, 'sklearn/tabular');
  const file = artifactFile(logistic.artifact.uri);
  assert.equal(path.dirname(file), path.resolve(artifactsDir));
  const bytes = readFileSync(file);
  assert.equal(logistic.artifact.size, bytes.length);
  assert.equal(logistic.artifact.sha256, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
  assert.ok(logistic.metrics!.train_log_loss! > 0.2 && logistic.metrics!.train_log_loss! < 0.45, JSON.stringify(logistic.metrics));
  const { scores, auc } = await heldOutScores(`run-${suffix}/score/candidate/heldout`, logistic.artifact);
  logisticScores = scores;
  process.stderr.write(`logistic regression: ${logistic.metrics!.seconds} s in the trainer (${logisticSeconds.toFixed(1)} s the call), held-out AUC ${auc.toFixed(4)}\n`);
  assert.ok(auc > 0.85, `AUC ${auc}`);
});

test('a retried train with the same job key answers the same artifact without training again', async () => {
  const reads = fixture.requests.filter((r) => r.url.includes('split=train')).length;
  const t = performance.now();
  const again = trainOutput.parse(await call('trainer.train', trainJob(`run-${suffix}/candidate`, { estimator: 'logistic_regression' })));
  const seconds = (performance.now() - t) / 1000;
  assert.deepEqual(again, logistic);
  assert.equal(fixture.requests.filter((r) => r.url.includes('split=train')).length, reads, 'no second read of the data');
  process.stderr.write(`retried train answered in ${seconds.toFixed(2)} s (the training call took ${logisticSeconds.toFixed(1)} s)\n`);
  assert.ok(seconds < logisticSeconds / 2, `the retry took ${seconds} s, the training ${logisticSeconds} s`);
  assert.equal(readdirSync(artifactsDir).filter((f) => f.endsWith('.joblib')).length, 1);
});

test('the same seed gives the same scores on another job key; a second PUT of a score set answers what was stored', async () => {
  const twin = trainOutput.parse(await call('trainer.train', trainJob(`run-${suffix}/twin`, { estimator: 'logistic_regression' })));
  assert.notEqual(twin.artifact.uri, logistic.artifact.uri);
  // Byte for byte: the saved pipeline is a function of the data, params and seed alone.
  assert.equal(twin.artifact.sha256, logistic.artifact.sha256);
  const { scores } = await heldOutScores(`run-${suffix}/score/twin/heldout`, twin.artifact);
  assert.deepEqual(scores, logisticScores);
  // The same score job again: the data plane keeps the first set and answers it again.
  const first = fixture.scoreSets.get(`run-${suffix}/score/twin/heldout`)!.sha256;
  const repeated = scoreOutput.parse(await call('trainer.score', scoreJob(`run-${suffix}/score/twin/heldout`, twin.artifact)));
  assert.equal(repeated.sha256, first);
});

test('an artifact in the control plane store (retrain-store:) scores the same as the file', async () => {
  const bytes = readFileSync(artifactFile(logistic.artifact.uri));
  fixture.artifacts.set(logistic.artifact.sha256, bytes);
  const { scores } = await heldOutScores(`run-${suffix}/score/store/heldout`, { ...logistic.artifact, uri: `retrain-store:${logistic.artifact.sha256}` });
  assert.deepEqual(scores, logisticScores);
  // An artifact whose bytes are not what the input says is refused, not scored.
  const wrong = { ...logistic.artifact, sha256: `sha256:${'0'.repeat(64)}` };
  const failure = await trainerFailure(call('trainer.score', scoreJob(`run-${suffix}/score/wrong/heldout`, wrong)));
  assert.equal(failure.type, 'TrainerArtifactMismatch');
  assert.equal(failure.nonRetryable, true);
});

test('another worker process, with artifacts of its own, scores the artifact the same (the file: URI is absolute)', { timeout: 120_000 }, async () => {
  const otherDir = await mkdtemp(path.join(os.tmpdir(), 'sklearn-other-'));
  const otherQueue = `sklearn-other-${suffix}`;
  const other = await startPythonTrainer({ python: trainerPython, temporalAddress, namespace: 'default', taskQueue: otherQueue, apiToken: token, artifactsDir: otherDir, log, graceMs: 5_000 });
  try {
    await other.ready;
    const jobKey = `run-${suffix}/score/other-worker/heldout`;
    const out = scoreOutput.parse(await call('trainer.score', scoreJob(jobKey, logistic.artifact), otherQueue));
    const stored = fixture.scoreSets.get(jobKey)!;
    assert.equal(out.sha256, stored.sha256);
    assert.deepEqual(fixture.rows(snapshot, 'heldout').map((r) => stored.scores.get(r.exampleId)), logisticScores);
  } finally {
    await other.stop();
    await rm(otherDir, { recursive: true, force: true });
  }
});

test('gradient boosting on Adult: held-out AUC above 0.85', { timeout: 300_000 }, async () => {
  const t = performance.now();
  const boosted = trainOutput.parse(await call('trainer.train', trainJob(`run-${suffix}/boosted`, { estimator: 'gradient_boosting', max_iter: 100 })));
  const seconds = (performance.now() - t) / 1000;
  const { auc } = await heldOutScores(`run-${suffix}/score/boosted/heldout`, boosted.artifact);
  process.stderr.write(`gradient boosting (100 trees): ${boosted.metrics!.seconds} s in the trainer (${seconds.toFixed(1)} s the call), held-out AUC ${auc.toFixed(4)}\n`);
  assert.ok(auc > 0.85, `AUC ${auc}`);
});

test('bad params, one class only and another contract version fail at once, non-retryable, with their type and what was wrong', async () => {
  const badC = await trainerFailure(call('trainer.train', trainJob(`run-${suffix}/bad-c`, { C: -1 })));
  assert.equal(badC.type, 'TrainerBadParams');
  assert.equal(badC.nonRetryable, true);
  assert.match(badC.message, /params\.C/);
  const unknown = await trainerFailure(call('trainer.train', trainJob(`run-${suffix}/bad-name`, { learningrate: 0.1 })));
  assert.equal(unknown.type, 'TrainerBadParams');
  assert.match(unknown.message, /'learningrate'/);

  const oneClass = fixture.addSnapshot(adult.filter((r) => r.label === 0).slice(0, 200));
  const single = await trainerFailure(call('trainer.train', trainJob(`run-${suffix}/one-class`, {}, 7, oneClass)));
  assert.equal(single.type, 'TrainerBadData');
  assert.equal(single.nonRetryable, true);

  const wrongType = fixture.addSnapshot(adult.slice(0, 300).map((r, i) => (i === 41 ? { ...r, input: { ...r.input, age: 'forty' } } : r)));
  const typed = await trainerFailure(call('trainer.train', trainJob(`run-${suffix}/wrong-type`, {}, 7, wrongType)));
  assert.equal(typed.type, 'TrainerBadData');
  assert.match(typed.message, /feature age is a number, row \d+ \(exampleId \d+\) has 'forty'/);

  const future = await trainerFailure(call('trainer.train', { ...trainJob(`run-${suffix}/v2`, {}), contractVersion: 2 }));
  assert.equal(future.type, 'TrainerUnsupportedContract');
  assert.equal(future.nonRetryable, true);
  for (const key of ['bad-c', 'bad-name', 'one-class', 'wrong-type', 'v2']) assert.equal(existsSync(keyPath(`run-${suffix}/${key}`)), false);
});

test('a model without a feature schema trains on every input field as text, and scores', async () => {
  const rows = adult.slice(0, 3_000).map((r) => ({ ...r, input: { occupation: String(r.input.occupation), education: String(r.input.education), note: `${r.input['marital-status']} ${r.input.relationship}` } }));
  const textSnapshot = fixture.addSnapshot(rows);
  const textModel = { ...model, features: null };
  const job = { ...trainJob(`run-${suffix}/text`, { ngram_max: 1, text_hash_bits: 12 }, 3, textSnapshot), model: textModel };
  const out = trainOutput.parse(await call('trainer.train', job));
  assert.equal(out.trainedOn, fixture.rows(textSnapshot, 'train').length);
  const scored = scoreOutput.parse(await call('trainer.score', scoreJob(`run-${suffix}/score/text/heldout`, out.artifact, textSnapshot, textModel)));
  const held = fixture.rows(textSnapshot, 'heldout');
  assert.equal(scored.scored, held.length);
  const stored = fixture.scoreSets.get(`run-${suffix}/score/text/heldout`)!;
  const auc = rocAuc(held.map((r) => r.label), held.map((r) => stored.scores.get(r.exampleId)!))!;
  assert.ok(auc > 0.75, `text-only AUC ${auc}`);
  // Gradient boosting takes no text: refused as data it cannot use, not retried.
  const refused = await trainerFailure(call('trainer.train', { ...trainJob(`run-${suffix}/text-gb`, { estimator: 'gradient_boosting' }, 3, textSnapshot), model: textModel }));
  assert.equal(refused.type, 'TrainerBadData');
  assert.match(refused.message, /education, note, occupation are text/);
});

function keyPath(jobKey: string): string {
  return path.join(artifactsDir, `${createHash('sha256').update(jobKey).digest('hex')}.joblib`);
}

test('a cancelled long train stops promptly and leaves no artifact for its job key', { timeout: 120_000 }, async () => {
  const jobKey = `run-${suffix}/long`;
  const handle = await client.workflow.start('trainerCall', {
    taskQueue: controlQueue,
    workflowId: `trainer-call-${uid()}`,
    args: [{ taskQueue: trainerQueue, activity: 'trainer.train', input: trainJob(jobKey, { estimator: 'gradient_boosting', max_iter: 100_000, learning_rate: 0.01 }) }],
  });
  // Wait until it is fitting (its heartbeat says so), then cancel.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    const details = pending[0]?.heartbeatDetails?.payloads?.[0]?.data;
    if (details && Buffer.from(details).toString('utf8').includes('fitting')) break;
    assert.ok(Date.now() < deadline, 'the train never reported fitting');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const t = performance.now();
  await handle.cancel();
  const err = await handle.result().then(
    () => assert.fail('a cancelled train finished'),
    (e: unknown) => e,
  );
  const seconds = (performance.now() - t) / 1000;
  assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure, String(err));
  process.stderr.write(`cancelled train acknowledged in ${seconds.toFixed(1)} s\n`);
  assert.ok(seconds < 15, `cancellation took ${seconds} s`);
  // The fitting thread has stopped too (it looks at the cancel flag every few trees): nothing appears later.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  assert.equal(existsSync(keyPath(jobKey)), false);
  assert.deepEqual(readdirSync(artifactsDir).filter((f) => f.endsWith('.tmp')), []);
});

test('set-up is skipped once the requirements are installed; stop ends the worker', async () => {
  const t = performance.now();
  const again = await ensurePythonTrainer({ dataDir: cacheDir, log });
  assert.ok(performance.now() - t < 2_000, 'a second ensure reinstalled');
  assert.equal(again.python, path.join(path.resolve(cacheDir), 'venv-trainer', 'bin', 'python'));
  await trainer.stop();
  assert.throws(() => process.kill(trainer.pid, 0), /ESRCH/);
});
