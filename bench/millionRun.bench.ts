// One retraining run on a million labelled examples, phase by phase, each beside its floor measured in the
// same run (issue #17): how much of the run is the control plane's own work?
//
//   [DATABASE_URL=postgres://...] TEMPORAL_TEST_ADDRESS=127.0.0.1:7400 npx tsx bench/millionRun.bench.ts
//       [--rows 1e6 (1e5 on PGlite)] [--seeds 2] [--fractions 0.125,0.25,0.5,1] [--batch 2000] [--senders 2]
//       [--shadow-seconds 15] [--traffic 1000] [--import-only] [--worker-process]
//
// Services as test/helpers.ts startTestEnv starts them: the API and the workers in this process (so the
// process CPU and RSS below are the API's and the worker's together, with this driver's), or with
// --worker-process (PostgreSQL only) the workers as a `retrain worker` process of their own, as README's
// Production section runs them (CPU is then both processes' summed; RSS is printed for each and summed), on DATABASE_URL
// itself (use a scratch database), or without it on the embedded default, PGlite in a folder of its own
// in this process (its CPU is then in the process's, and the floors use PGlite's COPY and statements
// in the same process where PostgreSQL's use psql). The rows are runHistory's (short texts with a learnable signal and 10%
// label noise, two slice attributes, about 20% held out), made one batch at a time in this process.
//  1. import: `rows` labelled examples through models.importExamples (POST /api/models/{name}/examples,
//     `batch` a request, `senders` at once, as the CLI's `models import` sends them). The first 1% (at
//     least 2,000) go in first and a bootstrap run makes them the production version, so the measured run
//     has a champion to evaluate against and to shadow; then the rest.
//  2. the run: a manual run with a saturation check (`seeds` seeds x `fractions`), the gate (a policy
//     that passes without sign-off), and a rollout: a shadow window of `shadow-seconds` during which this
//     driver sends `traffic` predict requests through the API (the candidate scores them silently; the
//     comparison's rules are loose, this measures cost, not quality), then one canary step of 1 s with
//     no traffic (inconclusive, which the plan tolerates), then production. trainerParams
//     { epochs: 1, dimsLog2: 16 }.
//  3. phases, from the run's history and its children's (activity and timer intervals; the server's clock
//     is this machine's): snapshot = freezeSnapshot; saturation = the child workflow; export = the data
//     plane's GET of the training split that trainer.train made (seen through node:diagnostics_channel),
//     made again right after the run by curl, a reader that keeps up (the trainer featurises as it reads, so
//     in the run that GET lasts as long as the thread's parsing); training = trainer.train less the
//     export (the thread's read and featurising, training, the artifact PUT); scoring = the
//     trainer.score activities (candidate and champion, in parallel);
//     evaluation = the evaluation engine's time on the same held-out labels and slices with both versions'
//     scores, and the approval packet's statistics (measured below: the activity's own share cannot be
//     seen from outside, so this is an estimate); packet = the rest of evaluateVersions (loading held-out
//     members and score sets, storing reports, hashing and storing the packet); decision = judgeGate and the rollout's activities (routes, shadow and canary
//     analyses, promotion); bookkeeping = every other activity of the run (recordRunStep, planTraining,
//     recordCandidate, planEvaluationScoring, finishRun); orchestration = the run's wall time covered by
//     no activity, child or timer (queue waits, workflow tasks); waits = the configured shadow and canary
//     windows, left out of the shares. CPU per phase: this process's (process.cpuUsage(), every thread)
//     and PostgreSQL's (utime + stime from /proc of the scratch database's backends and the server's
//     writer processes), sampled every 100 ms and read at the phase's ends.
//  4. floors, after the run (so their memory is not in the run's peak RSS): `psql \copy` of the same
//     rows from a CSV file into a scratch table shaped as examples (import); one INSERT ... SELECT of the
//     members into a scratch table shaped as dataset_snapshot_members (snapshot), both with the real
//     tables' indexes, defaults and foreign keys; `psql \copy` of the training split's lines as the data
//     plane writes them (export); trainHashedLogReg on the training rows in memory (training);
//     predictBatch of the held-out rows by it and by the champion trained the same way on the first rows
//     (scoring); evaluateVersion of both and buildApprovalPacket on them (evaluation).
//  5. ratios to the floors, shares of the run's wall time (import + run less the configured waits),
//     peak RSS (this process: API + worker + driver) during import and run, and the histories' sizes.
// --import-only: step 1 alone (every row in one go, no bootstrap run), its floor and its row of the table.
// The model's examples, snapshot members, predictions and shadow predictions are deleted afterwards
// (the small records stay), and the scratch tables dropped.
import { spawn, spawnSync } from 'node:child_process';
import dc from 'node:diagnostics_channel';
import { createWriteStream, mkdtempSync, openAsBlob, readdirSync, readFileSync, rmSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { PGlite } from '@electric-sql/pglite';
import { eq, sql } from 'drizzle-orm';
import { createApiClient } from '../api/client';
import { calibrationBinsOf, gatePolicySchema } from '../analysis/policy';
import { intersectionPairs } from '../analysis/intersectionReport';
import { buildApprovalPacket, defaultEvaluationSettings, encodeHeldOut, evaluateVersion } from '../analysis/report';
import { resultRows } from '../db/queries';
import { routes, runs } from '../db/schema';
import { issueToken } from '../db/tokens';
import { freePort } from '../temporal-config/devServer';
import { defaultTrainerParams, predictBatch, trainHashedLogReg, type LabelledInput } from '../trainers/hashedLogReg';
import { startTestEnv, uid, waitForStatus, type TestEnv } from '../test/helpers';
import {
  GATE_POLICY,
  exampleLinesQuery,
  kb,
  measureHistory,
  procStat,
  psqlCommand,
  psqlCopyOut,
  rssOf,
  spawnChild,
  stopChild,
  table,
  totalMs,
  unionOf,
  waitForPollers,
  type HistoryMeasure,
  type Interval,
} from './runMeasure';

/** PostgreSQL; without it, PGlite. */
const url = process.env.DATABASE_URL;

const TRAINER_PARAMS = { epochs: 1, dimsLog2: 16 };

function flags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rows: { type: 'string', default: url ? '1e6' : '1e5' },
      seeds: { type: 'string', default: '2' },
      fractions: { type: 'string', default: '0.125,0.25,0.5,1' },
      batch: { type: 'string', default: '2000' },
      senders: { type: 'string', default: '2' },
      'shadow-seconds': { type: 'string', default: '15' },
      traffic: { type: 'string', default: '1000' },
      'import-only': { type: 'boolean', default: false },
      'worker-process': { type: 'boolean', default: false },
    },
  });
  const int = (name: string, text: string, min: number, max: number) => {
    const n = Number(text.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: bad value ${text} (an integer in ${min}..${max})`);
    return n;
  };
  if (values['worker-process'] && !url) throw new Error('--worker-process: needs DATABASE_URL (an embedded PGlite database is one process\'s)');
  const fractions = values.fractions.split(',').map(Number);
  if (fractions.length < 4 || fractions.some((f) => !(f > 0 && f <= 1))) throw new Error(`--fractions: bad list ${values.fractions} (at least four, each in (0, 1])`);
  return {
    rows: int('rows', values.rows, 20_000, 10_000_000),
    seeds: int('seeds', values.seeds, 2, 10),
    fractions,
    batch: int('batch', values.batch, 1, 2000),
    senders: int('senders', values.senders, 1, 8),
    shadowSeconds: int('shadow-seconds', values['shadow-seconds'], 5, 600),
    traffic: int('traffic', values.traffic, 200, 100_000),
    importOnly: values['import-only'],
    workerProcess: values['worker-process'],
  };
}

// ---- the rows: runHistory's, made here ----------------------------------------------------------------

const SPAM_WORDS = ['free', 'offer', 'win', 'cash'];
const HAM_WORDS = ['meeting', 'notes', 'lunch', 'report'];
const TLDS = ['generic', 'country_code', 'edu'];
const LANGS = ['en', 'de', 'fr', 'es'];

/** Row i (from 1): a multiplicative hash decides the label (40% spam), 10% label noise (the text says the other class) and the held-out fifth. */
function exampleAt(i: number) {
  const h = (i * 2654435761) % 4294967296;
  const spam = h % 100 < 40;
  const saysSpam = spam !== (Math.floor(h / 100) % 10 === 0);
  return {
    externalId: `row-${i}`,
    input: { text: `w${i % 97} w${(i * 31) % 89} ${(saysSpam ? SPAM_WORDS : HAM_WORDS)[i % 4]}` },
    label: (spam ? 1 : 0) as 0 | 1,
    slices: { sender_tld: TLDS[i % 3]!, lang: LANGS[Math.floor(i / 3) % 4]! },
    split: (Math.floor(h / 1000) % 5 === 0 ? 'heldout' : 'train') as 'train' | 'heldout',
  };
}

// ---- CPU and memory, sampled ----------------------------------------------------------------------------

/** PostgreSQL's processes for this database: its postmaster's children serving `dbName`, and its writers. */
function postgresCpu(port: string, dbName: string): (() => number) | null {
  const cmdline = (pid: string) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      return '';
    }
  };
  const pids = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const postmaster = pids().find((p) => /\/postgres\s/.test(cmdline(p)) && cmdline(p).includes(`-p ${port} `));
  if (!postmaster) return null;
  const mine = new RegExp(`^postgres: (\\S+ ${dbName} |checkpointer|background writer|walwriter|autovacuum worker)`);
  const baseline = new Map<string, number>();
  const last = new Map<string, number>();
  let first = true;
  // Milliseconds of CPU since the first call, summed over every process seen (a backend that exits keeps its last reading).
  return () => {
    for (const pid of pids()) {
      const t = procStat(pid);
      if (!t || t.ppid !== postmaster) continue;
      if (!last.has(pid) && !mine.test(cmdline(pid))) continue;
      if (first) baseline.set(pid, t.cpuSeconds);
      last.set(pid, t.cpuSeconds);
    }
    first = false;
    let sum = 0;
    for (const [pid, cpu] of last) sum += cpu - (baseline.get(pid) ?? 0);
    return sum * 1000;
  };
}

interface Sample {
  t: number;
  /** This process's CPU, ms (every thread). */
  proc: number;
  /** PostgreSQL's CPU, ms (NaN without access to its processes). */
  db: number;
  /** Resident set, bytes: this process's, plus the worker process's with --worker-process. */
  rss: number;
  /** The worker process's resident set, bytes (0 without one). */
  workerRss: number;
  /** The worker process's main thread's heap, from its /metrics (polled every 250 ms, so up to that old); null without one. */
  workerHeap: Sample['heap'] | null;
  /** The main thread's V8 heap (total, used) and the memory outside any V8 heap it accounts for (external, of which array buffers). */
  heap: { total: number; used: number; external: number; arrayBuffers: number };
}

/** Whose resident set: both processes' (rss), the worker process's, or this one's alone (ownRss). */
type RssOf = 'rss' | 'workerRss' | 'ownRss';
const residentOf =
  (whose: RssOf) =>
  (s: Sample): number =>
    whose === 'ownRss' ? s.rss - s.workerRss : s[whose];

function startSampler(dbCpu: (() => number) | null) {
  const samples: Sample[] = [];
  // The worker process's CPU, ms, as last read (kept once it has gone), and its main heap as its /metrics last said.
  let worker: { pid: number; cpu: number; heap: Sample['heap'] } | null = null;
  const take = () => {
    const c = process.cpuUsage();
    const m = process.memoryUsage();
    const workerRss = worker ? rssOf(worker.pid) : 0;
    if (worker) worker.cpu = (procStat(worker.pid)?.cpuSeconds ?? worker.cpu / 1000) * 1000;
    const workerCpu = worker?.cpu ?? 0;
    samples.push({
      t: Date.now(),
      proc: (c.user + c.system) / 1000 + workerCpu,
      db: dbCpu ? dbCpu() : NaN,
      rss: m.rss + workerRss,
      workerRss,
      workerHeap: worker?.heap ?? null,
      heap: { total: m.heapTotal, used: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers },
    });
  };
  take();
  const timer = setInterval(take, 100);
  const stops = [() => clearInterval(timer)];
  /** A counter at time t, linear between samples. */
  const at = (t: number, key: 'proc' | 'db') => {
    let i = samples.findIndex((s) => s.t >= t);
    if (i < 0) i = samples.length - 1;
    const b = samples[i]!;
    const a = samples[Math.max(0, i - 1)]!;
    if (b.t === a.t) return b[key];
    const w = Math.min(1, Math.max(0, (t - a.t) / (b.t - a.t)));
    return a[key] + w * (b[key] - a[key]);
  };
  return {
    take,
    stop: () => stops.forEach((f) => f()),
    /** From now on, the worker process's CPU and RSS count too (phases read differences, so its start-up CPU counts in none). */
    watchWorker(pid: number, metricsUrl: string) {
      const w = (worker = { pid, cpu: 0, heap: { total: 0, used: 0, external: 0, arrayBuffers: 0 } });
      const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
      const poll = setInterval(() => {
        void fetch(metricsUrl)
          .then((r) => r.text())
          .then((text) => {
            // prom-client's default metrics have no array-buffer figure: external (which holds them) stands for both.
            const external = metric(text, 'nodejs_external_memory_bytes');
            w.heap = { total: metric(text, 'nodejs_heap_size_total_bytes'), used: metric(text, 'nodejs_heap_size_used_bytes'), external, arrayBuffers: external };
          })
          .catch(() => {});
      }, 250);
      stops.push(() => clearInterval(poll));
      take();
    },
    /** CPU seconds over intervals: this process's and PostgreSQL's. */
    cpu(intervals: readonly { from: number; to: number }[]): { proc: number; db: number } {
      let proc = 0;
      let db = 0;
      for (const iv of intervals) {
        proc += at(iv.to, 'proc') - at(iv.from, 'proc');
        db += at(iv.to, 'db') - at(iv.from, 'db');
      }
      return { proc: proc / 1000, db: db / 1000 };
    },
    peakRss: (from: number, to: number, whose: RssOf = 'rss') => Math.max(0, ...samples.filter((s) => s.t >= from && s.t <= to).map(residentOf(whose))),
    /** The sample of the highest RSS (`whose`) between from and to. */
    peakSample: (from: number, to: number, whose: RssOf = 'rss') => {
      const of = residentOf(whose);
      return samples.filter((s) => s.t >= from && s.t <= to).reduce<Sample | null>((a, s) => (a && of(a) >= of(s) ? a : s), null);
    },
  };
}

// ---- the data plane's requests, seen from the server ------------------------------------------------------

interface PlaneRequest extends Interval {
  method: string;
  url: string;
}

function watchDataPlane(): PlaneRequest[] {
  const seen: PlaneRequest[] = [];
  dc.subscribe('http.server.request.start', (message) => {
    const { request, response } = message as { request: http.IncomingMessage; response: http.ServerResponse };
    if (!request.url?.startsWith('/api/trainer/')) return;
    const r: PlaneRequest = { name: 'http', method: request.method ?? '?', url: request.url, from: Date.now(), to: NaN };
    seen.push(r);
    response.once('finish', () => (r.to = Date.now()));
  });
  return seen;
}

// ---- intervals --------------------------------------------------------------------------------------------

const within = (outer: { from: number; to: number }) => (iv: { from: number; to: number }) => iv.from >= outer.from && iv.from < outer.to;
const seconds = (ivs: readonly { from: number; to: number }[]) => totalMs(ivs) / 1000;

/** [from, to] less the union of `holes`. */
function complement(from: number, to: number, holes: readonly { from: number; to: number }[]): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  let at = from;
  for (const h of unionOf(holes)) {
    if (h.from > at) out.push({ from: at, to: Math.min(h.from, to) });
    at = Math.max(at, h.to);
    if (at >= to) break;
  }
  if (at < to) out.push({ from: at, to });
  return out.filter((iv) => iv.to > iv.from);
}

// ---- the floors' statements: psql against PostgreSQL, PGlite's own in this process -------------------------

interface FloorSql {
  /** COPY of a CSV file into `target` (a table and its columns). */
  copyIn(target: string, csvFile: string): Promise<unknown>;
  command(statement: string): Promise<unknown>;
  /** COPY (query) TO a sink that counts bytes and lines. */
  copyOut(query: string): Promise<{ bytes: number; lines: number }>;
}

const psqlFloors = (url: string): FloorSql => ({
  copyIn: (target, csvFile) => psqlCommand(url, `\\copy ${target} from '${csvFile}' with (format csv)`),
  command: (statement) => psqlCommand(url, statement),
  copyOut: (query) => psqlCopyOut(url, query),
});

/** PGlite's COPY reads and writes Blobs through its virtual /dev/blob device. */
const pgliteFloors = (pglite: PGlite): FloorSql => ({
  copyIn: async (target, csvFile) => pglite.query(`copy ${target} from '/dev/blob' with (format csv)`, [], { blob: await openAsBlob(csvFile) }),
  command: (statement) => pglite.exec(statement),
  async copyOut(query) {
    const { blob } = await pglite.query(`copy (${query}) to '/dev/blob'`);
    const bytes = new Uint8Array(await blob!.arrayBuffer());
    let lines = 0;
    for (let at = bytes.indexOf(10); at >= 0; at = bytes.indexOf(10, at + 1)) lines++;
    return { bytes: bytes.length, lines };
  },
});

/** GET `url` to its end by curl, another process as psql is (this process's event loop serves it), counting bytes, nothing kept. */
function readAll(url: string, token: string): Promise<Interval & { bytes: number }> {
  const from = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download}', '-H', `authorization: Bearer ${token}`, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ name: 'export', from, to: Date.now(), bytes: Number(out) }) : reject(new Error(`curl ${url}: ${err.trim()}`))));
  });
}

// ---- the bench ----------------------------------------------------------------------------------------------

async function importRange(env: TestEnv, model: string, from: number, to: number, batch: number, senders: number): Promise<Interval> {
  const start = Date.now();
  let next = from;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      for (;;) {
        const first = next;
        if (first > to) return;
        next = Math.min(to + 1, first + batch);
        const examples = [];
        for (let i = first; i < next; i++) examples.push(exampleAt(i));
        const r = await env.clients.operator.models.importExamples.mutate({ name: model, examples });
        if (r.inserted !== examples.length) throw new Error(`batch at ${first}: inserted ${r.inserted} of ${examples.length}`);
      }
    }),
  );
  return { name: 'import', from: start, to: Date.now() };
}

async function main(): Promise<void> {
  if (process.platform === 'linux' && process.env.MALLOC_MMAP_THRESHOLD_ === undefined) {
    // As the product's entry points start it (README: Environment); glibc reads the setting only at start.
    const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' } });
    process.exit(child.status ?? 1);
  }
  const opts = flags(process.argv.slice(2));
  const n = opts.rows;
  const dbUrl = url ? new URL(url) : null;
  const dbCpu = dbUrl ? postgresCpu(dbUrl.port || '5432', dbUrl.pathname.replace(/^\//, '') || 'postgres') : null;
  if (dbUrl && !dbCpu) console.log(`(PostgreSQL's processes are not visible here: its CPU is not measured)`);
  const sampler = startSampler(dbCpu);
  const plane = watchDataPlane();
  const env = await startTestEnv(url ? { db: { url }, worker: !opts.workerProcess } : {});
  // The worker's /metrics (its health port) gives its main thread's heap, as process.memoryUsage() gives this one's.
  const workerHealthPort = opts.workerProcess ? await freePort() : 0;
  const workerProcess = opts.workerProcess
    ? spawnChild([join(import.meta.dirname, '..', 'bin', 'retrain.ts'), 'worker'], {
        TEMPORAL_ADDRESS: env.services.temporalAddress,
        DATABASE_URL: url!,
        RETRAIN_CONTROL_QUEUE: env.services.taskQueues.control,
        RETRAIN_TRAINING_QUEUE: env.services.taskQueues.training,
        RETRAIN_API_URL: env.url,
        RETRAIN_WORKER_HEALTH_PORT: String(workerHealthPort),
      })
    : null;
  if (workerProcess) {
    await waitForPollers(env.services.client, [env.services.taskQueues.control, env.services.taskQueues.training]);
    sampler.watchWorker(workerProcess.pid!, `http://127.0.0.1:${workerHealthPort}/metrics`);
  }
  const where = workerProcess
    ? "the API in this process, the worker in a process of its own; the table's and the steps' peak RSS are the two processes' summed"
    : 'API and worker in this process';
  // A worker process that dies leaves the run waiting for hours: the bench stops at once instead.
  const workerDied = workerProcess
    ? new Promise<never>((_, reject) => workerProcess.once('exit', (code, signal) => reject(new Error(`the worker process exited (${code ?? signal}) before the run ended`))))
    : null;
  workerDied?.catch(() => {});
  const unlessWorkerDies = <T>(p: Promise<T>): Promise<T> => (workerDied ? Promise.race([p, workerDied]) : p);
  const db = env.services.opened.db;
  const floorSql = url ? psqlFloors(url) : pgliteFloors((db as unknown as { $client: PGlite }).$client);
  const dbName = url ? 'PostgreSQL' : 'PGlite in a folder, in this process';
  const name = `million-${n}-${uid()}`;
  const { id: modelId } = await env.clients.operator.models.register.mutate({ name, description: 'million-example run bench', gatePolicy: GATE_POLICY });
  const ingestToken = (await issueToken(db, { subject: `million-ingest-${uid()}`, role: 'ingest', createdBy: 'bench' })).token;
  const ingest = createApiClient(env.url, ingestToken);
  const log = (what: string) => process.stderr.write(`  ${new Date().toISOString().slice(11, 19)} ${what}\n`);
  const scratch = { examples: `million_scratch_examples_${uid()}`, members: `million_scratch_members_${uid()}` };
  const dir = mkdtempSync(join(tmpdir(), 'million-run-'));

  try {
    const floors: Record<string, { seconds: number; cpu: { proc: number; db: number } }> = {};
    const floor = async (key: string, f: () => Promise<unknown> | unknown) => {
      sampler.take();
      const from = Date.now();
      await f();
      const to = Date.now();
      sampler.take();
      floors[key] = { seconds: (to - from) / 1000, cpu: sampler.cpu([{ from, to }]) };
    };
    /** A scratch table of `table`'s shape: columns, defaults, indexes and constraints, its foreign keys too (which LIKE leaves out). */
    const scratchLike = async (table: string, name: string) => {
      await db.execute(sql.raw(`create table ${name} (like ${table} including all)`));
      const fks = resultRows<{ def: string }>(await db.execute(sql`select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = ${table}::regclass and contype = 'f'`));
      for (const fk of fks) await db.execute(sql.raw(`alter table ${name} add ${fk.def}`));
    };
    // import: the same rows as CSV into a table of examples' shape (indexes, defaults, foreign keys), by COPY.
    const importFloor = async () => {
      const csv = join(dir, 'examples.csv');
      await new Promise<void>((resolve, reject) => {
        const out = createWriteStream(csv);
        out.on('error', reject);
        let i = 1;
        const write = () => {
          let ok = true;
          while (ok && i <= n) {
            const e = exampleAt(i++);
            const quote = (v: unknown) => `"${JSON.stringify(v).replace(/"/g, '""')}"`;
            ok = out.write(`${modelId},${e.externalId},${quote(e.input)},${e.label},${quote(e.slices)},${e.split}\n`);
          }
          if (i <= n) out.once('drain', write);
          else out.end(resolve);
        };
        write();
      });
      await scratchLike('examples', scratch.examples);
      await floor('import', () => floorSql.copyIn(`${scratch.examples} (model_id, external_id, input, label, slices, split)`, csv));
      await db.execute(sql.raw(`drop table ${scratch.examples}`));
      rmSync(csv);
    };

    if (opts.importOnly) {
      const imported = await importRange(env, name, 1, n, opts.batch, opts.senders);
      sampler.take();
      log(`${n.toLocaleString('en-US')} examples imported; the floor`);
      await importFloor();
      const s = seconds([imported]);
      const cpu = sampler.cpu([imported]);
      const fl = floors.import!;
      console.log(`\nimport of ${n.toLocaleString('en-US')} labelled examples (${dbName}; API in this process), ${opts.batch} a request, ${opts.senders} senders`);
      table(
        ['phase', 'wall s', 'process CPU s', 'PostgreSQL CPU s', 'peak RSS GiB', 'floor s', 'floor CPU s (proc/db)', 'x floor'],
        [['import', s.toFixed(2), cpu.proc.toFixed(2), cpu.db.toFixed(2), (sampler.peakRss(imported.from, imported.to) / 2 ** 30).toFixed(2), fl.seconds.toFixed(2), `${fl.cpu.proc.toFixed(2)}/${fl.cpu.db.toFixed(2)}`, (s / fl.seconds).toFixed(2)]],
      );
      return;
    }

    // 1. Import: the champion's share, its bootstrap run, then the rest.
    const championRows = Math.max(2000, Math.round(n / 100));
    const imports: Interval[] = [await importRange(env, name, 1, championRows, opts.batch, opts.senders)];
    log(`${championRows.toLocaleString('en-US')} examples imported; bootstrap run for the champion`);
    const boot = await env.clients.operator.runs.start.mutate({ model: name, trigger: 'bootstrap', trainerParams: TRAINER_PARAMS });
    const bootRow = await unlessWorkerDies(waitForStatus(env, boot.runId, ['promoted', 'rejected', 'failed', 'cancelled'], 30 * 60_000));
    if (bootRow.status !== 'promoted') throw new Error(`the champion's bootstrap run ended ${bootRow.status}`);
    imports.push(await importRange(env, name, championRows + 1, n, opts.batch, opts.senders));
    const importSeconds = seconds(imports);
    log(`${n.toLocaleString('en-US')} examples imported in ${importSeconds.toFixed(1)} s; the measured run`);

    // 2. The run.
    const { runId } = await env.clients.operator.runs.start.mutate({
      model: name,
      trigger: 'manual',
      trainerParams: TRAINER_PARAMS,
      saturation: { seeds: opts.seeds, fractions: opts.fractions },
      rollout: {
        shadowSeconds: opts.shadowSeconds,
        shadowRules: { maxNewBlockRate: 0.5, maxNewPassRate: 0.5, minRequests: 100, minSupport: 30 },
        steps: [{ weight: 0.5, analysisSeconds: 1 }],
        inconclusiveLimit: 1,
      },
    });
    let lastStep = '';
    let trafficSent = 0;
    let resumed = 0;
    let traffic: Promise<void> | null = null;
    const sendTraffic = async () => {
      // The shadow route first: requests before it are not shadowed.
      for (;;) {
        const [shadow] = await db.select({ v: routes.versionId }).from(routes).where(sql`${routes.modelId} = ${modelId} and ${routes.kind} = 'shadow'`);
        if (shadow) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (let k = 0; k < opts.traffic; k += 100) {
        const requests = [];
        for (let j = k; j < Math.min(opts.traffic, k + 100); j++) {
          const e = exampleAt(n + 1 + j);
          requests.push({ requestId: `req-${runId}-${j}`, input: e.input, attributes: e.slices, occurredAt: new Date().toISOString() });
        }
        const r = await ingest.models.predict.mutate({ name, requests });
        trafficSent += r.shadowed;
      }
      log(`${trafficSent} requests shadowed`);
    };
    const progress = setInterval(() => {
      void db
        .select({ step: runs.step })
        .from(runs)
        .where(eq(runs.id, runId))
        .then(async ([r]) => {
          if (r && r.step !== lastStep) log(`${runId}: ${(lastStep = r.step)}`);
          if (r?.step === 'rolling_out' && !traffic) traffic = sendTraffic();
          // An inconclusive comparison would wait for a person: this bench is that person.
          const status = r?.step === 'rolling_out' ? await env.clients.viewer.runs.rollout.query({ runId }).catch(() => null) : null;
          if (status?.phase === 'paused') {
            resumed++;
            log(`rollout paused (${status.pausedBecause}); resuming`);
            await env.clients.operator.runs.resume.mutate({ runId, reason: 'million-example bench: resumes what it cannot judge' });
          }
        })
        .catch(() => {});
    }, 500);
    let row;
    try {
      row = await unlessWorkerDies(waitForStatus(env, runId, ['promoted', 'rejected', 'failed', 'cancelled', 'rolled_back'], 3 * 60 * 60_000));
    } finally {
      clearInterval(progress);
    }
    await traffic;
    sampler.take();
    const run = await measureHistory(env.services.client, runId);
    const saturation = await measureHistory(env.services.client, `saturation-${runId}`);
    const rollout = await measureHistory(env.services.client, `rollout-${runId}`);
    const importRss = sampler.peakRss(imports[0]!.from, imports.at(-1)!.to);
    const runRss = sampler.peakRss(run.from, run.to);
    log(`run ${row.status}; the export alone, then the floors`);

    // The export: the trainer featurises its rows as they arrive, so in the run the data plane's GET lasts
    // as long as the training thread's parsing (backpressure). What the data plane itself takes is measured
    // here: the same GET (the run's training read) by a reader that keeps up, counting bytes as psql's
    // floor does, on the same server, right after the run.
    const runTrain = run.intervals.activities.find((a) => a.name === 'trainer.train');
    const trainerRead = plane.find((r) => r.method === 'GET' && r.url.includes('/examples') && runTrain && within(runTrain)(r));
    if (!trainerRead) throw new Error('the run\'s training read was not seen on the data plane');
    const exportRead = await readAll(`${env.url}${trainerRead.url}`, env.tokens.admin!);

    // 4. Floors.
    const [snap] = resultRows<{ id: number; train: number; heldout: number }>(
      await db.execute(sql`select id, train_count as train, heldout_count as heldout from dataset_snapshots where run_id = ${runId}`),
    );
    if (!snap) throw new Error(`run ${runId} froze no snapshot`);
    await importFloor();
    // snapshot: the members copied by one statement into a table of their shape.
    await scratchLike('dataset_snapshot_members', scratch.members);
    await floor('snapshot', () =>
      floorSql.command(`insert into ${scratch.members} (snapshot_id, example_id, split, label) select ${snap.id}, e.id, e.split, e.label from examples e where e.model_id = ${modelId} and e.label is not null`),
    );
    await db.execute(sql.raw(`drop table ${scratch.members}`));
    // export: the training split's lines, as the data plane writes them.
    let exportBytes = 0;
    await floor('export', async () => {
      const r = await floorSql.copyOut(exampleLinesQuery(snap.id, 'train'));
      if (r.lines !== Number(snap.train)) throw new Error(`copied ${r.lines} training lines of ${snap.train}`);
      exportBytes = r.bytes;
    });
    // training, scoring, evaluation: on the rows in memory.
    const train: LabelledInput[] = [];
    const heldout: ReturnType<typeof exampleAt>[] = [];
    let championTrain = 0;
    for (let i = 1; i <= n; i++) {
      const e = exampleAt(i);
      if (e.split === 'train' && i <= championRows) championTrain++;
      if (e.split === 'train') train.push({ input: e.input, label: e.label });
      else heldout.push(e);
    }
    const params = { ...defaultTrainerParams, ...TRAINER_PARAMS };
    let artifact!: Awaited<ReturnType<typeof trainHashedLogReg>>;
    await floor('training', async () => (artifact = await trainHashedLogReg(train, params)));
    // The champion as the bootstrap run trained it: on the first rows' training split (not timed).
    const championArtifact = await trainHashedLogReg(train.slice(0, championTrain), params);
    const heldoutInputs = heldout.map((e) => e.input);
    let scores!: Float64Array;
    let championScores!: Float64Array;
    await floor('scoring', () => {
      scores = predictBatch(artifact, heldoutInputs);
      championScores = predictBatch(championArtifact, heldoutInputs);
    });
    // evaluation: both versions through the engine, then the packet's statistics (paired differences,
    // thresholds, the policy's judgement): what evaluateVersions computes, without its reads and writes.
    const policy = gatePolicySchema.parse(GATE_POLICY);
    const attributeNames = ['lang', 'sender_tld'];
    const data = encodeHeldOut(
      heldout.map((e) => e.label),
      Object.fromEntries(attributeNames.map((a) => [a, heldout.map((e) => e.slices[a as 'lang' | 'sender_tld'])])),
    );
    const settings = { ...defaultEvaluationSettings, confidence: policy.confidence };
    const evaluate = (s: Float64Array) =>
      evaluateVersion(data, s, {
        settings,
        sensitive: data.attributes.filter((a) => a.values.length <= 8).map((a) => a.name),
        minGroupSupport: policy.minSliceSupport,
        calibrationBins: calibrationBinsOf(policy),
        intersections: intersectionPairs(policy, attributeNames),
      });
    const evaluation = () => {
      const candidate = { versionId: 2, version: 2, reportHash: '', scores, evaluation: evaluate(scores) };
      const champion = { versionId: 1, version: 1, reportHash: '', scores: championScores, evaluation: evaluate(championScores) };
      buildApprovalPacket({ runId, model: name, data, policy, policyVersion: 1, candidate, champion, traffic: [], settings });
    };
    // Once untimed: in the run the engine's code was warm from the saturation check's evaluations.
    evaluation();
    await floor('evaluation', evaluation);
    const processPeakRss = Math.max(...[importRss, runRss, sampler.peakRss(0, Date.now())]);

    // 3 and 5. Phases of the run.
    const acts = run.intervals.activities;
    const named = (...names: string[]) => acts.filter((a) => names.includes(a.name));
    const [train1] = named('trainer.train');
    const [evaluateAct] = named('evaluateVersions');
    const scoreActs = named('trainer.score');
    const waits = rollout.intervals.timers;
    const decision = [...named('judgeGate', 'promoteCandidate'), ...rollout.intervals.activities];
    const covered = [...acts, ...run.intervals.children, ...rollout.intervals.activities, ...waits];
    const orchestration = complement(run.from, run.to, covered);
    const known = new Set(['freezeSnapshot', 'trainer.train', 'trainer.score', 'evaluateVersions', 'judgeGate', 'promoteCandidate']);
    const bookkeeping = acts.filter((a) => !known.has(a.name));
    const evaluationSeconds = floors.evaluation!.seconds;
    const evalCpu = floors.evaluation!.cpu;
    const evaluateCpu = evaluateAct ? sampler.cpu([evaluateAct]) : { proc: 0, db: 0 };

    interface Phase {
      name: string;
      controlPlane: boolean;
      seconds: number;
      cpu: { proc: number; db: number };
      /** Peak RSS of this process while the phase ran. */
      rss: number;
      floor?: keyof typeof floors;
      note?: string;
    }
    const phase = (name: string, controlPlane: boolean, ivs: readonly { from: number; to: number }[], extra: Partial<Phase> = {}): Phase => ({
      name,
      controlPlane,
      seconds: seconds(unionOf(ivs)),
      cpu: sampler.cpu(unionOf(ivs)),
      rss: Math.max(0, ...ivs.map((iv) => sampler.peakRss(iv.from, iv.to))),
      ...extra,
    });
    const trainPhase = phase('training', false, train1 ? [train1] : []);
    const exportPhase = phase('export to the trainer', true, [exportRead], { floor: 'export', note: 'the run\'s training GET again, by a reader that keeps up' });
    const sub = (a: { proc: number; db: number }, b: { proc: number; db: number }) => ({ proc: a.proc - b.proc, db: a.db - b.db });
    const phases: Phase[] = [
      { name: 'import', controlPlane: true, seconds: importSeconds, cpu: sampler.cpu(imports), rss: importRss, floor: 'import' },
      phase('snapshot', true, named('freezeSnapshot'), { floor: 'snapshot' }),
      phase('saturation check (child)', false, run.intervals.children.filter((c) => c.name.startsWith('saturation-'))),
      exportPhase,
      { ...trainPhase, seconds: trainPhase.seconds - exportPhase.seconds, cpu: sub(trainPhase.cpu, exportPhase.cpu), floor: 'training', note: 'trainer.train less the export' },
      phase('scoring', false, scoreActs, { floor: 'scoring', note: `${scoreActs.length} score jobs in parallel; floor: both in one thread` }),
      { name: 'evaluation', controlPlane: false, seconds: evaluationSeconds, cpu: evalCpu, rss: evaluateAct ? sampler.peakRss(evaluateAct.from, evaluateAct.to) : 0, floor: 'evaluation', note: 'estimate: the engine (2 versions + the packet\'s statistics) on the same data' },
      {
        name: 'packet',
        controlPlane: true,
        seconds: (evaluateAct ? (evaluateAct.to - evaluateAct.from) / 1000 : 0) - evaluationSeconds,
        cpu: sub(evaluateCpu, evalCpu),
        rss: evaluateAct ? sampler.peakRss(evaluateAct.from, evaluateAct.to) : 0,
        note: 'evaluateVersions less the evaluation: reads, reports, hash, writes',
      },
      phase('decision', true, decision, { note: 'judgeGate and the rollout activities' }),
      phase('bookkeeping activities', true, bookkeeping, { note: `${bookkeeping.length} activities` }),
      phase('orchestration', true, orchestration, { note: 'covered by no activity, child or timer' }),
    ];
    const waitSeconds = seconds(waits);
    const productSeconds = importSeconds + run.seconds - waitSeconds;
    const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

    console.log(`\none retraining run on ${n.toLocaleString('en-US')} labelled examples (${dbName}; ${where})`);
    console.log(
      `  run ${runId}: ${row.status}; snapshot ${Number(snap.train).toLocaleString('en-US')} train + ${Number(snap.heldout).toLocaleString('en-US')} held out; ` +
        `saturation ${opts.seeds} seeds x [${opts.fractions.join(', ')}]; shadow window ${opts.shadowSeconds} s with ${trafficSent} shadowed requests, one 1 s canary step` +
        (resumed ? `; resumed ${resumed}x after a pause` : ''),
    );
    console.log(`  run wall ${fmt(run.seconds)} s, of which configured waits ${fmt(waitSeconds)} s; import ${fmt(importSeconds)} s; shares below are of import + run less the waits = ${fmt(productSeconds)} s`);
    table(
      ['phase', 'wall s', 'share', 'process CPU s', 'PostgreSQL CPU s', 'peak RSS GiB', 'floor s', 'floor CPU s (proc/db)', 'x floor', 'target', 'how'],
      phases.map((p) => {
        const fl = p.floor ? floors[p.floor] : undefined;
        const ratio = fl ? p.seconds / fl.seconds : NaN;
        const target = p.controlPlane ? (fl ? (ratio <= 2 ? 'met' : 'MISSED (2x)') : '') : '';
        return [
          `${p.name}${p.controlPlane ? ' *' : ''}`,
          fmt(p.seconds, 2),
          `${fmt((100 * p.seconds) / productSeconds)}%`,
          fmt(p.cpu.proc, 2),
          fmt(p.cpu.db, 2),
          fmt(p.rss / 2 ** 30, 2),
          fl ? fmt(fl.seconds, 2) : '',
          fl ? `${fmt(fl.cpu.proc, 2)}/${fmt(fl.cpu.db, 2)}` : '',
          fl ? fmt(ratio, 2) : '',
          target,
          p.note ?? '',
        ];
      }),
    );
    const controlSeconds = phases.filter((p) => p.controlPlane).reduce((s, p) => s + p.seconds, 0);
    const controlShare = controlSeconds / productSeconds;
    console.log(
      `  * control plane: ${fmt(controlSeconds)} s = ${fmt(100 * controlShare)}% of ${fmt(productSeconds)} s (target < 10%: ${controlShare < 0.1 ? 'met' : 'MISSED'}); ` +
        `without the import ${fmt(controlSeconds - importSeconds)} s = ${fmt((100 * (controlSeconds - importSeconds)) / (run.seconds - waitSeconds))}% of the run less its waits`,
    );
    // What the share could be at best: each control-plane phase with a floor at its floor, the others as measured.
    const atFloors = phases.filter((p) => p.controlPlane).reduce((s, p) => s + (p.floor ? floors[p.floor]!.seconds : p.seconds), 0);
    console.log(`    were each control-plane phase at its floor: ${fmt(atFloors)} s = ${fmt((100 * atFloors) / (productSeconds - controlSeconds + atFloors))}% (the least this machine's database allows against this trainer)`);
    console.log(`  export: ${fmt(exportRead.bytes / 1e6)} MB of NDJSON (floor ${fmt(exportBytes / 1e6)} MB), read again after the run; in the run the trainer's GET took ${fmt(seconds([trainerRead]))} s at its featurising pace; the floor is ${url ? 'psql \\copy' : "PGlite's COPY"} of the same lines`);
    const satSpan = run.intervals.children.find((c) => c.name.startsWith('saturation-'));
    const satReads = satSpan ? plane.filter((r) => r.method === 'GET' && r.url.includes('/examples') && within(satSpan)(r)) : [];
    const satTrains = saturation.intervals.activities.filter((a) => a.name === 'trainer.train');
    console.log(
      `  saturation child: ${satTrains.length} trainings (${fmt(seconds(satTrains))} s summed), ${satReads.length} data-plane reads (${fmt(seconds(satReads))} s summed, ${fmt(seconds(unionOf(satReads)))} s of wall); ` +
        `its activities by execution s: ${[...saturation.activities.entries()].sort((a, b) => b[1].execSeconds - a[1].execSeconds).map(([k, a]) => `${k} ${a.count}x ${a.execSeconds.toFixed(1)}`).join(', ')}`,
    );
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    if (workerProcess) {
      // Each process against the target, as each is deployed and bounded on its own; their sum beside it (it counts the code both map twice).
      const own = (from: number, to: number) => sampler.peakRss(from, to, 'ownRss');
      const wrk = (from: number, to: number) => sampler.peakRss(from, to, 'workerRss');
      const worst = Math.max(own(imports[0]!.from, run.to), wrk(imports[0]!.from, run.to));
      console.log(
        `  peak RSS: the API (+ driver) process: import ${gib(own(imports[0]!.from, imports.at(-1)!.to))}, run ${gib(own(run.from, run.to))}; the worker process: import ${gib(wrk(imports[0]!.from, imports.at(-1)!.to))}, run ${gib(wrk(run.from, run.to))} ` +
          `(target < 1 GiB each: ${worst < 2 ** 30 ? 'met' : 'MISSED'}); the two summed: import ${gib(importRss)}, run ${gib(runRss)}`,
      );
    } else {
      console.log(`  peak RSS of this process (API + worker + driver): import ${gib(importRss)}, run ${gib(runRss)} (target < 1 GiB: ${Math.max(importRss, runRss) < 2 ** 30 ? 'met' : 'MISSED'}); with the floors' in-memory rows ${gib(processPeakRss)}`);
    }
    const hist = (label: string, m: HistoryMeasure) => [label, String(m.events), kb(m.serverBytes), `${m.payloads} / ${kb(m.payloadBytes)}`, `${kb(m.largest.bytes)} (${m.largest.where})`, fmt(m.seconds)];
    console.log(`  Temporal histories (target: the run's < 1 MB: ${run.serverBytes < 1e6 ? 'met' : 'MISSED'})`);
    table(['workflow', 'events', 'history (server)', 'payloads / bytes', 'largest payload', 'seconds'], [hist('run', run), hist('saturation child', saturation), hist('rollout child', rollout)]);
    console.log(
      `  activities of the run, longest first (count, queue wait s / execution s): ${[...run.activities.entries()]
        .sort((a, b) => b[1].execSeconds - a[1].execSeconds)
        .map(([k, a]) => `${k} ${a.count}x ${a.waitSeconds.toFixed(2)}/${a.execSeconds.toFixed(2)}`)
        .join(', ')}`,
    );
    console.log(`  run steps (s, peak RSS GiB): ${run.steps.map((s) => `${s.step} ${s.seconds.toFixed(2)} (${(sampler.peakRss(s.from, s.to) / 2 ** 30).toFixed(2)})`).join(', ')}`);
    const mib = (b: number) => (b / 2 ** 20).toFixed(0);
    // A process's resident set at its peak: its main thread's heap, off-heap memory and the rest. Node counts
    // array buffers inside external, yet the two are read apart and array buffers can be the larger: the
    // off-heap share is the larger of them, so the rest is never counted twice.
    const breakdown = (rss: number, heap: Sample['heap']) => {
      const offHeap = Math.max(heap.external, heap.arrayBuffers);
      return `${mib(rss)} = main heap ${mib(heap.total)} (${mib(heap.used)} used) + off-heap ${mib(offHeap)} + the rest ${mib(rss - heap.total - offHeap)}`;
    };
    const atPeak = (label: string, from: number, to: number) => {
      const p = sampler.peakSample(from, to, workerProcess ? 'ownRss' : 'rss');
      const w = workerProcess ? sampler.peakSample(from, to, 'workerRss') : null;
      if (!p) return `${label} -`;
      return `${label} ${breakdown(p.rss - p.workerRss, p.heap)}${w?.workerHeap ? `, worker ${breakdown(w.workerRss, w.workerHeap)}` : ''}`;
    };
    console.log(`  at each step's peak RSS (MiB, ${workerProcess ? "the API's process, then the worker's" : 'this process'}; the rest: threads' heaps, code, native buffers): ${[atPeak('import', imports[0]!.from, imports.at(-1)!.to), ...run.steps.map((s) => atPeak(s.step, s.from, s.to))].join('; ')}`);
  } finally {
    sampler.stop();
    rmSync(dir, { recursive: true, force: true });
    for (const t of Object.values(scratch)) await db.execute(sql.raw(`drop table if exists ${t}`)).catch(() => {});
    // The heavy rows go; the run's records stay for inspection.
    await db.execute(sql`delete from shadow_predictions where model_id = ${modelId}`).catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
    await db.execute(sql`delete from predictions where model_id = ${modelId}`).catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
    await db.execute(sql`delete from dataset_snapshot_members where snapshot_id in (select id from dataset_snapshots where model_id = ${modelId})`);
    await db.execute(sql`delete from examples where model_id = ${modelId}`).catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
    if (workerProcess) await stopChild(workerProcess);
    await env.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
