// Models, their versions, routes and lineage: what the registry and serving read and write.
import { and, asc, count, desc, eq, is, or, sql } from 'drizzle-orm';
import { PgTransaction } from 'drizzle-orm/pg-core';
import type { Db, DbOrTx } from './index';
import { prepared } from './prepared';
import { writeAudit } from './auditLog';
import { resultRows } from './queries';
import { addPolicyVersion, currentPolicy } from './policies';
import type { Json } from './schema';
import { approvals, artifacts, datasetSnapshots, deploymentEvents, evalReports, examples, gateResults, modelVersions, models, routes, runs, saturationReports } from './schema';

export async function findModelByName(db: DbOrTx, name: string) {
  const query = prepared(db, 'findModelByName', () => db.select().from(models).where(eq(models.name, sql.placeholder('name'))).limit(1).prepare('findModelByName'));
  const [row] = await query.execute({ name });
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

// ---- concurrent runs of one model ------------------------------------------------------------------------
//
// Nothing stops two runs of one model from being under way at once (two operators, a drift monitor and a
// schedule); this is what they share and what they do not.
// - Versions: each run's candidate gets its own version number, allocated by insertRunVersion below under
//   a lock on the model's row, so runs that finish training together number their versions one after the
//   other (1, 2, 3 ...: consecutive, in commit order, never a duplicate key). A retried train step finds
//   its run's version instead of taking another number. This is the only place versions are numbered.
// - Evaluation: each run compares its candidate with the production version of the moment it evaluates
//   (its champion), on its own snapshot's held-out set, and stores that packet; a later promotion by
//   another run does not change a stored packet.
// - Promotion: route changes of one model are serialised by the same row lock (changeProductionRoute), so
//   they never interleave; the last one to commit is production, and each deployment event records the
//   version it replaced, so a rollback returns to that one. A run whose champion was replaced after it
//   evaluated is promoted as approved, over the newer version it was never compared with: the approver
//   sees the champion the packet names, and the deployment event shows what was actually replaced.
//   (Refusing or re-evaluating such a promotion is a workflow change, not done here.)

/**
 * Stores a run's newly trained version under its model's next version number and points the run at it,
 * in one transaction. The model's row is locked first (SELECT ... FOR UPDATE), so concurrent callers for
 * one model take max + 1 one after the other: under READ COMMITTED each statement after the lock sees
 * the versions committed before it. Idempotent by run: when the run already has a version (a retried
 * activity, or an overlapping attempt that won), that version is returned and nothing is written.
 */
export async function insertRunVersion(
  db: Db,
  values: Omit<typeof modelVersions.$inferInsert, 'id' | 'version' | 'runId'> & { runId: string },
): Promise<typeof modelVersions.$inferSelect> {
  return db.transaction(async (tx) => {
    await tx.select({ id: models.id }).from(models).where(eq(models.id, values.modelId)).for('update');
    const [next] = await tx
      .select({ v: sql<number>`coalesce(max(${modelVersions.version}), 0) + 1` })
      .from(modelVersions)
      .where(eq(modelVersions.modelId, values.modelId));
    const [inserted] = await tx
      .insert(modelVersions)
      .values({ ...values, version: Number(next?.v ?? 1) })
      .onConflictDoNothing({ target: modelVersions.runId })
      .returning();
    if (inserted) {
      await tx.update(runs).set({ candidateVersionId: inserted.id }).where(eq(runs.id, values.runId));
      return inserted;
    }
    const [raced] = await tx.select().from(modelVersions).where(eq(modelVersions.runId, values.runId));
    if (!raced) throw new Error(`version of run ${values.runId} neither inserted nor found`);
    return raced;
  });
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

export type RouteKind = 'production' | 'canary' | 'shadow';

/** A model's trainer (trainer contract): which trainer, on which queue, with which params. */
export interface ModelTrainer {
  name: string;
  /** The trainer's task queue; null: the control plane's own training queue (the built-in trainer). */
  queue: string | null;
  params: Record<string, Json>;
  timeToStartSeconds: number;
}

export type ModelFeatures = NonNullable<typeof models.$inferSelect.featureSchema>;

const trainerColumns = (t: ModelTrainer) => ({
  trainerName: t.name,
  trainerQueue: t.queue,
  trainerParams: t.params,
  trainerTimeToStartSeconds: t.timeToStartSeconds,
});

/** Registers a model and, when given, version 1 of its gate policy, in one transaction; null when the name is taken. */
export async function registerModel(
  db: Db,
  input: { name: string; description: string; createdBy: string; gatePolicy?: unknown; trainer?: ModelTrainer; features?: ModelFeatures | null; reviewSlaSeconds?: number },
): Promise<{ id: number; name: string; policyVersion: number | null } | null> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(models)
      .values({
        name: input.name,
        description: input.description,
        createdBy: input.createdBy,
        ...(input.trainer ? trainerColumns(input.trainer) : {}),
        featureSchema: input.features ?? null,
        ...(input.reviewSlaSeconds !== undefined ? { reviewSlaSeconds: input.reviewSlaSeconds } : {}),
      })
      .onConflictDoNothing({ target: models.name })
      .returning({ id: models.id, name: models.name });
    if (!row) return null;
    const policyVersion = input.gatePolicy ? await addPolicyVersion(tx, row.id, input.gatePolicy, input.createdBy) : null;
    return { ...row, policyVersion };
  });
}

/** Points a model at another trainer, params or time-to-start; false when there is no such model. */
export async function setModelTrainer(db: DbOrTx, modelId: number, trainer: ModelTrainer): Promise<boolean> {
  const updated = await db.update(models).set(trainerColumns(trainer)).where(eq(models.id, modelId)).returning({ id: models.id });
  return updated.length > 0;
}

/** Every model with its number of versions and its production version, by name. */
export async function listModels(db: DbOrTx) {
  const rows = await db
    .select({
      name: models.name,
      description: models.description,
      createdBy: models.createdBy,
      createdAt: models.createdAt,
      trainerName: models.trainerName,
      trainerQueue: models.trainerQueue,
      trainerParams: models.trainerParams,
      trainerTimeToStartSeconds: models.trainerTimeToStartSeconds,
      featureSchema: models.featureSchema,
      // Correlated subqueries name the outer table explicitly: drizzle renders a bare column as "id",
      // which inside the subquery would bind to the inner table's own id.
      versions: sql<number>`(select count(*) from model_versions v where v.model_id = "models"."id")`,
      productionVersion: sql<number | null>`(select mv.version from routes r join model_versions mv on mv.id = r.version_id where r.model_id = "models"."id" and r.kind = 'production')`,
      canaryVersion: sql<number | null>`(select mv.version from routes r join model_versions mv on mv.id = r.version_id where r.model_id = "models"."id" and r.kind = 'canary')`,
      canaryWeight: sql<number | null>`(select r.weight from routes r where r.model_id = "models"."id" and r.kind = 'canary')`,
      shadowVersion: sql<number | null>`(select mv.version from routes r join model_versions mv on mv.id = r.version_id where r.model_id = "models"."id" and r.kind = 'shadow')`,
      /** The gate policy in force (its highest version), null when the model has none. */
      policyVersion: sql<number | null>`(select max(gp.version) from gate_policies gp where gp.model_id = "models"."id")`,
    })
    .from(models)
    .orderBy(asc(models.name));
  return rows.map((r) => ({
    ...r,
    versions: Number(r.versions),
    productionVersion: r.productionVersion === null ? null : Number(r.productionVersion),
    canaryVersion: r.canaryVersion === null ? null : Number(r.canaryVersion),
    canaryWeight: r.canaryWeight === null ? null : Number(r.canaryWeight),
    shadowVersion: r.shadowVersion === null ? null : Number(r.shadowVersion),
    policyVersion: r.policyVersion === null ? null : Number(r.policyVersion),
  }));
}

/** A model's versions, oldest first, without their artifacts. */
export function versionsOf(db: DbOrTx, modelId: number) {
  return db
    .select({
      id: modelVersions.id,
      version: modelVersions.version,
      status: modelVersions.status,
      trainer: modelVersions.trainer,
      artifactHash: modelVersions.artifactHash,
      snapshotId: modelVersions.snapshotId,
      parentVersionId: modelVersions.parentVersionId,
      runId: modelVersions.runId,
      createdAt: modelVersions.createdAt,
    })
    .from(modelVersions)
    .where(eq(modelVersions.modelId, modelId))
    .orderBy(asc(modelVersions.version));
}

/** A model's routes (production, canary, shadow) with the version each points at. */
export function routesOf(db: DbOrTx, modelId: number) {
  const query = prepared(db, 'routesOf', () =>
    db
      .select({ kind: routes.kind, version: modelVersions.version, versionId: routes.versionId, weight: routes.weight, updatedAt: routes.updatedAt, decisionRule: modelVersions.decisionRule })
      .from(routes)
      .innerJoin(modelVersions, eq(modelVersions.id, routes.versionId))
      .where(eq(routes.modelId, sql.placeholder('modelId')))
      .prepare('routesOf'),
  );
  return query.execute({ modelId });
}

export async function exampleCount(db: DbOrTx, modelId: number): Promise<number> {
  const [row] = await db.select({ n: count() }).from(examples).where(eq(examples.modelId, modelId));
  return Number(row?.n ?? 0);
}

/** A model with its versions, routes, example count and the policy in force. */
export async function modelDetail(db: DbOrTx, modelId: number) {
  const versions = await versionsOf(db, modelId);
  const modelRoutes = await routesOf(db, modelId);
  return { versions, routes: modelRoutes, examples: await exampleCount(db, modelId), policy: await currentPolicy(db, modelId) };
}

export interface NewExample {
  externalId: string;
  /** Checked against the model's feature schema before it gets here (analysis/featureSchema). */
  input: Record<string, string | number | boolean | null>;
  label: 0 | 1 | null;
  slices: Record<string, string>;
  split: 'train' | 'heldout';
  observedAt?: string | undefined;
}

/** Whether an error (or a cause under it) is PostgreSQL's unique_violation (SQLSTATE 23505), as postgres.js and PGlite report it. */
function uniqueViolation(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

/**
 * Adds examples; one whose external id the model already has is left as it is. Returns how many were new.
 * The batch travels as one JSON parameter that the database unpacks (jsonb_to_recordset), in the batch's
 * order: a multi-row VALUES built by the query builder cost about 45 µs of CPU a row (eight parameters
 * each, checked and mapped one by one), most of an import's time at a million rows.
 *
 * New examples are the common case, so a plain INSERT goes first: ON CONFLICT's speculative insertion
 * (a look into the unique index before each row, then the insertion's own) cost PostgreSQL about a third
 * more CPU a row (3.2 s against 2.5 s of backend CPU for 200,000 rows in batches of 2,000). A batch with
 * an external id the model has fails that INSERT as a whole (unique_violation: nothing of it is written)
 * and is sent again with ON CONFLICT DO NOTHING, which also settles a race with a concurrent import of the
 * same ids. Inside a transaction the failed statement would abort it, so there ON CONFLICT goes first.
 */
export async function insertExamples(db: DbOrTx, modelId: number, rows: NewExample[]): Promise<number> {
  const batch = JSON.stringify(
    rows.map((e) => ({
      external_id: e.externalId,
      input: e.input,
      label: e.label,
      slices: e.slices,
      split: e.split,
      // ISO with its offset, so the session's time zone never reads it.
      observed_at: e.observedAt ? new Date(e.observedAt).toISOString() : null,
    })),
  );
  const select = sql`select ${modelId}, r.external_id, r.input, r.label, r.slices, r.split, r.observed_at
    from jsonb_to_recordset(${batch}::jsonb) as r(external_id text, input jsonb, label smallint, slices jsonb, split text, observed_at timestamptz)`;
  const columns = sql`examples (model_id, external_id, input, label, slices, split, observed_at)`;
  if (!is(db, PgTransaction)) {
    try {
      await db.execute(sql`insert into ${columns} ${select}`);
      return rows.length;
    } catch (err) {
      if (!uniqueViolation(err)) throw err;
    }
  }
  const [row] = resultRows<{ n: number | string }>(
    await db.execute(sql`
      with added as (insert into ${columns} ${select} on conflict (model_id, external_id) do nothing returning 1)
      select count(*)::int as n from added`),
  );
  return Number(row?.n ?? 0);
}

/** Version numbers of a model's versions by id (0 for an id it does not have). */
export async function versionNumbers(db: DbOrTx, modelId: number): Promise<(id: number | null) => number> {
  const numbers = await db.select({ id: modelVersions.id, version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.modelId, modelId));
  return (id) => numbers.find((n) => n.id === id)?.version ?? 0;
}

/**
 * The stored artifact of a version, for a scorer to load: its own bytes (versions trained before the
 * trainer contract), else the control plane's store by hash. Null when the trainer keeps it elsewhere.
 */
export async function versionArtifact(db: DbOrTx, versionId: number): Promise<Uint8Array | null> {
  const [row] = await db
    .select({ artifact: modelVersions.artifact, hash: modelVersions.artifactHash })
    .from(modelVersions)
    .where(eq(modelVersions.id, versionId));
  if (!row) throw new Error(`model version ${versionId} not found`);
  if (row.artifact) return row.artifact;
  const [stored] = await db.select({ bytes: artifacts.bytes }).from(artifacts).where(eq(artifacts.sha256, row.hash));
  return stored?.bytes ?? null;
}

/**
 * The threshold a version decides at: the one its own run's candidate evaluation ran with
 * (summary.settings.threshold), since that is the threshold its gate judged; null when it has no
 * such report (a version loaded by hand). The packet's `thresholds` analyses are advice to the
 * approver, not a setting, and are not read here.
 */
export async function evaluatedThreshold(db: DbOrTx, versionId: number): Promise<number | null> {
  const query = prepared(db, 'evaluatedThreshold', () =>
    db
      .select({ summary: evalReports.summary })
      .from(evalReports)
      .where(and(eq(evalReports.versionId, sql.placeholder('versionId')), eq(evalReports.role, 'candidate')))
      .orderBy(asc(evalReports.id))
      .limit(1)
      .prepare('evaluatedThreshold'),
  );
  const [report] = await query.execute({ versionId });
  const threshold = (report?.summary as { settings?: { threshold?: unknown } } | null | undefined)?.settings?.threshold;
  return typeof threshold === 'number' && threshold >= 0 && threshold <= 1 ? threshold : null;
}

/** Every route of a model (production, canary, shadow: one row each at most) with the version behind it, in one query. */
export function routedVersions(db: DbOrTx, modelId: number) {
  const query = prepared(db, 'routedVersions', () =>
    db
      .select({ kind: routes.kind, versionId: modelVersions.id, version: modelVersions.version, trainer: modelVersions.trainer, artifactHash: modelVersions.artifactHash, weight: routes.weight, decisionRule: modelVersions.decisionRule })
      .from(routes)
      .innerJoin(modelVersions, eq(modelVersions.id, routes.versionId))
      .where(eq(routes.modelId, sql.placeholder('modelId')))
      .prepare('routedVersions'),
  );
  return query.execute({ modelId });
}

/** The version behind one route of a model, with its trainer and artifact hash; undefined when there is no such route. */
export async function routedVersion(db: DbOrTx, modelId: number, kind: RouteKind) {
  return (await routedVersions(db, modelId)).find((r) => r.kind === kind);
}

/**
 * A version with its full lineage: snapshot, parent, reports, gate, approval, saturation verdict
 * and the deployments it took part in; null when the model has no such version.
 */
export async function versionLineage(db: DbOrTx, modelId: number, version: number) {
  const [v] = await db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.modelId, modelId), eq(modelVersions.version, version)));
  if (!v) return null;
  const one = async <T,>(q: Promise<T[]>) => (await q)[0] ?? null;
  const snapshot = v.snapshotId
    ? await one(
        db
          .select({ id: datasetSnapshots.id, contentHash: datasetSnapshots.contentHash, trainCount: datasetSnapshots.trainCount, heldoutCount: datasetSnapshots.heldoutCount, runId: datasetSnapshots.runId, heldOutDesign: datasetSnapshots.heldOutDesign, labelMix: datasetSnapshots.labelMix })
          .from(datasetSnapshots)
          .where(eq(datasetSnapshots.id, v.snapshotId)),
      )
    : null;
  const parent = v.parentVersionId ? await one(db.select({ version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.id, v.parentVersionId))) : null;
  const reports = await db
    .select({ id: evalReports.id, runId: evalReports.runId, role: evalReports.role, contentHash: evalReports.contentHash, createdAt: evalReports.createdAt })
    .from(evalReports)
    .where(eq(evalReports.versionId, v.id))
    .orderBy(asc(evalReports.id));
  const gate = v.runId ? await one(db.select({ decision: gateResults.decision, policyVersion: gateResults.policyVersion, packetHash: gateResults.packetHash }).from(gateResults).where(eq(gateResults.runId, v.runId))) : null;
  const approval = v.runId ? await one(db.select({ decision: approvals.decision, approver: approvals.approver, reason: approvals.reason, reportHash: approvals.reportHash }).from(approvals).where(eq(approvals.runId, v.runId))) : null;
  const saturation = v.runId ? await one(db.select({ verdict: saturationReports.verdict, contentHash: saturationReports.contentHash }).from(saturationReports).where(eq(saturationReports.runId, v.runId))) : null;
  const deployments = await db
    .select({ action: deploymentEvents.action, actor: deploymentEvents.actor, reason: deploymentEvents.reason, runId: deploymentEvents.runId, createdAt: deploymentEvents.createdAt })
    .from(deploymentEvents)
    .where(or(eq(deploymentEvents.toVersionId, v.id), eq(deploymentEvents.fromVersionId, v.id)))
    .orderBy(asc(deploymentEvents.id));
  return {
    version: v.version,
    status: v.status,
    // Versions trained before the trainer contract have only the trainer's name (e.g. hashed-logreg@1).
    trainer: { name: v.trainer, version: v.trainerVersion, codeDigest: v.codeDigest, taskQueue: v.trainerQueue },
    // The params the trainer was given (any JSON; the built-in trainer's are numbers).
    params: (v.params ?? {}) as Record<string, unknown>,
    artifactHash: v.artifactHash,
    // Where the artifact is; a version from before the contract holds its bytes itself (uri null).
    artifact: { uri: v.artifactUri, sha256: v.artifactHash, size: v.artifactSize ?? v.artifact?.length ?? null },
    labelSources: v.labelSources ?? null,
    parentVersion: parent?.version ?? null,
    runId: v.runId,
    snapshot,
    reports,
    gate,
    approval,
    saturation,
    deployments,
    createdAt: v.createdAt,
  };
}
