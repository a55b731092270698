// The built-in trainer's data path: trainer.train and trainer.score read the data plane's NDJSON in a
// training thread (the activity's event loop never holds the rows), and give the very artifacts and
// scores the trainer gave when it read every row on the event loop and cloned them into the thread: the
// hashes below were taken from that code (commit 830b112), on the same rows, params and seeds. Failed,
// dropped and abandoned reads and a cancelled job behave as before.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { recencyWeight } from '../../analysis/heldOutDesign';
import { createBuiltinTrainer } from '../../trainers/builtin';
import { createDataPlaneClient } from '../../trainers/dataClient';
import { BINARY_LABELS, CONTRACT_VERSION, TRAINER_ERRORS, type ScoreInput, type ScoreOutput, type TrainInput, type TrainOutput } from '../../trainers/contract';
import { artifactHash, serializeArtifact, trainHashedLogReg, type LabelledInput } from '../../trainers/hashedLogReg';
import { closeTrainingPool } from '../../trainers/threadPool';
import { startDataPlaneFixture, type FixtureExample } from './dataPlaneFixture';

const TOKEN = 'trainer-secret';
const WORDS = ['free', 'offer', 'win', 'cash', 'meeting', 'notes', 'lunch', 'report', 'größe', 'café', '日本語', 'x1'];

/** Mixed inputs (text, numbers, booleans, nulls, unicode, a field only some rows have), 15% label noise, a fifth held out. */
function rowsOf(n: number, opts: { weights?: boolean; ages?: boolean } = {}): FixtureExample[] {
  const out: FixtureExample[] = [];
  for (let i = 1; i <= n; i++) {
    const h = (i * 2654435761) % 4294967296;
    const spam = h % 100 < 40;
    const says = spam !== (Math.floor(h / 100) % 100 < 15);
    const input: FixtureExample['input'] = {
      subject: `${WORDS[(i * 7) % 12]} ${says ? 'free offer' : 'meeting notes'} ${WORDS[i % 12]}`,
      count: i % 13,
      flag: i % 3 === 0,
      note: i % 5 === 0 ? null : `n${i % 17}`,
    };
    if (i % 4 === 0) input.extra = `e${i % 9} ${WORDS[(i * 3) % 12]}`;
    out.push({
      externalId: `r-${i}`,
      input,
      label: spam ? 1 : 0,
      split: Math.floor(h / 1000) % 5 === 0 ? 'heldout' : 'train',
      ...(opts.weights && i % 2 === 0 ? { weight: 0.25 + (i % 7) / 4 } : {}),
      ...(opts.ages ? { ageDays: (i * 11) % 400 } : {}),
    });
  }
  return out;
}

const fixture = await startDataPlaneFixture(TOKEN);
after(async () => {
  await fixture.close();
  await closeTrainingPool();
});

const trainer = createBuiltinTrainer({ token: () => TOKEN, apiUrl: () => fixture.url });
const model = { id: 1, name: 'm', features: null, labelSet: BINARY_LABELS };

function trainInput(snapshotId: number, jobKey: string, params: Record<string, unknown>, seed: number, url = fixture.examplesUrl(snapshotId, 'train')): TrainInput {
  return {
    contractVersion: CONTRACT_VERSION,
    jobKey,
    model,
    params,
    seed,
    data: { train: { url, rows: fixture.rows(snapshotId, 'train').length, labelled: true } },
    artifactStore: { url: `${fixture.url}/api/trainer/artifacts` },
  };
}

function scoreInput(snapshotId: number, jobKey: string, artifact: TrainOutput['artifact']): ScoreInput {
  return {
    contractVersion: CONTRACT_VERSION,
    jobKey,
    model,
    artifact,
    data: { examples: { url: fixture.examplesUrl(snapshotId, 'heldout'), rows: fixture.rows(snapshotId, 'heldout').length, labelled: false } },
    scores: { url: fixture.scoresUrl(jobKey, { snapshotId, split: 'heldout' }) },
    artifactStore: { url: `${fixture.url}/api/trainer/artifacts` },
  };
}

const train = (input: TrainInput, env = new MockActivityEnvironment()): Promise<TrainOutput> => env.run(trainer['trainer.train'], input);
const score = (input: ScoreInput): Promise<ScoreOutput> => new MockActivityEnvironment().run(trainer['trainer.score'], input);

/** What the trainer trained on before: each line's input as text (nulls left out), its weight times the recency weight. */
function inProcessHash(rows: FixtureExample[], params: Record<string, unknown>, seed: number, halfLife: number | null): Promise<string> {
  const examples = rows
    .filter((r) => r.split === 'train')
    .map((r): LabelledInput => {
      const input: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.input)) if (v !== null) input[k] = String(v);
      const weighted = r.weight !== undefined || halfLife !== null;
      return { input, label: r.label, ...(weighted ? { weight: (r.weight ?? 1) * recencyWeight(r.ageDays, halfLife) } : {}) };
    });
  return trainHashedLogReg(examples, { ...params, seed }).then((a) => artifactHash(serializeArtifact(a)));
}

// Taken from the trainer at 830b112 (rows on the event loop, cloned into the thread) on these rows.
const BEFORE = {
  plain: {
    artifact: 'sha256:16b5221d41091b7a32aaca8f3c5949c440feb50808b4680ac5b45d3897f10ba2',
    trainedOn: 2402,
    scores: 'sha256:f2bb0d7ee5d3e206b8202c3c6fa0a5b6c8e21f2dd6784d44edd1279254265092',
  },
  weighted: {
    artifact: 'sha256:db723619be02e6208350dd64ea735d303eecd9c1427496825b131aa000a24436',
    trainedOn: 2402,
    weightSum: 750.6680910138678,
    scores: 'sha256:614bf7aea20d5153c2609a00c9c1547c4c41d0f9847054d8b8dcb8b8b068cb8d',
  },
  unigrams: {
    artifact: 'sha256:e629167a3b6218ec8d2335c8e99950fd7992259c41663633498da2762172dfe8',
    trainedOn: 2007,
    scores: 'sha256:2bd106955351ea9d41b7ae3af329ec0bed61ca37b65c7d2e87c8b8166407b12c',
  },
};

test('trainer.train and trainer.score give the same artifacts, metrics and scores as before, and as training in-process', async () => {
  const cases = [
    { name: 'plain', rows: rowsOf(3000), params: { dimsLog2: 12, epochs: 3 }, seed: 7, halfLife: null },
    { name: 'weighted', rows: rowsOf(3000, { weights: true, ages: true }), params: { dimsLog2: 14, epochs: 2, recencyHalfLifeDays: 90 }, seed: 11, halfLife: 90 },
    { name: 'unigrams', rows: rowsOf(2500), params: { dimsLog2: 10, epochs: 4, ngramMax: 1, learningRate: 0.5, l2: 1e-4 }, seed: 3, halfLife: null },
  ] as const;
  const got: Record<string, unknown> = {};
  for (const c of cases) {
    const snapshotId = fixture.addSnapshot([...c.rows]);
    const trained = await train(trainInput(snapshotId, `${c.name}/candidate`, c.params, c.seed));
    const scored = await score(scoreInput(snapshotId, `${c.name}/score`, trained.artifact));
    got[c.name] = {
      artifact: trained.artifact.sha256,
      trainedOn: trained.trainedOn,
      ...(trained.metrics?.weightSum !== undefined ? { weightSum: trained.metrics.weightSum } : {}),
      scores: scored.sha256,
    };
    const { recencyHalfLifeDays: _, ...modelParams } = c.params as Record<string, unknown>;
    assert.equal(trained.artifact.sha256, await inProcessHash([...c.rows], modelParams, c.seed, c.halfLife), `${c.name}: the thread's artifact is the in-process one`);
    assert.equal(scored.scored, fixture.rows(snapshotId, 'heldout').length);
  }
  if (process.env.PRINT_GOLDEN) console.log(JSON.stringify(got, null, 2));
  assert.deepEqual(got, BEFORE);
});

test('a dropped stream resumes with offset= and trains the same model', async () => {
  const rows = rowsOf(3000);
  const snapshotId = fixture.addSnapshot(rows);
  fixture.dropNextStreamAfter(700);
  const trained = await train(trainInput(snapshotId, 'dropped/candidate', { dimsLog2: 12, epochs: 3 }, 7));
  assert.equal(trained.artifact.sha256, BEFORE.plain.artifact);
  assert.ok(fixture.requests.some((r) => r.url.startsWith(`/api/trainer/snapshots/${snapshotId}/examples`) && r.url.includes('offset=700')), 'resumed at line 700');
});

/** A data plane that answers one examples request with `lines` (and optionally stalls after them, keeping the connection open), noting when its client leaves. */
async function lineServer(lines: string[], opts: { status?: number; stall?: boolean } = {}) {
  const events: string[] = [];
  let sent: () => void = () => {};
  const allSent = new Promise<void>((resolve) => (sent = resolve));
  let closed: () => void = () => {};
  const clientGone = new Promise<void>((resolve) => (closed = resolve));
  const server = createServer((req, res) => {
    events.push(`${req.method} ${req.url}`);
    res.on('close', () => {
      if (!res.writableFinished) events.push('client left');
      closed();
    });
    if (opts.status) return void res.writeHead(opts.status, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'no such thing' }));
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(lines.map((l) => `${l}\n`).join(''));
    sent();
    if (!opts.stall) res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/trainer/snapshots/1/examples?split=train`;
  return {
    url,
    events,
    allSent,
    clientGone,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

const line = (i: number, label?: 0 | 1) => JSON.stringify({ exampleId: i, externalId: `x-${i}`, input: { t: `w${i % 5} v${i % 3}` }, ...(label !== undefined ? { label } : {}) });
const withRows = (input: TrainInput, url: string, rows: number): TrainInput => ({ ...input, data: { train: { url, rows, labelled: true } } });

async function refusal(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => assert.fail('expected the job to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, not ${String(err)}`);
  return err;
}

test('bad data is refused, not retried: a training line without a label, one class only', async () => {
  const base = trainInput(1, 'bad/candidate', { dimsLog2: 10, epochs: 1 }, 1);
  const unlabelled = await lineServer([line(1, 1), line(2, 0), line(3), line(4, 1)]);
  try {
    const err = await refusal(train(withRows(base, unlabelled.url, 4)));
    assert.equal(err.type, TRAINER_ERRORS.badData);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /training row x-3 has no label/);
  } finally {
    await unlabelled.close();
  }
  const oneClass = await lineServer([line(1, 1), line(2, 1), line(3, 1)]);
  try {
    const err = await refusal(train(withRows(base, oneClass.url, 3)));
    assert.equal(err.type, TRAINER_ERRORS.badData);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /3 rows of one class only \(3 positive\)/);
  } finally {
    await oneClass.close();
  }
});

test('a failed read fails the job with what went wrong: a refused request, a short stream, a line that is not JSON', async () => {
  const base = trainInput(1, 'failed/candidate', { dimsLog2: 10, epochs: 1 }, 1);
  const refused = await lineServer([], { status: 404 });
  try {
    await assert.rejects(train(withRows(base, refused.url, 4)), (err: Error) => {
      assert.match(err.message, /GET \/api\/trainer\/snapshots\/1\/examples\?split=train: HTTP 404: no such thing/);
      assert.equal((err as Error & { status?: number }).status, 404);
      return true;
    });
    assert.equal(refused.events.filter((e) => e.startsWith('GET')).length, 1, 'a refused request is not retried');
  } finally {
    await refused.close();
  }
  const short = await lineServer([line(1, 1), line(2, 0), line(3, 1)]);
  try {
    await assert.rejects(train(withRows(base, short.url, 5)), /expected 5 rows, read 3/);
  } finally {
    await short.close();
  }
  const garbled = await lineServer([line(1, 1), '{"exampleId": 2, "externalId"', line(3, 0)]);
  try {
    await assert.rejects(train(withRows(base, garbled.url, 3)), (err: Error) => err.name === 'SyntaxError');
    assert.equal(garbled.events.filter((e) => e.startsWith('GET')).length, 1, 'a line that is not JSON is not read again');
  } finally {
    await garbled.close();
  }
});

test('a job cancelled while it reads stops at once and leaves the read (the data plane sees its client go)', async () => {
  const stalled = await lineServer(
    Array.from({ length: 50 }, (_, i) => line(i + 1, (i % 2) as 0 | 1)),
    { stall: true },
  );
  try {
    const env = new MockActivityEnvironment();
    const job = train(withRows(trainInput(1, 'cancelled/candidate', { dimsLog2: 10, epochs: 1 }, 1), stalled.url, 1000), env);
    await stalled.allSent;
    await new Promise((r) => setTimeout(r, 200));
    const at = Date.now();
    env.cancel();
    await assert.rejects(job, (err: unknown) => err instanceof CancelledFailure);
    assert.ok(Date.now() - at < 1000, `cancelled in ${Date.now() - at} ms`);
    await Promise.race([stalled.clientGone, new Promise((_, reject) => setTimeout(() => reject(new Error('the abandoned read was never closed')), 5000))]);
    assert.ok(stalled.events.includes('client left'));
  } finally {
    await stalled.close();
  }
  // The pool trains on afterwards.
  const rows = rowsOf(3000);
  const snapshotId = fixture.addSnapshot(rows);
  const trained = await train(trainInput(snapshotId, 'after-cancel/candidate', { dimsLog2: 12, epochs: 3 }, 7));
  assert.equal(trained.artifact.sha256, BEFORE.plain.artifact);
});

test('a job cancelled while it trains stops at once', async () => {
  const snapshotId = fixture.addSnapshot(rowsOf(20_000));
  const env = new MockActivityEnvironment();
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  // A thousand epochs: some ten seconds if it ran to the end; the heartbeat (every 2 s) says when it trains.
  const job = train(trainInput(snapshotId, 'long/candidate', { dimsLog2: 12, epochs: 1000 }, 7), env);
  for (let i = 0; i < 200 && !beats.some((b) => (b as { phase?: string }).phase === 'training'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(beats.some((b) => (b as { phase?: string }).phase === 'training'), `heartbeats: ${JSON.stringify(beats)}`);
  const at = Date.now();
  env.cancel();
  await assert.rejects(job, (err: unknown) => err instanceof CancelledFailure);
  assert.ok(Date.now() - at < 1000, `cancelled in ${Date.now() - at} ms`);
  assert.ok(beats.length > 0);
});

test('a score job whose upload is refused, or whose artifact is not the one referenced, fails saying so', async () => {
  const snapshotId = fixture.addSnapshot(rowsOf(600));
  const trained = await train(trainInput(snapshotId, 'score-fail/candidate', { dimsLog2: 10, epochs: 1 }, 1));
  // No score set is waiting for this job key: the data plane refuses the PUT.
  const unexpected = { ...scoreInput(snapshotId, 'score-fail/expected', trained.artifact), scores: { url: `${fixture.url}/api/trainer/score-sets/nobody-waits` } };
  await assert.rejects(score(unexpected), (err: Error) => {
    assert.match(err.message, /PUT scores \/api\/trainer\/score-sets\/nobody-waits: HTTP 404/);
    assert.equal((err as Error & { status?: number }).status, 404);
    return true;
  });
  const other = { ...trained.artifact, sha256: `sha256:${'0'.repeat(64)}`, uri: `retrain-store:sha256:${'0'.repeat(64)}` };
  await assert.rejects(score(scoreInput(snapshotId, 'score-fail/other', other)), /GET artifact retrain-store:sha256:0{64}: HTTP 404/);
});

test('the data client reassembles lines split anywhere, even inside a character, and reads a last line without its newline', async () => {
  const rows = [
    { exampleId: 1, externalId: 'a', input: { t: 'café größe 日本語' }, label: 1 },
    { exampleId: 2, externalId: 'b', input: { t: 'x'.repeat(70_000) }, label: 0 },
    { exampleId: 3, externalId: 'c', input: { t: 'plain', n: 3, f: true, z: null }, label: 1 },
  ];
  const bytes = Buffer.from(`${JSON.stringify(rows[0])}\n\n${JSON.stringify(rows[1])}\n${JSON.stringify(rows[2])}`);
  // Cut inside "é" (two bytes) and inside the long line, a piece at a time with pauses, so each arrives on its own.
  const cuts = [0, bytes.indexOf(Buffer.from('é')) + 1, 60, 20_000, 50_000, bytes.length - 5, bytes.length];
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    void (async () => {
      for (let i = 1; i < cuts.length; i++) {
        res.write(bytes.subarray(cuts[i - 1], cuts[i]));
        await new Promise((r) => setTimeout(r, 20));
      }
      res.end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
    const client = createDataPlaneClient({ token: TOKEN });
    const got = [];
    for await (const row of client.rows({ url, rows: 3, labelled: true })) got.push(row);
    assert.deepEqual(got, rows);
    const chunks = [];
    for await (const c of client.lineChunks({ url, rows: 3, labelled: true })) chunks.push(c);
    assert.equal(chunks.reduce((s, c) => s + c.lines, 0), 3);
    assert.deepEqual(Buffer.concat(chunks.map((c) => c.bytes)), bytes, 'every byte once, in order');
    await assert.rejects(async () => {
      for await (const _ of client.lineChunks({ url, rows: 4, labelled: true }));
    }, /expected 4 rows, read 3/);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
