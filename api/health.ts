// Watching it run: liveness (/healthz), readiness (/readyz) and Prometheus metrics (/metrics), for the API
// server and (temporal-config/healthServer.ts) the workers. None of them takes a token: /healthz and
// /readyz say nothing but "up" and which dependency is down; /metrics says counts and latencies, never a
// run id, subject or token, but belongs on the internal network (scraped by Prometheus), not the internet.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import type { Client } from '@temporalio/client';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { migrationsFolder, type Db } from '../db/index';
import { registerDomainMetrics } from '../db/metrics';
import { appliedMigrations, pingDatabase } from '../db/health';
import { appRouter } from './router';
import { isTrainerDataPath } from './trainerData';

/** Every readiness check answers within this (a check that takes longer fails, saying so). */
export const CHECK_TIMEOUT_MS = 2000;

export interface CheckResult {
  ok: boolean;
  /** How long the check took. */
  ms: number;
  /** What was found (ok) or why it failed. */
  detail: string;
}

export type Check = () => Promise<string>;

function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const rootMessage = (err: unknown): string => {
  let root = err;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  return (root instanceof Error ? root.message : String(root)).slice(0, 300);
};

/** Runs the checks at once, each bounded by CHECK_TIMEOUT_MS. */
export async function runChecks(checks: Record<string, Check>, timeoutMs = CHECK_TIMEOUT_MS): Promise<{ ok: boolean; checks: Record<string, CheckResult> }> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
      const started = performance.now();
      try {
        const detail = await withTimeout(name, check(), timeoutMs);
        return [name, { ok: true, ms: Math.round(performance.now() - started), detail }];
      } catch (err) {
        return [name, { ok: false, ms: Math.round(performance.now() - started), detail: rootMessage(err) }];
      }
    }),
  );
  const results = Object.fromEntries(entries);
  return { ok: entries.every(([, r]) => r.ok), checks: results };
}

/** The migrations this code expects, from drizzle-kit's journal. */
let journal: { count: number; lastWhen: number; lastTag: string } | undefined;
function expectedMigrations() {
  if (!journal) {
    const parsed = JSON.parse(readFileSync(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: { when: number; tag: string }[] };
    const last = parsed.entries.at(-1)!;
    journal = { count: parsed.entries.length, lastWhen: last.when, lastTag: last.tag };
  }
  return journal;
}

/** The database answers a trivial query. */
export const databaseCheck =
  (db: Db): Check =>
  async () => {
    await pingDatabase(db);
    return 'reachable';
  };

/**
 * Every migration in the journal is applied: drizzle records each in drizzle.__drizzle_migrations with the
 * journal entry's `when` as created_at, so the newest applied one must be the journal's last.
 */
export const migrationsCheck =
  (db: Db): Check =>
  async () => {
    const expected = expectedMigrations();
    const { count: applied, lastWhen: last } = await appliedMigrations(db);
    if (applied < expected.count || last === null || last < expected.lastWhen) {
      throw new Error(`${applied} of ${expected.count} migrations applied (the newest, ${expected.lastTag}, is not): start a process that migrates (retrain api, worker or up)`);
    }
    return `${applied} applied, newest ${expected.lastTag}`;
  };

/** Temporal's frontend answers GetSystemInfo within the deadline. */
export const temporalCheck =
  (client: Client, timeoutMs = CHECK_TIMEOUT_MS): Check =>
  async () => {
    // The call's own deadline ends it a little before runChecks gives up on it, so nothing is left pending.
    const address = (client.connection as { options?: { address?: string } }).options?.address ?? 'its address';
    const info = await client.connection
      .withDeadline(Date.now() + timeoutMs - 250, () => client.workflowService.getSystemInfo({}))
      .catch((err: unknown) => {
        throw new Error(`Temporal at ${address} did not answer: ${rootMessage(err)}`);
      });
    return `reachable at ${address} (server ${info.serverVersion || 'unknown version'}, namespace ${client.options.namespace})`;
  };

/** Answers /healthz (alive, touching nothing) and /readyz (every check, 200 or 503 with which failed and why). */
export async function answerHealth(res: http.ServerResponse, pathname: string, checks: Record<string, Check>): Promise<void> {
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Cache-Control', 'no-store');
  if (pathname === '/healthz') {
    res.statusCode = 200;
    res.end(JSON.stringify({ ok: true }));
    return;
  }
  const result = await runChecks(checks);
  res.statusCode = result.ok ? 200 : 503;
  const failed = Object.entries(result.checks)
    .filter(([, r]) => !r.ok)
    .map(([name]) => name);
  res.end(JSON.stringify(result.ok ? result : { ...result, failed }));
}

/** Answers /metrics in Prometheus' text format. */
export async function answerMetrics(res: http.ServerResponse, registry: Registry): Promise<void> {
  try {
    const text = await registry.metrics();
    res.statusCode = 200;
    res.setHeader('Content-Type', registry.contentType);
    res.end(text);
  } catch (err) {
    res.statusCode = 500;
    res.setHeader('Content-Type', 'text/plain');
    res.end(`metrics failed: ${rootMessage(err)}\n`);
  }
}

export const HEALTH_PATHS = new Set(['/healthz', '/readyz']);

// ---- the API's metrics -------------------------------------------------------------------------------------

/** A REST operation's method and path pattern, and the procedure it runs. */
interface RestRoute {
  method: string;
  pattern: RegExp;
  procedure: string;
}

let restRoutes: RestRoute[] | undefined;
let procedureNames: Set<string> | undefined;
function routes() {
  if (!restRoutes || !procedureNames) {
    const procedures = appRouter._def.procedures;
    procedureNames = new Set(Object.keys(procedures));
    restRoutes = [];
    for (const [name, proc] of Object.entries(procedures)) {
      // Every procedure is built on api/trpc's OpenApiMeta; the record's value type does not carry it.
      const openapi = (proc as { _def?: { meta?: { openapi?: { method: string; path: string } } } })._def?.meta?.openapi;
      if (!openapi) continue;
      const source = openapi.path
        .replace(/\/$/, '')
        .split('/')
        .map((part) => (/^\{.+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      restRoutes.push({ method: openapi.method.toUpperCase(), pattern: new RegExp(`^${source}/?$`), procedure: name });
    }
  }
  return { restRoutes, procedureNames };
}

/**
 * The procedure label of a request: the tRPC path, or the procedure a REST operation runs; `trainerData`
 * for the trainer data plane, `other` for anything unknown (a 404 path cannot grow the label set).
 */
export function procedureOf(method: string, url: string): string {
  const pathname = new URL(url, 'http://localhost').pathname;
  const { restRoutes, procedureNames } = routes();
  if (pathname.startsWith('/trpc/')) {
    const name = decodeURIComponent(pathname.slice('/trpc/'.length));
    return procedureNames.has(name) ? name : 'other';
  }
  if (pathname.startsWith('/api/')) {
    const rest = pathname.slice('/api'.length);
    if (isTrainerDataPath(rest)) return 'trainerData';
    for (const r of restRoutes) if (r.method === method && r.pattern.test(rest)) return r.procedure;
  }
  return 'other';
}

export interface ApiMetrics {
  registry: Registry;
  /** Counts and times one tRPC or REST request, once it is answered. */
  observe(req: http.IncomingMessage, res: http.ServerResponse): void;
}

/** One registry for the API process: request counts and latencies, process metrics, and the domain's. */
export function createApiMetrics(db: Db): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'retrain_api_requests_total',
    help: 'API requests answered (tRPC and REST), by procedure and HTTP status',
    labelNames: ['procedure', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'retrain_api_request_duration_seconds',
    help: 'Time to answer an API request (tRPC and REST), by procedure',
    labelNames: ['procedure'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  registerDomainMetrics(registry, db);
  return {
    registry,
    observe(req, res) {
      const started = process.hrtime.bigint();
      const procedure = procedureOf(req.method ?? 'GET', req.url ?? '/');
      res.once('finish', () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        requests.inc({ procedure, status: String(res.statusCode) });
        duration.observe({ procedure }, seconds);
      });
    },
  };
}

/**
 * The API's readiness: the database answers, its migrations are applied, Temporal answers. A process that
 * also runs workers (`retrain up`) adds their check (temporal-config/healthServer's workersCheck) through
 * startApiServer's `checks`.
 */
export const apiChecks = (deps: { db: Db; temporal: Client }): Record<string, Check> => ({
  database: databaseCheck(deps.db),
  migrations: migrationsCheck(deps.db),
  temporal: temporalCheck(deps.temporal),
});
