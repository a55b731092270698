// The router layer's test set-up: the app router called in-process (createCaller) over a migrated
// database (PostgreSQL when DATABASE_URL is set, in-memory PGlite otherwise) and a stub Temporal
// client that records what the routers asked of Temporal. No HTTP, no worker, no workflow bundle:
// what a router alone decides (validation, roles, rows written, NOT_FOUND/CONFLICT) is proven here;
// flows that need a running workflow stay end to end.
import assert from 'node:assert/strict';
import { TRPCClientError } from '@trpc/client';
import { getErrorShape, getTRPCErrorFromUnknown } from '@trpc/server';
import type { Client } from '@temporalio/client';
import { ScheduleNotFoundError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { getTableName, is, sql } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import type { ApiClient } from '../api/client';
import { appRouter } from '../api/router';
import { startApiServer, type ApiServer } from '../api/server';
import { createCallerFactory, createContextInner, identityFromToken, type ApiDeps, type Identity } from '../api/trpc';
import { createScorer } from '../activities/index';
import { type Db, type OpenedDb } from '../db/index';
import { openFileDatabase } from './fileDatabase';
import { resultRows } from '../db/queries';
import * as schema from '../db/schema';
import { modelVersions, routes, type Role } from '../db/schema';
import type { CorpusEmail } from '../demo/corpus';
import { artifactHash, serializeArtifact, trainHashedLogReg } from '../trainers/hashedLogReg';
import { issueToken } from '../db/tokens';
import { uid } from './helpers';

/** One thing a router asked of Temporal. */
export interface TemporalCall {
  kind: 'start' | 'query' | 'executeUpdate' | 'signal' | 'scheduleCreate' | 'scheduleGetHandle' | 'scheduleList';
  id: string;
  /** Workflow type, query/update/signal name. */
  name?: string;
  args?: unknown[];
  options?: unknown;
}

/**
 * The part of the Temporal client the routers use. Unless a test scripts an answer, every workflow is
 * unknown (WorkflowNotFoundError) and every schedule too (ScheduleNotFoundError), as on a server
 * where nothing was ever started.
 */
export class StubTemporal {
  readonly calls: TemporalCall[] = [];
  /** Called on every workflow start (after it is recorded); throw to refuse it. Default: accepted. */
  onStart: (id: string, type: string, args: unknown[]) => void = () => {};
  /** Answers a query (workflow id, query name); throw to refuse. Default: the workflow is not found. */
  onQuery: (id: string, name: string) => unknown = (id) => {
    throw new WorkflowNotFoundError(`workflow not found: ${id}`, id, undefined);
  };
  /** Answers an update; throw to refuse. Default: the workflow is not found. */
  onUpdate: (id: string, name: string, args: unknown[]) => unknown = (id) => {
    throw new WorkflowNotFoundError(`workflow not found: ${id}`, id, undefined);
  };

  readonly workflow = {
    start: async (type: string, options: { workflowId: string; args?: unknown[] }) => {
      this.calls.push({ kind: 'start', id: options.workflowId, name: type, args: options.args ?? [], options });
      this.onStart(options.workflowId, type, options.args ?? []);
      return this.workflow.getHandle(options.workflowId);
    },
    getHandle: (id: string) => ({
      workflowId: id,
      query: async (def: { name: string } | string) => {
        const name = typeof def === 'string' ? def : def.name;
        this.calls.push({ kind: 'query', id, name });
        return this.onQuery(id, name);
      },
      executeUpdate: async (def: { name: string }, options: { args?: unknown[] } = {}) => {
        this.calls.push({ kind: 'executeUpdate', id, name: def.name, args: options.args ?? [] });
        return this.onUpdate(id, def.name, options.args ?? []);
      },
      signal: async (def: { name: string }, ...args: unknown[]) => {
        this.calls.push({ kind: 'signal', id, name: def.name, args });
      },
    }),
  };

  readonly schedule = {
    create: async (options: { scheduleId: string }) => {
      this.calls.push({ kind: 'scheduleCreate', id: options.scheduleId, options });
      throw new Error('StubTemporal: schedules are tested against the real server (test/api/audits.test.ts)');
    },
    getHandle: (id: string) => {
      this.calls.push({ kind: 'scheduleGetHandle', id });
      const missing = async () => {
        throw new ScheduleNotFoundError(`schedule not found: ${id}`, id);
      };
      return { scheduleId: id, describe: missing, pause: missing, unpause: missing, trigger: missing, backfill: missing, delete: missing };
    },
    list: (options?: unknown) => {
      this.calls.push({ kind: 'scheduleList', id: '', options });
      return (async function* () {})();
    },
  };

  /** Calls of one kind, in order. */
  of(kind: TemporalCall['kind']): TemporalCall[] {
    return this.calls.filter((c) => c.kind === kind);
  }
}

export type Who = 'admin' | 'operator' | 'approver' | 'viewer';

export interface CallerEnv {
  opened: OpenedDb;
  db: OpenedDb['db'];
  temporal: StubTemporal;
  deps: ApiDeps;
  /** The router called as an identity (null: no token), exactly as the HTTP adapter calls it. */
  caller(identity: Identity | null): ReturnType<typeof createCaller>;
  /**
   * The same calls in the typed client's shape (`.query` / `.mutate`), so a test reads as it would over
   * HTTP; refusals arrive as TRPCClientError carrying the shape the app's error formatter gives them.
   */
  client(identity: Identity | null): ApiClient;
  /** Clients per role, each with a real token resolved the way the HTTP adapter resolves it. */
  clients: Record<Who, ApiClient>;
  identities: Record<Who, Identity>;
  /** The bearer tokens behind `clients`, for tests that also serve the router over HTTP. */
  tokens: Record<Who, string>;
  /** A new token holder with `role`, as a client. */
  as(subject: string, role: Role): Promise<{ client: ApiClient; identity: Identity; token: string }>;
  /** Serves the same deps over HTTP (started once, closed by stop()) and returns its base URL: for tests of what HTTP adds. */
  serve(): Promise<string>;
  stop(): Promise<void>;
}

const createCaller = createCallerFactory(appRouter);

export async function startCallerEnv(opts: { defaultApprovalTimeoutSeconds?: number } = {}): Promise<CallerEnv> {
  const opened = await openFileDatabase();
  const suffix = uid();
  const temporal = new StubTemporal();
  const deps: ApiDeps = {
    db: opened.db,
    // The one cast: the stub implements the subset of Client the routers call.
    temporal: temporal as unknown as Client,
    namespace: 'default',
    taskQueues: { control: `control-${suffix}`, training: `training-${suffix}` },
    defaultApprovalTimeoutSeconds: opts.defaultApprovalTimeoutSeconds ?? 600,
    scorer: createScorer(),
  };
  const caller = (identity: Identity | null) => createCaller(createContextInner(deps, identity));
  const client = (identity: Identity | null) => clientShaped(caller(identity));
  const as = async (subject: string, role: Role) => {
    const { token } = await issueToken(opened.db, { subject, role, createdBy: 'test' });
    const identity = (await identityFromToken(opened.db, token))!;
    return { client: client(identity), identity, token };
  };
  const clients = {} as Record<Who, ApiClient>;
  const identities = {} as Record<Who, Identity>;
  const tokens = {} as Record<Who, string>;
  for (const who of ['admin', 'operator', 'approver', 'viewer'] as const) {
    const made = await as(`${who}-${suffix}`, who);
    clients[who] = made.client;
    identities[who] = made.identity;
    tokens[who] = made.token;
  }
  let server: Promise<ApiServer> | undefined;
  const serve = async () => (await (server ??= startApiServer(deps))).url;
  const stop = async () => {
    if (server) await (await server).close();
    await opened.close();
  };
  return { opened, db: opened.db, temporal, deps, caller, client, clients, identities, tokens, as, serve, stop };
}

const roundTrip = (value: unknown) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/**
 * `caller.a.b(input)` seen as `client.a.b.query(input)` / `.mutate(input)`. Errors go through the app
 * router's own error formatter (getErrorShape), so `err.data.code`, `err.data.fieldErrors` and the
 * message are what an HTTP client receives.
 */
function clientShaped(caller: object): ApiClient {
  const walk = (path: string[]): unknown =>
    new Proxy(() => {}, {
      get: (_, key: string) => {
        if (key !== 'query' && key !== 'mutate') return walk([...path, key]);
        return async (input?: unknown) => {
          let fn: unknown = caller;
          for (const p of path) fn = (fn as Record<string, unknown>)[p];
          try {
            // JSON round trips both ways: what a client can send and what it receives (dates as strings).
            const output = await (fn as (i: unknown) => Promise<unknown>)(roundTrip(input));
            return roundTrip(output);
          } catch (cause) {
            const error = getTRPCErrorFromUnknown(cause);
            const shape = getErrorShape({ config: appRouter._def._config, error, type: key === 'query' ? 'query' : 'mutation', path: path.join('.'), input, ctx: undefined });
            throw TRPCClientError.from({ error: shape });
          }
        };
      },
    });
  return walk([]) as ApiClient;
}

// ---- "nothing was written": no row of any table in db/schema.ts inserted, updated or deleted ----------

const tables: PgTable[] = (Object.values(schema) as unknown[]).filter((v): v is PgTable => is(v, PgTable));

/** Where the database stood: the next transaction id, and the row count of every table. */
export interface Fingerprint {
  xid: number;
  rows: Record<string, number>;
}

/**
 * Row counts of every table, and how many rows carry a transaction id (xmin) at or after `sinceXid`:
 * an insert or an update writes a row version with the writing transaction's id, a delete changes the
 * count. One statement, no hashing of contents, so it stays cheap on a database that many runs filled.
 */
async function tableState(db: Db, sinceXid: number) {
  const perTable = tables.map(
    (table) => sql`select ${getTableName(table)} as name, count(*)::int as rows, (count(*) filter (where xmin::text::bigint >= ${sinceXid}))::int as written from ${table}`,
  );
  const rows = resultRows<{ name: string; rows: number; written: number }>(await db.execute(sql.join(perTable, sql` union all `)));
  assert.equal(rows.length, tables.length, 'every table counted');
  return new Map(rows.map((r) => [r.name, { rows: Number(r.rows), written: Number(r.written) }]));
}

export async function fingerprint(db: Db): Promise<Fingerprint> {
  // xmin is the 32-bit transaction id; pg_current_xact_id() the 64-bit one (epoch above).
  const [current] = resultRows<{ xid: string }>(await db.execute(sql`select (pg_current_xact_id()::text::bigint % 4294967296)::text as xid`));
  const xid = Number(current!.xid);
  const state = await tableState(db, xid);
  return { xid, rows: Object.fromEntries([...state].map(([name, t]) => [name, t.rows])) };
}

export async function assertNothingWritten(db: Db, before: Fingerprint, what: string) {
  const now = await tableState(db, before.xid);
  for (const [name, rows] of Object.entries(before.rows)) {
    assert.equal(now.get(name)!.rows, rows, `${what}: row count of ${name} changed`);
    assert.equal(now.get(name)!.written, 0, `${what}: rows of ${name} were inserted or updated`);
  }
}

/**
 * Version 1 of a model as a promotion leaves it, without a run: a real artifact (the built-in trainer
 * on `emails`), status production, and the production route to it. For router tests that serve or route.
 */
export async function plantProductionVersion(db: Db, modelId: number, emails: CorpusEmail[], extra: { runId?: string } = {}): Promise<number> {
  const artifact = serializeArtifact(await trainHashedLogReg(emails.map((e) => ({ input: e.input, label: e.label })), { dimsLog2: 14, epochs: 3 }));
  const [version] = await db
    .insert(modelVersions)
    .values({ modelId, version: 1, trainer: 'hashed-logreg@1', params: {}, artifact, artifactHash: artifactHash(artifact), status: 'production', ...extra })
    .returning({ id: modelVersions.id });
  await db.insert(routes).values({ modelId, kind: 'production', versionId: version!.id });
  return version!.id;
}
