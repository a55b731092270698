// Admin bootstrap and recovery without printing an existing token: RETRAIN_ADMIN_TOKEN's secret becomes
// the admin token (stored hashed), and `retrain tokens recover-admin` writes a NEW admin token straight
// into the database, prints only it, records it in the audit log, and with --revoke-others revokes the
// rest; while a process holds the embedded PGlite folder it refuses and says what to do instead.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRPCClientError } from '@trpc/client';
import { eq } from 'drizzle-orm';
import { createApiClient } from '../../api/client';
import { startApiServer } from '../../api/server';
import { createScorer } from '../../activities/index';
import { openDb, type OpenDbOptions } from '../../db/index';
import { listAuditLog } from '../../db/auditLog';
import { apiTokens } from '../../db/schema';
import { ensureAdminToken, ensureConfiguredAdminToken, hashToken, issueToken, revokeToken } from '../../db/tokens';
import { StubTemporal } from '../caller';
import { embeddedEnv, repoRoot, tempDataDir } from '../e2e/upProcess';
import { fileDatabaseUrl, openFileDatabase } from '../fileDatabase';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function recoverAdmin(env: NodeJS.ProcessEnv, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, ['--import', 'tsx', 'bin/retrain.ts', 'tokens', 'recover-admin', ...args], { cwd: repoRoot, env, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

test('RETRAIN_ADMIN_TOKEN: issued once for subject admin, stored hashed; a revoked or foreign secret is refused', async () => {
  const opened = await openFileDatabase();
  try {
    const secret = `rt_${'k'.repeat(40)}`;
    assert.equal(await ensureConfiguredAdminToken(opened.db, secret), 'issued');
    assert.equal(await ensureConfiguredAdminToken(opened.db, secret), 'present');
    const rows = await opened.db.select().from(apiTokens).where(eq(apiTokens.tokenHash, hashToken(secret)));
    assert.equal(rows.length, 1);
    assert.deepEqual([rows[0]!.subject, rows[0]!.role, rows[0]!.createdBy], ['admin', 'admin', 'bootstrap']);
    assert.ok(!JSON.stringify(rows).includes(secret), 'only the hash is stored');
    // Then there is an admin: the first-start token is not issued (nothing random printed by `up`).
    assert.equal(await ensureAdminToken(opened.db), null);

    await revokeToken(opened.db, rows[0]!.id);
    await assert.rejects(ensureConfiguredAdminToken(opened.db, secret), /RETRAIN_ADMIN_TOKEN is a revoked token/);
    const viewer = await issueToken(opened.db, { subject: 'someone', role: 'viewer', createdBy: 'test' });
    await assert.rejects(ensureConfiguredAdminToken(opened.db, viewer.token), /already the token of subject 'someone' with role viewer/);
  } finally {
    await opened.close();
  }
});

test('recover-admin writes a new admin token that works against the API, prints no existing token, audits, revokes the others', { timeout: 180_000 }, async () => {
  // PostgreSQL when DATABASE_URL is set (this file's own database), else a PGlite folder no process holds.
  const url = await fileDatabaseUrl();
  const dataDir = tempDataDir('recover');
  dirs.push(dataDir);
  const location: OpenDbOptions = url ? { url } : { pgliteDir: path.join(dataDir, 'pg') };
  const env = { ...embeddedEnv(dataDir), ...(url ? { DATABASE_URL: url } : {}) };

  let opened = await openDb(location);
  const first = (await ensureAdminToken(opened.db))!;
  const second = await issueToken(opened.db, { subject: 'ops-admin', role: 'admin', createdBy: 'cli' });
  const operator = await issueToken(opened.db, { subject: 'op', role: 'operator', createdBy: 'cli' });
  await opened.close();

  const r = await recoverAdmin(env, ['--revoke-others']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { id: number; subject: string; role: string; token: string; revokedTokenIds: number[] };
  assert.deepEqual([out.subject, out.role], ['admin', 'admin']);
  assert.match(out.token, /^rt_[A-Za-z0-9_-]{32}$/);
  for (const existing of [first, second.token, operator.token]) {
    assert.ok(!(r.stdout + r.stderr).includes(existing), 'an existing token was printed');
  }
  assert.equal(out.revokedTokenIds.length, 2);

  opened = await openDb(location);
  const server = await startApiServer({
    db: opened.db,
    temporal: new StubTemporal() as unknown as Client,
    namespace: 'default',
    taskQueues: { control: 'control', training: 'training' },
    defaultApprovalTimeoutSeconds: 600,
    scorer: createScorer(),
  });
  try {
    const admin = createApiClient(server.url, out.token);
    const active = await admin.admin.listTokens.query();
    assert.deepEqual(active.filter((t) => t.role === 'admin').map((t) => t.id), [out.id], 'only the new admin token is active');
    assert.ok(active.some((t) => t.id === operator.id), 'non-admin tokens are untouched');
    const made = await admin.admin.createToken.mutate({ subject: 'new-op', role: 'operator' });
    assert.equal(made.issuedByTokenId, out.id);
    // The old admin tokens no longer work.
    await assert.rejects(createApiClient(server.url, first).admin.listTokens.query(), (e: unknown) => e instanceof TRPCClientError && e.data?.code === 'UNAUTHORIZED');
    const audit = await listAuditLog(opened.db, { target: `token:${out.id}`, limit: 5 });
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.action, 'tokens.recoverAdmin');
    assert.deepEqual(audit[0]!.details.revokedTokenIds, out.revokedTokenIds);
    assert.ok(!JSON.stringify(audit).includes(out.token), 'the audit log holds no secret');
  } finally {
    await server.close();
    await opened.close();
  }

  // Without --revoke-others the other admin tokens stay.
  const again = await recoverAdmin(env);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual((JSON.parse(again.stdout) as { revokedTokenIds: number[] }).revokedTokenIds, []);
  assert.ok(!again.stdout.includes(out.token), 'the earlier recovered token is not printed again');
});

test('recover-admin refuses while a process holds the embedded PGlite folder, saying what to do', { timeout: 180_000 }, async () => {
  const dataDir = tempDataDir('recover-held');
  dirs.push(dataDir);
  const held = await openDb({ pgliteDir: path.join(dataDir, 'pg') });
  try {
    const r = await recoverAdmin(embeddedEnv(dataDir));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /tokens recover-admin refused: the embedded database .* is in use by/);
    assert.match(r.stderr, /Stop that server .* or set RETRAIN_ADMIN_TOKEN/);
    assert.doesNotMatch(r.stdout, /rt_/);
  } finally {
    await held.close();
  }
});
