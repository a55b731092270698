// The trainer contract's data plane (trainers/contract/README.md, "The data plane"): what a trainer in
// any language reads and writes over HTTP with a `trainer` token, beside the tRPC procedures because its
// bodies are streams, not JSON documents.
//   GET /api/trainer/snapshots/{snapshotId}/examples  a frozen split as NDJSON, streamed chunk by chunk
//   PUT /api/trainer/score-sets/{jobKey}              a score set as NDJSON, parsed line by line
//   PUT|GET /api/trainer/artifacts/sha256:<hex>       the control plane's artifact store
// Refusals in the order the procedures use (route, method, then 401, 403, then the input: 400/415, then
// 404) and in their error body (httpBody sendError); writes leave an audit row.
import { createHash } from 'node:crypto';
import type http from 'node:http';
import { Piscina } from 'piscina';
import { writeAudit } from '../db/auditLog';
import {
  artifactBytes,
  completeScoreSet,
  concatIds,
  encodeScores,
  idChunks,
  exampleLinesInIdOrder,
  exampleTextInIdRange,
  exampleLinesInOrder,
  scoreSetByKey,
  snapshotExists,
  snapshotMemberIds,
  snapshotMemberKeyChunks,
  storeArtifact,
  type ExampleLine,
  type Split,
  type RecencyWindow,
} from '../db/trainerData';
import { idPacker, subsetSize } from '../analysis/nestedSubset';
import { scoreLine, storeUri } from '../trainers/contract';
import { BodyTooLargeError, MAX_JSON_BODY_BYTES, readBody, readBodyChunks, refuseTooLarge, sendError } from './httpBody';
import type { NestedOrderJob } from './nestedOrderThread';
import { bearerFrom, databaseUnreachable, findUnstorableString, identityFromToken, roleAllows, type ApiDeps, type Identity } from './trpc';

export const TRAINER_PATH_PREFIX = '/trainer/';
/** The most bytes an artifact PUT into the store may have. */
export const MAX_ARTIFACT_BYTES = 64 * 1024 * 1024;
/** The most bytes a score set PUT may have: the server's cap on any request body (about 1.3M score lines). */
export const MAX_SCORES_BYTES = MAX_JSON_BODY_BYTES;
/**
 * Media types a score set PUT may declare (or none): NDJSON, JSON (a set of one line), and plain text,
 * which HTTP clients send for a string body unless told otherwise.
 */
export const SCORE_MEDIA_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/json', 'text/plain'];
/** Longest identifiers the contract allows (trainers/contract jobKey) or a batch id can sensibly be. */
const MAX_JOB_KEY = 300;
const MAX_BATCH_ID = 300;
const MAX_INT32 = 2_147_483_647;
/** Rows per database round trip of a read that holds lines (a resumed page, a nested subset's part). */
const LINES_PER_CHUNK = 5_000;
/** An id-order read's finest piece (rows), and about how many characters of text each of its statements reads. */
const ROWS_PER_RANGE = 1_000;
const READ_CHARS = 8 * 1024 * 1024;
/** Statements of an id-order read at once: one being written, one being read (the pool has 10 connections). */
const READS_IN_FLIGHT = 2;
/** A score line is about 50 bytes; a "line" this long is not one, and is not buffered further. */
const MAX_SCORE_LINE_BYTES = 4096;

/** The operations this file serves, as the OpenAPI document lists them. */
export const TRAINER_OPERATIONS = {
  examples: '/trainer/snapshots/{snapshotId}/examples',
  scoreSet: '/trainer/score-sets/{jobKey}',
  artifact: '/trainer/artifacts/{sha256}',
} as const;
export const EXAMPLE_QUERY_PARAMETERS = ['split', 'fraction', 'seed', 'excludeBatch', 'window', 'offset', 'limit'] as const;

class BadRequest extends Error {}
class NotFound extends Error {}

type Route =
  | { kind: 'examples'; snapshotId: string; methods: ['GET'] }
  | { kind: 'scoreSet'; jobKey: string; methods: ['PUT'] }
  | { kind: 'artifact'; name: string; methods: ['GET', 'PUT'] };

function routeOf(pathname: string): Route | null {
  const rest = pathname.slice(TRAINER_PATH_PREFIX.length);
  let m = /^snapshots\/([^/]+)\/examples$/.exec(rest);
  if (m) return { kind: 'examples', snapshotId: m[1]!, methods: ['GET'] };
  // A job key may hold '/': the rest of the path is the key, whether its slashes came encoded or not.
  m = /^score-sets\/(.+)$/.exec(rest);
  if (m) return { kind: 'scoreSet', jobKey: m[1]!, methods: ['PUT'] };
  m = /^artifacts\/([^/]+)$/.exec(rest);
  if (m) return { kind: 'artifact', name: m[1]!, methods: ['GET', 'PUT'] };
  return null;
}

/** Whether a path under /api is the data plane's. */
export function isTrainerDataPath(path: string): boolean {
  return path.startsWith(TRAINER_PATH_PREFIX);
}

function pathParameter(name: string, raw: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw new BadRequest(`path parameter '${name}' is not valid percent-encoded UTF-8: encode it with encodeURIComponent`);
  }
  const found = findUnstorableString(value);
  if (found) throw new BadRequest(`path parameter '${name}' ${found.message.replace(/^the input /, '')}, which cannot be stored: remove it`);
  return value;
}

function noQuery(query: URLSearchParams) {
  const key = query.keys().next().value;
  if (key !== undefined) throw new BadRequest(`query parameter '${key}' is not a parameter of this request: it takes none`);
}

/**
 * Serves one data plane request; `path` is the request's path under /api as it came (not normalised, so
 * an encoded job key reaches routeOf as sent).
 */
export async function handleTrainerData(deps: ApiDeps, req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
  const q = path.indexOf('?');
  const pathname = q < 0 ? path : path.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : path.slice(q + 1));
  const route = routeOf(pathname);
  if (!route) {
    return sendError(res, 404, 'NOT_FOUND', `no route ${pathname.slice(0, 200)} on the data plane: use ${Object.values(TRAINER_OPERATIONS).join(', ')}`);
  }
  const method = req.method ?? 'GET';
  if (!(route.methods as string[]).includes(method)) {
    res.setHeader('Allow', route.methods.join(', '));
    return sendError(res, 405, 'METHOD_NOT_SUPPORTED', `method ${method} is not supported here: use ${route.methods.join(' or ')}`);
  }
  try {
    const identity = await identityFromToken(deps.db, bearerFrom(req.headers.authorization));
    if (!identity) return sendError(res, 401, 'UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)');
    if (!roleAllows(identity.role, 'trainer')) return sendError(res, 403, 'FORBIDDEN', `${identity.subject} has role '${identity.role}'; this needs 'trainer'`);
    if (route.kind === 'examples') return await getExamples(deps, res, route.snapshotId, query);
    if (route.kind === 'scoreSet') return await putScores(deps, identity, req, res, route.jobKey, query);
    if (method === 'PUT') return await putArtifact(deps, identity, req, res, route.name, query);
    return await getArtifact(deps, res, route.name, query);
  } catch (err) {
    if (res.headersSent) {
      // Mid-stream: cut the connection, so the reader sees a broken stream, not a short one that looks whole.
      process.stderr.write(`api: ${method} ${pathname.slice(0, 200)} failed mid-stream: ${err instanceof Error ? err.message : String(err)}\n`);
      res.destroy();
      return;
    }
    if (err instanceof BadRequest) return sendError(res, 400, 'BAD_REQUEST', err.message);
    if (err instanceof NotFound) return sendError(res, 404, 'NOT_FOUND', err.message);
    if (err instanceof BodyTooLargeError) return refuseTooLarge(req, res, err);
    if (databaseUnreachable(err)) return sendError(res, 503, 'SERVICE_UNAVAILABLE', 'the database cannot be reached right now; nothing was stored: retry shortly');
    throw err;
  }
}

// ---- GET examples -----------------------------------------------------------------------------------------

export interface ExamplesQuery {
  split: Split;
  /** Both or neither: the nested subset of `fraction` under `seed`. */
  subset: { fraction: number; seed: number } | null;
  excludeBatch: string | null;
  /** Train only: the newest or oldest half of the dated rows by observedAt (the saturation check's recency comparison). */
  window: RecencyWindow | null;
  offset: number;
  limit: number | null;
}

const DECIMAL = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^-?\d+$/;

function count(name: string, value: string, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > max) throw new BadRequest(`query parameter '${name}' is '${value.slice(0, 40)}': give a whole number from 0 to ${max}`);
  return n;
}

/** The query string of an examples request, every parameter checked and named when wrong. */
export function examplesQueryOf(query: URLSearchParams): ExamplesQuery {
  const values = new Map<string, string>();
  for (const key of new Set(query.keys())) {
    if (!(EXAMPLE_QUERY_PARAMETERS as readonly string[]).includes(key)) {
      throw new BadRequest(`query parameter '${key.slice(0, 100)}' is not a parameter of this request (parameters: ${EXAMPLE_QUERY_PARAMETERS.join(', ')})`);
    }
    const all = query.getAll(key);
    if (all.length > 1) throw new BadRequest(`query parameter '${key}' is given ${all.length} times: give it once`);
    values.set(key, all[0]!);
  }
  const split = values.get('split');
  if (split === undefined) throw new BadRequest("query parameter 'split' is required: train or heldout");
  if (split !== 'train' && split !== 'heldout') throw new BadRequest(`query parameter 'split' is '${split.slice(0, 40)}': give train or heldout`);
  const fractionText = values.get('fraction');
  const seedText = values.get('seed');
  let subset: ExamplesQuery['subset'] = null;
  if (fractionText !== undefined || seedText !== undefined) {
    if (fractionText === undefined) throw new BadRequest("query parameter 'fraction' is missing: a nested subset takes both fraction and seed");
    if (seedText === undefined) throw new BadRequest("query parameter 'seed' is missing: a nested subset takes both fraction and seed");
    if (split !== 'train') throw new BadRequest("query parameters 'fraction' and 'seed' are for split=train only: the held-out set is always served whole");
    const fraction = Number(fractionText);
    if (!DECIMAL.test(fractionText) || !(fraction > 0 && fraction <= 1)) {
      throw new BadRequest(`query parameter 'fraction' is '${fractionText.slice(0, 40)}': give a number greater than 0 and at most 1`);
    }
    const seed = Number(seedText);
    if (!INTEGER.test(seedText) || !Number.isSafeInteger(seed)) throw new BadRequest(`query parameter 'seed' is '${seedText.slice(0, 40)}': give a whole number`);
    subset = { fraction, seed };
  }
  const excludeBatch = values.get('excludeBatch') ?? null;
  if (excludeBatch !== null) {
    if (excludeBatch.length === 0 || excludeBatch.length > MAX_BATCH_ID) throw new BadRequest(`query parameter 'excludeBatch' must be a batch id of 1 to ${MAX_BATCH_ID} characters`);
    const found = findUnstorableString(excludeBatch);
    if (found) throw new BadRequest(`query parameter 'excludeBatch' ${found.message.replace(/^the input /, '')}, which no batch id holds`);
  }
  const window = values.get('window') ?? null;
  if (window !== null) {
    if (window !== 'newest' && window !== 'oldest') throw new BadRequest(`query parameter 'window' is '${window.slice(0, 40)}': give newest or oldest`);
    if (split !== 'train') throw new BadRequest("query parameter 'window' is for split=train only: the held-out set is always served whole");
  }
  const offsetText = values.get('offset');
  const limitText = values.get('limit');
  return {
    split,
    subset,
    excludeBatch,
    window,
    offset: offsetText === undefined ? 0 : count('offset', offsetText, MAX_INT32),
    limit: limitText === undefined ? null : count('limit', limitText, MAX_INT32),
  };
}

function snapshotIdOf(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_INT32) throw new BadRequest(`path parameter 'snapshotId' is '${raw.slice(0, 40)}': give a snapshot id (a whole number from 1 to ${MAX_INT32})`);
  return n;
}

/**
 * Writes respecting backpressure: resolves true once the socket took the text (at once, or after a
 * drain), false when the client went away meanwhile.
 */
function writer(res: http.ServerResponse) {
  let gone = false;
  res.once('close', () => {
    gone = !res.writableFinished;
  });
  return {
    get gone() {
      return gone || res.destroyed;
    },
    write(text: string): Promise<boolean> {
      if (gone || res.destroyed) return Promise.resolve(false);
      if (res.write(text)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve(!gone && !res.destroyed);
        };
        res.on('drain', done);
        res.on('close', done);
      });
    },
  };
}

/** A read that may be abandoned (the client left): its failure is then nobody's to report. */
function abandonable<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** Nested orders kept per database (4 bytes a training member each): a few seeds' whole splits and their variants. */
const NESTED_ORDERS_KEPT = 12;
const nestedOrders = new WeakMap<object, Map<string, Promise<Int32Array>>>();

/**
 * The members of `order` (distinct ids) that are in `members` (ascending), in `order`'s order: by a bit per
 * id between the members' first and last (a snapshot's ids are near-dense: 800,000 members 25-150 ms on a
 * loaded machine, where a binary search per id held the event loop 150-575 ms), by binary search if they
 * are spread too thin for that.
 */
export function keepMembers(order: Int32Array, members: Int32Array): Int32Array {
  const out = new Int32Array(members.length);
  let n = 0;
  if (members.length === 0) return out;
  const first = members[0]!;
  const span = members[members.length - 1]! - first + 1;
  if (span > 64 * members.length + 65_536) {
    for (const id of order) if (indexOf(members, id) >= 0) out[n++] = id;
    return out.subarray(0, n);
  }
  const bits = new Uint32Array((span >>> 5) + 1);
  for (const id of members) bits[(id - first) >>> 5]! |= 1 << ((id - first) & 31);
  for (const id of order) {
    const at = id - first;
    if (at >= 0 && at < span && bits[at >>> 5]! & (1 << (at & 31))) out[n++] = id;
  }
  return out.subarray(0, n);
}

/** How long the ordering thread stays after its last order (a saturation check asks for its seeds within seconds). */
const ORDER_THREAD_IDLE_MS = 60_000;
let orderThread: Piscina | undefined;

/**
 * Orders a split in the data plane's own thread (api/nestedOrderThread.ts), transferring the buffers: one
 * thread, started with the first order and gone after a minute without one, so an API process that serves
 * no subsets keeps no thread and one that does takes at most one core for it. Not the training pool
 * (trainers/threadPool): in a one-process deployment its threads may all be trainings waiting for this
 * very read, and an order queued behind them would never run.
 */
export function orderInThread(job: NestedOrderJob): Promise<Int32Array> {
  orderThread ??= new Piscina({ filename: new URL('./nestedOrderThread.ts', import.meta.url).href, minThreads: 0, maxThreads: 1, idleTimeout: ORDER_THREAD_IDLE_MS });
  return orderThread.run(job, { transferList: [job.bytes.buffer as ArrayBuffer, job.offsets.buffer as ArrayBuffer, job.exampleIds.buffer as ArrayBuffer] }) as Promise<Int32Array>;
}

/** Ends the ordering thread (an order under way fails); the next order starts another. */
export async function closeOrderThread(): Promise<void> {
  const pool = orderThread;
  orderThread = undefined;
  await pool?.close({ force: true });
}

/**
 * A training split's whole nested order under `seed`: its members' external ids packed a query's chunk at
 * a time as they are read (no string per member held), then hashed and sorted in the ordering thread, off
 * this event loop (800,000 members are seconds of CPU).
 */
async function wholeNestedOrder(db: ApiDeps['db'], snapshotId: number, seed: number): Promise<Int32Array> {
  const packer = idPacker();
  const ids: Int32Array[] = [];
  for await (const chunk of snapshotMemberKeyChunks(db, snapshotId, 'train')) {
    packer.add(chunk.externalIds);
    ids.push(chunk.exampleIds);
  }
  return orderInThread({ ...packer.packed(), exampleIds: concatIds(ids), seed });
}

/**
 * A frozen training split's example ids in their nested order under `seed` (less a batch, or within a
 * recency half). A saturation check asks for several fractions of each seed, and every fraction is a
 * prefix of the same order: the members' external ids are read and sorted once per seed, not once per
 * point (at 800,000 members each reading held some 300 MB for seconds). A variant (a batch left out, a
 * recency half) is the seed's whole order less the members it leaves out: the order sorts by each
 * member's own key and external id (distinct within a snapshot), so leaving members out changes no
 * other member's place, and only the variant's member ids are read. Snapshots are frozen, so a kept
 * order stays right; the most recently used few are kept.
 */
function nestedOrderIds(db: ApiDeps['db'], snapshotId: number, excludeBatch: string | null, window: RecencyWindow | null, seed: number): Promise<Int32Array> {
  let kept = nestedOrders.get(db);
  if (!kept) nestedOrders.set(db, (kept = new Map()));
  const key = JSON.stringify([snapshotId, excludeBatch, window, seed]);
  let order = kept.get(key);
  if (order) {
    kept.delete(key);
  } else {
    order =
      excludeBatch === null && window === null
        ? wholeNestedOrder(db, snapshotId, seed)
        : Promise.all([nestedOrderIds(db, snapshotId, null, null, seed), snapshotMemberIds(db, snapshotId, 'train', excludeBatch, window)]).then(([whole, members]) => keepMembers(whole, members));
    const failed = order;
    failed.catch(() => kept.get(key) === failed && kept.delete(key));
  }
  kept.set(key, order);
  while (kept.size > NESTED_ORDERS_KEPT) kept.delete(kept.keys().next().value!);
  return order;
}

async function getExamples(deps: ApiDeps, res: http.ServerResponse, rawSnapshotId: string, query: URLSearchParams): Promise<void> {
  const snapshotId = snapshotIdOf(rawSnapshotId);
  const q = examplesQueryOf(query);
  const { db } = deps;
  if (!(await snapshotExists(db, snapshotId))) throw new NotFound(`snapshot ${snapshotId} not found`);
  const withLabel = q.split === 'train';

  // The subset's order needs every member's external id first (ids and names only, never inputs);
  // then the inputs are read by id, a part of the order at a time, and sent in that order.
  let subsetIds: Int32Array | null = null;
  if (q.subset) {
    const ordered = await nestedOrderIds(db, snapshotId, q.excludeBatch, q.window, q.subset.seed);
    const k = Math.min(ordered.length, subsetSize(ordered.length, q.subset.fraction));
    const end = q.limit === null ? k : Math.min(k, q.offset + q.limit);
    subsetIds = ordered.subarray(Math.min(q.offset, end), end);
  }

  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/x-ndjson');
  res.setHeader('Cache-Control', 'no-store');
  const out = writer(res);
  const text = (lines: ExampleLine[]) => lines.map((l) => l.line).join('\n') + '\n';

  if (subsetIds) {
    // In the nested order, a part at a time (db/trainerData exampleLinesInOrder): about two parts of lines held, never the subset.
    for await (const lines of exampleLinesInOrder(db, { snapshotId, split: q.split, withLabel, exampleIds: subsetIds }, { stopped: () => out.gone })) {
      if (!(await out.write(lines.join('\n') + '\n'))) return;
    }
    return void res.end();
  }

  const members = { snapshotId, split: q.split, excludeBatchId: q.excludeBatch, window: q.window };
  if (q.limit !== null && q.limit <= LINES_PER_CHUNK) {
    // One chunk at most (a resumed read's page, a probe): read it directly.
    const lines = q.limit > 0 ? await exampleLinesInIdOrder(db, { ...members, withLabel, offset: q.offset, limit: q.limit }) : [];
    if (lines.length > 0 && !(await out.write(text(lines)))) return;
    return void res.end();
  }
  // The split in exampleId order, cut into id ranges of ROWS_PER_RANGE rows up front (one pass over the
  // members' index). Each statement reads as many ranges as make about READ_CHARS of text (sized from the
  // lines read so far; the first reads one) and the database joins the lines into one text, so no object
  // is made per row here; READS_IN_FLIGHT statements at once, so the database and this loop do not take
  // turns. At 800k rows this reads 72 MB with about 0.3 s of this process's CPU where per-row lines took 1.7 s.
  const ranges = await idChunks(db, { ...members, offset: q.offset, limit: q.limit, every: ROWS_PER_RANGE });
  let next = 0;
  let chars = 0;
  let lines = 0;
  const read = () => {
    const span = lines === 0 ? 1 : Math.max(1, Math.floor(READ_CHARS / (chars / lines) / ROWS_PER_RANGE));
    const from = next;
    next = Math.min(ranges.length, from + span);
    return abandonable(exampleTextInIdRange(db, { ...members, withLabel, range: { first: ranges[from]!.first, last: ranges[next - 1]!.last } }));
  };
  const inFlight: Promise<{ text: string; lines: number }>[] = [];
  while (next < ranges.length || inFlight.length > 0) {
    if (out.gone) return;
    while (next < ranges.length && inFlight.length < READS_IN_FLIGHT) inFlight.push(read());
    const got = await inFlight.shift()!;
    chars += got.text.length;
    lines += got.lines;
    if (got.lines > 0 && !(await out.write(got.text))) return;
  }
  res.end();
}

// ---- PUT scores -------------------------------------------------------------------------------------------

function mediaTypeOf(header: string | undefined): { type: string; charset: string | undefined } {
  const [type = '', ...params] = (header ?? '').split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
  return { type, charset };
}

class UnsupportedMedia extends Error {}

/** Index of `id` in the ascending `ids`, or -1. */
function indexOf(ids: Int32Array, id: number): number {
  let lo = 0;
  let hi = ids.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = ids[mid]!;
    if (v === id) return mid;
    if (v < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

const tooLong = (lineNo: number) => `line ${lineNo} is longer than ${MAX_SCORE_LINE_BYTES} bytes: each line is {"exampleId": n, "score": s}, ended by a newline`;

/**
 * Reads a score set's NDJSON body line by line as it arrives (never as one string), checking each line
 * against the contract's scoreLine and, when the set is known, against its rows. The first bad line is
 * kept and the rest of the body only counted (up to the cap), so the answer comes after the client has
 * sent everything and reads it cleanly.
 */
async function readScores(req: http.IncomingMessage, rows: Int32Array | null) {
  const n = rows?.length ?? 0;
  const scores = new Float64Array(n);
  /** The line that scored each row (0: none yet). */
  const lineOf = new Int32Array(n);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let problem: string | null = null;
  let lineNo = 0;
  let scored = 0;
  let carry: Buffer | null = null;

  const onLine = (bytes: Buffer) => {
    lineNo++;
    if (bytes.length > MAX_SCORE_LINE_BYTES) return void (problem = tooLong(lineNo));
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      return void (problem = `line ${lineNo} is not UTF-8: send the scores as UTF-8 NDJSON`);
    }
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return void (problem = `line ${lineNo} is not JSON (${err instanceof Error ? err.message : String(err)}): each line is {"exampleId": n, "score": s}`);
    }
    const parsed = scoreLine.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return void (problem = `line ${lineNo}: ${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message} (each line is {"exampleId": n, "score": s}, s in [0, 1])`);
    }
    if (!rows) return;
    const { exampleId, score } = parsed.data;
    const at = indexOf(rows, exampleId);
    if (at < 0) return void (problem = `line ${lineNo}: exampleId ${exampleId} is not a row of this score set`);
    if (lineOf[at] !== 0) return void (problem = `line ${lineNo}: exampleId ${exampleId} was already scored on line ${lineOf[at]}: score every row once`);
    lineOf[at] = lineNo;
    scores[at] = score;
    scored++;
  };

  await readBodyChunks(req, MAX_SCORES_BYTES, (chunk) => {
    if (problem) return;
    let from = 0;
    for (let nl = chunk.indexOf(10); nl >= 0 && !problem; nl = chunk.indexOf(10, from)) {
      const piece = chunk.subarray(from, nl);
      onLine(carry ? Buffer.concat([carry, piece]) : piece);
      carry = null;
      from = nl + 1;
    }
    if (problem || from === chunk.length) return;
    const tail = chunk.subarray(from);
    carry = carry ? Buffer.concat([carry, tail]) : Buffer.from(tail);
    if (carry.length > MAX_SCORE_LINE_BYTES) problem = tooLong(lineNo + 1);
  });
  if (!problem && carry) onLine(carry);
  return { problem, scores, lineOf, scored };
}

async function putScores(deps: ApiDeps, identity: Identity, req: http.IncomingMessage, res: http.ServerResponse, rawKey: string, query: URLSearchParams): Promise<void> {
  const jobKey = pathParameter('jobKey', rawKey);
  if (jobKey.length > MAX_JOB_KEY) throw new BadRequest(`path parameter 'jobKey' is ${jobKey.length} characters long: a job key has at most ${MAX_JOB_KEY}`);
  noQuery(query);
  const { type, charset } = mediaTypeOf(req.headers['content-type']);
  try {
    if (type !== '' && !SCORE_MEDIA_TYPES.includes(type)) throw new UnsupportedMedia(`the scores are NDJSON: send Content-Type application/x-ndjson, not ${type.slice(0, 100)}`);
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') throw new UnsupportedMedia(`the scores must be UTF-8; Content-Type says charset=${charset.slice(0, 40)}`);
  } catch (err) {
    if (err instanceof UnsupportedMedia) return sendError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', err.message);
    throw err;
  }
  const { db } = deps;
  const set = await scoreSetByKey(db, jobKey);
  if (set?.status === 'complete') return answerStored(res, set.scored, set.contentHash!);

  // An unknown key still has its lines checked: a malformed body is a 400 wherever it is sent.
  const rows = set ? await snapshotMemberIds(db, set.snapshotId, set.split) : null;
  const { problem, scores, lineOf, scored } = await readScores(req, rows);
  if (problem) throw new BadRequest(problem);
  if (!set || !rows) throw new NotFound(`score set '${jobKey.slice(0, MAX_JOB_KEY)}' not found: the control plane creates it before it asks a trainer to score`);
  if (scored < rows.length) {
    const first = lineOf.indexOf(0);
    throw new BadRequest(`the body scores ${scored} of ${rows.length} rows: ${rows.length - scored} missing, the first is exampleId ${rows[first]}: score every row of the set once`);
  }
  const bytes = encodeScores(scores);
  const contentHash = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const stored = await db.transaction(async (tx) => {
    if (!(await completeScoreSet(tx, set.id, bytes, contentHash))) return null;
    await writeAudit(tx, {
      actor: identity.subject,
      action: 'trainer.putScores',
      target: jobKey,
      details: { role: identity.role, snapshotId: set.snapshotId, split: set.split, scored: rows.length, sha256: contentHash },
    });
    return { scored: rows.length, sha256: contentHash };
  });
  if (stored) return answerStored(res, stored.scored, stored.sha256);
  // Another PUT of the same key completed it meanwhile: the first stays, and is what this one answers.
  const now = await scoreSetByKey(db, jobKey);
  return answerStored(res, now!.scored, now!.contentHash!);
}

function answerStored(res: http.ServerResponse, scored: number, sha256: string) {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ scored, sha256 }));
}

// ---- the artifact store -----------------------------------------------------------------------------------

const ARTIFACT_NAME = /^sha256:[0-9a-f]{64}$/;

function artifactNameOf(raw: string): string {
  const name = pathParameter('sha256', raw);
  if (!ARTIFACT_NAME.test(name)) throw new BadRequest(`path parameter 'sha256' is '${name.slice(0, 80)}': an artifact is named sha256:<64 lowercase hex digits> of its bytes`);
  return name;
}

async function putArtifact(deps: ApiDeps, identity: Identity, req: http.IncomingMessage, res: http.ServerResponse, raw: string, query: URLSearchParams): Promise<void> {
  const name = artifactNameOf(raw);
  noQuery(query);
  const bytes = await readBody(req, MAX_ARTIFACT_BYTES);
  const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (actual !== name) throw new BadRequest(`the body's hash is ${actual}, not ${name}: the bytes changed on the way, or the name is not their sha256`);
  await deps.db.transaction(async (tx) => {
    // Already there: the same bytes (the name is their hash), nothing written, nothing to record.
    if (!(await storeArtifact(tx, name, bytes))) return;
    await writeAudit(tx, { actor: identity.subject, action: 'trainer.putArtifact', target: name, details: { role: identity.role, size: bytes.length } });
  });
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ uri: storeUri(name), size: bytes.length }));
}

async function getArtifact(deps: ApiDeps, res: http.ServerResponse, raw: string, query: URLSearchParams): Promise<void> {
  const name = artifactNameOf(raw);
  noQuery(query);
  const bytes = await artifactBytes(deps.db, name);
  if (!bytes) throw new NotFound(`artifact ${name} not found in the store: a trainer that keeps its own artifacts serves them itself`);
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', String(bytes.byteLength));
  res.end(bytes);
}

// ---- the OpenAPI document's entries ---------------------------------------------------------------------

/**
 * The data plane's operations for /openapi.json (trpc-to-openapi knows only the procedures); the server
 * adds the error responses every operation declares. Request and response bodies name the contract's
 * JSON Schemas (trainers/contract/v1) for the line formats.
 */
export function trainerDataOpenApiPaths() {
  const security = [{ Authorization: [] }];
  const tags = ['trainer'];
  const artifactName = {
    name: 'sha256',
    in: 'path',
    required: true,
    description: 'The artifact’s name: `sha256:` and the 64 lowercase hex digits of its bytes’ SHA-256',
    schema: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
  };
  const int32 = { type: 'integer', minimum: 0, maximum: MAX_INT32 };
  return {
    [TRAINER_OPERATIONS.examples]: {
      get: {
        operationId: 'trainer-examples',
        summary: 'A frozen snapshot’s split as NDJSON, streamed (trainer contract data plane)',
        description:
          'One line per row: `{"exampleId": n, "externalId": "...", "input": {...}, "label": 0|1}` (trainers/contract/v1/data.example-line.schema.json); `label` on `split=train` only. Rows in exampleId order; with `fraction` and `seed` (train only, both or neither) the nested subset: the rows in the seed’s nested order (sha256 of `${seed}\\u0000${externalId}`, first 4 bytes big-endian, ties by externalId), the first max(1, round(fraction × n)) of them. `excludeBatch` leaves out the examples a batch labelled. `offset` and `limit` apply after ordering, so a broken read resumes where it stopped. Needs the `trainer` role (or admin).',
        tags,
        security,
        parameters: [
          { name: 'snapshotId', in: 'path', required: true, schema: { type: 'integer', minimum: 1, maximum: MAX_INT32 } },
          { name: 'split', in: 'query', required: true, schema: { type: 'string', enum: ['train', 'heldout'] } },
          { name: 'fraction', in: 'query', required: false, description: 'With seed: the nested subset’s fraction of the rows', schema: { type: 'number', exclusiveMinimum: 0, maximum: 1 } },
          { name: 'seed', in: 'query', required: false, description: 'With fraction: the nested order’s seed', schema: { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } },
          { name: 'excludeBatch', in: 'query', required: false, description: 'An annotation batch whose examples are left out', schema: { type: 'string', minLength: 1, maxLength: MAX_BATCH_ID } },
          { name: 'window', in: 'query', required: false, description: 'split=train only: the newest or the oldest floor(dated / 2) rows by observedAt (ties by exampleId), before any nested subset', schema: { type: 'string', enum: ['newest', 'oldest'] } },
          { name: 'offset', in: 'query', required: false, description: 'Rows to skip (after ordering)', schema: int32 },
          { name: 'limit', in: 'query', required: false, description: 'Most rows to send', schema: int32 },
        ],
        responses: {
          '200': {
            description: 'The rows, one JSON object per line',
            content: { 'application/x-ndjson': { schema: { type: 'string', description: 'NDJSON: one data.example-line per line' } } },
          },
        },
      },
    },
    [TRAINER_OPERATIONS.scoreSet]: {
      put: {
        operationId: 'trainer-putScores',
        summary: 'Put a score set (trainer contract data plane)',
        description: `Every row of the score set once, one \`{"exampleId": n, "score": s}\` per line (trainers/contract/v1/data.score-line.schema.json), s the probability of the positive class in [0, 1], any order; at most ${MAX_SCORES_BYTES.toLocaleString('en-US')} bytes, read as it arrives. The set must have been created by the control plane (404 otherwise). A bad line, an exampleId not in the set, a repeated one, or missing rows: 400 naming the line (or how many rows are missing and the first), nothing stored. The first complete PUT of a key is kept; a later one answers what was stored. \`jobKey\` is percent-encoded (it may hold '/'). Needs the \`trainer\` role (or admin).`,
        tags,
        security,
        parameters: [{ name: 'jobKey', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: MAX_JOB_KEY } }],
        requestBody: {
          required: true,
          content: {
            'application/x-ndjson': { schema: { type: 'string', description: 'NDJSON: one data.score-line per line' } },
            'application/json': {
              schema: {
                type: 'object',
                description: 'A set of one row: a single score line',
                properties: { exampleId: { type: 'integer' }, score: { type: 'number', minimum: 0, maximum: 1 } },
                required: ['exampleId', 'score'],
                additionalProperties: false,
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'What is stored for the key',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    scored: { type: 'integer', minimum: 0, description: 'Rows stored' },
                    sha256: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$', description: 'SHA-256 of the scores as stored: float64 little-endian in exampleId order' },
                  },
                  required: ['scored', 'sha256'],
                },
              },
            },
          },
        },
      },
    },
    [TRAINER_OPERATIONS.artifact]: {
      put: {
        operationId: 'trainer-putArtifact',
        summary: 'Put an artifact into the control plane’s store (trainer contract data plane)',
        description: `The artifact’s bytes, at most ${MAX_ARTIFACT_BYTES.toLocaleString('en-US')} bytes; they must hash to the name (400 otherwise). Storing the same artifact again changes nothing. Needs the \`trainer\` role (or admin).`,
        tags,
        security,
        parameters: [artifactName],
        requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
        responses: {
          '200': {
            description: 'Where the artifact is',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { uri: { type: 'string', pattern: '^retrain-store:sha256:[0-9a-f]{64}$' }, size: { type: 'integer', minimum: 0 } },
                  required: ['uri', 'size'],
                },
              },
            },
          },
        },
      },
      get: {
        operationId: 'trainer-getArtifact',
        summary: 'An artifact from the control plane’s store (trainer contract data plane)',
        description: 'The bytes of a `retrain-store:` artifact, or of a version from before the contract that kept its bytes in its row. Needs the `trainer` role (or admin).',
        tags,
        security,
        parameters: [artifactName],
        responses: { '200': { description: 'The artifact’s bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } } },
      },
    },
  };
}
