// The db layer, written once over the driver-neutral `Db` type and run on every driver we ship:
// in-memory PGlite always, PostgreSQL (postgres.js) when DATABASE_URL is set.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { and, count, eq, sql, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { migrationsFolder, openDb, type Db, type OpenDbOptions, type OpenedDb } from '../../db/index';
import { writeAudit } from '../../db/auditLog';
import { changeProductionRoute, insertExamples, previousProductionVersionId, productionVersionId, type NewExample, type RouteChange } from '../../db/models';
import {
  approvals,
  auditLog,
  datasetSnapshots,
  deploymentEvents,
  evalReports,
  examples,
  gatePolicies,
  gateResults,
  modelVersions,
  models,
  routes,
  runs,
} from '../../db/schema';
import { activeTokenBySecret, issuanceChainOf, issueToken, revokeToken } from '../../db/tokens';
import { uid } from '../helpers';

interface DriverCase {
  name: string;
  /** Why the suite is skipped, or false to run it. */
  skip: string | false;
  options: () => OpenDbOptions;
  /** Options for the "open, close, open again" check: a database that outlives one connection. */
  persistentOptions: () => { options: OpenDbOptions; cleanup: () => void };
}

const databaseUrl = process.env.DATABASE_URL;
const drivers: DriverCase[] = [
  {
    name: 'PGlite (in memory)',
    skip: false,
    options: () => ({ pgliteDir: 'memory://' }),
    // memory:// is a new database at every open, so the re-open check needs a folder on disk.
    persistentOptions: () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'retrain-db-test-'));
      return { options: { pgliteDir: dir }, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL (DATABASE_URL)',
    skip: databaseUrl ? false : 'DATABASE_URL is needed to run the db tests against PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/retrain_test)',
    options: () => ({ url: databaseUrl! }),
    persistentOptions: () => ({ options: { url: databaseUrl! }, cleanup: () => {} }),
  },
];

/** The message of an error and of every cause under it (drizzle wraps driver errors in DrizzleQueryError). */
function errorChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(' <- ');
}

/** The SQLSTATE of an error or one of its causes. */
function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp, what: string): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    assert.match(errorChain(err), pattern, `${what}: wrong error`);
    return err;
  }
  assert.fail(`${what}: expected an error matching ${pattern}, but it succeeded`);
}

class Rollback extends Error {}

/** Runs fn in a transaction that is always rolled back, so a statement that should fail cannot do harm if it succeeds. */
async function inRolledBackTx(db: Db, fn: (tx: Parameters<Parameters<Db['transaction']>[0]>[0]) => Promise<unknown>) {
  try {
    await db.transaction(async (tx) => {
      await fn(tx);
      throw new Rollback('statement succeeded');
    });
  } catch (err) {
    if (err instanceof Rollback) throw new Error('the statement was expected to fail but succeeded (rolled back)');
    throw err;
  }
}

async function rowCount(db: Db, table: PgTable, where?: SQL) {
  const [row] = await db.select({ n: count() }).from(table).where(where);
  return Number(row?.n ?? 0);
}

// ---- fixtures -------------------------------------------------------------------------------------

async function newModel(db: Db) {
  const [row] = await db.insert(models).values({ name: `m-${uid()}`, description: 'db test', createdBy: 'db-test' }).returning();
  assert.ok(row);
  return row;
}

async function newVersion(db: Db, modelId: number, version: number, extra: Partial<typeof modelVersions.$inferInsert> = {}) {
  const artifact = new Uint8Array([version, 1, 2, 3]);
  const [row] = await db
    .insert(modelVersions)
    .values({
      modelId,
      version,
      trainer: 'builtin',
      params: { epochs: version },
      artifact,
      artifactHash: `sha256:${createHash('sha256').update(artifact).digest('hex')}`,
      ...extra,
    })
    .returning({ id: modelVersions.id });
  assert.ok(row);
  return row.id;
}

async function newSnapshot(db: Db, modelId: number, runId: string) {
  const [row] = await db
    .insert(datasetSnapshots)
    .values({ modelId, runId, contentHash: `sha256:${uid()}`, trainCount: 10, heldoutCount: 5 })
    .returning({ id: datasetSnapshots.id });
  assert.ok(row);
  return row.id;
}

function promote(modelId: number, toVersionId: number, key: string, extra: Partial<RouteChange> = {}): RouteChange {
  return {
    modelId,
    toVersionId,
    action: 'promote',
    actor: 'db-test',
    reason: 'test promotion',
    runId: null,
    idempotencyKey: key,
    previousStatus: 'retired',
    ...extra,
  };
}

function rollbackTo(modelId: number, toVersionId: number): RouteChange {
  return promote(modelId, toVersionId, `rollback:${modelId}:${uid()}`, { action: 'rollback', previousStatus: 'rolled_back', reason: 'drill' });
}

async function statusOf(db: Db, versionId: number) {
  const [row] = await db.select({ status: modelVersions.status }).from(modelVersions).where(eq(modelVersions.id, versionId));
  return row?.status;
}

// ---- the suite, once per driver -------------------------------------------------------------------

for (const driver of drivers) {
  describe(`db on ${driver.name}`, { skip: driver.skip }, () => {
    let opened: OpenedDb;
    let db: Db;
    before(async () => {
      opened = await openDb(driver.options());
      db = opened.db;
    });
    after(async () => {
      await opened?.close();
    });

    test('opens with the expected driver', () => {
      assert.equal(opened.driver, driver.options().url ? 'postgres' : 'pglite');
    });

    test('migrations apply twice idempotently: open, close, open again keeps data and the journal', async () => {
      const { options, cleanup } = driver.persistentOptions();
      try {
        const first = await openDb(options);
        const name = `mig-${uid()}`;
        let journalAfterFirst: number;
        try {
          await first.db.insert(models).values({ name, createdBy: 'db-test' });
          journalAfterFirst = await migrationCount(first.db);
          assert.ok(journalAfterFirst >= 2, `at least the two migrations are journalled, got ${journalAfterFirst}`);
        } finally {
          await first.close();
        }
        const second = await openDb(options);
        try {
          assert.equal(await migrationCount(second.db), journalAfterFirst, 're-opening applies no migration twice');
          const [row] = await second.db.select().from(models).where(eq(models.name, name));
          assert.equal(row?.name, name, 'data written before the re-open is still there');
          // And running the migrator once more on an open database is a no-op too.
          if (second.driver === 'pglite') await migratePglite(second.db as never, { migrationsFolder });
          else await migratePostgres(second.db as never, { migrationsFolder });
          assert.equal(await migrationCount(second.db), journalAfterFirst);
          // The append-only triggers exist once, not once per open.
          const [triggers] = await second.db
            .select({ n: sql<number>`count(*)::int` })
            .from(sql`pg_trigger`)
            .where(sql`tgrelid = 'audit_log'::regclass and not tgisinternal`);
          assert.equal(Number(triggers?.n), 2);
        } finally {
          await second.close();
        }
      } finally {
        cleanup();
      }
    });

    test('audit_log accepts INSERT and refuses UPDATE, DELETE and TRUNCATE (append-only)', async () => {
      const target = `audit-${uid()}`;
      await writeAudit(db, { actor: 'db-test', action: 'test.insert', target, details: { n: 1 } });
      const [row] = await db.select().from(auditLog).where(eq(auditLog.target, target));
      assert.ok(row, 'INSERT works');
      assert.deepEqual(row.details, { n: 1 });

      await rejectsWith(db.update(auditLog).set({ action: 'tampered' }).where(eq(auditLog.id, row.id)), /append-only/, 'UPDATE');
      await rejectsWith(db.delete(auditLog).where(eq(auditLog.id, row.id)), /append-only/, 'DELETE');
      // Run inside a transaction that is rolled back anyway: if the trigger were missing, nothing is lost.
      await rejectsWith(inRolledBackTx(db, (tx) => tx.execute(sql`truncate table audit_log`)), /append-only/, 'TRUNCATE');
      const err = await rejectsWith(db.delete(auditLog), /append-only/, 'DELETE without WHERE');
      assert.equal(sqlState(err), '42501', 'the refusal carries SQLSTATE insufficient_privilege');

      const [still] = await db.select().from(auditLog).where(eq(auditLog.id, row.id));
      assert.equal(still?.action, 'test.insert', 'the row is unchanged');
      assert.ok((await rowCount(db, auditLog)) >= 1);
    });

    test('gate_results and approvals: what an approver read and signed cannot be changed or removed (migration 0011)', async () => {
      const runId = `run-${uid()}`;
      await db.insert(gateResults).values({ runId, decision: 'needs_approval', rules: [], reasons: [], packet: { judged: true }, packetHash: 'sha256:x' });
      await db.insert(approvals).values({ runId, decision: 'approved', approver: 'a', reason: 'fine', reportHash: 'sha256:x' });
      for (const [what, statement] of [
        ['UPDATE packet', db.update(gateResults).set({ packet: { judged: false } }).where(eq(gateResults.runId, runId))],
        ['UPDATE packet_hash', db.update(gateResults).set({ packetHash: 'sha256:y' }).where(eq(gateResults.runId, runId))],
        ['UPDATE decision', db.update(gateResults).set({ decision: 'approved' }).where(eq(gateResults.runId, runId))],
        ['DELETE', db.delete(gateResults).where(eq(gateResults.runId, runId))],
      ] as const) {
        assert.equal(sqlState(await rejectsWith(statement, /gate_results is immutable/, `gate_results ${what}`)), '42501');
      }
      await rejectsWith(inRolledBackTx(db, (tx) => tx.execute(sql`truncate table gate_results`)), /gate_results is immutable/, 'gate_results TRUNCATE');
      await rejectsWith(db.update(approvals).set({ reportHash: 'sha256:y' }).where(eq(approvals.runId, runId)), /approvals is append-only/, 'approvals UPDATE');
      await rejectsWith(db.delete(approvals).where(eq(approvals.runId, runId)), /approvals is append-only/, 'approvals DELETE');
      await rejectsWith(inRolledBackTx(db, (tx) => tx.execute(sql`truncate table approvals`)), /approvals is append-only/, 'approvals TRUNCATE');
      const [gate] = await db.select().from(gateResults).where(eq(gateResults.runId, runId));
      assert.deepEqual([gate?.packet, gate?.packetHash, gate?.decision], [{ judged: true }, 'sha256:x', 'needs_approval'], 'the row is unchanged');
      const [approval] = await db.select().from(approvals).where(eq(approvals.runId, runId));
      assert.equal(approval?.reportHash, 'sha256:x');
    });

    test('api_tokens: the lookup every request makes (a prepared query) refuses a revoked token from the next call on', async () => {
      const one = await issueToken(db, { subject: `gateway-${uid()}`, role: 'ingest', createdBy: 'cli' });
      const other = await issueToken(db, { subject: `reader-${uid()}`, role: 'viewer', createdBy: 'cli' });
      assert.equal((await activeTokenBySecret(db, one.token))?.id, one.id);
      assert.equal((await activeTokenBySecret(db, other.token))?.id, other.id, 'the same prepared query answers for another secret');
      assert.equal(await activeTokenBySecret(db, `${one.token}x`), undefined, 'an unknown secret');
      assert.equal(await revokeToken(db, one.id), true);
      assert.equal(await activeTokenBySecret(db, one.token), undefined, 'revoked: refused on the very next lookup');
      assert.equal((await activeTokenBySecret(db, other.token))?.id, other.id, 'the other token still works');
      // A transaction's handle gets a prepared query of its own and sees the revocation too.
      await db.transaction(async (tx) => {
        assert.equal(await activeTokenBySecret(tx, one.token), undefined);
        assert.equal((await activeTokenBySecret(tx, other.token))?.id, other.id);
      });
    });

    test('api_tokens: subjects are stored canonical, and a token minted by another records its issuer', async () => {
      const root = await issueToken(db, { subject: `  Lead-${uid()}  `, role: 'admin', createdBy: 'cli' });
      assert.equal(root.subject, root.subject.trim().toLowerCase());
      const minted = await issueToken(db, { subject: `Ｏｐｅｒａｔｏｒ-${uid()}`, role: 'operator', createdBy: root.subject, issuedByTokenId: root.id });
      assert.match(minted.subject, /^operator-/);
      const deeper = await issueToken(db, { subject: `Puppet-${uid()}`, role: 'approver', createdBy: minted.subject, issuedByTokenId: minted.id });
      assert.deepEqual(await issuanceChainOf(db, root.id), { subject: root.subject, issuers: [], root: null });
      assert.deepEqual(await issuanceChainOf(db, minted.id), { subject: minted.subject, issuers: [], root: root.subject });
      assert.deepEqual(await issuanceChainOf(db, deeper.id), { subject: deeper.subject, issuers: [minted.subject], root: root.subject });
      await assert.rejects(issueToken(db, { subject: '   ', role: 'viewer', createdBy: 'cli' }), /may not be empty/);
      await assert.rejects(issueToken(db, { subject: 'bob\u0007', role: 'viewer', createdBy: 'cli' }), /control or format characters/);
      await assert.rejects(issueToken(db, { subject: 'bo\u200bb', role: 'viewer', createdBy: 'cli' }), /control or format characters/);
    });

    test('changeProductionRoute: promote v1 then v2 retires v1, serves v2, keeps one route row', async () => {
      const model = await newModel(db);
      const v1 = await newVersion(db, model.id, 1);
      const v2 = await newVersion(db, model.id, 2);
      const r1 = await changeProductionRoute(db, promote(model.id, v1, `promote:${uid()}`));
      assert.deepEqual(r1, { applied: true, fromVersionId: null, toVersionId: v1 });
      assert.equal(await statusOf(db, v1), 'production');
      const r2 = await changeProductionRoute(db, promote(model.id, v2, `promote:${uid()}`));
      assert.deepEqual(r2, { applied: true, fromVersionId: v1, toVersionId: v2 });

      assert.equal(await statusOf(db, v1), 'retired');
      assert.equal(await statusOf(db, v2), 'production');
      const routeRows = await db.select().from(routes).where(eq(routes.modelId, model.id));
      assert.equal(routeRows.length, 1, 'one route row per (model, kind)');
      assert.equal(routeRows[0]!.kind, 'production');
      assert.equal(routeRows[0]!.versionId, v2);
      assert.equal(routeRows[0]!.weight, 1);
      assert.equal(await productionVersionId(db, model.id), v2);

      const events = await db.select().from(deploymentEvents).where(eq(deploymentEvents.modelId, model.id));
      assert.deepEqual(
        events.map((e) => [e.action, e.fromVersionId, e.toVersionId]).sort((a, b) => Number(a[2]) - Number(b[2])),
        [
          ['promote', null, v1],
          ['promote', v1, v2],
        ],
      );
      const audits = await db.select().from(auditLog).where(eq(auditLog.target, `model:${model.id}`));
      assert.equal(audits.length, 2, 'one audit entry per applied change');
      assert.ok(audits.every((a) => a.action === 'route.promote'));
    });

    test('changeProductionRoute: the same idempotency key twice changes nothing the second time', async () => {
      const model = await newModel(db);
      const v1 = await newVersion(db, model.id, 1);
      const v2 = await newVersion(db, model.id, 2);
      await changeProductionRoute(db, promote(model.id, v1, `promote:${uid()}`));
      const key = `run-x:promote:${uid()}`;
      const first = await changeProductionRoute(db, promote(model.id, v2, key));
      assert.equal(first.applied, true);
      const routeBefore = await db.select().from(routes).where(eq(routes.modelId, model.id));
      const statusBefore = await db.select({ id: modelVersions.id, status: modelVersions.status, at: modelVersions.statusChangedAt }).from(modelVersions).where(eq(modelVersions.modelId, model.id));
      const auditBefore = await rowCount(db, auditLog, eq(auditLog.target, `model:${model.id}`));

      const second = await changeProductionRoute(db, promote(model.id, v2, key));
      assert.deepEqual(second, { applied: false, fromVersionId: v1, toVersionId: v2 }, 'the first outcome is returned');
      // Even a retry that names another version changes nothing under an already-used key.
      const third = await changeProductionRoute(db, promote(model.id, v1, key));
      assert.equal(third.applied, false);
      assert.equal(third.toVersionId, v2);

      assert.equal(await rowCount(db, deploymentEvents, eq(deploymentEvents.idempotencyKey, key)), 1, 'one deployment event');
      assert.equal(await rowCount(db, deploymentEvents, eq(deploymentEvents.modelId, model.id)), 2);
      assert.deepEqual(await db.select().from(routes).where(eq(routes.modelId, model.id)), routeBefore, 'route untouched');
      assert.deepEqual(
        await db.select({ id: modelVersions.id, status: modelVersions.status, at: modelVersions.statusChangedAt }).from(modelVersions).where(eq(modelVersions.modelId, model.id)),
        statusBefore,
        'version statuses untouched',
      );
      assert.equal(await rowCount(db, auditLog, eq(auditLog.target, `model:${model.id}`)), auditBefore, 'no extra audit entry');
    });

    // A retried activity can overlap the attempt it retries (start-to-close timeout while the first still runs).
    test(
      'changeProductionRoute: concurrent calls with one key apply once, and none fails',
      async () => {
        const model = await newModel(db);
        const v1 = await newVersion(db, model.id, 1);
        const key = `race:${uid()}`;
        // Several at once, so that at least two overlap on a pooled driver.
        const results = await Promise.allSettled(Array.from({ length: 6 }, () => changeProductionRoute(db, promote(model.id, v1, key))));
        const failures = results.filter((r) => r.status === 'rejected').map((r) => errorChain((r as PromiseRejectedResult).reason));
        assert.deepEqual(failures, [], 'no call fails');
        const applied = results.map((r) => (r.status === 'fulfilled' ? r.value.applied : null));
        assert.equal(applied.filter((a) => a === true).length, 1, 'exactly one call applies the change');
        assert.equal(applied.filter((a) => a === false).length, 5, 'the others return the first outcome');
        assert.equal(await rowCount(db, deploymentEvents, eq(deploymentEvents.idempotencyKey, key)), 1);
      },
    );

    test('previousProductionVersionId: follows promotions, and only promote events count after a rollback', async () => {
      const model = await newModel(db);
      assert.equal(await previousProductionVersionId(db, model.id), null, 'nothing in production yet');
      const v1 = await newVersion(db, model.id, 1);
      const v2 = await newVersion(db, model.id, 2);
      const v3 = await newVersion(db, model.id, 3);
      await changeProductionRoute(db, promote(model.id, v1, `promote:${uid()}`));
      assert.equal(await previousProductionVersionId(db, model.id), null, 'v1 replaced nothing');
      await changeProductionRoute(db, promote(model.id, v2, `promote:${uid()}`));
      assert.equal(await previousProductionVersionId(db, model.id), v1, 'after two promotions: v1');

      // Roll back v2 -> v1: v1 was promoted from nothing, so there is nothing further to restore.
      const back = await changeProductionRoute(db, rollbackTo(model.id, v1));
      assert.deepEqual(back, { applied: true, fromVersionId: v2, toVersionId: v1 });
      assert.equal(await statusOf(db, v2), 'rolled_back');
      assert.equal(await statusOf(db, v1), 'production');
      assert.equal(await previousProductionVersionId(db, model.id), null, 'the rollback event (v2 -> v1) does not count');

      // v3 promoted over v1, then rolled back to v1 again: still v1's own promote event decides.
      await changeProductionRoute(db, promote(model.id, v3, `promote:${uid()}`));
      assert.equal(await previousProductionVersionId(db, model.id), v1);
      await changeProductionRoute(db, rollbackTo(model.id, v1));
      assert.equal(await previousProductionVersionId(db, model.id), null, 'a rolled-back version is never restored');
    });

    test('previousProductionVersionId: a three-step history rolls back one step at a time', async () => {
      const model = await newModel(db);
      const v1 = await newVersion(db, model.id, 1);
      const v2 = await newVersion(db, model.id, 2);
      const v3 = await newVersion(db, model.id, 3);
      for (const v of [v1, v2, v3]) await changeProductionRoute(db, promote(model.id, v, `promote:${uid()}`));
      assert.equal(await previousProductionVersionId(db, model.id), v2);
      await changeProductionRoute(db, rollbackTo(model.id, v2));
      assert.equal(await statusOf(db, v3), 'rolled_back');
      assert.equal(await previousProductionVersionId(db, model.id), v1, 'v2 was promoted over v1');
      await changeProductionRoute(db, rollbackTo(model.id, v1));
      assert.equal(await previousProductionVersionId(db, model.id), null);
    });

    describe('unique constraints that make activities idempotent', () => {
      test('model_versions.run_id: one candidate per run', async () => {
        const model = await newModel(db);
        const runId = `run-${uid()}`;
        const values = (version: number) => ({
          modelId: model.id,
          version,
          trainer: 'builtin',
          params: {},
          artifact: new Uint8Array([version]),
          artifactHash: `sha256:${version}`,
          runId,
        });
        const first = await db.insert(modelVersions).values(values(1)).onConflictDoNothing({ target: modelVersions.runId }).returning({ id: modelVersions.id });
        // A retried train step would pick the next version number; the run id still stops it.
        const second = await db.insert(modelVersions).values(values(2)).onConflictDoNothing({ target: modelVersions.runId }).returning({ id: modelVersions.id });
        assert.equal(first.length, 1);
        assert.equal(second.length, 0);
        assert.equal(await rowCount(db, modelVersions, eq(modelVersions.runId, runId)), 1);
        assert.equal(sqlState(await rejectsWith(db.insert(modelVersions).values(values(3)), /unique|duplicate/i, 'plain insert')), '23505');
      });

      test('dataset_snapshots.run_id: one snapshot per run', async () => {
        const model = await newModel(db);
        const runId = `run-${uid()}`;
        const values = { modelId: model.id, runId, contentHash: 'sha256:a', trainCount: 1, heldoutCount: 1 };
        await db.insert(datasetSnapshots).values(values).onConflictDoNothing({ target: datasetSnapshots.runId });
        await db.insert(datasetSnapshots).values({ ...values, contentHash: 'sha256:b' }).onConflictDoNothing({ target: datasetSnapshots.runId });
        const rows = await db.select().from(datasetSnapshots).where(eq(datasetSnapshots.runId, runId));
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.contentHash, 'sha256:a', 'the first write wins');
        assert.equal(sqlState(await rejectsWith(db.insert(datasetSnapshots).values(values), /unique|duplicate/i, 'plain insert')), '23505');
      });

      test('eval_reports (run_id, version_id): one report per version per run', async () => {
        const model = await newModel(db);
        const runId = `run-${uid()}`;
        const snapshotId = await newSnapshot(db, model.id, runId);
        const candidate = await newVersion(db, model.id, 1);
        const champion = await newVersion(db, model.id, 2);
        const report = (versionId: number, role: 'candidate' | 'champion') => ({
          runId,
          versionId,
          snapshotId,
          role,
          summary: { accuracy: 0.9 },
          contentHash: `sha256:${versionId}`,
        });
        const target = [evalReports.runId, evalReports.versionId];
        await db.insert(evalReports).values(report(candidate, 'candidate')).onConflictDoNothing({ target });
        await db.insert(evalReports).values(report(candidate, 'candidate')).onConflictDoNothing({ target });
        await db.insert(evalReports).values(report(champion, 'champion')).onConflictDoNothing({ target });
        await db.insert(evalReports).values(report(champion, 'champion')).onConflictDoNothing({ target });
        assert.equal(await rowCount(db, evalReports, eq(evalReports.runId, runId)), 2, 'candidate and champion, once each');
        assert.equal(await rowCount(db, evalReports, and(eq(evalReports.runId, runId), eq(evalReports.versionId, candidate))), 1);
        assert.equal(sqlState(await rejectsWith(db.insert(evalReports).values(report(candidate, 'candidate')), /unique|duplicate/i, 'plain insert')), '23505');
      });

      test('approvals.run_id: one human decision per gate', async () => {
        const runId = `run-${uid()}`;
        await db.insert(approvals).values({ runId, decision: 'approved', approver: 'a', reason: 'fine' }).onConflictDoNothing({ target: approvals.runId });
        await db.insert(approvals).values({ runId, decision: 'rejected', approver: 'b', reason: 'late' }).onConflictDoNothing({ target: approvals.runId });
        const rows = await db.select().from(approvals).where(eq(approvals.runId, runId));
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.decision, 'approved', 'the first decision stands');
        assert.equal(sqlState(await rejectsWith(db.insert(approvals).values({ runId, decision: 'approved', approver: 'c', reason: 'again' }), /unique|duplicate/i, 'plain insert')), '23505');
      });

      test('examples (model_id, external_id): one example per external id and model', async () => {
        const model = await newModel(db);
        const other = await newModel(db);
        const ex = (modelId: number, label: number) => ({ modelId, externalId: 'mail-1', input: { text: 'hi' }, label, split: 'train' as const });
        const target = [examples.modelId, examples.externalId];
        const a = await db.insert(examples).values(ex(model.id, 1)).onConflictDoNothing({ target }).returning({ id: examples.id });
        const b = await db.insert(examples).values(ex(model.id, 0)).onConflictDoNothing({ target }).returning({ id: examples.id });
        const c = await db.insert(examples).values(ex(other.id, 0)).onConflictDoNothing({ target }).returning({ id: examples.id });
        assert.deepEqual([a.length, b.length, c.length], [1, 0, 1], 'the same external id is fine under another model');
        const rows = await db.select().from(examples).where(eq(examples.modelId, model.id));
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.label, 1);
        assert.equal(sqlState(await rejectsWith(db.insert(examples).values(ex(model.id, 1)), /unique|duplicate/i, 'plain insert')), '23505');
      });
    });

    test('insertExamples: every field as given, ids in the batch\'s order, known external ids left as they are, observedAt at its instant', async () => {
      const model = await newModel(db);
      const batch: NewExample[] = [
        { externalId: 'b', input: { text: 'x "quoted" \\ ü', n: 3, ok: true, none: null }, label: 1, slices: { tld: 'edu' }, split: 'train', observedAt: '2026-03-01T10:00:00+02:00' },
        { externalId: 'a', input: { text: 'y' }, label: null, slices: {}, split: 'heldout' },
        { externalId: 'c', input: { text: 'z' }, label: 0, slices: {}, split: 'train', observedAt: '2026-03-01' },
      ];
      assert.equal(await insertExamples(db, model.id, batch), 3);
      const rows = await db.select().from(examples).where(eq(examples.modelId, model.id)).orderBy(examples.id);
      assert.deepEqual(rows.map((r) => r.externalId), ['b', 'a', 'c'], 'ids follow the batch');
      assert.deepEqual(rows[0]!.input, batch[0]!.input);
      assert.deepEqual([rows[0]!.label, rows[1]!.label, rows[2]!.label], [1, null, 0]);
      assert.deepEqual([rows[0]!.slices, rows[1]!.slices], [{ tld: 'edu' }, {}]);
      assert.deepEqual([rows[0]!.split, rows[1]!.split], ['train', 'heldout']);
      assert.equal(rows[0]!.labelSource, 'import');
      assert.equal(rows[0]!.observedAt?.toISOString(), '2026-03-01T08:00:00.000Z');
      assert.equal(rows[1]!.observedAt, null);
      assert.equal(rows[2]!.observedAt?.toISOString(), '2026-03-01T00:00:00.000Z', 'a date alone is midnight UTC, whatever the session time zone');
      // Again with one new row: the known ones keep their first values.
      assert.equal(await insertExamples(db, model.id, [{ ...batch[0]!, label: 0 }, { externalId: 'd', input: {}, label: 1, slices: {}, split: 'train' }]), 1);
      const [b] = await db.select().from(examples).where(and(eq(examples.modelId, model.id), eq(examples.externalId, 'b')));
      assert.equal(b!.label, 1);
    });

    test('insertExamples: a batch of known ids writes nothing and changes nothing; a partly known one adds only the new ones, in order', async () => {
      const model = await newModel(db);
      const row = (externalId: string, label: 0 | 1): NewExample => ({ externalId, input: { text: externalId }, label, slices: {}, split: 'train' });
      assert.equal(await insertExamples(db, model.id, [row('a', 1), row('b', 1)]), 2);
      // All known: the plain INSERT fails on the unique index and the batch goes again with ON CONFLICT.
      assert.equal(await insertExamples(db, model.id, [row('b', 0), row('a', 0)]), 0);
      assert.equal(await insertExamples(db, model.id, [row('c', 0), row('a', 0), row('d', 0)]), 2);
      const rows = await db.select().from(examples).where(eq(examples.modelId, model.id)).orderBy(examples.id);
      assert.deepEqual(
        rows.map((r) => [r.externalId, r.label]),
        [['a', 1], ['b', 1], ['c', 0], ['d', 0]],
        'known rows keep their first label; new ones follow the batch',
      );
    });

    test('insertExamples inside a transaction: a known id neither fails nor aborts it, and a rollback takes the new rows back', async () => {
      const model = await newModel(db);
      const row = (externalId: string): NewExample => ({ externalId, input: {}, label: 1, slices: {}, split: 'train' });
      await insertExamples(db, model.id, [row('known')]);
      const inTx = await db.transaction(async (tx) => {
        const n = await insertExamples(tx, model.id, [row('known'), row('new-1')]);
        // The transaction still takes statements (a failed one would have aborted it: 25P02).
        const [c] = await tx.select({ n: count() }).from(examples).where(eq(examples.modelId, model.id));
        return { n, rows: c!.n };
      });
      assert.deepEqual(inTx, { n: 1, rows: 2 });
      await assert.rejects(
        db.transaction(async (tx) => {
          assert.equal(await insertExamples(tx, model.id, [row('new-2')]), 1);
          throw new Error('roll back');
        }),
        /roll back/,
      );
      const ids = (await db.select({ id: examples.externalId }).from(examples).where(eq(examples.modelId, model.id)).orderBy(examples.id)).map((r) => r.id);
      assert.deepEqual(ids, ['known', 'new-1']);
    });

    test('insertExamples: two overlapping batches at once store each id once and count each as new once', async () => {
      const model = await newModel(db);
      const rows = (from: number, to: number): NewExample[] =>
        Array.from({ length: to - from }, (_, i) => ({ externalId: `r-${from + i}`, input: { text: `t${from + i}` }, label: 1, slices: {}, split: 'train' }));
      // On PostgreSQL the second waits on the first's uncommitted rows, then takes the ON CONFLICT path.
      const counts = await Promise.all([insertExamples(db, model.id, rows(0, 600)), insertExamples(db, model.id, rows(400, 1000)), insertExamples(db, model.id, rows(200, 800))]);
      assert.equal(counts.reduce((a, b) => a + b, 0), 1000, `counts ${counts.join(', ')}`);
      const [c] = await db.select({ n: count(), distinct: sql<number>`count(distinct external_id)::int` }).from(examples).where(eq(examples.modelId, model.id));
      assert.deepEqual([c!.n, c!.distinct], [1000, 1000]);
    });

    test('bytea: a 1 MB random artifact round-trips byte-identical', async () => {
      const model = await newModel(db);
      // A plain Uint8Array (not a Buffer), the type the schema declares.
      const artifact = new Uint8Array(randomBytes(1 << 20));
      assert.ok(!Buffer.isBuffer(artifact));
      const hash = createHash('sha256').update(artifact).digest('hex');
      const id = await newVersion(db, model.id, 1, { artifact, artifactHash: `sha256:${hash}` });

      const [row] = await db.select({ artifact: modelVersions.artifact }).from(modelVersions).where(eq(modelVersions.id, id));
      assert.ok(row);
      assert.ok(row.artifact instanceof Uint8Array, `read back as ${Object.prototype.toString.call(row.artifact)}`);
      assert.equal(row.artifact.byteLength, artifact.byteLength);
      assert.equal(Buffer.compare(Buffer.from(row.artifact), Buffer.from(artifact)), 0, 'byte-identical');
      assert.equal(createHash('sha256').update(row.artifact).digest('hex'), hash);

      // And it is stored as the bytes themselves (not, say, their hex text): the database agrees on length and hash.
      const [stored] = await db
        .select({ len: sql<number>`octet_length(${modelVersions.artifact})::int`, hash: sql<string>`encode(sha256(${modelVersions.artifact}), 'hex')` })
        .from(modelVersions)
        .where(eq(modelVersions.id, id));
      assert.equal(Number(stored?.len), 1 << 20);
      assert.equal(stored?.hash, hash);

      // Edge cases: empty and all-byte-values artifacts.
      const every = new Uint8Array(256).map((_, i) => i);
      for (const [n, bytes] of [[2, new Uint8Array(0)], [3, every]] as const) {
        const vid = await newVersion(db, model.id, n, { artifact: bytes });
        const [back] = await db.select({ artifact: modelVersions.artifact }).from(modelVersions).where(eq(modelVersions.id, vid));
        assert.deepEqual([...back!.artifact!], [...bytes]);
      }
    });

    test('jsonb: nested objects, arrays, unicode and numbers round-trip, stored as JSON objects (not strings)', async () => {
      const policy = {
        maxOverallFpr: 0.05,
        nested: { list: [1, 2.5, -3e-7, null, true, 'x'], empty: {}, deep: { a: { b: { c: 'd' } } } },
        text: 'ünïcødé ✓ "quoted" \\ back\nslash',
        big: 2 ** 53 - 1,
      };
      const model = await newModel(db);
      const [stored] = await db.insert(gatePolicies).values({ modelId: model.id, version: 1, document: policy, createdBy: 'db-test' }).returning();
      const [back] = await db.select({ document: gatePolicies.document }).from(gatePolicies).where(eq(gatePolicies.id, stored!.id));
      assert.deepEqual(back?.document, policy);

      const [typed] = await db
        .select({ kind: sql<string>`jsonb_typeof(${gatePolicies.document})`, fpr: sql<string>`${gatePolicies.document}->>'maxOverallFpr'`, c: sql<string>`${gatePolicies.document}#>>'{nested,deep,a,b,c}'` })
        .from(gatePolicies)
        .where(eq(gatePolicies.id, stored!.id));
      assert.deepEqual(typed, { kind: 'object', fpr: '0.05', c: 'd' }, 'a real jsonb object the database can query');

      const input = { subject: 'Re: 💌', body: 'a'.repeat(10_000) };
      const slices = { corpus_group: 'hard_ham', lang: 'de' };
      const [ex] = await db
        .insert(examples)
        .values({ modelId: model.id, externalId: `e-${uid()}`, input, label: null, slices, split: 'heldout' })
        .returning();
      assert.deepEqual(ex?.input, input);
      assert.deepEqual(ex?.slices, slices);
      assert.equal(ex?.label, null);

      const runId = `run-${uid()}`;
      await db.insert(runs).values({ id: runId, modelId: model.id, trigger: 'manual', requestedBy: 't', params: { arr: [{ a: 1 }, [2, [3]]] }, result: { ok: true } });
      const [run] = await db.select().from(runs).where(eq(runs.id, runId));
      assert.deepEqual(run?.params, { arr: [{ a: 1 }, [2, [3]]] });
      assert.deepEqual(run?.result, { ok: true });
      const [kinds] = await db
        .select({ params: sql<string>`jsonb_typeof(${runs.params})`, result: sql<string>`jsonb_typeof(${runs.result})` })
        .from(runs)
        .where(eq(runs.id, runId));
      assert.deepEqual(kinds, { params: 'object', result: 'object' });

      // Defaults: an omitted jsonb column takes its declared default.
      const [defaulted] = await db.insert(auditLog).values({ actor: 'db-test', action: 'test.default', target: `t-${uid()}` }).returning();
      assert.deepEqual(defaulted?.details, {});
    });
  });
}

async function migrationCount(db: Db): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(sql`drizzle.__drizzle_migrations`);
  return Number(row?.n ?? 0);
}
