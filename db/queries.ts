// Small query helpers shared by activities and the API, so a route change is written one way only.
import { and, asc, desc, eq } from 'drizzle-orm';
import type { Db, DbOrTx } from './index';
import { auditLog, datasetSnapshotMembers, deploymentEvents, examples, gatePolicies, modelVersions, models, routes, runs } from './schema';

export interface AuditEntry {
  actor: string;
  action: string;
  target: string;
  details?: Record<string, unknown>;
}

export async function writeAudit(db: DbOrTx, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values({ ...entry, details: entry.details ?? {} });
}

/** Rows of db.execute: postgres.js returns an array, PGlite a { rows } object. */
export function resultRows<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows?: T[] }).rows ?? []);
}

export async function findModelByName(db: DbOrTx, name: string) {
  const [row] = await db.select().from(models).where(eq(models.name, name)).limit(1);
  return row;
}

/** A run with its model's name and its candidate's version number. */
export async function findRunById(db: DbOrTx, id: string) {
  const [row] = await db
    .select({ run: runs, model: models.name, candidateVersion: modelVersions.version })
    .from(runs)
    .innerJoin(models, eq(models.id, runs.modelId))
    .leftJoin(modelVersions, eq(modelVersions.id, runs.candidateVersionId))
    .where(eq(runs.id, id))
    .limit(1);
  return row;
}

export async function productionVersionId(db: DbOrTx, modelId: number): Promise<number | null> {
  const [row] = await db
    .select({ versionId: routes.versionId })
    .from(routes)
    .where(and(eq(routes.modelId, modelId), eq(routes.kind, 'production')))
    .limit(1);
  return row?.versionId ?? null;
}

export interface RouteChange {
  modelId: number;
  toVersionId: number;
  action: 'promote' | 'rollback';
  actor: string;
  reason: string;
  runId: string | null;
  /** Unique per intended change; a second call with the same key changes nothing and returns the first outcome. */
  idempotencyKey: string;
  /** Status given to the version that stops serving. */
  previousStatus: 'retired' | 'rolled_back';
}

export interface RouteChangeResult {
  applied: boolean;
  fromVersionId: number | null;
  toVersionId: number;
}

/** Points the production route at a version, in one transaction with its deployment event and audit entry. */
export async function changeProductionRoute(db: Db, change: RouteChange): Promise<RouteChangeResult> {
  return db.transaction(async (tx) => {
    // Serialise route changes per model: overlapping retries with one key, or two promotions of the
    // same model, must not interleave between the idempotency check and the writes.
    await tx.select({ id: models.id }).from(models).where(eq(models.id, change.modelId)).for('update');
    const [done] = await tx
      .select()
      .from(deploymentEvents)
      .where(eq(deploymentEvents.idempotencyKey, change.idempotencyKey))
      .limit(1);
    if (done) return { applied: false, fromVersionId: done.fromVersionId, toVersionId: done.toVersionId };

    const fromVersionId = await productionVersionId(tx, change.modelId);
    const now = new Date();
    if (fromVersionId !== null && fromVersionId !== change.toVersionId) {
      await tx
        .update(modelVersions)
        .set({ status: change.previousStatus, statusChangedAt: now })
        .where(eq(modelVersions.id, fromVersionId));
    }
    await tx
      .update(modelVersions)
      .set({ status: 'production', statusChangedAt: now })
      .where(eq(modelVersions.id, change.toVersionId));
    await tx
      .insert(routes)
      .values({ modelId: change.modelId, kind: 'production', versionId: change.toVersionId, weight: 1, updatedAt: now })
      .onConflictDoUpdate({
        target: [routes.modelId, routes.kind],
        set: { versionId: change.toVersionId, weight: 1, updatedAt: now },
      });
    await tx.insert(deploymentEvents).values({
      modelId: change.modelId,
      action: change.action,
      fromVersionId,
      toVersionId: change.toVersionId,
      runId: change.runId,
      actor: change.actor,
      reason: change.reason,
      idempotencyKey: change.idempotencyKey,
    });
    await writeAudit(tx, {
      actor: change.actor,
      action: `route.${change.action}`,
      target: `model:${change.modelId}`,
      details: { fromVersionId, toVersionId: change.toVersionId, runId: change.runId, reason: change.reason },
    });
    return { applied: true, fromVersionId, toVersionId: change.toVersionId };
  });
}

/**
 * The version production ran before the current one was promoted. Only promote events count, so a
 * rolled-back version is never restored by a second rollback.
 */
export async function previousProductionVersionId(db: DbOrTx, modelId: number): Promise<number | null> {
  const current = await productionVersionId(db, modelId);
  if (current === null) return null;
  const [last] = await db
    .select()
    .from(deploymentEvents)
    .where(
      and(
        eq(deploymentEvents.modelId, modelId),
        eq(deploymentEvents.toVersionId, current),
        eq(deploymentEvents.action, 'promote'),
      ),
    )
    .orderBy(desc(deploymentEvents.id))
    .limit(1);
  return last?.fromVersionId ?? null;
}

/** The gate policy in force for a model: its highest version, or null when it has none. */
export async function currentPolicy(db: DbOrTx, modelId: number): Promise<{ version: number; document: unknown; createdBy: string; createdAt: Date } | null> {
  const [row] = await db
    .select({ version: gatePolicies.version, document: gatePolicies.document, createdBy: gatePolicies.createdBy, createdAt: gatePolicies.createdAt })
    .from(gatePolicies)
    .where(eq(gatePolicies.modelId, modelId))
    .orderBy(desc(gatePolicies.version))
    .limit(1);
  return row ?? null;
}

/** Stores a new policy version (the next integer) for a model. */
export async function addPolicyVersion(db: DbOrTx, modelId: number, document: unknown, createdBy: string): Promise<number> {
  const current = await currentPolicy(db, modelId);
  const version = (current?.version ?? 0) + 1;
  await db.insert(gatePolicies).values({ modelId, version, document, createdBy });
  return version;
}

/** A snapshot's members of one split with their inputs and slices, in example order. */
export async function snapshotMembers(db: DbOrTx, snapshotId: number, split: 'train' | 'heldout') {
  return db
    .select({
      exampleId: datasetSnapshotMembers.exampleId,
      externalId: examples.externalId,
      label: datasetSnapshotMembers.label,
      input: examples.input,
      slices: examples.slices,
    })
    .from(datasetSnapshotMembers)
    .innerJoin(examples, eq(examples.id, datasetSnapshotMembers.exampleId))
    .where(and(eq(datasetSnapshotMembers.snapshotId, snapshotId), eq(datasetSnapshotMembers.split, split)))
    .orderBy(asc(datasetSnapshotMembers.exampleId));
}
