/**
 * The one root logger: JSON lines (pino) on stderr, at RETRAIN_LOG_LEVEL (default info). Code takes a
 * child with its bindings (requestId, subject, runId, workflowId) and logs objects, not interpolated
 * strings. Authorization headers and `token` fields are censored wherever they appear in a log object;
 * nothing logs a request body.
 *
 * The Temporal SDK's runtime logger (workers, activities, workflows, Core's native log) is forwarded here
 * too (sdkLogger), so a worker process writes one log in one format.
 */
import { randomUUID } from 'node:crypto';
import type { Logger as SdkLogger, LogLevel as SdkLogLevel, LogMetadata } from '@temporalio/common';
import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import { readSettings, type AppLogLevel } from './env';

export type { Logger } from 'pino';

/** Where a secret may sit in a log object: censored, at the top level and one or two levels down. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  '*.*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
];

export interface LoggerOptions {
  /** Default: RETRAIN_LOG_LEVEL, else `fallbackLevel`, else info. */
  level?: AppLogLevel;
  /** The level when RETRAIN_LOG_LEVEL is unset (the demo and the tests: warn, so their output is not buried in access-log lines). */
  fallbackLevel?: AppLogLevel;
  /** Default: stderr (synchronously, so a crash loses no line). Tests pass a stream to read the lines. */
  destination?: DestinationStream;
}

/** RETRAIN_LOG_LEVEL, else `fallback`, else info. */
function defaultLevel(fallback: AppLogLevel | undefined): AppLogLevel {
  return readSettings().logLevel ?? fallback ?? 'info';
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? defaultLevel(opts.fallbackLevel),
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Levels by name ("level":"info"), readable without pino's number table.
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

let root: Logger | undefined;

/** The process's root logger, made on first use. */
export function rootLogger(): Logger {
  root ??= createLogger();
  return root;
}

/** Replaces the root logger (tests: one writing to a stream they read). Returns the one it replaced. */
export function setRootLogger(logger: Logger): Logger | undefined {
  const before = root;
  root = logger;
  return before;
}

// ---- request ids ------------------------------------------------------------------------------------

/** An incoming X-Request-Id is kept when it is a short token: letters, digits and `-_.:`, at most 64. */
const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** The request's id: a sane incoming X-Request-Id, else a fresh one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && SANE_REQUEST_ID.test(value) ? value : randomUUID();
}

// ---- the Temporal SDK's logger ---------------------------------------------------------------------

const SDK_LEVELS: Record<SdkLogLevel, Level> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };
const SDK_SEVERITY: SdkLogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/**
 * The SDK warns on every start of a worker given no workflows ("No workflows registered, not polling for
 * workflow tasks"), and no WorkerOptions field turns the warning off (@temporalio/worker 1.24: worker.js
 * warns whenever workflowCreator is undefined). The training queue's worker has activities only on
 * purpose, so the line says nothing wrong: it is logged at debug.
 */
function expectedNotice(message: string, meta: LogMetadata | undefined): boolean {
  return message.startsWith('No workflows registered') && meta?.sdkComponent === 'worker';
}

/**
 * A Logger for Runtime.install that writes the SDK's entries (and the workflow and activity context
 * loggers', which carry workflowId, runId, activityType…) into the root logger, as JSON lines with
 * component "temporal". `level` is TEMPORAL_LOG_LEVEL's floor (the SDK logs every state change at INFO).
 * `logger` is looked up on each entry, so a root logger set later (tests) receives them.
 */
export function sdkLogger(level: SdkLogLevel, logger: () => Logger = rootLogger): SdkLogger {
  const floor = SDK_SEVERITY.indexOf(level);
  const log = (lvl: SdkLogLevel, message: string, meta?: LogMetadata) => {
    let to = SDK_LEVELS[lvl];
    if (lvl === 'WARN' && expectedNotice(message, meta)) to = 'debug';
    else if (SDK_SEVERITY.indexOf(lvl) < floor) return;
    const target = logger();
    if (!target.isLevelEnabled(to)) return;
    // The SDK stamps each entry with its own time (a bigint of nanoseconds, under a symbol): left out.
    const rest: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(meta ?? {})) {
      if (typeof v === 'bigint' || k === 'taskToken') continue; // a task token completes an activity: not for the log
      // Activity entries name the run workflowRunId; workflow entries runId: one name, as every other log line uses.
      rest[k === 'workflowRunId' ? 'runId' : k] = v;
    }
    target[to]({ component: 'temporal', ...rest }, message);
  };
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}
