// The HTTP face: tRPC at /trpc, the same procedures as REST under /api, and the OpenAPI document at /openapi.json.
import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createOpenApiHttpHandler, generateOpenApiDocument } from 'trpc-to-openapi';
import { consoleHandler } from './consoleAssets';
import { answerHealth, answerMetrics, apiChecks, createApiMetrics, HEALTH_PATHS, type Check } from './health';
import { appRouter } from './router';
import { BodyTooLargeError, MAX_JSON_BODY_BYTES, readBody, refuseTooLarge, sendError } from './httpBody';
import { bearerFrom, createContextInner, identityFromToken, type ApiDeps } from './trpc';
import { handleTrainerData, isTrainerDataPath, trainerDataOpenApiPaths } from './trainerData';
import { requestIdFrom, rootLogger, type Logger } from '../temporal-config/log';
import { handleStreamedUpload, isStreamedUpload, MAX_UPLOAD_BYTES, UPLOAD_MEDIA_TYPES, UPLOAD_PATH } from './uploadRoute';

export interface ApiServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

type OpenApiSchema = NonNullable<NonNullable<ReturnType<typeof generateOpenApiDocument>['components']>['schemas']>[string];

/** The error body every refusal carries, over REST as trpc-to-openapi shapes it and as this edge writes it. */
const ERROR_SCHEMA: OpenApiSchema = {
  type: 'object',
  description: 'What was refused and why. `data.fieldErrors` names the fields of a bad input; `issues` lists zod’s findings.',
  properties: {
    message: { type: 'string', description: 'What was wrong, where, and what to do' },
    code: { type: 'string', description: 'The tRPC error code, e.g. BAD_REQUEST, UNAUTHORIZED, NOT_FOUND' },
    data: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        httpStatus: { type: 'integer' },
        path: { type: 'string' },
        fieldErrors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
        formErrors: { type: 'array', items: { type: 'string' } },
      },
    },
    issues: { type: 'array', items: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } },
  },
  required: ['message', 'code'],
};

/** Every status the REST face answers with besides 200, declared on every operation. */
const ERROR_RESPONSES: Record<string, string> = {
  '400': 'Bad input: a body that is not JSON, an unknown or malformed field, a string that cannot be stored',
  '401': 'No valid bearer token',
  '403': 'The token’s role may not do this',
  '404': 'What the request names does not exist',
  '405': 'The method is not one the path takes (TRACE or CONNECT anywhere; a trainer data route asked with another method)',
  '409': 'Conflicts with the current state (a duplicate, a finished run)',
  '412': 'A precondition of the operation does not hold',
  '413': 'The request body is too large (every request body is at most 64 MiB; a streamed upload at most its declared limit)',
  '415': 'A request body that is not application/json (or, for a streamed upload, not text/csv or application/x-ndjson in UTF-8)',
  '429': 'Too many requests of this kind at once (an uploaded file waits for the one before it): retry shortly',
  '431': 'The request line or headers are too large (Node’s 16 KiB limit): shorten the query string, or send a body',
  '500': 'An internal error; the server log has the details',
  '502': 'A trainer answered outside the trainer contract (the message names the field)',
  '503': 'The database cannot be reached right now: retry shortly',
};

export function openApiDocument(baseUrl: string) {
  const doc = generateOpenApiDocument(appRouter, {
    title: 'Retraining control plane',
    description: 'Retraining runs, gates, models and reports. Authenticate with `Authorization: Bearer <token>`.',
    version: '0.1.0',
    baseUrl,
  });
  // trpc-to-openapi declares only some error statuses, with a body schema that forbids the `data` every
  // error carries; one schema and one set of error responses replace them, so the document describes
  // every answer the API gives.
  type Schemas = NonNullable<NonNullable<typeof doc.components>['schemas']>;
  const schemas: Schemas = { ...doc.components?.schemas };
  for (const name of Object.keys(schemas)) if (name.startsWith('error.')) delete schemas[name];
  schemas.Error = ERROR_SCHEMA;
  doc.components = { ...doc.components, schemas };
  // The trainer contract's data plane (api/trainerData) streams NDJSON and bytes, not tRPC procedures:
  // its operations are written out there and get the same error responses below.
  doc.paths = { ...doc.paths, ...(trainerDataOpenApiPaths() as NonNullable<typeof doc.paths>) };
  for (const operations of Object.values(doc.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations as Record<string, { responses?: Record<string, unknown> }>)) {
      if (!['get', 'put', 'post', 'delete', 'patch'].includes(method) || !operation?.responses) continue;
      const ok = Object.fromEntries(Object.entries(operation.responses).filter(([status]) => status.startsWith('2')));
      const errors = Object.fromEntries(
        Object.entries(ERROR_RESPONSES).map(([status, description]) => [
          status,
          // Node's HTTP parser answers 431 itself, before any route: no body.
          status === '431' ? { description } : { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        ]),
      );
      operation.responses = { ...ok, ...errors };
    }
  }
  // The streamed upload (api/uploadRoute) takes the file itself as the body; trpc-to-openapi knows only
  // the JSON body, so the raw media types are added here.
  const upload = (doc.paths?.[UPLOAD_PATH] as { post?: { requestBody?: { content?: Record<string, unknown> } } } | undefined)?.post;
  if (upload?.requestBody?.content) {
    for (const type of UPLOAD_MEDIA_TYPES) {
      upload.requestBody.content[type] = { schema: { type: 'string', description: `The predictions file itself, UTF-8, at most ${MAX_UPLOAD_BYTES.toLocaleString('en-US')} bytes; options in the query string` } };
    }
  }
  return doc;
}

// ---- the REST edge: what trpc-to-openapi would turn into a 500 is refused here, as a 400 --------------

/**
 * Query keys that are names on Object.prototype (`constructor`, `__proto__`, `toString`, …):
 * trpc-to-openapi collects query values in a plain object, and these keys make it fail.
 */
const PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

/** The methods the adapters take (REST operations use GET, POST, PUT and DELETE; tRPC GET and POST). */
const HTTP_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']);

class EdgeRefusal extends Error {
  constructor(
    readonly status: 400,
    message: string,
  ) {
    super(message);
  }
}

/** Why a body is not JSON, said so a client can fix it. */
function jsonProblem(text: string, err: unknown): string {
  const why = err instanceof Error ? err.message : String(err);
  const hint = /(^|[^"\w])-?(NaN|Infinity)\b/.test(text) ? ': JSON has no NaN or Infinity; send a finite number, or null' : '';
  return `the request body is not valid JSON (${why})${hint}`;
}

/**
 * Checks a REST request before trpc-to-openapi parses it: no query key that is a name on
 * Object.prototype, and a JSON body that parses. A body read here is handed on as `req.body`, which
 * the adapter takes instead of the stream; an empty body is no body (the input is then the path's
 * parameters, and validation says what is missing).
 */
async function checkRestRequest(req: http.IncomingMessage, url: URL): Promise<void> {
  for (const key of url.searchParams.keys()) {
    if (PROTOTYPE_NAMES.has(key)) throw new EdgeRefusal(400, `query parameter '${key}' is not a parameter of any operation: remove it`);
  }
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD' || method === 'DELETE') return;
  const text = new TextDecoder().decode(await readBody(req, MAX_JSON_BODY_BYTES));
  const carrier = req as http.IncomingMessage & { body?: string };
  if (text.trim() === '') {
    carrier.body = undefined;
    // No body needs no media type: `curl -X POST .../trigger` reaches the operation instead of a 415.
    req.headers['content-type'] ??= 'application/json';
    return;
  }
  carrier.body = text;
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return; // the adapter answers 415
  try {
    JSON.parse(text);
  } catch (err) {
    throw new EdgeRefusal(400, jsonProblem(text, err));
  }
}

// ---- the access log ----------------------------------------------------------------------------------

/** What the access log learns of a request while it is handled (createContext fills subject and procedure). */
interface RequestRecord {
  requestId: string;
  subject?: string;
  procedure?: string;
}

/** The request being handled, across the adapters' awaits (trpc-to-openapi hands createContext a fetch Request, not ours). */
const currentRequest = new AsyncLocalStorage<RequestRecord>();

/** The logger of the request being handled: the API's, bound to its requestId (and subject once known). */
function requestLogger(base: Logger): Logger {
  const rec = currentRequest.getStore();
  if (!rec) return base;
  return base.child(rec.subject !== undefined ? { requestId: rec.requestId, subject: rec.subject } : { requestId: rec.requestId });
}

export interface ApiServerOptions {
  port?: number;
  host?: string;
  /** Default: the root logger (temporal-config/log.ts), looked up per request. */
  logger?: Logger;
  /** More readiness checks for /readyz beside the database's and Temporal's: `retrain up`'s in-process workers (startServices). */
  checks?: Record<string, Check>;
}

/** A request's path without its query string (which may carry anything), at most 200 characters. */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return (q === -1 ? url : url.slice(0, q)).slice(0, 200);
}

function errorOf(err: unknown): { type: string; message: string } {
  return err instanceof Error ? { type: err.name, message: err.message.slice(0, 500) } : { type: typeof err, message: String(err).slice(0, 500) };
}

export async function startApiServer(deps: ApiDeps, opts: ApiServerOptions = {}): Promise<ApiServer> {
  const logger = () => (opts.logger ?? rootLogger()).child({ component: 'api' });
  // tRPC hands us the Node request; trpc-to-openapi a fetch Request. Both carry the same header.
  const createContext = async ({ req, info }: { req: http.IncomingMessage | Request; info?: { calls?: readonly { path: string }[]; signal?: AbortSignal } }) => {
    const header = req.headers instanceof Headers ? (req.headers.get('authorization') ?? undefined) : req.headers.authorization;
    const identity = await identityFromToken(deps.db, bearerFrom(header));
    // The access log's subject and procedure, from the lookup the request needs anyway.
    const rec = currentRequest.getStore();
    if (rec) {
      if (identity) rec.subject = identity.subject;
      if (info?.calls && info.calls.length > 0) rec.procedure = info.calls.map((c) => c.path).join(',');
    }
    // Procedures log under the access log's request id (ctx.log), to the same logger.
    return createContextInner(deps, identity, {
      ...(rec ? { requestId: rec.requestId } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(info?.signal ? { signal: info.signal } : {}),
    });
  };
  const onError = ({ error, path }: { error: Error & { code: string }; path?: string }) => {
    const rec = currentRequest.getStore();
    if (rec && path !== undefined) rec.procedure ??= path;
    if (error.code !== 'INTERNAL_SERVER_ERROR') return;
    // The innermost cause is the one that says why (a database error, say); the outer ones quote whole queries.
    let root: unknown = error;
    while (root instanceof Error && root.cause instanceof Error) root = root.cause;
    requestLogger(logger()).error({ procedure: path, err: { type: (root as Error).name, message: (root as Error).message.slice(0, 500) } }, 'procedure failed');
  };
  const trpcHandler = createHTTPHandler({ router: appRouter, createContext, basePath: '/trpc/', onError, maxBodySize: MAX_JSON_BODY_BYTES });
  const restHandler = createOpenApiHttpHandler({ router: appRouter, createContext, onError, maxBodySize: MAX_JSON_BODY_BYTES });
  const document: { value?: unknown } = {};
  const consoleSite = consoleHandler();
  const metrics = createApiMetrics(deps.db);

  const rest = async (req: http.IncomingMessage, res: http.ServerResponse, path: string) => {
    if (isTrainerDataPath(path)) return handleTrainerData(deps, req, res, path);
    const parsed = new URL(path, 'http://localhost');
    if (isStreamedUpload(req, parsed.pathname)) return handleStreamedUpload(deps, req, res, parsed.searchParams);
    try {
      await checkRestRequest(req, parsed);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return refuseTooLarge(req, res, err);
      if (!(err instanceof EdgeRefusal)) throw err;
      // Without a valid token a request learns nothing, not even that its input was malformed.
      if (!(await identityFromToken(deps.db, bearerFrom(req.headers.authorization)))) {
        return sendError(res, 401, 'UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)');
      }
      return sendError(res, err.status, 'BAD_REQUEST', err.message);
    }
    req.url = path;
    await restHandler(req, res);
  };

  const route = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '/';
    if (url.startsWith('/trpc/') || url.startsWith('/api/')) metrics.observe(req, res);
    // Both adapters build a fetch Request, which cannot carry TRACE (or CONNECT): refused here, not failed there.
    if ((url.startsWith('/trpc/') || url.startsWith('/api/')) && !HTTP_METHODS.has(req.method ?? '')) {
      res.setHeader('Allow', [...HTTP_METHODS].join(', '));
      return sendError(res, 405, 'METHOD_NOT_SUPPORTED', `method ${req.method} is not supported: use ${[...HTTP_METHODS].join(', ')}`);
    }
    if (url.startsWith('/trpc/')) return void trpcHandler(req, res);
    if (url === '/openapi.json') {
      res.setHeader('Content-Type', 'application/json');
      return void res.end(JSON.stringify(document.value));
    }
    if (url.startsWith('/api/')) {
      return void rest(req, res, url.slice('/api'.length)).catch((err: unknown) => {
        requestLogger(logger()).error({ method: req.method, path: pathOf(url), err: errorOf(err) }, 'request failed at the edge');
        if (!res.headersSent) sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'internal error: the server log has the details');
        else res.end();
      });
    }
    const pathname = new URL(url, 'http://localhost').pathname;
    // Liveness, readiness and Prometheus metrics (api/health.ts): no token.
    if (HEALTH_PATHS.has(pathname)) return void answerHealth(res, pathname, { ...apiChecks(deps), ...opts.checks });
    if (pathname === '/metrics') return void answerMetrics(res, metrics.registry);
    // Everything else is the console: its assets, and its pages (client-side routes share one page).
    return void consoleSite.handle(req, res, pathname).catch((err: unknown) => {
      requestLogger(logger()).error({ method: req.method, path: pathname.slice(0, 200), err: errorOf(err) }, 'console request failed');
      if (!res.headersSent) sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'internal error: the server log has the details');
      else res.end();
    });
  };

  // One access-log line per request, when its response is done (or the connection dropped): requestId
  // (a sane incoming X-Request-Id, else a new one; echoed back), method, path without the query string,
  // status, duration, and the subject and procedure when the request got that far.
  const server = http.createServer((req, res) => {
    const started = performance.now();
    const rec: RequestRecord = { requestId: requestIdFrom(req.headers['x-request-id']) };
    const url = req.url ?? '/'; // as it came: the REST route rewrites req.url
    res.setHeader('X-Request-Id', rec.requestId);
    res.once('close', () => {
      const line: Record<string, unknown> = {
        requestId: rec.requestId,
        method: req.method,
        path: pathOf(url),
        status: res.statusCode,
        duration_ms: Math.round((performance.now() - started) * 10) / 10,
      };
      if (rec.subject !== undefined) line.subject = rec.subject;
      if (rec.procedure !== undefined) line.procedure = rec.procedure;
      if (!res.writableFinished) line.aborted = true;
      logger().info(line, 'request');
    });
    currentRequest.run(rec, () => route(req, res));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // Listening on every address (a container's 0.0.0.0): this machine reaches it on loopback.
  const url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  document.value = openApiDocument(`${url}/api`);
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
