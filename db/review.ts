// The review queue: abstained requests (scores inside the serving version's abstain band) become items
// of the model's review batch (annotation_batches.kind = 'review'), which the annotation pool works through
// annotation.next / annotation.submit like any batch, soonest due first. A settled review becomes the
// example's label (source 'review', selected by the model with inclusion probability 1), never over a label
// from an import or from annotation. Also each version's frozen decision rule, and the queue's SLA figures.
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { resultRows } from './queries';
import { currentSpec } from './annotation';
import { aggregatedLabels, annotationBatches, annotationTasks, evalReports, examples, modelVersions, scoreSets, type DecisionRule, type LabelSelection } from './schema';
import { decodeScores } from './trainerData';

/**
 * Review batches have no deadline and no annotationBatch workflow: the column is required, so it holds
 * the far future; each item's own due time (due_at) is the deadline that counts.
 */
const NO_DEADLINE = new Date('9999-12-31T00:00:00Z');

/** The one review batch of a model (there is never another: it stays open). */
export const reviewBatchId = (modelId: number) => `review-model-${modelId}`;

/** Writes a version's decision rule once (the first evaluation of the candidate freezes it; a retry changes nothing). */
export async function freezeDecisionRule(db: DbOrTx, versionId: number, rule: DecisionRule): Promise<void> {
  await db.update(modelVersions).set({ decisionRule: rule }).where(and(eq(modelVersions.id, versionId), isNull(modelVersions.decisionRule)));
}

/** Decision rules of versions by id; versions evaluated before rules were frozen map to null. */
export async function decisionRulesOf(db: DbOrTx, versionIds: number[]): Promise<Map<number, DecisionRule | null>> {
  if (versionIds.length === 0) return new Map();
  const rows = await db
    .select({ id: modelVersions.id, rule: modelVersions.decisionRule })
    .from(modelVersions)
    .where(sql`${modelVersions.id} = any(${sql.param(versionIds)}::int[])`);
  return new Map(rows.map((r) => [r.id, r.rule ?? null]));
}

/** An abstained request to be reviewed: its example (already inserted in the same transaction) and when it was served. */
export interface ReviewItem {
  requestId: string;
  externalId: string;
  score: number;
  /** ISO time the request was served; due = this + the model's review SLA. */
  occurredAt: string;
}

/** The model's review batch, created on demand (overlap 1, no gold, under the spec in force). */
async function ensureReviewBatch(tx: DbOrTx, modelId: number): Promise<string> {
  const id = reviewBatchId(modelId);
  const spec = await currentSpec(tx, modelId);
  await tx
    .insert(annotationBatches)
    .values({ id, runId: null, modelId, specVersion: spec.version, kind: 'review', overlap: 1, goldShare: 0, design: { kind: 'review', stratum: 'abstain' }, deadline: NO_DEADLINE, createdBy: 'system' })
    .onConflictDoNothing({ target: annotationBatches.id });
  return id;
}

/**
 * Queues abstained requests for review, in the caller's transaction (the one that logs them): one task per
 * example in the model's review batch, inclusion probability 1, stratum 'abstain', due at occurredAt + the
 * model's review_sla_seconds. An example already queued is queued once. Returns how many tasks are new.
 */
export async function queueReviews(tx: DbOrTx, modelId: number, items: ReviewItem[]): Promise<number> {
  if (items.length === 0) return 0;
  const batchId = await ensureReviewBatch(tx, modelId);
  const col = <T>(f: (r: ReviewItem) => T) => sql.param(items.map(f));
  const result = await tx.execute(sql`
    insert into ${annotationTasks} (batch_id, example_id, stratum, inclusion_probability, score, request_id, due_at)
    select ${batchId}, e.id, 'abstain', 1, t.score, t.request_id, t.occurred_at::timestamptz + make_interval(secs => m.review_sla_seconds)
    from unnest(${col((r) => r.externalId)}::text[], ${col((r) => r.requestId)}::text[], ${col((r) => r.score)}::float8[], ${col((r) => new Date(r.occurredAt).toISOString())}::text[])
      as t(external_id, request_id, score, occurred_at)
    join examples e on e.model_id = ${modelId} and e.external_id = t.external_id
    join models m on m.id = ${modelId}
    on conflict (batch_id, example_id) do nothing
    returning 1`);
  return resultRows(result).length;
}

/** Label sources a review never replaces: a team's import and the annotation pool's aggregated labels are not the model's to overrule. */
const KEPT_SOURCES = ['import', 'annotation', 'feedback'];

/**
 * A settled review task becomes its example's label, in the caller's transaction (submitLabel's): an
 * aggregated_labels row (method 'review') and examples.label with source 'review' and the selection
 * {by: model, how: abstain-band, inclusionProbability 1, requestId, version}, unless the example has a label
 * from an import, annotation or feedback (kept as it is). Returns whether the example's label was written.
 */
export async function applyReviewLabel(tx: DbOrTx, taskId: number, label: number): Promise<boolean> {
  const [task] = resultRows<{ batch_id: string; example_id: number; request_id: string | null; version: number | null }>(
    await tx.execute(sql`
      select t.batch_id, t.example_id, t.request_id, v.version
      from annotation_tasks t join annotation_batches b on b.id = t.batch_id
      left join predictions p on p.model_id = b.model_id and p.request_id = t.request_id
      left join model_versions v on v.id = p.version_id
      where t.id = ${taskId}`),
  );
  if (!task) throw new Error(`review task ${taskId} does not exist`);
  await tx
    .insert(aggregatedLabels)
    .values({ taskId, batchId: task.batch_id, exampleId: Number(task.example_id), label, posterior: 1, majorityLabel: label, dawidSkeneLabel: null, method: 'review', labelCount: 1 })
    .onConflictDoNothing({ target: aggregatedLabels.taskId });
  const selection: LabelSelection = {
    by: 'model',
    how: 'abstain-band',
    inclusionProbability: 1,
    ...(task.request_id !== null ? { requestId: task.request_id } : {}),
    ...(task.version !== null ? { version: Number(task.version) } : {}),
  };
  const written = await tx
    .update(examples)
    .set({ label, labelSource: 'review', labelSelection: selection })
    .where(and(eq(examples.id, Number(task.example_id)), sql`(${examples.label} is null or ${examples.labelSource} not in (${sql.join(KEPT_SOURCES.map((s) => sql`${s}`), sql`, `)}))`))
    .returning({ id: examples.id });
  return written.length > 0;
}

/** One review item's times, for the queue's SLA figures (analysis/abstainReport reviewQueueSummary). */
export interface ReviewTimes {
  queuedAt: Date;
  dueAt: Date;
  /** When its label came; null while pending. */
  reviewedAt: Date | null;
}

/** Every item of a model's review queue with its times (labelled = its first live label). */
export async function reviewTimesOf(db: DbOrTx, modelId: number): Promise<ReviewTimes[]> {
  const rows = resultRows<{ queued_at: string; due_at: string; reviewed_at: string | null }>(
    await db.execute(sql`
      select coalesce(t.created_at, now())::text as queued_at, t.due_at::text as due_at,
             (select min(l.created_at) from labels l where l.task_id = t.id and l.superseded_by_spec is null)::text as reviewed_at
      from annotation_tasks t
      where t.batch_id = ${reviewBatchId(modelId)} and t.due_at is not null
      order by t.id`),
  );
  return rows.map((r) => ({ queuedAt: new Date(r.queued_at), dueAt: new Date(r.due_at), reviewedAt: r.reviewed_at === null ? null : new Date(r.reviewed_at) }));
}

/**
 * What a version served, tallied per group in the database (overall, then each attribute=value of the
 * requests' attributes): requests, abstained ones, decided ones whose example has a label that counts, and the
 * wrong ones among those at `threshold` (score >= threshold decides 1). A label counts when it was selected by
 * design (an import, an annotation sample); left out are labels the model selected (reviews, inside the band
 * by construction) and labels users selected (feedback corrections, given mostly where the decision was wrong).
 * The score is compared as the API reads a stored real (its text as a double), so this equals
 * analysis/abstainReport servedTallies over the same rows. Nothing here grows with the traffic but the groups.
 */
export interface ServedGroupTally {
  /** null: every served request (overall). */
  attribute: string | null;
  value: string | null;
  n: number;
  abstained: number;
  decidedLabelled: number;
  errors: number;
}

export async function servedBandTallies(db: DbOrTx, modelId: number, versionId: number, threshold: number): Promise<ServedGroupTally[]> {
  const rows = resultRows<{ attribute: string | null; value: string | null; n: number; abstained: number; decided_labelled: number; errors: number }>(
    await db.execute(sql`
      with p as (
        select p.abstained, p.attributes, (p.score::text::float8 >= ${threshold}::float8)::int as decision,
               case when e.label is not null and e.label_source not in ('review', 'feedback') and coalesce(e.label_selection ->> 'by', 'design') = 'design' then e.label::int end as label
        from predictions p
        left join examples e on e.model_id = p.model_id and e.external_id = p.example_external_id
        where p.model_id = ${modelId} and p.version_id = ${versionId}
      ), g as (
        select null::text as attribute, null::text as value, p.abstained, p.label, p.decision from p
        union all
        select kv.key, kv.value, p.abstained, p.label, p.decision from p cross join lateral jsonb_each_text(p.attributes) as kv(key, value)
      )
      select g.attribute, g.value, count(*)::int as n,
             (count(*) filter (where g.abstained = 1))::int as abstained,
             (count(*) filter (where g.abstained = 0 and g.label is not null))::int as decided_labelled,
             (count(*) filter (where g.abstained = 0 and g.label is not null and g.label <> g.decision))::int as errors
      from g
      group by g.attribute, g.value`),
  );
  return rows.map((r) => ({ attribute: r.attribute, value: r.value, n: Number(r.n), abstained: Number(r.abstained), decidedLabelled: Number(r.decided_labelled), errors: Number(r.errors) }));
}

/** The held-out scores the version's candidate evaluation used: its complete held-out score set on the snapshot of its first candidate report, in exampleId order. */
export async function heldOutScoresOf(db: DbOrTx, versionId: number): Promise<{ snapshotId: number; scores: Float64Array } | null> {
  const [row] = await db
    .select({ snapshotId: scoreSets.snapshotId, scores: scoreSets.scores })
    .from(evalReports)
    .innerJoin(scoreSets, and(eq(scoreSets.versionId, evalReports.versionId), eq(scoreSets.snapshotId, evalReports.snapshotId), eq(scoreSets.split, 'heldout'), eq(scoreSets.status, 'complete')))
    .where(and(eq(evalReports.versionId, versionId), eq(evalReports.role, 'candidate')))
    .orderBy(asc(evalReports.id), asc(scoreSets.id))
    .limit(1);
  if (!row?.scores) return null;
  return { snapshotId: row.snapshotId, scores: decodeScores(row.scores) };
}

/** One version of a model by number, with its frozen rule; undefined when the model has no such version. */
export async function versionRow(db: DbOrTx, modelId: number, version: number) {
  const [row] = await db
    .select({ versionId: modelVersions.id, version: modelVersions.version, decisionRule: modelVersions.decisionRule })
    .from(modelVersions)
    .where(and(eq(modelVersions.modelId, modelId), eq(modelVersions.version, version)));
  return row;
}
