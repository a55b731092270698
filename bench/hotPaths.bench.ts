// The hot API paths under load: models.predict, models.resolve, feedback ingest and prediction logging
// (serving.logPredictions) over the REST face, each driven by autocannon for a fixed time over a fixed
// number of connections, against the floor: a bare node:http server in this same process answering each
// path with the very JSON bytes the API answered it, driven the same way, in the same run.
//
//   [DATABASE_URL=postgres://...] [TEMPORAL_TEST_ADDRESS=127.0.0.1:7400] npx tsx bench/hotPaths.bench.ts
//       [--connections 10] [--duration 10] [--warmup 2] [--batch 100] [--predict-batch 1]
//       [--paths predict,resolve,feedback,predictions] [--log-level info] [--cpu-prof <dir>]
//
// Services as test/helpers.ts startTestEnv starts them (the API, workers and, without TEMPORAL_TEST_ADDRESS,
// an embedded Temporal dev server; a database of the bench's own on DATABASE_URL's server, else in-memory
// PGlite), and a model whose bootstrap run promoted v1 (test/helpers.ts promotedModel). The load is an
// `ingest` token's, as a serving system's. autocannon runs in a worker thread of this process (its
// `workers: 1`), so the server under test has the main thread to itself as a deployed API would; the
// access log goes, at --log-level (production's default, info), to /dev/null.
//
// Every request carries fresh ids (predict's and logPredictions' request ids, feedback's idempotency keys,
// resolve's request key): a replayed id is written once, which would flatter the ingest paths. Every
// answer must be a 2xx and every event sent a row: anything else fails the bench. With --cpu-prof, the main
// thread (the API's) is profiled during each path's measured run only, one <path>.cpuprofile each.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { count, eq } from 'drizzle-orm';
import { pino } from 'pino';
import { loadCorpus } from '../demo/corpus';
import { feedbackEvents, predictions } from '../db/schema';
import { issueToken } from '../db/tokens';
import { createLogger, setRootLogger } from '../temporal-config/log';
import { promotedModel, startTestEnv, uid } from '../test/helpers';

const PATHS = ['predict', 'resolve', 'feedback', 'predictions'] as const;
type PathName = (typeof PATHS)[number];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function flags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      connections: { type: 'string', default: '10' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      batch: { type: 'string', default: '100' },
      'predict-batch': { type: 'string', default: '1' },
      paths: { type: 'string', default: PATHS.join(',') },
      'log-level': { type: 'string', default: 'info' },
      'cpu-prof': { type: 'string' },
    },
  });
  const int = (name: string, s: string, min: number, max: number) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: bad value ${s} (an integer in ${min}..${max})`);
    return n;
  };
  const paths = values.paths.split(',').map((p) => {
    if (!(PATHS as readonly string[]).includes(p)) throw new Error(`--paths: unknown path ${p} (one of ${PATHS.join(', ')})`);
    return p as PathName;
  });
  const logLevel = values['log-level'] as (typeof LOG_LEVELS)[number];
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`--log-level: bad level ${logLevel} (one of ${LOG_LEVELS.join(', ')})`);
  return {
    connections: int('connections', values.connections, 1, 1000),
    duration: int('duration', values.duration, 1, 3600),
    warmup: int('warmup', values.warmup, 0, 600),
    batch: int('batch', values.batch, 1, 10_000),
    predictBatch: int('predict-batch', values['predict-batch'], 1, 10_000),
    paths,
    logLevel,
    cpuProf: values['cpu-prof'],
  };
}

const opts = flags(process.argv.slice(2));
const env = await startTestEnv();
const scratch = mkdtempSync(join(tmpdir(), 'hot-paths-bench-'));
const floor = http.createServer();
try {
  const { model, modelId } = await promotedModel(env);
  const db = env.services.opened.db;
  const token = (await issueToken(db, { subject: `bench-gateway-${uid()}`, role: 'ingest', createdBy: 'bench' })).token;
  const serving = await env.clients.viewer.models.serving.query({ name: model });
  // Real e-mails as predict's inputs, cycled (the first 200 of the corpus).
  const inputs = loadCorpus()
    .slice(0, 200)
    .map((e) => ({ input: e.input, attributes: { ...e.slices } as Record<string, string> }));
  // The access log as production writes it (info), to a sink: its cost is on the hot path, its lines are not wanted here.
  setRootLogger(createLogger({ level: opts.logLevel, destination: pino.destination({ dest: '/dev/null', sync: true }) }));

  const name = encodeURIComponent(model);
  const route: Record<PathName, { method: 'GET' | 'POST'; path: string; perRequest: number; label: string }> = {
    predict: { method: 'POST', path: `/api/models/${name}/predict`, perRequest: opts.predictBatch, label: `predict (${opts.predictBatch}/request)` },
    resolve: { method: 'GET', path: `/api/models/${name}/resolve`, perRequest: 1, label: 'resolve' },
    feedback: { method: 'POST', path: `/api/models/${name}/feedback`, perRequest: opts.batch, label: `feedback ingest (${opts.batch}/request)` },
    predictions: { method: 'POST', path: `/api/models/${name}/predictions`, perRequest: opts.batch, label: `logPredictions (${opts.batch}/request)` },
  };

  // autocannon's worker thread takes functions as files it can require: one per run, its settings inlined.
  // Ids are the run's prefix, the worker's thread id and a counter, so no two requests of the bench share one.
  let runs = 0;
  const requestModule = (kind: PathName) => {
    const file = join(scratch, `request-${++runs}.cjs`);
    const settings = { kind, prefix: `${uid()}-${runs}`, path: route[kind].path, version: serving.version, perRequest: route[kind].perRequest, inputs };
    writeFileSync(
      file,
      `'use strict';
const { threadId } = require('node:worker_threads');
const S = ${JSON.stringify(settings)};
const occurredAt = '2026-11-20T10:00:00.000Z';
let seq = 0;
module.exports = function setupRequest(req) {
  const base = S.prefix + '-' + threadId + '-' + seq++;
  const ids = Array.from({ length: S.perRequest }, (_, k) => base + '-' + k);
  if (S.kind === 'resolve') {
    req.path = S.path + '?requestKey=' + base;
  } else if (S.kind === 'predict') {
    req.body = JSON.stringify({ requests: ids.map((requestId, k) => { const e = S.inputs[(seq + k) % S.inputs.length]; return { requestId, input: e.input, attributes: e.attributes, occurredAt }; }) });
  } else if (S.kind === 'feedback') {
    req.body = JSON.stringify({ events: ids.map((id, k) => ({ kind: 'override', action: 'not_spam', idempotencyKey: id, version: S.version, requestId: id, surface: 'inbox', position: k % 50, attributes: { sender_tld: k % 3 === 0 ? 'country_code' : 'generic' }, occurredAt })) });
  } else {
    req.body = JSON.stringify({ requests: ids.map((requestId, k) => ({ requestId, version: S.version, score: (k % 100) / 100, attributes: { sender_tld: k % 3 === 0 ? 'country_code' : 'generic' }, occurredAt })) });
  }
  return req;
};
`,
    );
    return file;
  };

  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const load = async (baseUrl: string, kind: PathName, seconds: number) => {
    const result = await autocannon({
      url: baseUrl,
      connections: opts.connections,
      duration: seconds,
      workers: 1,
      headers,
      requests: [{ method: route[kind].method, path: route[kind].path, setupRequest: requestModule(kind) }],
    });
    if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0 || result['2xx'] === 0) {
      throw new Error(
        `${kind} at ${baseUrl}: ${result['2xx']} answers 2xx, ${result.non2xx} not (${JSON.stringify(result.statusCodeStats ?? {})}), ${result.errors} connection errors, ${result.timeouts} timeouts: a benchmark whose requests fail measures nothing`,
      );
    }
    return result;
  };

  // Rows each ingest path writes; counted until they stop moving (a request answered after the run's end still lands).
  const rowsOf = async (kind: PathName): Promise<number> => {
    if (kind === 'resolve') return 0;
    const table = kind === 'feedback' ? feedbackEvents : predictions;
    const [row] = await db.select({ n: count() }).from(table).where(eq(table.modelId, modelId));
    return row!.n;
  };
  const settledRows = async (kind: PathName) => {
    let last = await rowsOf(kind);
    for (;;) {
      await new Promise((r) => setTimeout(r, 300));
      const now = await rowsOf(kind);
      if (now === last) return now;
      last = now;
    }
  };

  // One real answer per path: the floor answers with these bytes.
  const captured = new Map<string, Buffer>();
  for (const kind of opts.paths) {
    const ids = Array.from({ length: route[kind].perRequest }, (_, k) => `capture-${uid()}-${k}`);
    const e = inputs[0]!;
    const body =
      kind === 'predict'
        ? { requests: ids.map((requestId) => ({ requestId, input: e.input, attributes: e.attributes, occurredAt: '2026-11-20T10:00:00.000Z' })) }
        : kind === 'feedback'
          ? { events: ids.map((id) => ({ kind: 'override', action: 'not_spam', idempotencyKey: id, version: serving.version, requestId: id, attributes: {}, occurredAt: '2026-11-20T10:00:00.000Z' })) }
          : kind === 'predictions'
            ? { requests: ids.map((requestId) => ({ requestId, version: serving.version, score: 0.25, attributes: {}, occurredAt: '2026-11-20T10:00:00.000Z' })) }
            : undefined;
    const res = await fetch(`${env.url}${route[kind].path}${kind === 'resolve' ? `?requestKey=${ids[0]}` : ''}`, {
      method: route[kind].method,
      headers,
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`${kind}: the API answered ${res.status}: ${bytes.toString().slice(0, 500)}`);
    captured.set(route[kind].path, bytes);
  }
  floor.on('request', (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const bytes = captured.get(q === -1 ? url : url.slice(0, q));
    // The request body is read as the API reads it, then the same answer is sent.
    req.on('data', () => {});
    req.on('end', () => {
      if (!bytes) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length });
      res.end(bytes);
    });
  });
  await new Promise<void>((resolve) => floor.listen(0, '127.0.0.1', resolve));
  const floorUrl = `http://127.0.0.1:${(floor.address() as AddressInfo).port}`;

  interface Row {
    kind: PathName;
    api: autocannon.Result;
    floor: autocannon.Result;
  }
  const rows: Row[] = [];
  for (const kind of opts.paths) {
    if (opts.warmup > 0) {
      await load(env.url, kind, opts.warmup);
      await load(floorUrl, kind, opts.warmup);
    }
    const before = await settledRows(kind);
    const profiler = opts.cpuProf ? new Session() : null;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const api = await load(env.url, kind, opts.duration);
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      mkdirSync(opts.cpuProf!, { recursive: true });
      writeFileSync(join(opts.cpuProf!, `${kind}.cpuprofile`), JSON.stringify(profile));
      profiler.disconnect();
    }
    const after = await settledRows(kind);
    if (kind !== 'resolve') {
      // Every 2xx answered is perRequest rows; a request still in flight when the run ended may land too.
      const per = route[kind].perRequest;
      const written = after - before;
      if (written < api['2xx'] * per || written > (api['2xx'] + opts.connections) * per) {
        throw new Error(`${kind}: ${api['2xx']} requests answered 2xx (${api['2xx'] * per} rows) but ${written} rows were written`);
      }
    }
    const floorResult = await load(floorUrl, kind, opts.duration);
    rows.push({ kind, api, floor: floorResult });
  }

  const cpu = cpus();
  const driver = env.services.opened.driver === 'postgres' ? 'PostgreSQL' : 'PGlite (in-memory, in this process)';
  console.log(
    `hot API paths over REST: ${opts.connections} connections x ${opts.duration} s each (after ${opts.warmup} s of warm-up), autocannon in a worker thread; ${driver}; ` +
      `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), node ${process.version}; access log at ${opts.logLevel}`,
  );
  const header = ['path', 'requests/s', 'p50 ms', 'p99 ms', 'floor req/s', 'floor p50', 'floor p99', 'API/floor', 'events/s'];
  const widths = [32, 11, 8, 8, 12, 10, 10, 10, 10];
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' ');
  console.log(line(header));
  const rate = (r: autocannon.Result) => r['2xx'] / r.duration;
  for (const { kind, api, floor: f } of rows) {
    console.log(
      line([
        route[kind].label,
        Math.round(rate(api)).toLocaleString('en-US'),
        api.latency.p50.toFixed(1),
        api.latency.p99.toFixed(1),
        Math.round(rate(f)).toLocaleString('en-US'),
        f.latency.p50.toFixed(1),
        f.latency.p99.toFixed(1),
        (rate(api) / rate(f)).toFixed(3),
        kind === 'feedback' || kind === 'predictions' || (kind === 'predict' && opts.predictBatch > 1) ? Math.round(rate(api) * route[kind].perRequest).toLocaleString('en-US') : '',
      ]),
    );
  }
} finally {
  floor.close();
  await env.stop();
  rmSync(scratch, { recursive: true, force: true });
}
