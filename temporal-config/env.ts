/**
 * The environment, parsed at the edge by zod: every variable the processes read goes through here, and a
 * bad one is refused with its name. Code elsewhere is handed the parsed values.
 *
 * The Temporal connection (readTemporalConfig): no TEMPORAL_ADDRESS means "embedded": the launcher starts
 * the Temporal CLI dev server (see devServer.ts). With an address, we talk to a self-hosted cluster or
 * Temporal Cloud, optionally over TLS / mTLS or with an API key. The rest (readSettings): database, data
 * folder, task queues, training threads, log level, where the Temporal binaries are, the demo's size.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TASK_QUEUES } from '../workflows/names';

export interface TemporalConnectionConfig {
  /** host:port of the frontend; undefined = start the embedded dev server. */
  address: string | undefined;
  namespace: string;
  tls: boolean;
  apiKey?: string;
  clientCertPath?: string;
  clientKeyPath?: string;
  serverNameOverride?: string;
}

/** Blank strings count as unset (a `FOO=` line in a .env file means "not set"). */
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const hostPort = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/;

const envSchema = z
  .object({
    TEMPORAL_ADDRESS: optionalString.refine((v) => v === undefined || hostPort.test(v), {
      message: 'must be host:port (for example localhost:7233 or my-ns.a1b2c.tmprl.cloud:7233)',
    }),
    TEMPORAL_NAMESPACE: optionalString.refine((v) => v === undefined || /^[A-Za-z0-9._-]+$/.test(v), {
      message: 'must be a namespace name (letters, digits, ".", "_" or "-")',
    }),
    TEMPORAL_TLS: optionalString.refine((v) => v === undefined || v === 'true' || v === 'false', {
      message: "must be 'true' or 'false'",
    }),
    TEMPORAL_API_KEY: optionalString,
    TEMPORAL_TLS_CERT: optionalString,
    TEMPORAL_TLS_KEY: optionalString,
    TEMPORAL_TLS_SERVER_NAME: optionalString,
  })
  .superRefine((e, ctx) => {
    if ((e.TEMPORAL_TLS_CERT === undefined) !== (e.TEMPORAL_TLS_KEY === undefined)) {
      const missing = e.TEMPORAL_TLS_CERT === undefined ? 'TEMPORAL_TLS_CERT' : 'TEMPORAL_TLS_KEY';
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: 'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (mTLS client certificate pair)',
      });
    }
    if (e.TEMPORAL_TLS === 'false' && (e.TEMPORAL_API_KEY !== undefined || e.TEMPORAL_TLS_CERT !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['TEMPORAL_TLS'],
        message: "is 'false' but TEMPORAL_API_KEY or TEMPORAL_TLS_CERT requires TLS; unset it or set it to 'true'",
      });
    }
    const remoteOnly = ['TEMPORAL_API_KEY', 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS', 'TEMPORAL_TLS_SERVER_NAME'] as const;
    if (e.TEMPORAL_ADDRESS === undefined) {
      for (const k of remoteOnly) {
        if (e[k] !== undefined && !(k === 'TEMPORAL_TLS' && e[k] === 'false')) {
          ctx.addIssue({
            code: 'custom',
            path: [k],
            message: 'is set but TEMPORAL_ADDRESS is not (the embedded dev server takes no TLS or API key); set TEMPORAL_ADDRESS',
          });
        }
      }
    }
  });

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const name = i.path.length > 0 ? i.path.map(String).join('.') : 'environment';
      return `${name}: ${i.message}`;
    })
    .join('; ');
}

function parseTemporalEnv(env: NodeJS.ProcessEnv): TemporalConnectionConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`Invalid Temporal configuration: ${formatIssues(parsed.error)}`);
  }
  const e = parsed.data;
  const tls =
    e.TEMPORAL_TLS === 'true' || e.TEMPORAL_API_KEY !== undefined || e.TEMPORAL_TLS_CERT !== undefined;
  const cfg: TemporalConnectionConfig = {
    address: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE ?? 'default',
    tls,
  };
  if (e.TEMPORAL_API_KEY !== undefined) cfg.apiKey = e.TEMPORAL_API_KEY;
  if (e.TEMPORAL_TLS_CERT !== undefined) cfg.clientCertPath = e.TEMPORAL_TLS_CERT;
  if (e.TEMPORAL_TLS_KEY !== undefined) cfg.clientKeyPath = e.TEMPORAL_TLS_KEY;
  if (e.TEMPORAL_TLS_SERVER_NAME !== undefined) cfg.serverNameOverride = e.TEMPORAL_TLS_SERVER_NAME;
  return Object.freeze(cfg);
}

let cachedFromProcessEnv: TemporalConnectionConfig | undefined;

/**
 * Reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (default 'default'), TEMPORAL_TLS ('true'|'false'),
 * TEMPORAL_API_KEY (implies TLS), TEMPORAL_TLS_CERT + TEMPORAL_TLS_KEY (mTLS, imply TLS) and
 * TEMPORAL_TLS_SERVER_NAME. Throws an Error naming the offending variable(s).
 * Without an argument, process.env is read once and the result is cached.
 */
export function readTemporalConfig(env?: NodeJS.ProcessEnv): TemporalConnectionConfig {
  if (env !== undefined) return parseTemporalEnv(env);
  cachedFromProcessEnv ??= parseTemporalEnv(process.env);
  return cachedFromProcessEnv;
}

/** TLS settings shared by @temporalio/client and @temporalio/worker (structurally identical there). */
export interface TemporalTlsOptions {
  serverNameOverride?: string;
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
}

export interface TemporalConnectionOptions {
  address: string;
  tls?: TemporalTlsOptions;
  apiKey?: string;
  metadata?: Record<string, string>;
}

function readPemFile(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${variable}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Options accepted by both `Connection.connect` (client) and `NativeConnection.connect` (worker).
 * `address` is passed separately so the embedded dev server's address can be plugged in.
 */
export function connectionOptions(cfg: TemporalConnectionConfig, address: string): TemporalConnectionOptions {
  const opts: TemporalConnectionOptions = { address };
  if (cfg.tls) {
    const tls: TemporalTlsOptions = {};
    if (cfg.serverNameOverride !== undefined) tls.serverNameOverride = cfg.serverNameOverride;
    if (cfg.clientCertPath !== undefined && cfg.clientKeyPath !== undefined) {
      tls.clientCertPair = {
        crt: readPemFile(cfg.clientCertPath, 'TEMPORAL_TLS_CERT'),
        key: readPemFile(cfg.clientKeyPath, 'TEMPORAL_TLS_KEY'),
      };
    }
    opts.tls = tls;
  }
  if (cfg.apiKey !== undefined) {
    opts.apiKey = cfg.apiKey;
    // Temporal Cloud routes API-key requests by this header.
    opts.metadata = { 'temporal-namespace': cfg.namespace };
  }
  return opts;
}

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/** The JSON log's levels (pino's), RETRAIN_LOG_LEVEL. */
export const APP_LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type AppLogLevel = (typeof APP_LOG_LEVELS)[number];

/** A TCP port: a whole number 0..65535 (0: a free port, picked at start). */
export const isPortText = (v: string): boolean => /^[0-9]{1,5}$/.test(v) && Number(v) <= 65535;
const portVar = (what: string) =>
  optionalString.refine((v) => v === undefined || isPortText(v), {
    message: `must be the TCP port of ${what}, a whole number from 1 to 65535 (0: a free port, different on every start)`,
  });

/** Characters of secret after 'rt_' a configured admin token needs at least (db/tokens issues 32: 24 random bytes). */
export const ADMIN_TOKEN_MIN_SECRET = 32;
/** The format of API tokens (db/tokens issueToken: 'rt_' + base64url), with at least ADMIN_TOKEN_MIN_SECRET characters of secret. */
export const ADMIN_TOKEN_FORMAT = new RegExp(`^rt_[A-Za-z0-9_-]{${ADMIN_TOKEN_MIN_SECRET},256}$`);

/** The defaults of `retrain up`: the API's, and the temporal CLI's own for its dev server (gRPC, UI). */
export const DEFAULT_PORTS = { api: 4300, temporal: 7233, temporalUi: 8233 } as const;
const workerHealthAddress = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):)?([1-9][0-9]{0,4})$/;

const settingsSchema = z.object({
  DATABASE_URL: optionalString.refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), {
    message: 'must be a postgres:// or postgresql:// URL (unset it for the embedded PGlite)',
  }),
  RETRAIN_CONTROL_QUEUE: optionalString,
  RETRAIN_TRAINING_QUEUE: optionalString,
  RETRAIN_API_URL: optionalString.refine((v) => v === undefined || /^https?:\/\/[^/]+/.test(v), {
    message: "must be the control plane's http(s):// base URL, as trainers reach it (unset it when this process serves the API)",
  }),
  RETRAIN_TRAINER_TOKEN: optionalString,
  RETRAIN_API_HOST: optionalString.refine((v) => v === undefined || /^[A-Za-z0-9_.:-]+$/.test(v), {
    message: 'must be an address to listen on (for example 0.0.0.0 in a container; unset for 127.0.0.1)',
  }),
  RETRAIN_TEMPORAL_UI_URL: optionalString.refine((v) => v === undefined || /^https?:\/\/[^/]+/.test(v), {
    message: "must be the Temporal UI's http(s):// base URL, as a person's browser reaches it (the console links runs there)",
  }),
  RETRAIN_PYTHON_TRAINER_QUEUE: optionalString.refine((v) => v === undefined || /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(v), {
    message: "must be a task queue name (letters, digits, _ . -), or 'off' to start no Python trainer",
  }),
  RETRAIN_TRAINING_THREADS: optionalString.refine((v) => v === undefined || /^[1-9][0-9]*$/.test(v), {
    message: 'must be a whole number of threads, 1 or more (unset it for one per core)',
  }),
  RETRAIN_WORKER_HEALTH_PORT: optionalString.refine((v) => v === undefined || workerHealthAddress.test(v), {
    message: "must be a port (1-65535, on 127.0.0.1) or host:port (e.g. 0.0.0.0:4301 for a probe from outside the container)",
  }),
  TEMPORAL_LOG_LEVEL: optionalString
    .transform((v) => v?.toUpperCase())
    .refine((v) => v === undefined || (LOG_LEVELS as readonly string[]).includes(v), { message: `must be one of ${LOG_LEVELS.join(', ')}` }),
  RETRAIN_LOG_LEVEL: optionalString
    .transform((v) => v?.toLowerCase())
    .refine((v) => v === undefined || (APP_LOG_LEVELS as readonly string[]).includes(v), { message: `must be one of ${APP_LOG_LEVELS.join(', ')}` }),
  RETRAIN_WORKER_METRICS_ADDRESS: optionalString.refine((v) => v === undefined || hostPort.test(v), {
    message: "must be host:port where the workers' Prometheus metrics are served (for example 0.0.0.0:9464)",
  }),
  TEMPORAL_CLI_PATH: optionalString,
  TEMPORAL_TEST_SERVER_PATH: optionalString,
  NODE_ENV: optionalString,
  RETRAIN_API_PORT: portVar('the API'),
  RETRAIN_TEMPORAL_PORT: portVar("the embedded Temporal dev server's gRPC frontend"),
  RETRAIN_TEMPORAL_UI_PORT: portVar("the embedded Temporal dev server's web UI"),
  RETRAIN_ADMIN_TOKEN: optionalString.refine((v) => v === undefined || ADMIN_TOKEN_FORMAT.test(v), {
    message: `must be a token in the format API tokens have: 'rt_' then at least ${ADMIN_TOKEN_MIN_SECRET} base64url characters (A-Z a-z 0-9 - _); make one with: node -e "console.log('rt_' + require('crypto').randomBytes(24).toString('base64url'))"`,
  }),
  DEMO_QUICK: optionalString.refine((v) => v === undefined || v === '0' || v === '1', { message: "must be '1' (a third of the corpus) or '0'" }),
});

export interface Settings {
  /** PostgreSQL; undefined: the embedded PGlite under <dataDir>/pg. */
  databaseUrl: string | undefined;
  dataDir: string;
  taskQueues: { control: string; training: string };
  /** Training threads per process, and so training activities one worker takes at once. */
  trainingThreads: number;
  temporalLogLevel: LogLevel;
  /** The JSON log's level (RETRAIN_LOG_LEVEL); unset: the logger's default (log.ts: info). */
  logLevel: AppLogLevel | undefined;
  /** host:port the Temporal SDK's Prometheus exporter serves the workers' metrics on; unset: none. */
  workerMetricsAddress: string | undefined;
  /** The `temporal` binary to try first (devServer.ts findTemporalBinary). */
  temporalCliPath: string | undefined;
  /** The time-skipping test server (testServer.ts). */
  temporalTestServerPath: string | undefined;
  /** NODE_ENV=development: API errors carry their stack. */
  development: boolean;
  /** DEMO_QUICK=1: the demo on a third of the corpus. */
  demoQuick: boolean;
  /** The control plane's base URL as trainers reach it; unset: the API this process serves. */
  apiUrl: string | undefined;
  /** The built-in trainer's bearer token (role trainer) on the data plane; unset: one is issued at start. */
  trainerToken: string | undefined;
  /** The address the API listens on; unset: 127.0.0.1 (a container sets 0.0.0.0). */
  apiHost: string | undefined;
  /** The queue `retrain up` starts the reference Python trainer on; null: none ('off'). */
  pythonTrainerQueue: string | null;
  /** Temporal's web UI, for the console's links to a run's workflow; unset: the embedded dev server's, else none. */
  temporalUiUrl: string | undefined;
  /** RETRAIN_API_PORT: the port `retrain up` and `retrain api` serve on unless --port says otherwise. */
  apiPort: number;
  /** RETRAIN_TEMPORAL_PORT / RETRAIN_TEMPORAL_UI_PORT: the embedded dev server's ports for `retrain up` (fixed; 0 picks a free one). */
  temporalPort: number;
  temporalUiPort: number;
  /** RETRAIN_ADMIN_TOKEN: an admin token (subject 'admin') that exists whenever the API starts; never printed. */
  adminToken: string | undefined;
  /** `retrain worker`'s health port (/healthz, /readyz, /metrics); unset: none. */
  workerHealth: { host: string; port: number } | undefined;
}

/**
 * DATABASE_URL, RETRAIN_DATA_DIR, RETRAIN_CONTROL_QUEUE, RETRAIN_TRAINING_QUEUE, RETRAIN_TRAINING_THREADS,
 * RETRAIN_API_URL, RETRAIN_API_HOST, RETRAIN_TRAINER_TOKEN, RETRAIN_PYTHON_TRAINER_QUEUE, RETRAIN_TEMPORAL_UI_URL,
 * RETRAIN_API_PORT, RETRAIN_TEMPORAL_PORT, RETRAIN_TEMPORAL_UI_PORT, RETRAIN_ADMIN_TOKEN, RETRAIN_LOG_LEVEL,
 * RETRAIN_WORKER_METRICS_ADDRESS, RETRAIN_WORKER_HEALTH_PORT, TEMPORAL_LOG_LEVEL, TEMPORAL_CLI_PATH, TEMPORAL_TEST_SERVER_PATH, NODE_ENV and DEMO_QUICK. Throws an
 * Error naming the offending variable(s). Read afresh on each call (a dozen variables): tests and benches
 * set some of them while the process runs.
 */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) throw new Error(`Invalid configuration: ${formatIssues(parsed.error)}`);
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: dataDir(env),
    taskQueues: { control: e.RETRAIN_CONTROL_QUEUE ?? TASK_QUEUES.control, training: e.RETRAIN_TRAINING_QUEUE ?? TASK_QUEUES.training },
    trainingThreads: e.RETRAIN_TRAINING_THREADS !== undefined ? Number(e.RETRAIN_TRAINING_THREADS) : Math.max(1, os.availableParallelism()),
    temporalLogLevel: (e.TEMPORAL_LOG_LEVEL ?? 'WARN') as LogLevel,
    logLevel: e.RETRAIN_LOG_LEVEL as AppLogLevel | undefined,
    workerMetricsAddress: e.RETRAIN_WORKER_METRICS_ADDRESS,
    temporalCliPath: e.TEMPORAL_CLI_PATH,
    temporalTestServerPath: e.TEMPORAL_TEST_SERVER_PATH,
    development: e.NODE_ENV === 'development',
    demoQuick: e.DEMO_QUICK === '1',
    apiUrl: e.RETRAIN_API_URL?.replace(/\/$/, ''),
    trainerToken: e.RETRAIN_TRAINER_TOKEN,
    apiHost: e.RETRAIN_API_HOST,
    pythonTrainerQueue: e.RETRAIN_PYTHON_TRAINER_QUEUE === 'off' ? null : (e.RETRAIN_PYTHON_TRAINER_QUEUE ?? 'sklearn'),
    temporalUiUrl: e.RETRAIN_TEMPORAL_UI_URL?.replace(/\/$/, ''),
    apiPort: e.RETRAIN_API_PORT !== undefined ? Number(e.RETRAIN_API_PORT) : DEFAULT_PORTS.api,
    temporalPort: e.RETRAIN_TEMPORAL_PORT !== undefined ? Number(e.RETRAIN_TEMPORAL_PORT) : DEFAULT_PORTS.temporal,
    temporalUiPort: e.RETRAIN_TEMPORAL_UI_PORT !== undefined ? Number(e.RETRAIN_TEMPORAL_UI_PORT) : DEFAULT_PORTS.temporalUi,
    adminToken: e.RETRAIN_ADMIN_TOKEN,
    workerHealth: parseWorkerHealth(e.RETRAIN_WORKER_HEALTH_PORT),
  };
}

function parseWorkerHealth(v: string | undefined): Settings['workerHealth'] {
  const m = v === undefined ? null : workerHealthAddress.exec(v);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) throw new Error('Invalid configuration: RETRAIN_WORKER_HEALTH_PORT: the port must be 1-65535');
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

/** Where the database is, for openDb: DATABASE_URL, else PGlite under <dataDir>/pg. */
export function databaseLocation(settings: Settings = readSettings()): { url: string } | { pgliteDir: string } {
  return settings.databaseUrl !== undefined ? { url: settings.databaseUrl } : { pgliteDir: path.join(settings.dataDir, 'pg') };
}

/** Repository root: the folder above temporal-config/. */
export const repoRoot: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where local state lives: RETRAIN_DATA_DIR (resolved against the cwd) or <repo>/.data. */
export const dataDir = (env: NodeJS.ProcessEnv = process.env): string => {
  const fromEnv = env.RETRAIN_DATA_DIR?.trim();
  return fromEnv ? path.resolve(fromEnv) : path.join(repoRoot, '.data');
};
