// `npm run retrain -- up` (the README's way) as one tree: SIGTERM or SIGINT to the top process (npm) stops
// every process below it, with the workers drained; SIGKILL of npm leaves nothing behind either. Each case
// starts the real tree (npm, its sh, node, the Temporal dev server and its watchdog) on a data folder of
// its own, reads the tree from /proc before the signal, and waits for every one of those processes to go.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isLauncher } from '../../temporal-config/shutdown';
import { descendants, isPortOpen, killGroup, readProc, startUp, tempDataDir, waitGone, type Up } from './upProcess';

const linux = process.platform === 'linux';
const STOP_WITHIN_MS = 30_000;
const started: Up[] = [];
const dirs: string[] = [];

after(() => {
  for (const up of started) killGroup(up.child); // only if a case failed half-way: the group this file created
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Sends `signal` to npm alone (as `kill <pid>` or a supervisor does), or to its whole group (as Ctrl-C in a terminal does). */
async function upAndSignal(signal: NodeJS.Signals, target: 'npm' | 'group' = 'npm') {
  const dataDir = tempDataDir(`tree-${signal.toLowerCase()}`);
  dirs.push(dataDir);
  const up = await startUp({ dataDir });
  started.push(up);
  const tree = descendants(up.pid);
  const cmds = tree.map((p) => p.cmd).join('\n');
  assert.match(cmds, /bin\/retrain\.ts up/, `node runs below npm:\n${cmds}`);
  assert.match(cmds, /temporal server start-dev/, `the dev server runs below npm:\n${cmds}`);
  assert.ok(existsSync(path.join(dataDir, 'pg.lock')), 'the running server holds the PGlite lock');

  const npm = readProc(up.pid)!;
  process.kill(target === 'npm' ? up.pid : -up.pid, signal);
  const ms = await waitGone([npm, ...tree], STOP_WITHIN_MS);
  await up.closed;
  assert.equal(await isPortOpen('127.0.0.1', up.port), false, 'the API port refuses connections');
  assert.equal(existsSync(path.join(dataDir, 'pg.lock')), false, 'the lock is released');
  process.stderr.write(`# ${signal} to ${target === 'npm' ? 'npm' : "npm's process group"}: npm and the ${tree.length} processes below it gone in ${ms} ms\n`);
  return { up, ms };
}

test('launchers are told from shells a person sits at', () => {
  const yes = [
    ['sh', '-c', 'node --import tsx bin/retrain.ts up'],
    ['/bin/bash', '-c', 'tsx bin/retrain.ts demo'],
    ['npm', 'run', 'retrain'], // npm's process title
    ['/usr/bin/node', '/usr/lib/node_modules/npm/bin/npm-cli.js', 'run', 'retrain'],
    ['node', '/repo/node_modules/tsx/dist/cli.mjs', 'bin/retrain.ts', 'demo'],
    ['node', '/repo/node_modules/.bin/tsx', 'bin/retrain.ts'],
  ];
  const no = [['-bash'], ['bash'], ['/usr/bin/zsh', '-l'], ['/sbin/init'], ['node', '--import', 'tsx', '--test', 'test/e2e/processTree.test.ts'], ['systemd', '--user'], ['tmux']];
  for (const argv of yes) assert.equal(isLauncher(argv), true, argv.join(' '));
  for (const argv of no) assert.equal(isLauncher(argv), false, argv.join(' '));
});

describe('npm run retrain -- up stops as one tree', { skip: !linux && 'reads the process tree from /proc', timeout: 240_000 }, () => {
  test('SIGTERM to npm: every process below it exits, the workers drained first', async () => {
    const { up } = await upAndSignal('SIGTERM');
    assert.match(up.output(), /stopping retrain up \(workers finish their current tasks first\)/);
    assert.match(up.output(), /retrain up stopped: workers drained/);
    assert.match(up.output(), /temporal dev server at \S+ stopped/);
  });

  test('SIGINT to npm: the same', async () => {
    const { up } = await upAndSignal('SIGINT');
    assert.match(up.output(), /retrain up stopped: workers drained/);
  });

  test('Ctrl-C (SIGINT to the whole group, npm passing on its copy too): drained, not forced', async () => {
    const { up } = await upAndSignal('SIGINT', 'group');
    assert.doesNotMatch(up.output(), /exiting immediately/);
    assert.match(up.output(), /retrain up stopped: workers drained/);
  });

  test('SIGKILL to npm: nothing is left behind', async () => {
    const { up } = await upAndSignal('SIGKILL');
    // npm could not pass anything on: node noticed its launcher gone and shut down by itself.
    assert.match(up.output(), /the launcher \S+ \(pid \d+\) exited, shutting down/);
    assert.match(up.output(), /retrain up stopped: workers drained/);
  });
});
