// The trainer contract's data plane: a frozen snapshot's rows as a trainer reads them (NDJSON lines built
// by the database, in chunks, so no request holds a whole split), the score sets a trainer puts back
// (one row per job key: pending until the first complete PUT, then float64 scores in the split's
// exampleId-ascending order), and the control plane's own artifact store.
import { and, eq, isNotNull, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { resultRows } from './queries';
import { artifacts, datasetSnapshots, modelVersions, scoreSets } from './schema';

export type Split = 'train' | 'heldout';

// ---- snapshots ------------------------------------------------------------------------------------------

export async function snapshotExists(db: DbOrTx, snapshotId: number): Promise<boolean> {
  const [row] = await db.select({ id: datasetSnapshots.id }).from(datasetSnapshots).where(eq(datasetSnapshots.id, snapshotId));
  return row !== undefined;
}

/** Half of a training split by observedAt: the newest or the oldest floor(dated / 2) dated members (ties by exampleId). */
export type RecencyWindow = 'newest' | 'oldest';

/**
 * Members of a split, less the examples a batch labelled (the ablation leaves the newest batch out), or
 * within one half of its dated members by observedAt (the saturation check's newest-vs-oldest comparison:
 * both halves the same size).
 */
function membersWhere(snapshotId: number, split: Split, excludeBatchId: string | null | undefined, window?: RecencyWindow | null): SQL {
  let where = sql`m.snapshot_id = ${snapshotId} and m.split = ${split}`;
  if (excludeBatchId != null) where = sql`${where} and not exists (select 1 from aggregated_labels a where a.batch_id = ${excludeBatchId} and a.example_id = m.example_id)`;
  if (window != null) {
    const order = window === 'newest' ? sql`e2.observed_at desc, m2.example_id desc` : sql`e2.observed_at asc, m2.example_id asc`;
    const dated = sql`from dataset_snapshot_members m2 join examples e2 on e2.id = m2.example_id where m2.snapshot_id = ${snapshotId} and m2.split = ${split} and e2.observed_at is not null`;
    where = sql`${where} and m.example_id in (select m2.example_id ${dated} order by ${order} limit (select count(*) / 2 ${dated}))`;
  }
  return where;
}

/** How many rows a split's stream holds (what a data reference's `rows` says). */
export async function snapshotSplitCount(db: DbOrTx, snapshotId: number, split: Split, excludeBatchId?: string | null, window?: RecencyWindow | null): Promise<number> {
  const [row] = resultRows<{ n: number | string }>(
    await db.execute(sql`select count(*)::int as n from dataset_snapshot_members m where ${membersWhere(snapshotId, split, excludeBatchId, window)}`),
  );
  return Number(row?.n ?? 0);
}

/**
 * One example line of the contract (trainers/contract exampleLine), written by the database: the
 * input's jsonb as stored, the external id escaped by to_json, `label` only on training data, and on
 * training data `ageDays` (days from the example's observedAt to the snapshot's asOf, rounded to the
 * microsecond's day fraction) when both are known: what a recency half-life weights by.
 */
function exampleLineSql(withLabel: boolean, snapshotId: number): SQL {
  if (!withLabel) return sql`concat('{"exampleId":', m.example_id, ',"externalId":', to_json(e.external_id), ',"input":', e.input, '}')`;
  const asOf = sql`(select d.as_of from dataset_snapshots d where d.id = ${snapshotId})`;
  const age = sql`case when e.observed_at is not null and ${asOf} is not null then concat(',"ageDays":', round((extract(epoch from (${asOf} - e.observed_at)) / 86400)::numeric, 6)) else '' end`;
  return sql`concat('{"exampleId":', m.example_id, ',"externalId":', to_json(e.external_id), ',"input":', e.input, ',"label":', m.label, ${age}, '}')`;
}

/**
 * `columns` of the members `chosen` picks (a statement over dataset_snapshot_members m selecting
 * example_id and label), joined to their examples (e) one index probe each, in exampleId order.
 * The members are picked first, in a materialised CTE: joined in one statement, the planner merge-joins
 * and walks examples from its first row to the chunk's (every model's examples, every chunk), which grows
 * with the table, not the chunk. A chunk of many members (a nested order's 100,000) is still merge-joined,
 * so `afterId` (the chunk's members are all past it) bounds the walk: it starts at the chunk.
 */
function withExamples(chosen: SQL, columns: SQL, afterId: number | null = null): SQL {
  const bound = afterId === null ? sql`` : sql` and e.id > ${afterId}`;
  return sql`
    with m as materialized (${chosen})
    select m.example_id, ${columns}
    from m join examples e on e.id = m.example_id${bound}
    order by m.example_id`;
}

export interface ExampleLine {
  exampleId: number;
  /** The line's JSON text, without the newline. */
  line: string;
}

/**
 * Up to `limit` lines of a split in exampleId order after skipping `offset` rows, as row objects: a short
 * read (a resumed page, a probe); a long one goes by idChunks and exampleTextInIdRange.
 */
export async function exampleLinesInIdOrder(
  db: DbOrTx,
  q: { snapshotId: number; split: Split; excludeBatchId?: string | null; window?: RecencyWindow | null; withLabel: boolean; offset: number; limit: number },
): Promise<ExampleLine[]> {
  const chosen = sql`
    select m.example_id, m.label from dataset_snapshot_members m
    where ${membersWhere(q.snapshotId, q.split, q.excludeBatchId, q.window)}
    order by m.example_id offset ${q.offset} limit ${q.limit}`;
  const rows = resultRows<{ example_id: number; line: string }>(await db.execute(withExamples(chosen, sql`${exampleLineSql(q.withLabel, q.snapshotId)} as line`)));
  return rows.map((r) => ({ exampleId: Number(r.example_id), line: r.line }));
}

/** The first and last exampleId of one chunk of a split's rows in exampleId order. */
export interface IdRange {
  first: number;
  last: number;
}

/**
 * The split's rows in exampleId order, from row `offset` (0-based) up to `offset + limit` (all rows when
 * null), cut into chunks of `every` rows: each chunk's first and last exampleId, so the chunks can be
 * read side by side, each bounded on both tables by its id range (exampleTextInIdRange), and still be
 * written in order. One pass over the members' index, ids only.
 */
export async function idChunks(
  db: DbOrTx,
  q: { snapshotId: number; split: Split; excludeBatchId?: string | null; window?: RecencyWindow | null; offset: number; limit: number | null; every: number },
): Promise<IdRange[]> {
  const end = q.limit === null ? sql`x.n` : sql`least(x.n, ${q.offset + q.limit})`;
  const rows = resultRows<{ example_id: number; rn: number | string; n: number | string }>(
    await db.execute(sql`
      select x.example_id, x.rn, ${end} as n from (
        select m.example_id, row_number() over (order by m.example_id) - 1 as rn, count(*) over () as n
        from dataset_snapshot_members m where ${membersWhere(q.snapshotId, q.split, q.excludeBatchId, q.window)}
      ) x
      where x.rn >= ${q.offset} and x.rn < ${end}
        and ((x.rn - ${q.offset}) % ${q.every} = 0 or (x.rn - ${q.offset}) % ${q.every} = ${q.every - 1} or x.rn = ${end} - 1)
      order by x.example_id`),
  );
  const ranges: IdRange[] = [];
  for (const r of rows) {
    const id = Number(r.example_id);
    if ((Number(r.rn) - q.offset) % q.every === 0) ranges.push({ first: id, last: id });
    else ranges.at(-1)!.last = id;
  }
  return ranges;
}

/**
 * The lines of a split's members whose exampleId is in [first, last] (a run of idChunks' ranges), in
 * exampleId order, joined by the database into one text, each line ending in a newline: no object per
 * row on the way. Both tables are bounded by the range, so the planner joins two index range scans (hash
 * or merge), where a list of ids was joined one index probe at a time.
 */
export async function exampleTextInIdRange(
  db: DbOrTx,
  q: { snapshotId: number; split: Split; excludeBatchId?: string | null; window?: RecencyWindow | null; withLabel: boolean; range: IdRange },
): Promise<{ text: string; lines: number }> {
  const { first, last } = q.range;
  return linesAsOneText(
    db,
    sql`
      select m.example_id, ${exampleLineSql(q.withLabel, q.snapshotId)} as line
      from dataset_snapshot_members m join examples e on e.id = m.example_id
      where ${membersWhere(q.snapshotId, q.split, q.excludeBatchId, q.window)}
        and m.example_id between ${first} and ${last} and e.id between ${first} and ${last}`,
  );
}

/**
 * The lines `rows` selects (example_id, line), joined by the database into one text in exampleId order,
 * each line ending in a newline, and how many there are: one string for a statement's rows, no object
 * per row on the way.
 */
async function linesAsOneText(db: DbOrTx, rows: SQL): Promise<{ text: string; lines: number }> {
  const [row] = resultRows<{ text: string | null; lines: number | string }>(
    await db.execute(sql`select string_agg(x.line || E'\n', '' order by x.example_id) as text, count(*) as lines from (${rows}) x`),
  );
  return { text: row?.text ?? '', lines: Number(row?.lines ?? 0) };
}

/**
 * Packs a part's (exampleId, position) pairs into doubles that sort as numbers: id * 2^21 + position, exact
 * below 2^53 for any int32 id, for parts of at most 2^21 rows.
 */
const POSITION_BITS = 21;
const MAX_PART_ROWS = 2 ** POSITION_BITS;

/** Sizes of an ordered read's passes (tests shrink them to cross their boundaries with little data; the route reads the defaults at each request). */
export interface OrderedReadSizes {
  /** Ids per query, and most lines per batch handed out. */
  chunkRows: number;
  /** About how many characters of lines one part keeps (the next part's rows are sized from the lines read so far). */
  partChars: number;
}

export const DEFAULT_ORDERED_READ_SIZES: OrderedReadSizes = { chunkRows: 5_000, partChars: 12 * 1024 * 1024 };

/**
 * The lines of these members of a split in the order given (`exampleIds` distinct: a nested order, or a
 * slice of one), as batches of at most `chunkRows` lines, holding about two parts of lines at a time.
 *
 * Fetching rows by id in a random order costs an index probe into a random page per row, and a query
 * whose ids span the whole split is planned as a scan of it (every chunk of a nested subset read the
 * whole members table once). So the order is cut into parts of consecutive positions; each part's ids
 * are sorted and read in ascending chunks, each bounded by its first and last id (neighbouring rows
 * share pages, and no plan walks further than the chunk), the lines kept by position, then handed out
 * in the given order while the next part is read. The first part is one chunk (the first lines leave at
 * once, and their length sizes the parts after it). `stopped` is asked between queries: a reader that
 * went away stops the reading ahead.
 */
export async function* exampleLinesInOrder(
  db: DbOrTx,
  q: { snapshotId: number; split: Split; withLabel: boolean; exampleIds: Int32Array },
  opts: { sizes?: OrderedReadSizes; stopped?: () => boolean } = {},
): AsyncGenerator<string[]> {
  const { chunkRows, partChars } = opts.sizes ?? DEFAULT_ORDERED_READ_SIZES;
  let closed = false;
  const stopped = () => closed || (opts.stopped?.() ?? false);
  const ids = q.exampleIds;
  const line = exampleLineSql(q.withLabel, q.snapshotId);
  let charsRead = 0;
  let linesRead = 0;

  // A chunk's lines in exampleId order (its ids' order: they are sorted), joined into one text by the
  // database (linesAsOneText): no object per row here, and each line a slice of that text.
  const readChunk = (sorted: Float64Array, from: number, to: number): Promise<{ text: string; lines: number }> => {
    const chunk = Int32Array.from(sorted.subarray(from, to), (packed) => Math.floor(packed / MAX_PART_ROWS));
    const lo = chunk[0]!;
    const hi = chunk[chunk.length - 1]!;
    return linesAsOneText(
      db,
      sql`
        with u as materialized (select unnest(${`{${chunk.join(',')}}`}::int[]) as id)
        select m.example_id, ${line} as line
        from u
        join dataset_snapshot_members m on m.snapshot_id = ${q.snapshotId} and m.example_id = u.id and m.example_id between ${lo} and ${hi}
        join examples e on e.id = m.example_id and e.id between ${lo} and ${hi}
        where m.split = ${q.split}`,
    );
  };

  /** The lines of ids[from, to), by position. */
  const readPart = async (from: number, to: number): Promise<string[] | null> => {
    const sorted = new Float64Array(to - from);
    for (let i = 0; i < sorted.length; i++) sorted[i] = ids[from + i]! * MAX_PART_ROWS + i;
    sorted.sort();
    const lines: string[] = new Array<string>(sorted.length);
    let next = abandonable(readChunk(sorted, 0, Math.min(chunkRows, sorted.length)));
    for (let at = 0; at < sorted.length; at += chunkRows) {
      const got = await next;
      const end = Math.min(at + chunkRows, sorted.length);
      if (end < sorted.length) {
        if (stopped()) return null;
        next = abandonable(readChunk(sorted, end, Math.min(end + chunkRows, sorted.length)));
      }
      // The ids are distinct and each member is one row: as many lines as ids means every id's line, in
      // the ids' order (a line is JSON text, so it holds no raw newline).
      if (got.lines !== end - at) {
        throw new Error(`snapshot ${q.snapshotId}'s ${q.split} split has ${got.lines} of ${end - at} members asked for from exampleId ${Math.floor(sorted[at]! / MAX_PART_ROWS)}: its members changed under a read`);
      }
      // Every line ends in a newline: the split's last piece is the empty rest after the last one.
      const rows = got.text.split('\n');
      for (let j = 0; j < got.lines; j++) {
        lines[sorted[at + j]! % MAX_PART_ROWS] = rows[j]!;
        charsRead += rows[j]!.length;
      }
      linesRead += got.lines;
    }
    return lines;
  };

  const partEnd = (from: number) => {
    const rows = linesRead === 0 ? chunkRows : Math.floor(partChars / (charsRead / linesRead));
    return Math.min(ids.length, from + Math.max(chunkRows, Math.min(rows, MAX_PART_ROWS)));
  };

  let to = partEnd(0);
  let next: Promise<string[] | null> | null = ids.length > 0 ? abandonable(readPart(0, to)) : null;
  try {
    while (next) {
      const lines = await next;
      if (!lines) return;
      const from = to;
      // The next part is read while this one is handed out.
      next = from < ids.length && !stopped() ? abandonable(readPart(from, (to = partEnd(from)))) : null;
      for (let at = 0; at < lines.length; at += chunkRows) yield lines.slice(at, at + chunkRows);
    }
  } finally {
    // A reader that stopped early (break, a write that failed) ends the reading ahead at its next query.
    closed = true;
  }
}

/** A read that may be abandoned (the reader left): its failure is then nobody's to report. */
function abandonable<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** Ids read per query when a whole split's ids are needed (a nested order, a score set's rows). */
const ID_CHUNK = 100_000;

/**
 * Every member of a split (less a batch's examples), in exampleId order, as two parallel columns (no
 * object per row), a query's chunk at a time: what a nested order is computed from, packed as it comes.
 */
export async function* snapshotMemberKeyChunks(
  db: DbOrTx,
  snapshotId: number,
  split: Split,
  excludeBatchId?: string | null,
  window?: RecencyWindow | null,
): AsyncGenerator<{ exampleIds: Int32Array; externalIds: string[] }> {
  for (let after = -1; ; ) {
    const chosen = sql`
      select m.example_id, m.label from dataset_snapshot_members m
      where ${membersWhere(snapshotId, split, excludeBatchId, window)} and m.example_id > ${after}
      order by m.example_id limit ${ID_CHUNK}`;
    const rows = resultRows<{ example_id: number; external_id: string }>(await db.execute(withExamples(chosen, sql`e.external_id`, after)));
    const exampleIds = Int32Array.from(rows, (r) => Number(r.example_id));
    yield { exampleIds, externalIds: rows.map((r) => r.external_id) };
    if (rows.length < ID_CHUNK) return;
    after = exampleIds[exampleIds.length - 1]!;
  }
}

/** snapshotMemberKeyChunks in one piece (the tests' independent view of a split's keys; the route packs the chunks as they come). */
export async function snapshotMemberKeys(db: DbOrTx, snapshotId: number, split: Split, excludeBatchId?: string | null, window?: RecencyWindow | null): Promise<{ exampleIds: Int32Array; externalIds: string[] }> {
  const ids: Int32Array[] = [];
  const externalIds: string[] = [];
  for await (const chunk of snapshotMemberKeyChunks(db, snapshotId, split, excludeBatchId, window)) {
    ids.push(chunk.exampleIds);
    for (const id of chunk.externalIds) externalIds.push(id);
  }
  return { exampleIds: concatIds(ids), externalIds };
}

/** Chunks of ids in one array. */
export function concatIds(chunks: Int32Array[]): Int32Array {
  const ids = new Int32Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    ids.set(c, at);
    at += c.length;
  }
  return ids;
}

/**
 * A split's exampleIds, ascending (less a batch's examples, or within a recency half): the rows a score
 * set covers, in the order its scores are stored; the members a nested order's variant keeps.
 */
export async function snapshotMemberIds(db: DbOrTx, snapshotId: number, split: Split, excludeBatchId?: string | null, window?: RecencyWindow | null): Promise<Int32Array> {
  const chunks: Int32Array[] = [];
  for (let after = -1; ; ) {
    const rows = resultRows<{ example_id: number }>(
      await db.execute(sql`
        select m.example_id from dataset_snapshot_members m
        where ${membersWhere(snapshotId, split, excludeBatchId, window)} and m.example_id > ${after}
        order by m.example_id limit ${ID_CHUNK}`),
    );
    const chunk = Int32Array.from(rows, (r) => Number(r.example_id));
    chunks.push(chunk);
    if (rows.length < ID_CHUNK) break;
    after = chunk[chunk.length - 1]!;
  }
  return concatIds(chunks);
}

// ---- score sets -----------------------------------------------------------------------------------------

export interface PendingScoreSet {
  jobKey: string;
  snapshotId: number;
  split: Split;
  artifactSha256: string;
  versionId: number | null;
  expectedRows: number;
}

/** Creates the pending set a trainer's PUT will complete; a retried activity finds the row it made before. */
export async function ensurePendingScoreSet(db: DbOrTx, set: PendingScoreSet): Promise<{ id: number; status: 'pending' | 'complete' }> {
  const [made] = await db.insert(scoreSets).values(set).onConflictDoNothing({ target: scoreSets.jobKey }).returning({ id: scoreSets.id, status: scoreSets.status });
  if (made) return made;
  const [existing] = await db.select({ id: scoreSets.id, status: scoreSets.status }).from(scoreSets).where(eq(scoreSets.jobKey, set.jobKey));
  if (!existing) throw new Error(`score set ${set.jobKey} was neither created nor found`);
  return existing;
}

export interface ScoreSetState {
  id: number;
  snapshotId: number;
  split: Split;
  status: 'pending' | 'complete';
  /** Rows stored (0 while pending). */
  scored: number;
  contentHash: string | null;
}

/** A score set by key, without its scores; null when no activity created it. */
export async function scoreSetByKey(db: DbOrTx, jobKey: string): Promise<ScoreSetState | null> {
  const [row] = await db
    .select({
      id: scoreSets.id,
      snapshotId: scoreSets.snapshotId,
      split: scoreSets.split,
      status: scoreSets.status,
      scored: sql<number>`coalesce(octet_length(${scoreSets.scores}), 0) / 8`.mapWith(Number),
      contentHash: scoreSets.contentHash,
    })
    .from(scoreSets)
    .where(eq(scoreSets.jobKey, jobKey));
  return row ?? null;
}

/** Stores a set's scores if it is still pending; false when another PUT completed it first (its scores stay). */
export async function completeScoreSet(db: DbOrTx, id: number, scores: Uint8Array, contentHash: string): Promise<boolean> {
  const done = await db
    .update(scoreSets)
    .set({ status: 'complete', scores, contentHash, completedAt: new Date() })
    .where(and(eq(scoreSets.id, id), eq(scoreSets.status, 'pending')))
    .returning({ id: scoreSets.id });
  return done.length > 0;
}

/** Scores as stored: float64 little-endian, one per row. */
export function encodeScores(scores: Float64Array): Uint8Array {
  const bytes = new Uint8Array(scores.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < scores.length; i++) view.setFloat64(i * 8, scores[i]!, true);
  return bytes;
}

export function decodeScores(bytes: Uint8Array): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const scores = new Float64Array(Math.floor(bytes.byteLength / 8));
  for (let i = 0; i < scores.length; i++) scores[i] = view.getFloat64(i * 8, true);
  return scores;
}

/** A completed set's scores, in its split's exampleId-ascending order; null while pending or unknown. */
export async function completedScoreSet(db: DbOrTx, jobKey: string): Promise<{ id: number; scores: Float64Array; contentHash: string; versionId: number | null } | null> {
  const [row] = await db
    .select({ id: scoreSets.id, scores: scoreSets.scores, contentHash: scoreSets.contentHash, versionId: scoreSets.versionId })
    .from(scoreSets)
    .where(and(eq(scoreSets.jobKey, jobKey), eq(scoreSets.status, 'complete')));
  if (!row?.scores || !row.contentHash) return null;
  return { id: row.id, scores: decodeScores(row.scores), contentHash: row.contentHash, versionId: row.versionId };
}

// ---- the artifact store ---------------------------------------------------------------------------------

/** Keeps an artifact under its hash (`sha256:<hex>`); false when it was already there (the bytes are the same: the name is their hash). */
export async function storeArtifact(db: DbOrTx, sha256: string, bytes: Uint8Array): Promise<boolean> {
  const made = await db.insert(artifacts).values({ sha256, bytes, size: bytes.byteLength }).onConflictDoNothing({ target: artifacts.sha256 }).returning({ sha256: artifacts.sha256 });
  return made.length > 0;
}

/** An artifact's bytes by hash: the store, else a version from before the contract that kept its bytes in its row; null when neither has it. */
export async function artifactBytes(db: DbOrTx, sha256: string): Promise<Uint8Array | null> {
  const [stored] = await db.select({ bytes: artifacts.bytes }).from(artifacts).where(eq(artifacts.sha256, sha256));
  if (stored) return stored.bytes;
  const [version] = await db
    .select({ bytes: modelVersions.artifact })
    .from(modelVersions)
    .where(and(eq(modelVersions.artifactHash, sha256), isNotNull(modelVersions.artifact)))
    .limit(1);
  return version?.bytes ?? null;
}
