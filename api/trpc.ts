// The one place tRPC is initialised: context, error shape, and the role-guarded procedures.
import { initTRPC, TRPCError } from '@trpc/server';
import type { Client } from '@temporalio/client';
import type { OpenApiMeta } from 'trpc-to-openapi';
import superjson from 'superjson';
import { z } from 'zod';
import type { Db } from '../db/index';
import { writeAudit } from '../db/auditLog';
import type { Role } from '../db/schema';
import { activeTokenBySecret } from '../db/tokens';
import { readSettings } from '../temporal-config/env';
import { rootLogger, type Logger } from '../temporal-config/log';
import { roleAllows } from '../workflows/messages';
import { TemporalFailure } from './workflowUpdates';

export interface Identity {
  subject: string;
  role: Role;
  tokenId: number;
}

/** What models.predict needs from a model adapter (trainers/scorer implements it; injected, so api/ never imports trainers/). */
export interface Scorer {
  score(artifactHash: string, load: () => Promise<Uint8Array | null>, inputs: Record<string, string>[]): Promise<Float64Array>;
}

export interface ApiDeps {
  db: Db;
  temporal: Client;
  /** Temporal namespace the runs live in, for links. */
  namespace: string;
  /** Temporal's web UI base URL, for the console's links to a run's workflow; absent: no links. */
  temporalUiUrl?: string | null;
  /** Task queues runs are started on: workflows and control activities, and training. */
  taskQueues: { control: string; training: string };
  /** Default time a gate waits for a human, in seconds. */
  defaultApprovalTimeoutSeconds: number;
  /** Scores requests for models.predict (trainers/scorer); absent, predict is refused. */
  scorer?: Scorer;
}

/** Resolves a bearer token to its identity; revoked and unknown tokens resolve to null. */
export async function identityFromToken(db: Db, token: string | null | undefined): Promise<Identity | null> {
  if (!token) return null;
  const row = await activeTokenBySecret(db, token).catch((err: unknown) => {
    throw databaseUnreachable(err) ? unavailableError(err) : err;
  });
  return row ? { subject: row.subject, role: row.role, tokenId: row.id } : null;
}

export function bearerFrom(header: string | string[] | undefined): string | null {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value?.match(/^Bearer\s+(\S+)$/i);
  return match?.[1] ?? null;
}

/** What the HTTP adapter knows of the request beyond its token: its id (the access log's) and the logger to log under. */
export interface RequestScope {
  requestId?: string;
  /**
   * Aborts when the client goes away (both HTTP adapters give one; REST calls the router through
   * createCaller, which passes no signal to the procedure, so it travels in the context).
   */
  signal?: AbortSignal;
  /** Default: the root logger (temporal-config/log.ts) as it is when the context is built. */
  logger?: Logger;
}

/**
 * Inner context: what tests build directly (no HTTP) and the HTTP adapter builds per request. `log` is the
 * request's logger: a child bound to the request id (the one the access log and X-Request-Id carry) and the
 * caller's subject; each procedure adds its own name (see `logged`).
 */
export function createContextInner(deps: ApiDeps, identity: Identity | null, request: RequestScope = {}) {
  const log = (request.logger ?? rootLogger()).child({
    component: 'api',
    ...(request.requestId !== undefined ? { requestId: request.requestId } : {}),
    ...(identity ? { subject: identity.subject } : {}),
  });
  return { ...deps, identity, log, ...(request.signal ? { requestSignal: request.signal } : {}) };
}
export type Context = ReturnType<typeof createContextInner>;

/**
 * superjson, with inputs deserialized in place: an input is parsed from its own request body and belongs to
 * nothing else, so the deep copy superjson makes by default (a walk over every event of a 10,000-event batch) is skipped.
 */
const transformer = {
  serialize: (value: unknown) => superjson.serialize(value),
  deserialize: (payload: Parameters<typeof superjson.deserialize>[0]) => superjson.deserialize(payload, { inPlace: true }),
};

const t = initTRPC
  .context<Context>()
  .meta<OpenApiMeta>()
  .create({
    // Dates (createdAt, deadlines) reach tRPC clients as Dates, as the output types say; REST answers plain JSON.
    transformer,
    errorFormatter({ shape, error }) {
      const cause = error.cause;
      // Unexpected failures (a database error quoting its parameters, say) stay in the server log;
      // Temporal's refusals and failures say what Temporal said.
      const internal = error.code === 'INTERNAL_SERVER_ERROR' && !(cause instanceof TemporalFailure);
      return {
        ...shape,
        message: internal
          ? 'internal error: the server log has the details'
          : cause instanceof z.ZodError
            ? `invalid input: ${z.prettifyError(cause).replace(/\n\s*/g, '; ')}`
            : shape.message,
        data: {
          ...shape.data,
          // Field-level messages for bad input, so a client can say which field was wrong.
          fieldErrors: error.code === 'BAD_REQUEST' && cause instanceof z.ZodError ? z.flattenError(cause).fieldErrors : undefined,
          // Errors not tied to one field, such as an unknown key in a strict object.
          formErrors: error.code === 'BAD_REQUEST' && cause instanceof z.ZodError ? z.flattenError(cause).formErrors : undefined,
          stack: readSettings().development ? shape.data.stack : undefined,
        },
      };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

// ---- strings PostgreSQL cannot store -------------------------------------------------------------------

/** A NUL, or half of a UTF-16 surrogate pair without its other half: neither can be stored in text or jsonb. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

interface PathNode {
  key: string | number;
  parent: PathNode | null;
}
const pathOf = (node: PathNode | null, last?: string | number): (string | number)[] => {
  const path = last === undefined ? [] : [last];
  for (let n = node; n; n = n.parent) path.push(n.key);
  return path.reverse();
};
const isPlainObject = (v: object) => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

function describeUnstorable(s: string): string {
  const at = s.search(UNSTORABLE);
  const ch = s.charCodeAt(at);
  return ch === 0
    ? `contains a NUL character (U+0000) at index ${at}`
    : `contains a lone UTF-16 surrogate (U+${ch.toString(16).toUpperCase()}) at index ${at}, half of a character`;
}

/**
 * The first string (or object key) in an input that PostgreSQL cannot store, with its path; null when
 * there is none. One walk over the input, one regular-expression test per string, no recursion (a
 * deeply nested body cannot overflow the stack).
 */
export function findUnstorableString(input: unknown): { path: (string | number)[]; message: string } | null {
  if (typeof input === 'string') return UNSTORABLE.test(input) ? { path: [], message: `the input ${describeUnstorable(input)}` } : null;
  if (typeof input !== 'object' || input === null) return null;
  const stack: { value: object; node: PathNode | null }[] = [{ value: input, node: null }];
  while (stack.length > 0) {
    const { value, node } = stack.pop()!;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        if (typeof v === 'string') {
          if (UNSTORABLE.test(v)) return { path: pathOf(node, i), message: describeUnstorable(v) };
        } else if (typeof v === 'object' && v !== null) stack.push({ value: v, node: { key: i, parent: node } });
      }
    } else if (isPlainObject(value)) {
      for (const key of Object.keys(value)) {
        if (UNSTORABLE.test(key)) return { path: pathOf(node, key), message: `is a key that ${describeUnstorable(key)}` };
        const v: unknown = (value as Record<string, unknown>)[key];
        if (typeof v === 'string') {
          if (UNSTORABLE.test(v)) return { path: pathOf(node, key), message: describeUnstorable(v) };
        } else if (typeof v === 'object' && v !== null) stack.push({ value: v, node: { key, parent: node } });
      }
    }
  }
  return null;
}

/**
 * Refuses, before validation, any input with a string PostgreSQL cannot store (a NUL, a lone surrogate),
 * wherever it sits: a field, an array element, a record's value or key. Every procedure runs it, so such
 * a string never reaches a query. The refusal is a ZodError's, so it is shaped like any bad field.
 */
const storableStrings = t.middleware(async ({ getRawInput, next }) => {
  const found = findUnstorableString(await getRawInput());
  if (found) {
    const message = `${found.message}, which cannot be stored: remove it or escape it`;
    // Raised by a schema, not constructed: `new z.ZodError` is no Error, and tRPC would drop it as the cause.
    const cause = z
      .unknown()
      .superRefine((_, ctx) => ctx.addIssue({ code: 'custom', path: found.path, message }))
      .safeParse(null).error;
    throw new TRPCError({ code: 'BAD_REQUEST', message, cause });
  }
  return next();
});

/**
 * Errors that mean the database cannot be reached right now (refused, reset, shutting down, starting
 * up, connection lost): node's socket codes, postgres.js's own, and SQLSTATE classes 08 and 57P.
 */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);

/** Whether an error (or any cause under it) says the database is unreachable. */
export function databaseUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || /^(08\d\d\d|57P0[123])$/.test(code))) return true;
  }
  return false;
}

const UNAVAILABLE_MESSAGE = 'the database cannot be reached right now; nothing was done that you were told of: retry shortly';

/** A 503 for a database that cannot be reached, so a client can tell "retry later" from a defect. */
export function unavailableError(cause: unknown): TRPCError {
  return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: UNAVAILABLE_MESSAGE, cause });
}

/** Outermost on every procedure: an unreachable database is a 503, not an internal error. */
const databaseReachable = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.code === 'INTERNAL_SERVER_ERROR' && databaseUnreachable(result.error)) throw unavailableError(result.error);
  return result;
});

/** Every procedure's ctx.log names it: `procedure` beside the request's requestId and subject. */
const logged = t.middleware(({ ctx, path, next }) => next({ ctx: { log: ctx.log.child({ procedure: path }) } }));

/** Procedures anyone may call; their input is checked for unstorable strings like every other's. */
export const publicProcedure = t.procedure.use(logged).use(databaseReachable).use(storableStrings);

// The role table is shared with the workflows' update validators; roleProcedure(required: Role) passing
// a Role to it is what keeps it naming every role in db/schema's ROLES.
export { roleAllows };

const authed = t.middleware(({ ctx, next }) => {
  if (!ctx.identity) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'a valid bearer token is required (Authorization: Bearer <token>)' });
  }
  return next({ ctx: { ...ctx, identity: ctx.identity } });
});

/** Every successful mutation is recorded in audit_log with its caller and input. */
const audited = t.middleware(async ({ ctx, type, path, getRawInput, next }) => {
  const result = await next();
  if (type === 'mutation' && result.ok && ctx.identity) {
    const input = (await getRawInput()) as Record<string, unknown> | undefined;
    const target = typeof input === 'object' && input ? String(input.runId ?? input.name ?? input.model ?? input.subject ?? input.id ?? path) : path;
    await writeAudit(ctx.db, {
      actor: ctx.identity.subject,
      action: path,
      target,
      details: { role: ctx.identity.role, input: redact(input) },
    });
  }
  return result;
});

const BULK_KEYS = new Set(['requests', 'events', 'examples']);

function redact(input: unknown): unknown {
  if (!input || typeof input !== 'object') return input ?? null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    // Bulk payloads are summarised (the rows are in their own tables, and e-mail bodies have no place
    // in an append-only log); other long arrays too.
    out[k] = Array.isArray(v) && (BULK_KEYS.has(k) || v.length > 20) ? `[${v.length} items]` : v;
  }
  return out;
}

// Order: who is calling (401), may they (403), then the input (400): a caller without the right learns
// nothing about what the input should be.
export const authedProcedure = t.procedure.use(logged).use(databaseReachable).use(authed).use(storableStrings).use(audited);

export function roleProcedure(required: Role) {
  return t.procedure
    .use(logged)
    .use(databaseReachable)
    .use(authed)
    .use(({ ctx, next }) => {
      if (!roleAllows(ctx.identity.role, required)) {
        throw new TRPCError({
          code: 'FORBIDDEN',
          message: `${ctx.identity.subject} has role '${ctx.identity.role}'; this needs '${required}'`,
        });
      }
      return next();
    })
    .use(storableStrings)
    .use(audited);
}
