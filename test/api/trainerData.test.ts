// The trainer contract's data plane (api/trainerData), over real HTTP against the API server on a real
// database (PostgreSQL with DATABASE_URL, PGlite otherwise): who may read and write, the NDJSON a trainer
// reads (order, labels, nested subsets, a batch left out, resumption), the score sets it puts back (bytes,
// hash, first PUT wins, every bad line refused with nothing stored), and the artifact store.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { and, asc, eq, sql } from 'drizzle-orm';
import { nestedOrder, nestedPermutation, subsetSize } from '../../analysis/nestedSubset';
import { startApiServer } from '../../api/server';
import { closeOrderThread } from '../../api/trainerData';
import { listAuditLog } from '../../db/auditLog';
import {
  aggregatedLabels,
  annotationBatches,
  annotationTasks,
  artifacts,
  datasetSnapshotMembers,
  datasetSnapshots,
  examples,
  models,
  modelVersions,
  scoreSets,
} from '../../db/schema';
import { DEFAULT_ORDERED_READ_SIZES, completedScoreSet, decodeScores, ensurePendingScoreSet, exampleLinesInIdOrder, exampleLinesInOrder, snapshotMemberKeys, snapshotSplitCount } from '../../db/trainerData';
import { exampleLine } from '../../trainers/contract';
import { assertNothingWritten, fingerprint, startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv;
let url: string;
let trainer: string;
let ingest: string;

interface Snapshot {
  id: number;
  train: { exampleId: number; externalId: string; input: Record<string, unknown>; label: number }[];
  heldout: { exampleId: number; externalId: string; input: Record<string, unknown>; label: number }[];
}
/** 40 training and 20 held-out rows with inputs of every feature kind. */
let small: Snapshot;
/** 12,345 training rows: more than two of the route's 5,000-row chunks. */
let big: Snapshot;
/** A batch whose aggregated labels cover some of small's training rows. */
let batchId: string;
let batchExamples: Set<number>;

async function makeSnapshot(trainRows: number, heldoutRows: number): Promise<Snapshot> {
  const db = env.db;
  const suffix = uid();
  const [model] = await db.insert(models).values({ name: `dp-${suffix}`, createdBy: 'test' }).returning();
  const rows = Array.from({ length: trainRows + heldoutRows }, (_, i) => ({
    modelId: model!.id,
    externalId: i % 7 === 3 ? `ex "${i}"/é\n` : `ex-${suffix}-${i}`,
    // Every feature kind (text, number, category, boolean) and a missing value.
    input: { subject: `subject ${i}`, amount: i * 1.25, country: ['de', 'fr', 'jp'][i % 3]!, flagged: i % 2 === 0, note: i % 5 === 0 ? null : `n${i}` } as unknown as Record<string, string>,
    split: (i < trainRows ? 'train' : 'heldout') as 'train' | 'heldout',
  }));
  const ids: number[] = [];
  for (let at = 0; at < rows.length; at += 2000) {
    const made = await db.insert(examples).values(rows.slice(at, at + 2000)).returning({ id: examples.id });
    ids.push(...made.map((r) => r.id));
  }
  const [snapshot] = await db.insert(datasetSnapshots).values({ modelId: model!.id, runId: `run-${suffix}`, contentHash: `sha256:${suffix}`, trainCount: trainRows, heldoutCount: heldoutRows }).returning();
  const members = rows.map((r, i) => ({ snapshotId: snapshot!.id, exampleId: ids[i]!, split: r.split, label: (i * 7) % 3 === 0 ? 1 : 0 }));
  for (let at = 0; at < members.length; at += 2000) await db.insert(datasetSnapshotMembers).values(members.slice(at, at + 2000));
  const out: Snapshot = { id: snapshot!.id, train: [], heldout: [] };
  rows.forEach((r, i) => out[r.split].push({ exampleId: ids[i]!, externalId: r.externalId, input: r.input, label: members[i]!.label }));
  return out;
}

/** A training split of `rows` rows with a `width`-character text field each, made in the database (fast). */
async function makeWideSnapshot(rows: number, width: number): Promise<{ id: number }> {
  const suffix = uid();
  const [model] = await env.db.insert(models).values({ name: `dp-wide-${suffix}`, createdBy: 'test' }).returning();
  const [snapshot] = await env.db.insert(datasetSnapshots).values({ modelId: model!.id, runId: `run-${suffix}`, contentHash: `sha256:${suffix}`, trainCount: rows, heldoutCount: 0 }).returning();
  await env.db.execute(sql`
    with made as (
      insert into examples (model_id, external_id, input, split)
      select ${model!.id}, 'w-' || i, jsonb_build_object('i', i, 'body', repeat('w', ${width})), 'train' from generate_series(1, ${rows}) i
      returning id)
    insert into dataset_snapshot_members (snapshot_id, example_id, split, label)
    select ${snapshot!.id}, id, 'train', id % 2 from made`);
  return { id: snapshot!.id };
}

before(async () => {
  env = await startCallerEnv();
  url = await env.serve();
  trainer = (await env.as(`trainer-${uid()}`, 'trainer')).token;
  ingest = (await env.as(`ingest-${uid()}`, 'ingest')).token;
  small = await makeSnapshot(40, 20);
  big = await makeSnapshot(12_345, 10);
  // A labelled batch over every third training row of the small snapshot.
  batchId = `batch-${uid()}`;
  const [model] = await env.db.select({ id: datasetSnapshots.modelId }).from(datasetSnapshots).where(eq(datasetSnapshots.id, small.id));
  await env.db.insert(annotationBatches).values({ id: batchId, modelId: model!.id, specVersion: 1, overlap: 1, goldShare: 0, deadline: new Date(), createdBy: 'test' });
  const labelled = small.train.filter((_, i) => i % 3 === 0);
  const tasks = await env.db
    .insert(annotationTasks)
    .values(labelled.map((m) => ({ batchId, exampleId: m.exampleId, stratum: 'remainder', inclusionProbability: 1 })))
    .returning({ id: annotationTasks.id, exampleId: annotationTasks.exampleId });
  await env.db.insert(aggregatedLabels).values(tasks.map((t) => ({ taskId: t.id, batchId, exampleId: t.exampleId, label: 1, posterior: 0.9, method: 'dawid_skene' as const, labelCount: 1 })));
  batchExamples = new Set(labelled.map((m) => m.exampleId));
});
after(async () => {
  await env?.stop();
  // The data plane's ordering thread lingers a minute after its last order (retrain's services close it at stop).
  await closeOrderThread();
});

interface Answer {
  status: number;
  type: string;
  text: string;
  bytes: Buffer;
}

async function call(method: string, path: string, opts: { token?: string; body?: Buffer | string; type?: string } = {}): Promise<Answer> {
  const res = await fetch(`${url}/api${path}`, {
    method,
    headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.type ? { 'content-type': opts.type } : {}) },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: bytes.toString('utf8'), bytes };
}

const examplesPath = (snapshotId: number, query: string) => `/trainer/snapshots/${snapshotId}/examples?${query}`;

/** The lines of an NDJSON answer, each checked against the contract's example line. */
function lines(answer: Answer): { exampleId: number; externalId: string; input: Record<string, unknown>; label?: number }[] {
  assert.equal(answer.status, 200, answer.text.slice(0, 300));
  assert.equal(answer.type, 'application/x-ndjson');
  if (answer.text === '') return [];
  assert.ok(answer.text.endsWith('\n'), 'every line ends with a newline');
  return answer.text
    .slice(0, -1)
    .split('\n')
    .map((l) => exampleLine.parse(JSON.parse(l)));
}

async function read(token: string, snapshotId: number, query: string) {
  return lines(await call('GET', examplesPath(snapshotId, query), { token }));
}

const message = (a: Answer) => (JSON.parse(a.text) as { message: string }).message;

// ---- who ------------------------------------------------------------------------------------------------

test('without a token every operation is 401 (even for bad input), viewer and ingest tokens are 403, and nothing is written', async () => {
  const before = await fingerprint(env.db);
  const requests: [string, string, (Buffer | string)?][] = [
    ['GET', examplesPath(small.id, 'split=train')],
    ['GET', examplesPath(0, 'split=nonsense&bogus=1')],
    ['PUT', '/trainer/score-sets/some%2Fkey', '{"exampleId":1,"score":0.5}\n'],
    ['PUT', `/trainer/artifacts/sha256:${'0'.repeat(64)}`, Buffer.from('bytes')],
    ['GET', '/trainer/artifacts/not-a-name'],
  ];
  for (const [method, path, body] of requests) {
    const none = await call(method, path, { body });
    assert.equal(none.status, 401, `${method} ${path} without a token: ${none.text}`);
    assert.match(message(none), /bearer token is required/);
    const bogus = await call(method, path, { body, token: 'rt_not-a-token' });
    assert.equal(bogus.status, 401, `${method} ${path} with an unknown token`);
    for (const [who, token] of [
      ['viewer', env.tokens.viewer],
      ['ingest', ingest],
      ['operator', env.tokens.operator],
    ] as const) {
      const refused = await call(method, path, { body, token });
      assert.equal(refused.status, 403, `${method} ${path} as ${who}: ${refused.text}`);
      assert.match(message(refused), /this needs 'trainer'/);
    }
  }
  await assertNothingWritten(env.db, before, 'refused callers');
});

// ---- reading examples -----------------------------------------------------------------------------------

test('a split is served as NDJSON in exampleId order, with labels on training rows only, to trainer and admin tokens', async () => {
  for (const token of [trainer, env.tokens.admin]) {
    const train = await read(token, small.id, 'split=train');
    assert.deepEqual(
      train,
      small.train.map((m) => ({ exampleId: m.exampleId, externalId: m.externalId, input: m.input, label: m.label })),
    );
    const heldout = await read(token, small.id, 'split=heldout');
    assert.deepEqual(
      heldout,
      small.heldout.map((m) => ({ exampleId: m.exampleId, externalId: m.externalId, input: m.input })),
    );
    for (const l of heldout) assert.ok(!('label' in l) && !('weight' in l), 'no label or weight on rows to score');
  }
  assert.ok(small.train.some((m) => m.label === 1) && small.train.some((m) => m.label === 0), 'both labels present');
  assert.ok(small.train.some((m) => m.externalId.includes('\n')), 'an external id with a quote, a slash, an accent and a newline survives');
});

test('a split larger than one chunk is served whole and in order', async () => {
  const all = await read(trainer, big.id, 'split=train');
  assert.equal(all.length, 12_345);
  assert.deepEqual(
    all.map((l) => l.exampleId),
    big.train.map((m) => m.exampleId),
  );
  assert.deepEqual(all[9_999], { ...big.train[9_999]!, label: big.train[9_999]!.label });
  assert.equal(await snapshotSplitCount(env.db, big.id, 'train'), 12_345);
});

test("a nested subset is the first subsetSize(n, f) rows of analysis's nestedOrder, nested across fractions, and its own per seed", async () => {
  for (const snapshot of [small, big]) {
    const n = snapshot.train.length;
    let previous: number[] = [];
    for (const fraction of [0.1, 0.25, 0.5, 0.9, 1]) {
      const got = await read(trainer, snapshot.id, `split=train&fraction=${fraction}&seed=3`);
      const expected = nestedOrder(snapshot.train, 3).slice(0, subsetSize(n, fraction));
      assert.deepEqual(
        got,
        expected.map((m) => ({ exampleId: m.exampleId, externalId: m.externalId, input: m.input, label: m.label })),
        `fraction ${fraction} of ${n}`,
      );
      const ids = got.map((l) => l.exampleId);
      assert.deepEqual(ids.slice(0, previous.length), previous, `fraction ${fraction} starts with the smaller subset`);
      previous = ids;
    }
  }
  const seed3 = (await read(trainer, small.id, 'split=train&fraction=0.5&seed=3')).map((l) => l.exampleId);
  const seed4 = (await read(trainer, small.id, 'split=train&fraction=0.5&seed=4')).map((l) => l.exampleId);
  assert.notDeepEqual(new Set(seed3), new Set(seed4), 'another seed, another subset');
  // A tiny fraction still serves one row.
  assert.equal((await read(trainer, small.id, 'split=train&fraction=0.001&seed=3')).length, 1);
});

test("excludeBatch leaves out the batch's examples, in exampleId order and in a nested subset, and the count says so", async () => {
  const kept = small.train.filter((m) => !batchExamples.has(m.exampleId));
  assert.ok(kept.length > 0 && kept.length < small.train.length);
  const got = await read(trainer, small.id, `split=train&excludeBatch=${encodeURIComponent(batchId)}`);
  assert.deepEqual(
    got.map((l) => l.exampleId),
    kept.map((m) => m.exampleId),
  );
  const subset = await read(trainer, small.id, `split=train&fraction=0.5&seed=9&excludeBatch=${encodeURIComponent(batchId)}`);
  assert.deepEqual(
    subset.map((l) => l.exampleId),
    nestedOrder(kept, 9)
      .slice(0, subsetSize(kept.length, 0.5))
      .map((m) => m.exampleId),
  );
  assert.equal(await snapshotSplitCount(env.db, small.id, 'train', batchId), kept.length);
  assert.equal(await snapshotSplitCount(env.db, small.id, 'train'), small.train.length);
  assert.equal(await snapshotSplitCount(env.db, small.id, 'heldout', null), small.heldout.length);
  // A batch that labelled nothing here leaves the split whole.
  assert.equal((await read(trainer, small.id, 'split=train&excludeBatch=no-such-batch')).length, small.train.length);
});

test('offset and limit resume a read: what they serve is the same slice of the full stream, across chunk boundaries too', async () => {
  const full = await read(trainer, big.id, 'split=train');
  for (const [offset, limit] of [
    [0, 1],
    [4_999, 3],
    [4_990, 5_020],
    [12_000, 10_000],
    [12_345, 5],
    [20_000, 5],
    [7, 0],
  ] as const) {
    const part = await read(trainer, big.id, `split=train&offset=${offset}&limit=${limit}`);
    assert.deepEqual(part, full.slice(offset, offset + limit), `offset ${offset} limit ${limit}`);
  }
  const tail = await read(trainer, big.id, 'split=train&offset=6001');
  assert.deepEqual(tail, full.slice(6001));
  // The same for a nested subset: the order is fixed, so a broken read resumes where it stopped.
  const subset = await read(trainer, big.id, 'split=train&fraction=0.75&seed=1');
  const resumed = await read(trainer, big.id, 'split=train&fraction=0.75&seed=1&offset=5500');
  assert.deepEqual(resumed, subset.slice(5500));
  const window = await read(trainer, big.id, 'split=train&fraction=0.75&seed=1&offset=4000&limit=2000');
  assert.deepEqual(window, subset.slice(4000, 6000));
  const heldTail = await read(trainer, small.id, 'split=heldout&offset=15');
  assert.deepEqual(
    heldTail.map((l) => l.exampleId),
    small.heldout.slice(15).map((m) => m.exampleId),
  );
});

test("an id-order read in chunks of id ranges serves the bytes of one query over the split, with a batch left out, in a recency half, and resumed", async () => {
  const { snapshotId, batch } = await makeDatedSnapshot();
  for (const q of [{}, { excludeBatchId: batch }, { window: 'newest' as const }, { excludeBatchId: batch, window: 'oldest' as const }]) {
    // The lines as one statement reads them (no chunks), each ending in a newline.
    const oneQuery = (await exampleLinesInIdOrder(env.db, { snapshotId, split: 'train', ...q, withLabel: true, offset: 0, limit: 1_000_000 })).map((l) => `${l.line}\n`);
    const filters = `${q.excludeBatchId ? `&excludeBatch=${encodeURIComponent(q.excludeBatchId)}` : ''}${q.window ? `&window=${q.window}` : ''}`;
    // Every cut for the whole split; a whole read and a resumed one for each filter (their statements
    // are slow on a fresh database's unanalysed tables, and the cuts do not depend on the filter).
    const cuts: (readonly [number, number | null])[] = [[0, null], [4_999, null]];
    if (!q.excludeBatchId && !q.window) cuts.push([1, 10_001], [5_000, 5_001], [oneQuery.length - 1, null]);
    for (const [offset, limit] of cuts) {
      const query = `split=train${filters}&offset=${offset}${limit === null ? '' : `&limit=${limit}`}`;
      const got = await call('GET', examplesPath(snapshotId, query), { token: trainer });
      assert.equal(got.status, 200, got.text.slice(0, 300));
      const expected = Buffer.from(oneQuery.slice(offset, limit === null ? undefined : offset + limit).join(''));
      assert.ok(got.bytes.equals(expected), `${query}: ${got.bytes.length} bytes served, ${expected.length} expected; first difference at byte ${firstDifference(got.bytes, expected)}`);
    }
  }
});

/**
 * The bytes the nested subset path served before it read in parts (one query per 5,000 ids in the nested
 * order, each line the id-order path's line for that id, every line ending in a newline): the seed's
 * order of the members' external ids (analysis's nestedPermutation over db's snapshotMemberKeys), cut to
 * the subset and to offset/limit, each id's line taken from the id-order read of the same split.
 */
async function oldSubsetBytes(snapshotId: number, q: { fraction: number; seed: number; excludeBatch?: string; window?: 'newest' | 'oldest'; offset?: number; limit?: number }): Promise<Buffer> {
  const filters = `${q.excludeBatch ? `&excludeBatch=${encodeURIComponent(q.excludeBatch)}` : ''}${q.window ? `&window=${q.window}` : ''}`;
  const byId = await call('GET', examplesPath(snapshotId, `split=train${filters}`), { token: trainer });
  assert.equal(byId.status, 200);
  const lineOf = new Map(
    byId.text
      .split('\n')
      .slice(0, -1)
      .map((l) => [(JSON.parse(l) as { exampleId: number }).exampleId, l]),
  );
  const { exampleIds, externalIds } = await snapshotMemberKeys(env.db, snapshotId, 'train', q.excludeBatch ?? null, q.window ?? null);
  const ordered = Array.from(nestedPermutation(externalIds, q.seed), (i) => exampleIds[i]!);
  const k = Math.min(ordered.length, subsetSize(ordered.length, q.fraction));
  const offset = q.offset ?? 0;
  const end = q.limit === undefined ? k : Math.min(k, offset + q.limit);
  return Buffer.from(
    ordered
      .slice(Math.min(offset, end), end)
      .map((id) => `${lineOf.get(id)!}\n`)
      .join(''),
  );
}

/**
 * 12,000 training rows, most dated (ageDays, recency halves), external ids that need escaping, a batch
 * over every fifth row, and another model's examples between theirs (ids interleaved), which no read may serve.
 */
async function makeDatedSnapshot(): Promise<{ snapshotId: number; rows: number; batch: string }> {
  const suffix = uid();
  const [model, other] = await env.db
    .insert(models)
    .values([
      { name: `dp-parts-${suffix}`, createdBy: 'test' },
      { name: `dp-other-${suffix}`, createdBy: 'test' },
    ])
    .returning();
  const rows = 12_000;
  const [snapshot] = await env.db
    .insert(datasetSnapshots)
    .values({ modelId: model!.id, runId: `run-${suffix}`, contentHash: `sha256:${suffix}`, trainCount: rows, heldoutCount: 0, asOf: new Date('2026-03-01T00:00:00Z') })
    .returning();
  await env.db.execute(sql`
    with made as (
      insert into examples (model_id, external_id, input, split, observed_at)
      select case when i % 3 = 0 then ${other!.id}::int else ${model!.id}::int end, case when i % 11 = 0 then 'p "' || i || '"/é\n' else 'p-' || i end,
        jsonb_build_object('text', 'w' || (i % 97), 'n', i * 1.5, 'flag', i % 2 = 0),
        'train', case when i % 13 = 0 then null else timestamptz '2026-01-01' + (i * 37 % 5000) * interval '1 hour' + (i % 7) * interval '1 millisecond' end
      from generate_series(1, ${rows * 3 / 2}) i
      returning id, model_id)
    insert into dataset_snapshot_members (snapshot_id, example_id, split, label)
    select ${snapshot!.id}, id, 'train', id % 2 from made where model_id = ${model!.id}::int`);
  const snapshotId = snapshot!.id;
  const members = await env.db.select({ exampleId: datasetSnapshotMembers.exampleId }).from(datasetSnapshotMembers).where(eq(datasetSnapshotMembers.snapshotId, snapshotId)).orderBy(asc(datasetSnapshotMembers.exampleId));
  const batch = `batch-parts-${suffix}`;
  await env.db.insert(annotationBatches).values({ id: batch, modelId: model!.id, specVersion: 1, overlap: 1, goldShare: 0, deadline: new Date(), createdBy: 'test' });
  const tasks = await env.db
    .insert(annotationTasks)
    .values(members.filter((_, i) => i % 5 === 0).map((m) => ({ batchId: batch, exampleId: m.exampleId, stratum: 'remainder', inclusionProbability: 1 })))
    .returning({ id: annotationTasks.id, exampleId: annotationTasks.exampleId });
  await env.db.insert(aggregatedLabels).values(tasks.map((t) => ({ taskId: t.id, batchId: batch, exampleId: t.exampleId, label: 1, posterior: 0.9, method: 'dawid_skene' as const, labelCount: 1 })));

  return { snapshotId, rows, batch };
}

test('a nested subset read in parts serves the bytes the one-query-per-chunk path served, for every query, and resumes across a part boundary', async () => {
  const { snapshotId, rows, batch } = await makeDatedSnapshot();
  const queries: Parameters<typeof oldSubsetBytes>[1][] = [
    { fraction: 1, seed: 1 },
    { fraction: 0.5, seed: 2 },
    { fraction: 0.001, seed: 3 },
    { fraction: 0.75, seed: -7, excludeBatch: batch },
    { fraction: 1, seed: 4, window: 'newest' },
    { fraction: 0.5, seed: 4, window: 'oldest' },
    { fraction: 0.9, seed: 5, excludeBatch: batch, window: 'newest' },
    // Around the first part's end (its first 5,000 rows), past the subset's end, empty.
    { fraction: 1, seed: 1, offset: 4_990, limit: 20 },
    { fraction: 1, seed: 1, offset: 5_000 },
    { fraction: 1, seed: 1, offset: 5_003, limit: 6_000 },
    { fraction: 0.5, seed: 2, offset: 5_999, limit: 10 },
    { fraction: 0.5, seed: 2, offset: 7_000 },
    { fraction: 1, seed: 1, offset: 3, limit: 0 },
  ];
  for (const q of queries) {
    const query = `split=train&fraction=${q.fraction}&seed=${q.seed}${q.excludeBatch ? `&excludeBatch=${encodeURIComponent(q.excludeBatch)}` : ''}${q.window ? `&window=${q.window}` : ''}${q.offset !== undefined ? `&offset=${q.offset}` : ''}${q.limit !== undefined ? `&limit=${q.limit}` : ''}`;
    const got = await call('GET', examplesPath(snapshotId, query), { token: trainer });
    assert.equal(got.status, 200, got.text.slice(0, 300));
    const expected = await oldSubsetBytes(snapshotId, q);
    assert.ok(got.bytes.equals(expected), `${query}: ${got.bytes.length} bytes served, ${expected.length} expected; first difference at byte ${firstDifference(got.bytes, expected)}`);
  }
  // The dated rows carry ageDays, the undated ones not: the lines are the full contract line.
  const whole = (await oldSubsetBytes(snapshotId, { fraction: 1, seed: 1 })).toString('utf8');
  assert.match(whole, /"ageDays":\d/);
  assert.equal(whole.split('\n').length - 1, rows);

  // Parts of a few rows each (many boundaries, sizes adapting), read directly: the same bytes, and a read
  // resumed at any offset continues the same stream.
  const { exampleIds, externalIds } = await snapshotMemberKeys(env.db, snapshotId, 'train');
  const ordered = Int32Array.from(nestedPermutation(externalIds, 1), (i) => exampleIds[i]!);
  const sizes = { chunkRows: 7, partChars: 3_000 };
  const served = async (from: number, to: number) => {
    let text = '';
    let batches = 0;
    for await (const lines of exampleLinesInOrder(env.db, { snapshotId, split: 'train', withLabel: true, exampleIds: ordered.subarray(from, to) }, { sizes })) {
      assert.ok(lines.length >= 1 && lines.length <= sizes.chunkRows);
      text += lines.join('\n') + '\n';
      batches++;
    }
    return { text, batches };
  };
  const full = (await oldSubsetBytes(snapshotId, { fraction: 1, seed: 1 })).toString('utf8');
  const fullLines = full.split('\n').slice(0, -1);
  const first = await served(0, 400);
  assert.equal(first.text, fullLines.slice(0, 400).join('\n') + '\n');
  // Parts of about 3,000 characters (~25 rows) after the first 7: many parts, every batch at most one chunk.
  assert.ok(first.batches >= 400 / 7, `${first.batches} batches`);
  for (const [from, to] of [
    [0, 1],
    [6, 9],
    [7, 40],
    [33, 34],
    [250, 400],
  ] as const) {
    assert.equal((await served(from, to)).text, fullLines.slice(from, to).join('\n') + '\n', `positions ${from} to ${to}`);
  }
  assert.deepEqual(await served(5, 5), { text: '', batches: 0 }, 'no ids, no lines');

  // An id that is no member of the split (another snapshot's row, as if the members changed under the
  // read): the read fails at that chunk rather than serve fewer lines, or another row's line in its place.
  // The id is older than this snapshot's, so it sorts first in its part: the first chunk of 7 has 6.
  const strayed = Int32Array.from(ordered.subarray(0, 30));
  strayed[17] = small.train[0]!.exampleId;
  await assert.rejects(async () => {
    for await (const lines of exampleLinesInOrder(env.db, { snapshotId, split: 'train', withLabel: true, exampleIds: strayed }, { sizes })) assert.ok(lines.length > 0);
  }, /has 6 of 7 members asked for from exampleId \d+: its members changed under a read/);
});

function firstDifference(a: Buffer, b: Buffer): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return Math.min(a.length, b.length);
}

test('a bad query is a 400 naming the parameter, an unknown snapshot a 404', async () => {
  const cases: [string, string, RegExp][] = [
    [`/trainer/snapshots/${small.id}/examples`, 'no split', /'split' is required/],
    [examplesPath(small.id, 'split=test'), 'unknown split', /'split' is 'test'/],
    [examplesPath(small.id, 'split=train&split=heldout'), 'split twice', /'split' is given 2 times/],
    [examplesPath(small.id, 'split=train&rows=5'), 'unknown key', /'rows' is not a parameter/],
    [examplesPath(small.id, 'split=train&constructor=1'), 'a key on Object.prototype', /'constructor' is not a parameter/],
    [examplesPath(small.id, 'split=train&fraction=0.5'), 'fraction without seed', /'seed' is missing/],
    [examplesPath(small.id, 'split=train&seed=1'), 'seed without fraction', /'fraction' is missing/],
    [examplesPath(small.id, 'split=heldout&fraction=0.5&seed=1'), 'a subset of the held-out set', /split=train only/],
    [examplesPath(small.id, 'split=train&fraction=0&seed=1'), 'fraction 0', /'fraction' is '0'/],
    [examplesPath(small.id, 'split=train&fraction=1.5&seed=1'), 'fraction above 1', /'fraction' is '1.5'/],
    [examplesPath(small.id, 'split=train&fraction=NaN&seed=1'), 'fraction NaN', /'fraction'/],
    [examplesPath(small.id, 'split=train&fraction=0.5&seed=1.5'), 'a fractional seed', /'seed' is '1.5'/],
    [examplesPath(small.id, 'split=train&fraction=0.5&seed=99999999999999999999'), 'a seed past 2^53', /'seed'/],
    [examplesPath(small.id, 'split=train&offset=-1'), 'negative offset', /'offset' is '-1'/],
    [examplesPath(small.id, 'split=train&limit=abc'), 'limit not a number', /'limit' is 'abc'/],
    [examplesPath(small.id, 'split=train&limit=3000000000'), 'limit past int32', /'limit'/],
    [examplesPath(small.id, 'split=train&excludeBatch='), 'empty batch id', /'excludeBatch'/],
    [examplesPath(small.id, 'split=train&excludeBatch=a%00b'), 'NUL in the batch id', /'excludeBatch' contains a NUL/],
    [examplesPath(small.id, 'split=train&window=middle'), 'a window neither newest nor oldest', /'window' is 'middle': give newest or oldest/],
    [examplesPath(small.id, 'split=heldout&window=newest'), 'a window of the held-out set', /'window' is for split=train only/],
    ['/trainer/snapshots/abc/examples?split=train', 'snapshot id not a number', /'snapshotId' is 'abc'/],
    ['/trainer/snapshots/0/examples?split=train', 'snapshot id 0', /'snapshotId' is '0'/],
    ['/trainer/snapshots/99999999999/examples?split=train', 'snapshot id past int32', /'snapshotId'/],
  ];
  for (const [path, what, pattern] of cases) {
    const a = await call('GET', path, { token: trainer });
    assert.equal(a.status, 400, `${what}: ${a.status} ${a.text}`);
    assert.match(message(a), pattern, what);
  }
  const missing = await call('GET', examplesPath(2_000_000_000, 'split=train'), { token: trainer });
  assert.equal(missing.status, 404);
  assert.match(message(missing), /snapshot 2000000000 not found/);
  const wrongMethod = await call('POST', examplesPath(small.id, 'split=train'), { token: trainer, body: '{}' });
  assert.equal(wrongMethod.status, 405);
  const noRoute = await call('GET', '/trainer/nothing-here', { token: trainer });
  assert.equal(noRoute.status, 404);
});

/** A server over the same database that counts the data plane's reads (db.execute: its only raw queries). */
async function countingServer() {
  const db = new Proxy(env.db, {
    get(target, key, receiver) {
      if (key === 'execute') {
        return (...args: Parameters<typeof target.execute>) => {
          server.reads++;
          return target.execute(...args);
        };
      }
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  const server = Object.assign(await startApiServer({ ...env.deps, db }), { reads: 0 });
  return server;
}

/** A GET with the trainer's token whose client stops reading after 1 MB (`received` counts what came). */
async function readThenPause(url: string) {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(url, { headers: { authorization: `Bearer ${trainer}` } }, resolve).on('error', reject);
  });
  assert.equal(res.statusCode, 200);
  const paused = { res, received: 0 };
  res.on('data', (c: Buffer) => {
    paused.received += c.length;
    if (paused.received > 1 << 20) res.pause();
  });
  return paused;
}

test('a client that stops reading holds the server back (backpressure), and one that leaves stops its reads', async (t) => {
  // 44,500 rows of about 1 KB, ~45 MB, far more than the socket buffers hold: ranges of 1,000 rows, the
  // first two statements one range each, then about 8M characters (7 ranges) each: 9 statements.
  const wide = await makeWideSnapshot(44_500, 1000);
  const counting = await countingServer();
  try {
    const paused = await readThenPause(`${counting.url}/api${examplesPath(wide.id, 'split=train')}`);
    const res = paused.res;
    // Paused after 1 MB: the server has read the ranges, what the socket buffers took (a few MB), the
    // statement it is writing and the two after it, and waits; ignoring backpressure it would have read
    // all nine.
    await new Promise((r) => setTimeout(r, 1500));
    const whilePaused = counting.reads;
    t.diagnostic(`${whilePaused} of 10 reads (the ranges, 9 statements) while paused, ${paused.received} bytes received`);
    assert.ok(whilePaused >= 2 && whilePaused <= 5, `${whilePaused} reads while the client was not reading (of 10)`);
    assert.ok(paused.received < 20 << 20, `${paused.received} bytes received while paused`);
    // The client leaves: no read after that.
    res.destroy();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(counting.reads, whilePaused, 'no chunk read after the client left');
    // Read through, the same server sends everything: the ranges once, every statement once.
    counting.reads = 0;
    const all = await fetch(`${counting.url}/api${examplesPath(wide.id, 'split=train')}`, { headers: { authorization: `Bearer ${trainer}` } });
    const text = await all.text();
    assert.equal(text.split('\n').length - 1, 44_500);
    assert.equal(counting.reads, 10);
  } finally {
    await counting.close();
  }
});

test('a nested subset read paused holds the server at two parts, and one that leaves stops its reads', async (t) => {
  // 44,500 rows of about 1 KB, in parts of one 5,000-row chunk each (the least a part holds; the default
  // parts of 12M characters would need far more rows to show the same): nine chunk reads after the one
  // that orders the seed.
  const wide = await makeWideSnapshot(44_500, 1000);
  const counting = await countingServer();
  const partChars = DEFAULT_ORDERED_READ_SIZES.partChars;
  DEFAULT_ORDERED_READ_SIZES.partChars = 1;
  try {
    const path = examplesPath(wide.id, 'split=train&fraction=1&seed=5');
    const paused = await readThenPause(`${counting.url}/api${path}`);
    const res = paused.res;
    // Paused after 1 MB: the server has read the seed's order, what the socket buffers took (a few MB),
    // the part it is writing and the one after it, and waits; reading ahead of the writes it would read all nine.
    await new Promise((r) => setTimeout(r, 1500));
    const whilePaused = counting.reads;
    t.diagnostic(`${whilePaused} of 10 reads while paused, ${paused.received} bytes received`);
    assert.ok(whilePaused >= 2 && whilePaused <= 5, `${whilePaused} reads while the client was not reading (of 10)`);
    res.destroy();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(counting.reads, whilePaused, 'no read after the client left');
    // Read through: every row once, the order kept from the first read, each part read once.
    counting.reads = 0;
    const all = await fetch(`${counting.url}/api${path}`, { headers: { authorization: `Bearer ${trainer}` } });
    const text = await all.text();
    assert.equal(text.split('\n').length - 1, 44_500);
    assert.equal(new Set(text.split('\n').slice(0, -1).map((l) => (JSON.parse(l) as { exampleId: number }).exampleId)).size, 44_500);
    assert.equal(counting.reads, 9);
  } finally {
    DEFAULT_ORDERED_READ_SIZES.partChars = partChars;
    await counting.close();
  }
});

test('a client that stops reading mid-stream leaves the server serving', async () => {
  // Read the first bytes of the large split, then drop the connection.
  await new Promise<void>((resolve, reject) => {
    const req = http.get(`${url}/api${examplesPath(big.id, 'split=train')}`, { headers: { authorization: `Bearer ${trainer}` } }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
  });
  const again = await read(trainer, small.id, 'split=heldout');
  assert.equal(again.length, small.heldout.length);
});

// ---- score sets -----------------------------------------------------------------------------------------

async function pendingSet(snapshot: Snapshot, split: 'train' | 'heldout') {
  const jobKey = `run-${uid()}/score/v1/${split}`;
  const rows = snapshot[split].length;
  const made = await ensurePendingScoreSet(env.db, { jobKey, snapshotId: snapshot.id, split, artifactSha256: `sha256:${'a'.repeat(64)}`, versionId: null, expectedRows: rows });
  assert.equal(made.status, 'pending');
  return { jobKey, id: made.id, path: `/trainer/score-sets/${encodeURIComponent(jobKey)}` };
}

const ndjson = (rows: { exampleId: number; score: unknown }[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

test('a score set PUT stores float64 little-endian scores in exampleId order with their hash, and completes the set', async () => {
  const { jobKey, id, path } = await pendingSet(small, 'heldout');
  // Sent in another order than the set's: stored in the set's (exampleId ascending).
  const scores = small.heldout.map((m, i) => ({ exampleId: m.exampleId, score: (i + 0.5) / small.heldout.length }));
  const body = ndjson([...scores].reverse());
  const answer = await call('PUT', path, { token: trainer, body, type: 'application/x-ndjson' });
  assert.equal(answer.status, 200, answer.text);
  const expectedBytes = Buffer.alloc(scores.length * 8);
  scores.forEach((s, i) => expectedBytes.writeDoubleLE(s.score, i * 8));
  const sha256 = `sha256:${createHash('sha256').update(expectedBytes).digest('hex')}`;
  assert.deepEqual(JSON.parse(answer.text), { scored: scores.length, sha256 });

  const [row] = await env.db.select().from(scoreSets).where(eq(scoreSets.id, id));
  assert.equal(row!.status, 'complete');
  assert.ok(row!.completedAt instanceof Date);
  assert.equal(row!.contentHash, sha256);
  assert.deepEqual(Buffer.from(row!.scores!), expectedBytes);
  const completed = await completedScoreSet(env.db, jobKey);
  assert.deepEqual(Array.from(completed!.scores), scores.map((s) => s.score));
  assert.equal(completed!.contentHash, sha256);
  assert.equal(completed!.versionId, null);
  // The activity that made the set finds it again (a retry), now complete.
  assert.deepEqual(await ensurePendingScoreSet(env.db, { jobKey, snapshotId: small.id, split: 'heldout', artifactSha256: 'x', versionId: null, expectedRows: 1 }), { id, status: 'complete' });
  const audit = await listAuditLog(env.db, { target: jobKey, limit: 10 });
  assert.equal(audit.length, 1);
  assert.equal(audit[0]!.action, 'trainer.putScores');
  assert.equal(audit[0]!.details.sha256, sha256);

  // A second PUT (a retried trainer, other scores) answers what was stored and changes nothing.
  const before = await fingerprint(env.db);
  const again = await call('PUT', path, { token: trainer, body: ndjson(scores.map((s) => ({ ...s, score: 0 }))), type: 'application/x-ndjson' });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(JSON.parse(again.text), { scored: scores.length, sha256 });
  await assertNothingWritten(env.db, before, 'a repeated PUT');
  assert.equal(await completedScoreSet(env.db, 'no-such-key'), null);
});

test('a large score set read in pieces: lines cut between reads, a set of 12,345 rows, CRLF and blank lines', async () => {
  const { jobKey, path } = await pendingSet(big, 'train');
  const scores = big.train.map((m, i) => ({ exampleId: m.exampleId, score: (i % 1000) / 999 }));
  const body = Buffer.from(scores.map((s, i) => JSON.stringify(s) + (i % 100 === 0 ? '\r\n\n' : '\n')).join(''));
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(`${url}/api${path}`, { method: 'PUT', headers: { authorization: `Bearer ${trainer}`, 'content-type': 'application/x-ndjson; charset=utf-8' } }, (res) => {
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(got).toString() }));
    });
    req.on('error', reject);
    void (async () => {
      // Odd-sized pieces, so lines straddle reads.
      for (let at = 0; at < body.length; at += 7_777) {
        req.write(body.subarray(at, at + 7_777));
        if (at % (7_777 * 20) === 0) await new Promise((r) => setTimeout(r, 1));
      }
      req.end();
    })();
  });
  assert.equal(answer.status, 200, answer.text);
  assert.equal((JSON.parse(answer.text) as { scored: number }).scored, 12_345);
  const stored = await completedScoreSet(env.db, jobKey);
  assert.deepEqual(Array.from(stored!.scores), scores.map((s) => s.score));
});

test('bad score bodies are refused with a 400 naming the line, and nothing is stored', async () => {
  const { id, path } = await pendingSet(small, 'heldout');
  const good = small.heldout.map((m) => ({ exampleId: m.exampleId, score: 0.25 }));
  const notInSet = small.train[0]!.exampleId;
  const cases: [string, string, RegExp][] = [
    ['an exampleId not in the set', ndjson([...good.slice(0, 3), { exampleId: notInSet, score: 0.5 }, ...good.slice(3)]), new RegExp(`line 4: exampleId ${notInSet} is not a row of this score set`)],
    ['a repeated exampleId', ndjson([...good, good[2]!]), new RegExp(`line ${good.length + 1}: exampleId ${good[2]!.exampleId} was already scored on line 3`)],
    ['missing rows', ndjson(good.slice(0, -2)), new RegExp(`scores ${good.length - 2} of ${good.length} rows: 2 missing, the first is exampleId ${good[good.length - 2]!.exampleId}`)],
    ['a score of 1.5', ndjson([...good.slice(0, 5), { exampleId: good[5]!.exampleId, score: 1.5 }, ...good.slice(6)]), /line 6: score: .*1/],
    ['a negative score', ndjson([{ exampleId: good[0]!.exampleId, score: -0.1 }, ...good.slice(1)]), /line 1: score:/],
    ['a score that is a string', ndjson([{ exampleId: good[0]!.exampleId, score: '0.5' }, ...good.slice(1)]), /line 1: score:/],
    ['a line that is not JSON', `${ndjson(good.slice(0, 2))}{"exampleId": 5, "score": \n${ndjson(good.slice(2))}`, /line 3 is not JSON/],
    ['NaN', `${ndjson(good.slice(0, 1))}{"exampleId": ${good[1]!.exampleId}, "score": NaN}\n`, /line 2 is not JSON/],
    ['an unknown field', ndjson([{ ...good[0]!, weight: 1 } as never, ...good.slice(1)]), /line 1: .*weight/],
    ['a fractional exampleId', ndjson([{ exampleId: 1.5, score: 0.5 }]), /line 1: exampleId:/],
    ['an empty body', '', new RegExp(`scores 0 of ${good.length} rows`)],
    ['a line far too long', `${'x'.repeat(10_000)}\n`, /line 1 is longer than 4096 bytes/],
    ['a line far too long, arriving in pieces', `${ndjson(good.slice(0, 1))}${'x'.repeat(200_000)}`, /line 2 is longer than 4096 bytes/],
  ];
  for (const [what, body, pattern] of cases) {
    const before = await fingerprint(env.db);
    const a = await call('PUT', path, { token: trainer, body, type: 'application/x-ndjson' });
    assert.equal(a.status, 400, `${what}: ${a.status} ${a.text}`);
    assert.match(message(a), pattern, what);
    await assertNothingWritten(env.db, before, what);
  }
  const bad = Buffer.concat([Buffer.from(ndjson(good.slice(0, 1))), Buffer.from([0xff, 0xfe, 0x0a])]);
  const notUtf8 = await call('PUT', path, { token: trainer, body: bad, type: 'application/x-ndjson' });
  assert.equal(notUtf8.status, 400);
  assert.match(message(notUtf8), /line 2 is not UTF-8/);
  const other = await call('PUT', path, { token: trainer, body: ndjson(good), type: 'text/csv' });
  assert.equal(other.status, 415);
  const latin1 = await call('PUT', path, { token: trainer, body: ndjson(good), type: 'application/x-ndjson; charset=latin1' });
  assert.equal(latin1.status, 415);
  const query = await call('PUT', `${path}?force=1`, { token: trainer, body: ndjson(good), type: 'application/x-ndjson' });
  assert.equal(query.status, 400);
  assert.match(message(query), /'force' is not a parameter/);
  const [row] = await env.db.select({ status: scoreSets.status, scores: scoreSets.scores }).from(scoreSets).where(eq(scoreSets.id, id));
  assert.deepEqual(row, { status: 'pending', scores: null });
  // After all that, the good body is taken, also as application/json (a set of lines is sent as is).
  const ok = await call('PUT', path, { token: trainer, body: ndjson(good), type: 'application/json' });
  assert.equal(ok.status, 200, ok.text);
});

test('an unknown score set is a 404 once its lines are found well formed; a malformed key or body is a 400', async () => {
  const before = await fingerprint(env.db);
  const unknown = await call('PUT', `/trainer/score-sets/${encodeURIComponent('run-x/score/none')}`, { token: trainer, body: '{"exampleId":1,"score":0.5}\n', type: 'application/x-ndjson' });
  assert.equal(unknown.status, 404);
  assert.match(message(unknown), /score set 'run-x\/score\/none' not found/);
  // Slashes not encoded reach the same key.
  const raw = await call('PUT', '/trainer/score-sets/run-x/score/none', { token: trainer, body: '{"exampleId":1,"score":0.5}\n' });
  assert.equal(raw.status, 404);
  assert.match(message(raw), /'run-x\/score\/none'/);
  const malformed = await call('PUT', '/trainer/score-sets/x1', { token: trainer, body: '{"probe":"a"}', type: 'application/json' });
  assert.equal(malformed.status, 400);
  assert.match(message(malformed), /line 1/);
  for (const [key, pattern] of [
    ['a%00b', /'jobKey' contains a NUL/],
    ['%ED%A0%80', /'jobKey' is not valid percent-encoded UTF-8/],
    ['k'.repeat(301), /'jobKey' is 301 characters long/],
  ] as const) {
    const a = await call('PUT', `/trainer/score-sets/${key}`, { token: trainer, body: '{"exampleId":1,"score":0.5}\n' });
    assert.equal(a.status, 400, `${key.slice(0, 20)}: ${a.text}`);
    assert.match(message(a), pattern);
  }
  await assertNothingWritten(env.db, before, 'refused score PUTs');
});

test('two PUTs of the same key at once store one set, and both answer it', async () => {
  const { id, path } = await pendingSet(big, 'heldout');
  const a = big.heldout.map((m) => ({ exampleId: m.exampleId, score: 0.1 }));
  const b = big.heldout.map((m) => ({ exampleId: m.exampleId, score: 0.9 }));
  const [ra, rb] = await Promise.all([call('PUT', path, { token: trainer, body: ndjson(a) }), call('PUT', path, { token: trainer, body: ndjson(b) })]);
  assert.equal(ra.status, 200, ra.text);
  assert.equal(rb.status, 200, rb.text);
  assert.deepEqual(JSON.parse(ra.text), JSON.parse(rb.text));
  const [row] = await env.db.select({ hash: scoreSets.contentHash, scores: scoreSets.scores }).from(scoreSets).where(eq(scoreSets.id, id));
  assert.equal((JSON.parse(ra.text) as { sha256: string }).sha256, row!.hash);
  const stored = Array.from(decodeScores(row!.scores!));
  assert.ok(stored.every((s) => s === 0.1) || stored.every((s) => s === 0.9), 'one whole set, not a mix');
  assert.equal((await listAuditLog(env.db, { target: (await env.db.select({ k: scoreSets.jobKey }).from(scoreSets).where(eq(scoreSets.id, id)))[0]!.k, limit: 5 })).length, 1);
});

// ---- artifacts ------------------------------------------------------------------------------------------

test('an artifact PUT is checked against its name, stored once, and read back; a version from before the contract is read from its row', async () => {
  const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31) % 256));
  const name = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const path = `/trainer/artifacts/${name}`;
  const put = await call('PUT', path, { token: trainer, body: bytes, type: 'application/octet-stream' });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(JSON.parse(put.text), { uri: `retrain-store:${name}`, size: bytes.length });
  const [row] = await env.db.select().from(artifacts).where(eq(artifacts.sha256, name));
  assert.deepEqual(Buffer.from(row!.bytes), bytes);
  assert.equal(row!.size, bytes.length);
  const got = await call('GET', path, { token: trainer });
  assert.equal(got.status, 200);
  assert.equal(got.type, 'application/octet-stream');
  assert.deepEqual(got.bytes, bytes);
  // The colon may come encoded.
  assert.deepEqual((await call('GET', `/trainer/artifacts/${encodeURIComponent(name)}`, { token: env.tokens.admin })).bytes, bytes);

  // Again: same answer, nothing written, one audit row in all.
  const before = await fingerprint(env.db);
  const again = await call('PUT', path, { token: trainer, body: bytes });
  assert.equal(again.status, 200);
  assert.deepEqual(JSON.parse(again.text), JSON.parse(put.text));
  await assertNothingWritten(env.db, before, 'a repeated artifact PUT');
  const audit = await listAuditLog(env.db, { target: name, limit: 5 });
  assert.deepEqual(
    audit.map((a) => [a.action, a.details.size]),
    [['trainer.putArtifact', bytes.length]],
  );

  // Bytes that do not hash to the name, a bad name, an unknown artifact: refused, nothing written.
  const other = Buffer.from('other bytes');
  const otherName = `sha256:${createHash('sha256').update(other).digest('hex')}`;
  const mismatch = await call('PUT', `/trainer/artifacts/${otherName}`, { token: trainer, body: Buffer.concat([other, Buffer.from('!')]) });
  assert.equal(mismatch.status, 400);
  assert.match(message(mismatch), new RegExp(`not ${otherName}`));
  for (const bad of ['sha256:ABC', `sha256:${'A'.repeat(64)}`, `md5:${'0'.repeat(32)}`, 'x1']) {
    const a = await call('PUT', `/trainer/artifacts/${bad}`, { token: trainer, body: other });
    assert.equal(a.status, 400, bad);
    assert.match(message(a), /path parameter 'sha256'/);
    assert.equal((await call('GET', `/trainer/artifacts/${bad}`, { token: trainer })).status, 400);
  }
  const absent = await call('GET', `/trainer/artifacts/${otherName}`, { token: trainer });
  assert.equal(absent.status, 404);
  assert.match(message(absent), /not found/);
  assert.equal((await call('GET', `${path}?x=1`, { token: trainer })).status, 400);
  await assertNothingWritten(env.db, before, 'refused artifact requests');

  // A version trained before the contract keeps its bytes in its row; the store's GET finds them there.
  const legacy = Buffer.from('a legacy artifact');
  const legacyName = `sha256:${createHash('sha256').update(legacy).digest('hex')}`;
  const [model] = await env.db.select({ id: models.id }).from(models).orderBy(asc(models.id)).limit(1);
  await env.db.insert(modelVersions).values({ modelId: model!.id, version: 900, trainer: 'hashed-logreg@1', params: {}, artifact: legacy, artifactHash: legacyName });
  const fromRow = await call('GET', `/trainer/artifacts/${legacyName}`, { token: trainer });
  assert.equal(fromRow.status, 200);
  assert.deepEqual(fromRow.bytes, legacy);
  assert.equal((await env.db.select().from(artifacts).where(and(eq(artifacts.sha256, legacyName)))).length, 0, 'read, not copied into the store');
});

test('the OpenAPI document lists the data plane with its parameters and error responses', async () => {
  const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: Record<string, unknown>; requestBody?: { content: Record<string, unknown> } }>> };
  const examplesOp = doc.paths['/trainer/snapshots/{snapshotId}/examples']!.get!;
  assert.deepEqual(
    examplesOp.parameters!.map((p) => p.name),
    ['snapshotId', 'split', 'fraction', 'seed', 'excludeBatch', 'window', 'offset', 'limit'],
  );
  for (const status of ['200', '400', '401', '403', '404']) assert.ok(examplesOp.responses[status], `examples declares ${status}`);
  assert.ok(doc.paths['/trainer/score-sets/{jobKey}']!.put!.requestBody!.content['application/x-ndjson']);
  assert.ok(doc.paths['/trainer/artifacts/{sha256}']!.put!.requestBody!.content['application/octet-stream']);
  assert.ok(doc.paths['/trainer/artifacts/{sha256}']!.get!.responses['404']);
});
