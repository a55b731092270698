// The reference Python trainer (trainers/python, sklearn/tabular) in embedded mode: a virtual environment
// under the data directory with its pinned requirements, and the worker as a child process on its own
// task queue. In production the trainer is its own process on its own machines; this is what
// `retrain up` and the demo use so one command brings up everything.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPip } from './pip';

export const pythonTrainerDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'trainers', 'python');
const requirementsPath = path.join(pythonTrainerDir, 'requirements.txt');

/** A lock older than this is a crashed installer's: taken over. */
const STALE_LOCK_MS = 15 * 60_000;

/**
 * Holds `<venv>.lock` (a directory: mkdir is atomic) while `work` runs, so two processes setting up one
 * folder at once (test files in parallel, `retrain up` beside the demo) install it once, one after the other.
 */
async function underLock<T>(venv: string, log: (msg: string) => void, work: () => Promise<T>): Promise<T> {
  const lock = `${venv}.lock`;
  await mkdir(path.dirname(venv), { recursive: true });
  let said = false;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > STALE_LOCK_MS) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (!said) log(`python trainer: waiting for another process setting up ${venv}`);
      said = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Creates `<dataDir>/venv-trainer` and installs the trainer's requirements, unless the marker says these requirements are in. */
export async function ensurePythonTrainer(opts: { dataDir: string; log: (msg: string) => void }): Promise<{ python: string }> {
  const venv = path.resolve(opts.dataDir, 'venv-trainer');
  const python = path.join(venv, process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
  const marker = path.join(venv, '.retrain-requirements.sha256');
  const requirements = await readFile(requirementsPath);
  const hash = createHash('sha256').update(requirements).digest('hex');
  const installed = async () => existsSync(python) && existsSync(marker) && (await readFile(marker, 'utf8')).trim() === hash;
  if (await installed()) return { python };
  return underLock(venv, opts.log, async () => {
    // Another process may have finished while this one waited.
    if (await installed()) return { python };
    return install(venv, python, marker, hash, opts.log);
  });
}

async function install(venv: string, python: string, marker: string, hash: string, log: (msg: string) => void): Promise<{ python: string }> {
  const opts = { log };
  if (!existsSync(python)) {
    await mkdir(path.dirname(venv), { recursive: true });
    opts.log(`python trainer: creating ${venv}`);
    const host = process.env.RETRAIN_PYTHON ?? 'python3';
    const created = await run(host, ['-m', 'venv', venv], opts.log);
    if (created.code !== 0) {
      throw new Error(`python trainer: \`${host} -m venv ${venv}\` failed (exit ${created.code}): ${created.tail.join(' | ')}; install Python 3.11+ with venv, or set RETRAIN_PYTHON`);
    }
  }
  opts.log(`python trainer: installing ${path.relative(process.cwd(), requirementsPath)} into ${venv}`);
  const pip = await runPip(python, ['install', '--disable-pip-version-check', '--no-input', '-r', requirementsPath], opts.log);
  if (pip.code !== 0) throw new Error(`python trainer: pip install failed (exit ${pip.code}): ${pip.tail.join(' | ')}`);
  await writeFile(marker, `${hash}\n`);
  return { python };
}

export interface PythonTrainerProcess {
  pid: number;
  /** Resolves when the worker says it is polling its queue; rejects if it exits first. */
  ready: Promise<void>;
  /** SIGTERM (the worker finishes or hands back its jobs), then SIGKILL after the grace period. */
  stop(): Promise<void>;
}

export async function startPythonTrainer(opts: {
  python: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  /** The data plane's bearer token (trainer role): passed in the environment, never on the command line. */
  apiToken: string;
  artifactsDir: string;
  log: (msg: string) => void;
  /** Extra environment (e.g. TEMPORAL_API_KEY); default none. */
  env?: Record<string, string>;
  graceMs?: number;
}): Promise<PythonTrainerProcess> {
  const child = spawn(opts.python, ['-m', 'retrain_trainer.worker'], {
    cwd: pythonTrainerDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...opts.env,
      PYTHONUNBUFFERED: '1',
      TEMPORAL_ADDRESS: opts.temporalAddress,
      TEMPORAL_NAMESPACE: opts.namespace,
      RETRAIN_TRAINER_QUEUE: opts.taskQueue,
      RETRAIN_TRAINER_TOKEN: opts.apiToken,
      RETRAIN_TRAINER_ARTIFACTS: path.resolve(opts.artifactsDir),
    },
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  let markReady: () => void = () => {};
  let failReady: (err: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  const tail: string[] = [];
  const relay = (buf: Buffer) => {
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      opts.log(`  python trainer: ${line.trimEnd()}`);
      tail.push(line.trimEnd());
      if (tail.length > 10) tail.shift();
      if (line.includes('polling task queue')) markReady();
    }
  };
  child.stdout.on('data', relay);
  child.stderr.on('data', relay);
  child.on('error', (err) => failReady(new Error(`python trainer: could not start ${opts.python}: ${err.message}`)));
  void exited.then((code) => failReady(new Error(`python trainer exited (code ${code}) before polling: ${tail.join(' | ')}`)));
  // A start that fails is a rejected `ready`, awaited by the caller; nobody may be listening yet.
  ready.catch(() => undefined);
  if (child.pid === undefined) await ready;
  return {
    pid: child.pid!,
    ready,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.graceMs ?? 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function run(cmd: string, args: string[], log: (msg: string) => void): Promise<{ code: number; tail: string[] }> {
  return new Promise((resolve) => {
    const tail: string[] = [];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const relay = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split('\n').filter((l) => l.trim())) {
        log(`  ${line}`);
        tail.push(line);
        if (tail.length > 5) tail.shift();
      }
    };
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    child.on('error', (err) => resolve({ code: -1, tail: [...tail, err.message] }));
    child.on('close', (code) => resolve({ code: code ?? -1, tail }));
  });
}
