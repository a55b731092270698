// Annotation queries shared by the API (labels arrive there) and the batch activities (sweeps, close),
// so a task is settled by one rule in one place.
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import { taskVerdict } from '../analysis/annotationTasks';
import type { DbOrTx } from './index';
import { resultRows } from './queries';
import { annotationBatches, annotationSpecs, annotationTasks, labels, type TaskStatus } from './schema';

export const DEFAULT_SPEC = {
  guidelines:
    'Label each e-mail as spam (unsolicited bulk or fraudulent mail) or ham (mail the recipient wanted, including newsletters they subscribed to). Judge the content and sender, not the formatting: HTML or a foreign sender alone is not spam.',
  labels: ['ham', 'spam'],
};

/** The spec in force for a model (highest version); the first is created on demand. */
export async function currentSpec(db: DbOrTx, modelId: number, createdBy = 'system') {
  const [row] = await db
    .select()
    .from(annotationSpecs)
    .where(eq(annotationSpecs.modelId, modelId))
    .orderBy(desc(annotationSpecs.version))
    .limit(1);
  if (row) return row;
  await db
    .insert(annotationSpecs)
    .values({ modelId, version: 1, guidelines: DEFAULT_SPEC.guidelines, labels: DEFAULT_SPEC.labels, createdBy })
    .onConflictDoNothing();
  const [created] = await db
    .select()
    .from(annotationSpecs)
    .where(and(eq(annotationSpecs.modelId, modelId), eq(annotationSpecs.version, 1)));
  if (!created) throw new Error(`could not create the first annotation spec of model ${modelId}`);
  return created;
}

/** The quorum share a batch was created with (design.quorum, default all labels agree). */
export function batchQuorum(design: unknown): number {
  const q = (design as { quorum?: unknown } | null)?.quorum;
  return typeof q === 'number' && q > 0 && q <= 1 ? q : 1;
}

/**
 * Re-derives a task's status from its current (non-superseded) labels and stores it. Callers hold a
 * transaction; the task row is locked (no key update: label inserts' foreign-key checks still pass)
 * so two labels arriving together settle it once.
 */
export async function settleTask(tx: DbOrTx, taskId: number): Promise<TaskStatus> {
  const [task] = await tx
    .select({ status: annotationTasks.status, overlap: annotationBatches.overlap, design: annotationBatches.design })
    .from(annotationTasks)
    .innerJoin(annotationBatches, eq(annotationBatches.id, annotationTasks.batchId))
    .where(eq(annotationTasks.id, taskId))
    .for('no key update', { of: annotationTasks });
  if (!task) throw new Error(`annotation task ${taskId} does not exist`);
  const rows = await tx
    .select({ label: labels.label, adjudication: labels.adjudication })
    .from(labels)
    .where(and(eq(labels.taskId, taskId), isNull(labels.supersededBySpec)));
  const adjudicated = rows.find((r) => r.adjudication === 1)?.label ?? null;
  const verdict = taskVerdict(
    rows.filter((r) => r.adjudication === 0).map((r) => r.label),
    adjudicated,
    task.overlap,
    batchQuorum(task.design),
  );
  if (verdict.status !== task.status && task.status !== 'unresolved') {
    await tx.update(annotationTasks).set({ status: verdict.status }).where(eq(annotationTasks.id, taskId));
  }
  return task.status === 'unresolved' ? 'unresolved' : verdict.status;
}

/** Counts of a batch's tasks by status and its labels; `reassigned` = assignments taken back. */
export async function batchCounts(db: DbOrTx, batchId: string) {
  const rows = await db.execute<{ status: string; n: string }>(sql`
    select status, count(*)::text as n from ${annotationTasks} where batch_id = ${batchId} group by status`);
  const byStatus = Object.fromEntries(resultRows<{ status: string; n: string }>(rows).map((r) => [r.status, Number(r.n)]));
  const extra = resultRows<{ labels: string; reassigned: string }>(
    await db.execute<{ labels: string; reassigned: string }>(sql`
      select (select count(*) from labels l join annotation_tasks t on t.id = l.task_id
               where t.batch_id = ${batchId} and l.superseded_by_spec is null)::text as labels,
             (select coalesce(sum(a.lapses), 0) from annotation_assignments a join annotation_tasks t on t.id = a.task_id
               where t.batch_id = ${batchId})::text as reassigned`),
  )[0]!;
  const open = byStatus.open ?? 0;
  const adjudication = byStatus.adjudication ?? 0;
  const done = byStatus.done ?? 0;
  const unresolved = byStatus.unresolved ?? 0;
  return {
    tasks: open + adjudication + done + unresolved,
    open,
    adjudication,
    done,
    labels: Number(extra.labels),
    reassigned: Number(extra.reassigned),
  };
}
