// The embedded PGlite folder is one process's. PGlite itself does not notice a second process on its
// folder (each gets its own Postgres over the same files: writes vanish or corrupt), so openDb locks the
// folder first. While `retrain up` holds it, every command that would open it directly refuses with a
// message naming the holder and what to do instead, and writes nothing; `tokens create` with an admin
// token goes through the server's API. Stale locks (their process gone, or a reused pid) are taken over.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { createApiClient } from '../../api/client';
import { acquireDataDirLock, DataDirLockedError, dataDirHolder, lockFileOf, openDb } from '../../db/index';
import { apiTokens } from '../../db/schema';
import { fileDatabaseUrl } from '../fileDatabase';
import { embeddedEnv, killGroup, repoRoot, startUp, tempDataDir, type Up } from './upProcess';

const dirs: string[] = [];
const ups: Up[] = [];
after(() => {
  for (const up of ups) killGroup(up.child);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const newDir = (tag: string) => {
  const d = tempDataDir(tag);
  dirs.push(d);
  return d;
};

/** A pid that surely ran and is gone now. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

const staleHolder = (pid: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ pid, hostname: os.hostname(), procStart: null, startedAt: '2020-01-01T00:00:00.000Z', command: 'retrain up', apiUrl: null, nonce: 'old', ...extra });

/** `retrain <args>` as a user runs it, on the embedded defaults under `dataDir`. */
function retrain(dataDir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'bin/retrain.ts', ...args], { cwd: repoRoot, env: { ...embeddedEnv(dataDir), ...env }, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('the PGlite folder lock', () => {
  test('one holder at a time: a second taker learns who holds it; release frees it', () => {
    const dir = path.join(newDir('lock'), 'pg');
    const lock = acquireDataDirLock(dir);
    const recorded = JSON.parse(readFileSync(lockFileOf(dir), 'utf8')) as { pid: number; apiUrl: string | null };
    assert.equal(recorded.pid, process.pid);
    assert.equal(recorded.apiUrl, null);
    lock.setApiUrl('http://127.0.0.1:1234');
    assert.equal(dataDirHolder(dir)?.apiUrl, 'http://127.0.0.1:1234');
    assert.throws(
      () => acquireDataDirLock(dir),
      (err: unknown) => err instanceof DataDirLockedError && err.holder.pid === process.pid && new RegExp(`pid ${process.pid}.*API at http://127.0.0.1:1234`).test(err.message),
    );
    lock.release();
    lock.release(); // idempotent
    assert.equal(existsSync(lockFileOf(dir)), false);
    assert.equal(dataDirHolder(dir), null);
    acquireDataDirLock(dir).release();
  });

  test('a stale lock is taken over: its process is gone, its pid was reused, or it was left half-written', () => {
    const dir = path.join(newDir('stale'), 'pg');
    mkdirSync(path.dirname(dir), { recursive: true });
    const cases: [string, string][] = [
      ['dead pid', staleHolder(deadPid())],
      // This very pid, but started at another time: a later process that was given the dead holder's pid.
      ...(process.platform === 'linux' ? ([['reused pid', staleHolder(process.pid, { procStart: '1' })]] as [string, string][]) : []),
      ['half-written', ''],
    ];
    for (const [what, text] of cases) {
      writeFileSync(lockFileOf(dir), text);
      const old = new Date(Date.now() - 60_000);
      utimesSync(lockFileOf(dir), old, old);
      assert.equal(dataDirHolder(dir), null, what);
      const lock = acquireDataDirLock(dir);
      assert.equal(dataDirHolder(dir)?.nonce, lock.holder.nonce, `${what}: the lock is ours now`);
      lock.release();
    }
  });

  test('openDb refuses a held folder before PGlite touches it, and opens it once released', async () => {
    const dir = path.join(newDir('open'), 'pg');
    const first = await openDb({ pgliteDir: dir });
    try {
      await assert.rejects(openDb({ pgliteDir: dir }), DataDirLockedError);
    } finally {
      await first.close();
    }
    assert.equal(existsSync(lockFileOf(dir)), false, 'close releases the lock');
    const again = await openDb({ pgliteDir: dir, migrate: false });
    await again.close();
    // A folder never opened is not created by a refused open.
    const other = path.join(newDir('untouched'), 'pg');
    const held = acquireDataDirLock(other);
    await assert.rejects(openDb({ pgliteDir: other }), DataDirLockedError);
    assert.equal(existsSync(other), false);
    held.release();
  });

  test('processes racing for a stale lock: exactly one gets it', { skip: process.platform === 'win32' }, async () => {
    const dir = path.join(newDir('race'), 'pg');
    mkdirSync(path.dirname(dir), { recursive: true });
    writeFileSync(lockFileOf(dir), staleHolder(deadPid()));
    const script = `
      import { acquireDataDirLock } from ${JSON.stringify(path.join(repoRoot, 'db/index.ts'))};
      const start = Number(process.argv[1]);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, start - Date.now()));
      try { const l = acquireDataDirLock(${JSON.stringify(dir)}); console.log('got'); setTimeout(() => l.release(), 1500); }
      catch (e) { console.log(e.name); }`;
    const start = Date.now() + 4_000; // all of them loaded and spinning by then
    const outs = await Promise.all(
      Array.from({ length: 4 }, () => new Promise<string>((resolve) => execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, String(start)], { cwd: repoRoot }, (_e, out) => resolve(out.trim())))),
    );
    assert.equal(outs.filter((o) => o === 'got').length, 1, outs.join(', '));
    assert.equal(outs.filter((o) => o === 'DataDirLockedError').length, 3, outs.join(', '));
  });
});

describe('writing commands while `retrain up` holds the embedded database', { timeout: 300_000 }, () => {
  test('tokens create, up, api, worker and demo refuse and write nothing; tokens create with an admin token goes through the API', async () => {
    const dataDir = newDir('held');
    const up = await startUp({ dataDir, command: [process.execPath, '--import', 'tsx', 'bin/retrain.ts', 'up'] });
    ups.push(up);
    const admin = createApiClient(up.url, up.adminToken);
    // People's tokens; the built-in trainer's own (role trainer, made by the system for this process's life) is listed too.
    const tokens = async () => admin.admin.listTokens.query();
    const count = async () => (await tokens()).filter((t) => t.createdBy !== 'system').length;
    assert.deepEqual((await tokens()).filter((t) => t.createdBy === 'system').map((t) => [t.subject, t.role]), [['trainer:builtin', 'trainer']]);
    assert.equal(await count(), 1, 'the admin token up printed');

    const refused = await retrain(dataDir, ['tokens', 'create', '--subject', 'alice', '--role', 'approver']);
    assert.notEqual(refused.code, 0, refused.stderr);
    assert.match(refused.stderr, /tokens create refused: the embedded database .*pg is in use by retrain up/);
    assert.match(refused.stderr, new RegExp(`pid ${up.child.pid}.*API at ${up.url}`));
    assert.match(refused.stderr, new RegExp(`--url ${up.url} --token <admin token>`));
    assert.equal(refused.stdout, '', 'no token printed');

    for (const cmd of [['up', '--port', '0'], ['api', '--port', '0'], ['worker']]) {
      const r = await retrain(dataDir, cmd);
      assert.notEqual(r.code, 0, `${cmd[0]}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`retrain ${cmd[0]} refused: the embedded database .* is in use by .*pid ${up.child.pid}`), r.stderr);
      assert.match(r.stderr, /RETRAIN_DATA_DIR=.*DATABASE_URL.*TEMPORAL_ADDRESS/);
    }
    // With PostgreSQL no PGlite lock guards the folder, but the dev server's SQLite file is one server's too.
    const pgUrl = await fileDatabaseUrl();
    if (pgUrl) {
      const r = await retrain(dataDir, ['up', '--port', '0'], { DATABASE_URL: pgUrl });
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`retrain up refused: the embedded database .*temporal\\.db is in use by .*pid ${up.child.pid}`), r.stderr);
    }
    assert.equal(await count(), 1, 'nothing was written');
    const health = await fetch(`${up.url}/healthz`);
    assert.equal(health.status < 500, true, 'the server still answers');

    // Through the server, with an admin token: the server writes it, so it works at once.
    const via = await retrain(dataDir, ['tokens', 'create', '--subject', 'bob', '--role', 'viewer', '--token', up.adminToken]);
    assert.equal(via.code, 0, via.stderr);
    const bob = JSON.parse(via.stdout) as { token: string; subject: string };
    assert.equal(bob.subject, 'bob');
    assert.equal((await createApiClient(up.url, bob.token).models.list.query()).length >= 0, true, 'the server accepts the new token');
    assert.equal(await count(), 2);

    // The demo deletes its folder first: never under a running demo.
    const demoDb = path.join(dataDir, 'demo', 'pg');
    const demoLock = acquireDataDirLock(demoDb);
    mkdirSync(demoDb, { recursive: true });
    const demo = await retrain(dataDir, ['demo']);
    demoLock.release();
    assert.notEqual(demo.code, 0);
    assert.match(demo.stderr, /retrain demo refused: a demo is running/);
    assert.equal(existsSync(demoDb), true, "the running demo's folder is left alone");

    process.kill(up.child.pid!, 'SIGTERM');
    await up.closed;
    assert.equal(existsSync(lockFileOf(path.join(dataDir, 'pg'))), false);

    // The server gone: tokens create writes directly again, and every token is still there after the restart.
    const direct = await retrain(dataDir, ['tokens', 'create', '--subject', 'carol', '--role', 'operator']);
    assert.equal(direct.code, 0, direct.stderr);
    const opened = await openDb({ pgliteDir: path.join(dataDir, 'pg') });
    try {
      const rows = await opened.db.select({ subject: apiTokens.subject, createdBy: apiTokens.createdBy, revokedAt: apiTokens.revokedAt }).from(apiTokens);
      assert.deepEqual(rows.filter((r) => r.createdBy !== 'system').map((r) => r.subject).sort(), ['admin', 'bob', 'carol'], 'alice was refused, not written');
      assert.ok(rows.filter((r) => r.createdBy === 'system').every((r) => r.revokedAt !== null), "the built-in trainer's token went with the process");
    } finally {
      await opened.close();
    }
  });
});
