// What every API command of the `retrain` CLI shares: the client options, output (--json on stdout,
// notes on stderr), reading record files (CSV, JSONL) and the exit codes scripts branch on.
import { Option, type Command } from 'commander';
import { TRPCClientError, createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../api/router';
import { csvRecords } from '../api/predictionsFile';

/** The exit codes (README, CLI): one meaning each, so a script can branch on them. */
export const EXIT = {
  ok: 0,
  other: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  conflict: 5,
  gateFailed: 6,
  unreachable: 7,
  awaitingApproval: 8,
} as const;

/** An error that already knows its exit code (bad flags, a missing token, a bad file). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The network failed before any answer: names the URL it tried. */
export class UnreachableError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? `${cause.message}${cause.cause instanceof Error ? ` (${cause.cause.message})` : ''}` : String(cause);
    super(`fetch failed: could not reach ${url}: ${why}`);
    this.name = 'UnreachableError';
  }
}

const TRPC_CODE_EXIT: Record<string, number> = {
  UNAUTHORIZED: EXIT.auth,
  FORBIDDEN: EXIT.auth,
  NOT_FOUND: EXIT.notFound,
  CONFLICT: EXIT.conflict,
  PRECONDITION_FAILED: EXIT.conflict,
  BAD_REQUEST: EXIT.other,
};

/** The exit code of an error thrown by a command. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof UnreachableError) return EXIT.unreachable;
  if (err instanceof TRPCClientError) {
    if (err.cause instanceof UnreachableError) return EXIT.unreachable;
    const data = err.data as { code?: string; httpStatus?: number } | undefined;
    if (data?.httpStatus === 503 || data?.httpStatus === 502 || data?.httpStatus === 504) return EXIT.unreachable;
    if (data?.code && data.code in TRPC_CODE_EXIT) return TRPC_CODE_EXIT[data.code]!;
    // A proxy's answer that is not tRPC's JSON: judged by its status.
    const status = (err.meta as { response?: { status?: number } } | undefined)?.response?.status;
    if (status === 503 || status === 502 || status === 504) return EXIT.unreachable;
    if (status === 401 || status === 403) return EXIT.auth;
    if (status === 404) return EXIT.notFound;
    return EXIT.other;
  }
  return EXIT.other;
}

/** The message printed for an error (stderr), with the server's field errors under it. */
export function errorText(err: unknown): string {
  if (err instanceof TRPCClientError) {
    const data = err.data as { code?: string; fieldErrors?: Record<string, string[]> } | undefined;
    const lines = [`error${data?.code ? ` ${data.code}` : ''}: ${err.cause instanceof UnreachableError ? err.cause.message : err.message}`];
    if (data?.fieldErrors) for (const [field, msgs] of Object.entries(data.fieldErrors)) lines.push(`  ${field}: ${msgs.join('; ')}`);
    return lines.join('\n');
  }
  return `error: ${err instanceof Error ? err.message : String(err)}`;
}

export const note = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

/** A share as a person reads it in the terminal: 12.3%, or n/a. */
export const pct = (x: number | null | undefined): string => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);

/** Machine output: JSON on stdout, nothing else there. */
export const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

/** `--json`: the JSON document; otherwise the human text (JSON where no table exists). */
export function output(o: { json?: boolean }, value: unknown, human?: () => string): void {
  if (o.json || !human) printJson(value);
  else process.stdout.write(`${human()}\n`);
}

export interface ClientOpts {
  url?: string;
  token?: string;
  json?: boolean;
}

/** `--url`, `--token` (from RETRAIN_API_URL, RETRAIN_TOKEN) and `--json`. */
export const withClient = (cmd: Command): Command =>
  cmd
    .addOption(new Option('--url <url>', 'API base URL').env('RETRAIN_API_URL'))
    .addOption(new Option('--token <token>', 'bearer token').env('RETRAIN_TOKEN'))
    .option('--json', 'machine output: one JSON document on stdout');

/** A client whose network failures name the URL they tried. */
export function apiClient(url: string, token: string) {
  const fetchNamingUrl: typeof fetch = async (input, init) => {
    try {
      return await fetch(input, init);
    } catch (err) {
      const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      throw new UnreachableError(href.split('?')[0]!, err);
    }
  };
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url}/trpc`, transformer: superjson, fetch: fetchNamingUrl, headers: () => ({ authorization: `Bearer ${token}` }) })],
  });
}
export type Api = ReturnType<typeof apiClient>;

export function api(o: ClientOpts): Api {
  const url = (o.url ?? 'http://127.0.0.1:4300').replace(/\/+$/, '');
  if (!o.token) throw new CliError('no API token: pass --token or set RETRAIN_TOKEN (create one with `retrain tokens create`)', EXIT.auth);
  return apiClient(url, o.token);
}

/** A JSON flag value, or a usage error naming the flag. */
export function parseJsonFlag(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${flag} is not valid JSON: ${(err as Error).message}`, EXIT.usage);
  }
}

export function positiveIntFlag(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a positive integer, got '${v}'`, EXIT.usage);
  return n;
}

/** One record of a file with the line it starts on (1-based). */
export interface FileRecord {
  line: number;
  record: Record<string, unknown>;
}

/** Records of a JSONL file (one object a line; blank lines skipped) or a CSV file with a header (every value a string). */
export function readRecords(text: string, fileName: string): FileRecord[] {
  const jsonl = /\.(jsonl|ndjson|json)$/i.test(fileName) || (!/\.csv$/i.test(fileName) && text.trimStart().startsWith('{'));
  if (!jsonl) return csvRecords(text).records.map(({ record, line }) => ({ line, record }));
  const out: FileRecord[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new CliError(`${fileName}:${i + 1}: not valid JSON: ${(err as Error).message}`, EXIT.other);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(`${fileName}:${i + 1}: a line must be a JSON object`, EXIT.other);
    out.push({ line: i + 1, record: value as Record<string, unknown> });
  }
  return out;
}

type FeatureKind = 'text' | 'number' | 'category' | 'boolean';

/**
 * A CSV row as an example: externalId, label (0, 1 or empty for unlabelled), split (train or heldout,
 * default train), observedAt; `slice.<name>` columns are slices; every other column is an input field,
 * typed by the model's features when it declares them (number, boolean), text otherwise. A JSONL record
 * is taken as the API's exampleInput is written.
 */
export function exampleOf(record: Record<string, unknown>, csv: boolean, features: { name: string; kind: FeatureKind }[] | null): Record<string, unknown> {
  if (!csv) return record;
  const kinds = new Map((features ?? []).map((f) => [f.name, f.kind]));
  const input: Record<string, unknown> = {};
  const slices: Record<string, string> = {};
  const out: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(record)) {
    const v = String(raw);
    if (k === 'externalId') out.externalId = v;
    else if (k === 'label') out.label = v === '' ? null : /^[01]$/.test(v) ? Number(v) : v;
    else if (k === 'split') out.split = v === '' ? 'train' : v;
    else if (k === 'observedAt') {
      if (v !== '') out.observedAt = v;
    } else if (k.startsWith('slice.')) {
      if (v !== '') slices[k.slice('slice.'.length)] = v;
    } else {
      const kind = kinds.get(k);
      if (v === '' && kind && kind !== 'text') input[k] = null;
      else if (kind === 'number' && v.trim() !== '' && Number.isFinite(Number(v))) input[k] = Number(v);
      else if (kind === 'boolean' && /^(true|false)$/i.test(v)) input[k] = v.toLowerCase() === 'true';
      else input[k] = v;
    }
  }
  return { split: 'train', ...out, input, slices };
}

/** The index of the batch item a server refusal names (`examples[3]...`), if it names one. */
export function refusedIndex(err: unknown, field: string): number | null {
  const data = err instanceof TRPCClientError ? (err.data as { fieldErrors?: Record<string, string[]> } | undefined) : undefined;
  const text = [err instanceof Error ? err.message : String(err), ...Object.keys(data?.fieldErrors ?? {})].join('\n');
  const m = new RegExp(`${field}(?:\\[|\\.)(\\d+)`).exec(text);
  return m ? Number(m[1]) : null;
}
