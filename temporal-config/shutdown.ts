/**
 * Graceful shutdown on SIGINT/SIGTERM, or when the launcher this process was started by exits: handlers
 * run once, newest first (so a worker registered after the dev server is stopped before it), then the
 * process exits 0. A second signal while shutting down exits immediately with 130.
 *
 * The launcher: npm runs a script as `sh -c "<script>"` and forwards SIGTERM and SIGINT to that shell
 * only, which dies of SIGTERM without passing it on and sits out SIGINT until its child exits; a
 * SIGKILLed npm passes nothing at all. This process would be left running, orphaned, with its workers,
 * API and dev server. So the `retrain` script execs node (npm then signals it directly), and this
 * process watches the chain of launchers above it (shells run with -c, npm, npx, tsx) and stops as if
 * signalled when one of them is gone. A process started from an interactive shell, by systemd or by a
 * container's init has no launcher above it and is not watched (nohup keeps working).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

type Handler = (signal: string) => Promise<void>;

const handlers: Handler[] = [];
let installed = false;
let shuttingDown = false;
const WATCH_INTERVAL_MS = 500;
const DUPLICATE_MS = 1_000;

async function runHandlers(signal: string): Promise<void> {
  for (const handler of [...handlers].reverse()) {
    try {
      await handler(signal);
    } catch (err) {
      process.stderr.write(`shutdown handler failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
  }
}

let first: { reason: string; at: number } | undefined;

function shutDown(reason: string, why: string): void {
  if (shuttingDown) {
    // Ctrl-C reaches both npm and this process, and npm passes its copy on: the same signal within a
    // second is that echo, not a second press.
    if (first && first.reason === reason && Date.now() - first.at < DUPLICATE_MS) return;
    process.stderr.write(`received ${reason} again, exiting immediately\n`);
    process.exit(130);
  }
  shuttingDown = true;
  first = { reason, at: Date.now() };
  process.stderr.write(`${why}, shutting down${reason.startsWith('SIG') ? ' (send it again to force)' : ''}\n`);
  void runHandlers(reason).finally(() => process.exit(0));
}

function onSignal(signal: NodeJS.Signals): void {
  shutDown(signal, `received ${signal}`);
}

export function onShutdown(handler: (signal: string) => Promise<void>): void {
  handlers.push(handler);
  if (installed) return;
  installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  watchLaunchers();
}

// ───────────────────────────── the launchers above this process ─────────────────────────────

interface ProcInfo {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot: tells a process from a later one given the same pid. */
  start: string;
  argv: string[];
}

/** Linux /proc; null when the process is gone or there is no /proc. */
function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // npm sets its process title ("npm run retrain"), which replaces argv with one space-separated string.
    const argv = cmdline.split('\0').filter(Boolean);
    if (argv.length === 1) argv.splice(0, 1, ...argv[0]!.split(' '));
    return { pid, ppid: Number(fields[1]), start: fields[19] ?? '', argv };
  } catch {
    return null;
  }
}

const SHELLS = new Set(['sh', 'dash', 'bash', 'zsh', 'ash', 'ksh']);
const LAUNCHERS = new Set(['npm', 'npx', 'tsx', 'pnpm', 'yarn']);

/** A process that only runs another (npm's script shell, npm, npx, tsx), not one a person sits at. */
export function isLauncher(argv: string[]): boolean {
  const [first = '', second = ''] = argv;
  const name = path.basename(first);
  if (SHELLS.has(name)) return second === '-c';
  if (LAUNCHERS.has(name)) return true;
  // node running a launcher's script: .../npm/bin/npm-cli.js, .../tsx/dist/cli.mjs, .bin/tsx
  if (/^node(js)?(\.exe)?$/.test(name)) {
    const script = argv.slice(1).find((a) => !a.startsWith('-')) ?? '';
    return /(^|[/\\])(npm-cli|npx-cli)\.js$|[/\\]tsx[/\\]dist[/\\]cli\.[cm]?js$|(^|[/\\])\.bin[/\\](tsx|npm|npx)$/.test(script);
  }
  return false;
}

/** The unbroken chain of launchers above this process, nearest first (empty without /proc). */
export function launcherChain(): ProcInfo[] {
  const chain: ProcInfo[] = [];
  let pid = process.ppid;
  while (pid > 1 && chain.length < 8) {
    const p = procInfo(pid);
    if (!p || !isLauncher(p.argv)) break;
    chain.push(p);
    pid = p.ppid;
  }
  return chain;
}

let watching: NodeJS.Timeout | undefined;
// Read when this module loads, at the start of the process: a launcher killed while the services start
// is still noticed (read later, the chain would begin at whoever adopted this process).
const chainAtStart = launcherChain();

/** Stops this process (as a signal would) when one of the launchers above it is gone. */
export function watchLaunchers(): void {
  if (watching) return;
  const chain = chainAtStart;
  let check: () => string | null;
  if (chain.length > 0) {
    check = () => {
      for (const p of chain) {
        const now = procInfo(p.pid);
        if (!now || now.start !== p.start) return `${path.basename(p.argv[0] ?? '?')} (pid ${p.pid})`;
      }
      return null;
    };
  } else if (!(process.platform === 'linux') && process.env.npm_lifecycle_event !== undefined && process.ppid > 1) {
    // No /proc: under npm, at least notice being orphaned.
    const ppid = process.ppid;
    check = () => (process.ppid !== ppid ? `the parent process (pid ${ppid})` : null);
  } else {
    return;
  }
  watching = setInterval(() => {
    const gone = check();
    if (gone === null) return;
    clearInterval(watching);
    shutDown('launcher exited', `the launcher ${gone} exited`);
  }, WATCH_INTERVAL_MS);
  watching.unref();
}
