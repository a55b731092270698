// `retrain up` as a user starts it, in a process tree of its own, for the process-tree and lock tests:
// a temporary data folder, a free API port, the embedded dev server; helpers to read the tree from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, isPortOpen } from '../../temporal-config/devServer';
import { repoRoot } from '../../temporal-config/env';

export { freePort, isPortOpen, repoRoot };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The environment of a child `retrain`: embedded everything under `dataDir`, nothing shared. */
export function embeddedEnv(dataDir: string): NodeJS.ProcessEnv {
  // No Python trainer: these tests are about the process and its folder (its set-up is tested in test/trainers).
  const env: NodeJS.ProcessEnv = { ...process.env, RETRAIN_DATA_DIR: dataDir, RETRAIN_PYTHON_TRAINER_QUEUE: 'off' };
  for (const k of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'RETRAIN_TOKEN', 'RETRAIN_API_URL', 'NODE_OPTIONS']) delete env[k];
  // Never the fixed defaults (7233, 8233): a `retrain up` on this machine, or another test's, may hold them.
  env.RETRAIN_TEMPORAL_PORT = '0';
  env.RETRAIN_TEMPORAL_UI_PORT = '0';
  for (const k of ['RETRAIN_API_PORT', 'RETRAIN_ADMIN_TOKEN']) delete env[k];
  if (!env.TEMPORAL_CLI_PATH && existsSync('/usr/local/bin/temporal')) env.TEMPORAL_CLI_PATH = '/usr/local/bin/temporal';
  return env;
}

export const tempDataDir = (tag: string) => mkdtempSync(path.join(os.tmpdir(), `retrain-${tag}-`));

export interface Up {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  dataDir: string;
  output: () => string;
  /** Resolves when every pipe the tree writes to has closed (the whole tree is gone or detached). */
  closed: Promise<void>;
  /** The admin token `up` printed. */
  adminToken: string;
}

/**
 * Starts `cmd args... up --port <free>` (npm run retrain -- up by default) in a new process group, so the
 * test can clean up only what it started; waits until the API answers.
 */
export async function startUp(opts: { dataDir: string; command?: string[]; timeoutMs?: number }): Promise<Up> {
  const port = await freePort();
  const [cmd, ...args] = opts.command ?? ['npm', 'run', 'retrain', '--', 'up'];
  // Explicit free ports for the dev server too: concurrent tests never meet on the defaults.
  const temporalPorts = ['--temporal-port', String(await freePort()), '--temporal-ui-port', String(await freePort())];
  const child = spawn(cmd!, [...args, '--port', String(port), ...temporalPorts], {
    cwd: repoRoot,
    env: embeddedEnv(opts.dataDir),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const closed = Promise.all([
    new Promise<void>((r) => child.stdout!.once('close', () => r())),
    new Promise<void>((r) => child.stderr!.once('close', () => r())),
  ]).then(() => {});
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`retrain up exited early (${child.exitCode ?? child.signalCode}):\n${out}`);
    const token = /admin token[^:]*: (rt_[A-Za-z0-9_-]+)/.exec(out)?.[1];
    if (token && /running; Ctrl-C to stop/.test(out)) {
      const res = await fetch(`${url}/healthz`).catch(() => null);
      if (res) return { child, pid: child.pid!, port, url, dataDir: opts.dataDir, output: () => out, closed, adminToken: token };
    }
    if (Date.now() > deadline) {
      killGroup(child);
      throw new Error(`retrain up did not come up in time:\n${out}`);
    }
    await sleep(250);
  }
}

/** SIGKILL to the process group the test created (never anything else). */
export function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

export interface Proc {
  pid: number;
  ppid: number;
  start: string;
  state: string;
  cmd: string;
}

export function readProc(pid: number): Proc | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, ppid: Number(f[1]), start: f[19] ?? '', state: f[0] ?? '', cmd };
  } catch {
    return null;
  }
}

/** Every process below `root` (not root itself), from a walk of /proc's parent links. */
export function descendants(root: number): Proc[] {
  const all = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readProc(Number(d)))
    .filter((p): p is Proc => p !== null);
  const out: Proc[] = [];
  const queue = [root];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const p of all) {
      if (p.ppid !== parent || out.some((o) => o.pid === p.pid)) continue;
      out.push(p);
      queue.push(p.pid);
    }
  }
  return out;
}

/** The processes of `procs` still running (same pid and start time). */
export function stillRunning(procs: Proc[]): Proc[] {
  return procs.filter((p) => {
    const now = readProc(p.pid);
    return now !== null && now.start === p.start && now.state !== 'Z';
  });
}

/** Waits until none of `procs` runs; returns the milliseconds it took, or throws naming the survivors. */
export async function waitGone(procs: Proc[], timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const left = stillRunning(procs);
    if (left.length === 0) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`still running after ${timeoutMs} ms:\n${left.map((p) => `  ${p.pid} ${p.cmd}`).join('\n')}`);
    await sleep(100);
  }
}
