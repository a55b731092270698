// Fixed ports for the embedded Temporal dev server, the API port and the admin token variable: what the
// environment accepts, and a taken dev-server port as a clear error naming the flag and the variable
// (never a silent move to another port, which would break a saved `temporal --address` or UI bookmark).
import { execFile, spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { PortInUseError, startDevServer } from '../../temporal-config/devServer';
import { DEFAULT_PORTS, readSettings } from '../../temporal-config/env';
import { embeddedEnv, freePort, repoRoot, sleep, tempDataDir } from '../e2e/upProcess';

describe('readSettings: ports and RETRAIN_ADMIN_TOKEN', () => {
  test('defaults: the API on 4300, the dev server on the temporal CLI own 7233 and 8233, no admin token', () => {
    const s = readSettings({});
    assert.deepEqual([s.apiPort, s.temporalPort, s.temporalUiPort, s.adminToken], [4300, 7233, 8233, undefined]);
    assert.deepEqual(DEFAULT_PORTS, { api: 4300, temporal: 7233, temporalUi: 8233 });
  });

  test('ports are read, 0 means a free one, and a bad one is refused by name', () => {
    const s = readSettings({ RETRAIN_API_PORT: '5300', RETRAIN_TEMPORAL_PORT: '17233', RETRAIN_TEMPORAL_UI_PORT: '0' });
    assert.deepEqual([s.apiPort, s.temporalPort, s.temporalUiPort], [5300, 17233, 0]);
    for (const [name, value] of [
      ['RETRAIN_API_PORT', 'http'],
      ['RETRAIN_TEMPORAL_PORT', '70000'],
      ['RETRAIN_TEMPORAL_UI_PORT', '-1'],
      ['RETRAIN_TEMPORAL_PORT', '72.5'],
    ] as const) {
      assert.throws(() => readSettings({ [name]: value }), new RegExp(`${name}: must be the TCP port`), `${name}=${value}`);
    }
  });

  test("RETRAIN_ADMIN_TOKEN must have the tokens' format with a long secret", () => {
    const good = `rt_${'A'.repeat(16)}${'b-_9'.repeat(4)}`;
    assert.equal(readSettings({ RETRAIN_ADMIN_TOKEN: good }).adminToken, good);
    for (const bad of ['admin', 'rt_short', `xx_${'a'.repeat(40)}`, `rt_${'a'.repeat(31)}`, `rt_${'a'.repeat(30)}!!`]) {
      assert.throws(() => readSettings({ RETRAIN_ADMIN_TOKEN: bad }), /RETRAIN_ADMIN_TOKEN: must be a token in the format API tokens have/, bad);
    }
  });
});

describe('a taken dev-server port', () => {
  let holder: net.Server;
  let taken: number;
  const dataDir = tempDataDir('ports');
  before(async () => {
    holder = net.createServer();
    await new Promise<void>((r) => holder.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    taken = (holder.address() as net.AddressInfo).port;
  });
  after(async () => {
    await new Promise((r) => holder.close(r));
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('startDevServer refuses it (gRPC or UI) naming the flag and the variable, before starting anything', async () => {
    await assert.rejects(startDevServer({ dataDir, port: taken, uiPort: null }), (err: unknown) => {
      assert.ok(err instanceof PortInUseError);
      assert.equal(err.port, taken);
      assert.match(err.message, new RegExp(`gRPC port ${taken} is already in use`));
      assert.match(err.message, /--temporal-port <port>/);
      assert.match(err.message, /RETRAIN_TEMPORAL_PORT=<port>/);
      return true;
    });
    await assert.rejects(startDevServer({ dataDir, uiPort: taken }), (err: unknown) => {
      assert.ok(err instanceof PortInUseError);
      assert.match(err.message, new RegExp(`UI port ${taken} is already in use`));
      assert.match(err.message, /--temporal-ui-port <port>.*RETRAIN_TEMPORAL_UI_PORT=<port>/);
      return true;
    });
  });

  test('`retrain up --temporal-port <taken>` exits non-zero with that message, and starts no API', { timeout: 120_000 }, async () => {
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', 'bin/retrain.ts', 'up', '--port', '0', '--temporal-port', String(taken), '--temporal-ui-port', '0'],
        { cwd: repoRoot, env: embeddedEnv(dataDir), timeout: 110_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      ),
    );
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`gRPC port ${taken} is already in use`));
    assert.match(r.out, /--temporal-port <port>` or RETRAIN_TEMPORAL_PORT=<port>/);
    assert.doesNotMatch(r.out, /api: http/);
  });
});

describe('`retrain api` without --port', () => {
  const dataDir = tempDataDir('api-port');
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('serves on RETRAIN_API_PORT, and SIGTERM stops it (exit 0) within seconds', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...embeddedEnv(dataDir), RETRAIN_API_PORT: String(port) };
    // The shared server when the suite has one; else `api` starts the embedded dev server itself.
    if (process.env.TEMPORAL_TEST_ADDRESS) env.TEMPORAL_ADDRESS = process.env.TEMPORAL_TEST_ADDRESS;
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/retrain.ts', 'api'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 100_000;
      let status = 0;
      while (Date.now() < deadline && child.exitCode === null) {
        status = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0);
        if (status === 200) break;
        await sleep(250);
      }
      assert.equal(status, 200, `no /healthz on RETRAIN_API_PORT ${port}:\n${out}`);
      const t0 = Date.now();
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(20_000).then(() => 'still running')]);
      assert.equal(code, 0, `after SIGTERM (${Date.now() - t0} ms):\n${out}`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
