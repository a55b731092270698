// The fault suite's harness: each fault test file builds a deployment of its own, as production runs it,
// out of separate processes it can kill: a PostgreSQL 15 cluster (initdb into a temp folder, a free
// port, fsync off but synchronous commits kept, so an immediate shutdown loses nothing a client was
// told was committed), a Temporal dev server persisted to a file (--db-filename) so it can be killed
// and restarted on its db, and `retrain api` / `retrain worker` as child processes. Nothing here touches
// CI's shared PostgreSQL or Temporal.
//
// Every child is started through a shell watchdog that holds a pipe from this process: when the test
// process dies in any way (even SIGKILL) the pipe closes and the watchdog kills the child, so a failed
// or killed test leaves nothing running. The normal path stops children by the pids launched here.
import { after, before } from 'node:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { issueToken } from '../../db/tokens';
import { openDb, type OpenedDb } from '../../db/index';
import type { Role } from '../../db/schema';
import { SEARCH_ATTRIBUTES } from '../../workflows/names';

const REPO = path.resolve(import.meta.dirname, '..', '..');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ports other services on shared machines are known to hold; never handed out. */
const RESERVED_PORTS = new Set([55500, 7400, 7401, 55432, 7299]);

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port && !RESERVED_PORTS.has(port)) return port;
  }
}

/** The PostgreSQL binaries (the folder holding initdb), or null when none are installed. */
export function findPgBin(): string | null {
  const candidates = ['/usr/lib/postgresql/15/bin'];
  try {
    const versions = spawnSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    candidates.push(...versions);
  } catch {
    /* no shell listing: the fixed path only */
  }
  return candidates.find((d) => existsSync(path.join(d, 'initdb')) && existsSync(path.join(d, 'postgres'))) ?? null;
}

/** Why the fault suite cannot run here, or false when it can (what `test(..., { skip })` takes). */
export function faultSuiteSkip(): string | false {
  if (!findPgBin()) return 'PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (the fault suite runs its own cluster)';
  if (process.getuid?.() === 0 && postgresUser() === null) return "running as root without a 'postgres' user to run the cluster as";
  return false;
}

/** uid/gid of the `postgres` user when we are root (PostgreSQL refuses to run as root), else null. */
function postgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return null;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function temporalBinary(): string {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  if (existsSync('/usr/local/bin/temporal')) return '/usr/local/bin/temporal';
  const found = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'temporal-config', 'ensureCli.ts')], { encoding: 'utf8', cwd: REPO, timeout: 300_000 });
  const bin = found.stdout.trim().split('\n').pop();
  if (found.status !== 0 || !bin) throw new Error(`no Temporal CLI: temporal-config/ensureCli.ts said ${found.stderr.slice(-1000)}`);
  return bin;
}

// ───────────────────────────── processes ─────────────────────────────

/** The shell execs the program (same pid) after leaving a watchdog on fd 3 that kills it when our end of the pipe closes. */
const WATCHDOG = 'exec 3<&0; ( cat <&3 >/dev/null 2>&1; kill -s "$0" $$ 2>/dev/null ) & exec "$@" </dev/null 3<&-';

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isAlive(): boolean;
  /** Sends `signal` and resolves when the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** The last lines of its log. */
  tail(lines?: number): string;
}

interface SpawnOpts {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  user?: { uid: number; gid: number } | null;
  /** The signal the watchdog sends when this process dies: SIGKILL by default, SIGQUIT (immediate shutdown) for PostgreSQL. */
  orphanSignal?: 'KILL' | 'QUIT' | 'TERM';
}

function tailOf(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A running deployment's processes and temp folder; `stop()` ends every process it started. */
export class Deployment {
  readonly root: string;
  readonly procs: Proc[] = [];
  pg?: PgCluster;
  temporal?: TemporalServer;
  opened?: OpenedDb;
  tokens: Partial<Record<Role, string>> = {};
  private apiPortValue = 0;
  private workerEnv: NodeJS.ProcessEnv = {};
  private readonly onExit = () => {
    // Last resort when the runner exits without after(): SIGKILL whatever is still alive.
    for (const p of this.procs) if (p.isAlive()) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  };

  constructor(readonly name: string) {
    this.root = mkdtempSync(path.join(os.tmpdir(), `retrain-faults-${name}-`));
    chmodSync(this.root, 0o755);
    process.on('exit', this.onExit);
  }

  log(msg: string): void {
    process.stderr.write(`[faults ${this.name} ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
  }

  spawn(name: string, cmd: string, args: string[], opts: SpawnOpts = {}): Proc {
    const logFile = path.join(this.root, `${name}.log`);
    const fd = openSync(logFile, 'a');
    if (opts.user) chownSync(logFile, opts.user.uid, opts.user.gid);
    const child = spawn('/bin/sh', ['-c', WATCHDOG, opts.orphanSignal ?? 'KILL', cmd, ...args], {
      stdio: ['pipe', fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? REPO,
      ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
    });
    closeSync(fd);
    child.stdin?.on('error', () => {});
    let alive = true;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => {
        alive = false;
        child.stdin?.destroy(); // lets the watchdog go
        resolve({ code, signal });
      });
      child.once('error', () => {
        alive = false;
        resolve({ code: -1, signal: null });
      });
    });
    const proc: Proc = {
      name,
      pid: child.pid!,
      child,
      logFile,
      exited,
      isAlive: () => alive,
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        if (!alive) return;
        try {
          process.kill(proc.pid, signal);
        } catch {
          /* already gone */
        }
        await exited;
      },
      tail: (lines = 30) => tailOf(logFile, lines),
    };
    this.procs.push(proc);
    return proc;
  }

  // ─────────────── PostgreSQL ───────────────

  /** initdb + start a cluster of our own on a free port; migrates it and issues a token per role. */
  /**
   * What every scenario starts before its fault: PostgreSQL, Temporal and the API (the API connects to
   * Temporal at start). Throws when one did not come up; `stop(true)` then shows the process logs.
   */
  async startCore(): Promise<void> {
    await this.startPostgres();
    await this.startTemporal();
    await this.startApi();
  }

  /** Set when a test (or the start) failed: stop() then prints the process logs. */
  failed = false;

  /**
   * The suite's hooks: before, the core processes and then `up` (e.g. a Temporal client); after,
   * `down` and stop. Nothing runs when the file is skipped.
   */
  hooks(skip: string | false, up?: () => Promise<void>, down?: () => Promise<void>): void {
    before(async () => {
      if (skip) return;
      try {
        await this.startCore();
        await up?.();
      } catch (err) {
        this.failed = true; // the deployment did not come up: show its logs
        throw err;
      }
    });
    after(async () => {
      await down?.().catch(() => {});
      await this.stop(this.failed);
    });
  }

  async startPostgres(): Promise<PgCluster> {
    const bin = findPgBin();
    if (!bin) throw new Error('no PostgreSQL binaries');
    const user = postgresUser();
    const dir = path.join(this.root, 'pg');
    mkdirSync(dir);
    if (user) chownSync(dir, user.uid, user.gid);
    const data = path.join(dir, 'data');
    const init = spawnSync(path.join(bin, 'initdb'), ['-D', data, '--username=postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'], {
      encoding: 'utf8',
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stdout}\n${init.stderr}`);
    const port = await freePort();
    const cluster = new PgCluster(this, bin, data, dir, port, user);
    this.pg = cluster;
    await cluster.start();
    const admin = await import('postgres').then((m) => m.default(cluster.serverUrl('postgres'), { max: 1, onnotice: () => {} }));
    try {
      await admin.unsafe('create database retrain');
    } finally {
      await admin.end({ timeout: 5 });
    }
    // Migrated once here, before any child process opens it (they would race to apply migrations).
    this.opened = await openDb({ url: cluster.url });
    for (const role of ['admin', 'operator', 'approver', 'ingest', 'viewer'] as Role[]) {
      this.tokens[role] = (await issueToken(this.opened.db, { subject: `fault-${role}`, role, createdBy: 'faults' })).token;
    }
    return cluster;
  }

  // ─────────────── Temporal ───────────────

  async startTemporal(): Promise<TemporalServer> {
    const server = new TemporalServer(this, temporalBinary(), path.join(this.root, 'temporal.db'), await freePort());
    this.temporal = server;
    await server.start();
    return server;
  }

  // ─────────────── retrain api / worker ───────────────

  private retrainEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    // The test runner's settings for CI's shared services must not leak into our processes.
    for (const [k, v] of Object.entries(process.env)) {
      if (k.startsWith('TEMPORAL_') && k !== 'TEMPORAL_CLI_PATH') continue;
      if (k === 'DATABASE_URL' || k.startsWith('RETRAIN_') || k === 'NODE_TEST_CONTEXT') continue;
      env[k] = v;
    }
    return {
      ...env,
      DATABASE_URL: this.pg!.url,
      TEMPORAL_ADDRESS: this.temporal!.address,
      RETRAIN_DATA_DIR: path.join(this.root, 'data'),
      TEMPORAL_LOG_LEVEL: 'WARN',
      ...extra,
    };
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPortValue}`;
  }

  /** `retrain api --port P` (the same port on every restart); resolves when it answers a request. */
  async startApi(): Promise<Proc> {
    this.apiPortValue ||= await freePort();
    const proc = this.spawn('api', process.execPath, ['--import', 'tsx', 'bin/retrain.ts', 'api', '--port', String(this.apiPortValue)], { env: this.retrainEnv() });
    await this.waitFor('the API to answer', async () => {
      if (!proc.isAlive()) throw new Error(`retrain api exited: ${proc.tail()}`);
      try {
        const res = await fetch(`${this.apiUrl}/api/models`, { headers: { authorization: `Bearer ${this.tokens.viewer}` }, signal: AbortSignal.timeout(2_000) });
        return res.ok;
      } catch {
        return false;
      }
    }, 90_000);
    return proc;
  }

  /** `retrain worker` (env extras, e.g. RETRAIN_TRAINING_THREADS); resolves when it says it runs. */
  async startWorker(extra: NodeJS.ProcessEnv = {}): Promise<Proc> {
    this.workerEnv = { ...this.workerEnv, ...extra };
    // The worker's trainers read the data plane of the API (started before or after, always on this port).
    this.apiPortValue ||= await freePort();
    this.workerEnv.RETRAIN_API_URL ??= this.apiUrl;
    const proc = this.spawn('worker', process.execPath, ['--import', 'tsx', 'bin/retrain.ts', 'worker'], { env: this.retrainEnv(this.workerEnv) });
    const start = statSync(proc.logFile).size;
    await this.waitFor('the worker to poll', async () => {
      const text = readFileSync(proc.logFile).subarray(start).toString('utf8');
      if (!proc.isAlive()) throw new Error(`retrain worker exited: ${text.slice(-2000)}`);
      return /retrain worker running/.test(text);
    }, 90_000);
    return proc;
  }

  /** A JSON request to the REST API as `role`; never throws on HTTP status (the caller judges). */
  async rest(role: Role, method: string, p: string, body?: unknown, timeoutMs = 60_000): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${this.apiUrl}/api${p}`, {
      method,
      headers: { authorization: `Bearer ${this.tokens[role]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, json };
  }

  /** `rest` that throws unless the status is 2xx. */
  async call<T = unknown>(role: Role, method: string, p: string, body?: unknown): Promise<T> {
    const { status, json } = await this.rest(role, method, p, body);
    if (status < 200 || status >= 300) throw new Error(`${method} ${p}: HTTP ${status}: ${JSON.stringify(json).slice(0, 1000)}`);
    return json as T;
  }

  async waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs: number, everyMs = 250): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(everyMs);
    }
  }

  /** Log tails of every process, for a failed test's diagnosis. */
  logTails(lines = 25): string {
    const seen = new Set<string>();
    const parts: string[] = [];
    for (const p of this.procs) {
      if (seen.has(p.logFile)) continue;
      seen.add(p.logFile);
      parts.push(`--- ${p.name} (${p.logFile}) ---\n${p.tail(lines)}`);
    }
    return parts.join('\n');
  }

  /** Stops everything started here (by pid), newest first, and removes the temp folder unless FAULTS_KEEP=1. */
  async stop(failed = false): Promise<void> {
    if (failed) this.log(`a test failed; process logs:\n${this.logTails()}`);
    await this.opened?.close().catch(() => {});
    for (const p of [...this.procs].reverse()) {
      if (!p.isAlive()) continue;
      // PostgreSQL: immediate shutdown (SIGQUIT); everything else is thrown away, so SIGKILL.
      await Promise.race([p.kill(p.name === 'postgres' ? 'SIGQUIT' : 'SIGKILL'), sleep(10_000)]);
      if (p.isAlive()) await p.kill('SIGKILL');
    }
    process.off('exit', this.onExit);
    if (process.env.FAULTS_KEEP === '1') this.log(`kept ${this.root}`);
    else rmSync(this.root, { recursive: true, force: true });
  }
}

// ───────────────────────────── PostgreSQL cluster ─────────────────────────────

export class PgCluster {
  proc?: Proc;
  constructor(
    private readonly dep: Deployment,
    private readonly bin: string,
    private readonly data: string,
    private readonly socketDir: string,
    readonly port: number,
    private readonly user: { uid: number; gid: number } | null,
  ) {}

  serverUrl(db: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }

  get url(): string {
    return this.serverUrl('retrain');
  }

  /**
   * The postmaster in the foreground (a child of ours, so the watchdog covers it), on the same port each
   * time. fsync is off (the machine does not crash in these tests) but commits stay synchronous: what a
   * client was told is committed survives an immediate shutdown.
   */
  async start(): Promise<void> {
    this.proc = this.dep.spawn(
      'postgres',
      path.join(this.bin, 'postgres'),
      ['-D', this.data, '-h', '127.0.0.1', '-p', String(this.port), '-k', this.socketDir, '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', `max_connections=100`],
      { user: this.user, orphanSignal: 'QUIT' },
    );
    const proc = this.proc;
    await this.dep.waitFor('PostgreSQL to accept connections', async () => {
      if (!proc.isAlive()) throw new Error(`postgres exited: ${proc.tail()}`);
      const r = spawnSync(path.join(this.bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-t', '1'], { encoding: 'utf8' });
      return r.status === 0;
    }, 60_000, 100);
  }

  /** Immediate shutdown (what `pg_ctl stop -m immediate` sends: SIGQUIT); resolves when the postmaster is gone. */
  async stopImmediate(): Promise<void> {
    await this.proc?.kill('SIGQUIT');
  }
}

// ───────────────────────────── Temporal dev server ─────────────────────────────

export class TemporalServer {
  proc?: Proc;
  constructor(
    private readonly dep: Deployment,
    private readonly bin: string,
    readonly dbFile: string,
    readonly port: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** `temporal server start-dev --db-filename <file>` on the same port every time; resolves when it serves the namespace. */
  async start(): Promise<void> {
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(this.port), '--headless', '--db-filename', this.dbFile, '--log-level', 'warn'];
    for (const name of Object.values(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=Keyword`);
    for (const kv of ['frontend.namespaceRPS.visibility=1000', 'frontend.namespaceBurstRatio.visibility=2', 'system.forceSearchAttributesCacheRefreshOnRead=true']) {
      args.push('--dynamic-config-value', kv);
    }
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TEMPORAL_')) env[k] = v;
    this.proc = this.dep.spawn('temporal', this.bin, args, { env });
    const proc = this.proc;
    await this.dep.waitFor('the Temporal dev server to serve', async () => {
      if (!proc.isAlive()) throw new Error(`temporal exited: ${proc.tail()}`);
      let conn: Connection | undefined;
      try {
        conn = await Connection.connect({ address: this.address, connectTimeout: 2_000 });
        await conn.workflowService.describeNamespace({ namespace: 'default' });
        return true;
      } catch {
        return false;
      } finally {
        await conn?.close().catch(() => {});
      }
    }, 90_000, 300);
  }

  async kill(): Promise<void> {
    await this.proc?.kill('SIGKILL');
  }
}

// ───────────────────────────── reporting ─────────────────────────────

/** Prints one fixed-form count line (`faults: <scenario> ...`) to the runner's output and as a test diagnostic. */
export function report(t: { diagnostic(msg: string): void }, line: string): void {
  const text = `faults: ${line}`;
  console.log(text);
  t.diagnostic(text);
}
