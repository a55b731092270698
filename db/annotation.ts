// Annotation queries shared by the API (the pool, the guidelines, the task loop annotators pull) and
// the batch activities (sweeps, close), so a task is settled by one rule in one place. The rule itself
// (analysis/annotationTasks taskVerdict) is passed in by the caller: db/ imports no analysis/.
import { and, desc, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { writeAudit } from './auditLog';
import { resultRows } from './queries';
import { applyReviewLabel } from './review';
import { annotationAssignments, annotationBatches, annotationSpecs, annotationTasks, annotators, labels, TASK_STATUSES, type TaskStatus } from './schema';

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

/** How a task's labels settle it (analysis/annotationTasks taskVerdict): open, done or adjudication. */
export type TaskJudge = (labels: readonly number[], adjudicated: number | null, overlap: number, quorum: number) => { status: Exclude<TaskStatus, 'unresolved'> };

/**
 * Re-derives a task's status from its current (non-superseded) labels and stores it. Callers hold a
 * transaction; the task row is locked (no key update: label inserts' foreign-key checks still pass)
 * so two labels arriving together settle it once.
 */
export async function settleTask(tx: DbOrTx, taskId: number, taskVerdict: TaskJudge): Promise<TaskStatus> {
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

/**
 * A request the annotation rules refuse. Raised inside the transaction that found it, so nothing is
 * written; `kind` says how the API answers (missing: not found, conflict, invalid: bad input).
 */
export class AnnotationRefused extends Error {
  constructor(
    readonly kind: 'missing' | 'conflict' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'AnnotationRefused';
  }
}

// ---- the pool -------------------------------------------------------------------------------------------

export async function findAnnotator(db: DbOrTx, subject: string) {
  const [row] = await db.select().from(annotators).where(eq(annotators.subject, subject));
  return row;
}

export async function upsertAnnotator(db: DbOrTx, a: { subject: string; attributes: Record<string, string>; adjudicator: boolean; active: boolean }) {
  const values = { subject: a.subject, attributes: a.attributes, adjudicator: a.adjudicator ? 1 : 0, active: a.active ? 1 : 0 };
  await db
    .insert(annotators)
    .values(values)
    .onConflictDoUpdate({ target: annotators.subject, set: { attributes: values.attributes, adjudicator: values.adjudicator, active: values.active } });
}

export async function annotatorPool(db: DbOrTx) {
  return db.select().from(annotators);
}

/** Labels, gold labels and correct gold labels per annotator and batch of a model, oldest batch first. */
export async function goldCountsByAnnotator(db: DbOrTx, modelId: number) {
  const rows = resultRows<{ annotator: string; batch_id: string; at: string; labels: string; gold: string; correct: string }>(
    await db.execute(sql`
      select l.annotator, t.batch_id, b.created_at::text as at, count(*)::text as labels,
             count(*) filter (where t.is_gold = 1)::text as gold,
             count(*) filter (where t.is_gold = 1 and l.label = t.gold_label)::text as correct
      from labels l join annotation_tasks t on t.id = l.task_id join annotation_batches b on b.id = t.batch_id
      where b.model_id = ${modelId} and l.superseded_by_spec is null
      group by l.annotator, t.batch_id, b.created_at order by b.created_at, t.batch_id`),
  );
  return rows.map((r) => ({ annotator: r.annotator, batchId: r.batch_id, at: r.at, labels: Number(r.labels), gold: Number(r.gold), correct: Number(r.correct) }));
}

// ---- the guidelines ----------------------------------------------------------------------------------------

/**
 * Publishes the next guidelines version. Labels made under an older spec on affected items (slice
 * attribute → values; {} = every item) stop counting; their annotators may label again (the assignment
 * is dropped), and tasks in open batches are settled again. One transaction with its audit entry.
 */
export async function publishSpec(
  db: DbOrTx,
  input: { modelId: number; modelName: string; guidelines: string; labels?: string[]; affects: Record<string, string[]>; createdBy: string },
  taskVerdict: TaskJudge,
) {
  return db.transaction(async (tx) => {
    const previous = await currentSpec(tx, input.modelId, input.createdBy);
    if (input.labels && input.labels.join('\u0000') !== previous.labels.join('\u0000') && input.labels.length < previous.labels.length) {
      throw new AnnotationRefused('invalid', `labels: a new version may add labels but not remove them (in force: ${previous.labels.join(', ')})`);
    }
    const [spec] = await tx
      .insert(annotationSpecs)
      .values({
        modelId: input.modelId,
        version: previous.version + 1,
        guidelines: input.guidelines,
        labels: input.labels ?? previous.labels,
        affects: input.affects,
        createdBy: input.createdBy,
      })
      .returning();
    if (!spec) throw new Error('spec insert returned nothing');
    // Labels made under an older spec on affected items stop counting; their annotators may label
    // again (the assignment is dropped), and tasks in open batches go back to open.
    const affectsSql =
      Object.keys(input.affects).length === 0
        ? sql`true`
        : sql.join(
            Object.entries(input.affects).map(([k, vs]) => sql`(e.slices ->> ${k}) = any(${sql.param(vs)}::text[])`),
            sql` or `,
          );
    const marked = resultRows<{ task_id: string; annotator: string }>(
      await tx.execute(sql`
        update labels l set superseded_by_spec = ${spec.version}
        from annotation_tasks t, annotation_batches b, examples e
        where t.id = l.task_id and b.id = t.batch_id and e.id = t.example_id and b.model_id = ${input.modelId}
          and l.superseded_by_spec is null and l.spec_version < ${spec.version} and (${affectsSql})
        returning l.task_id, l.annotator`),
    );
    for (const m of marked) {
      await tx.delete(annotationAssignments).where(and(eq(annotationAssignments.taskId, Number(m.task_id)), eq(annotationAssignments.annotator, m.annotator)));
    }
    const tasks = [...new Set(marked.map((m) => Number(m.task_id)))];
    let reopened = 0;
    for (const id of tasks) {
      const open = resultRows<{ open: boolean }>(
        await tx.execute(sql`select b.status = 'open' as open from annotation_tasks t join annotation_batches b on b.id = t.batch_id where t.id = ${id}`),
      )[0]?.open;
      if (open && (await settleTask(tx, id, taskVerdict)) === 'open') reopened++;
    }
    await writeAudit(tx, {
      actor: input.createdBy,
      action: 'annotation.spec.relabel',
      target: `model:${input.modelName}`,
      details: { version: spec.version, labelsSuperseded: marked.length, tasksReopened: reopened },
    });
    return { ...spec, relabel: { labels: marked.length, tasksReopened: reopened } };
  });
}

// ---- pool composition and the pool's gold accuracy ---------------------------------------------------------

/**
 * Distinct annotators qualifying for the composition requirement `r` (a jsonb element {slice, value,
 * attribute, equals, min} in scope as `r`) who have a live label on an item of r's slice in `batch`.
 */
function compositionQualifiedSql(batch: SQL) {
  return sql`(select count(distinct l2.annotator) from labels l2
            join annotation_tasks t2 on t2.id = l2.task_id
            join examples e2 on e2.id = t2.example_id
            join annotators an on an.subject = l2.annotator
            where t2.batch_id = ${batch} and l2.superseded_by_spec is null and l2.adjudication = 0
              and (e2.slices ->> (r ->> 'slice')) = (r ->> 'value')
              and (an.attributes ->> (r ->> 'attribute')) = (r ->> 'equals'))`;
}

export interface CompositionStatus {
  slice: string;
  value: string;
  attribute: string;
  equals: string;
  min: number;
  /** Qualifying annotators with a live label on the slice. */
  qualified: number;
  /** Every annotator with a live label on the slice. */
  annotators: number;
  /** Items of the slice still open (held from non-qualifying annotators while the requirement is unmet). */
  openTasks: number;
  /** Active qualifying annotators in the pool: fewer than min and the requirement can never be met. */
  poolQualified: number;
  met: boolean;
}

/** Each composition requirement of a batch (design.composition) and how far it is met. */
export async function compositionStatus(db: DbOrTx, batchId: string): Promise<CompositionStatus[]> {
  const rows = resultRows<{ r: unknown; qualified: string; annotators: string; open_tasks: string; pool_qualified: string }>(
    await db.execute(sql`
      select r, ${compositionQualifiedSql(sql`b.id`)}::text as qualified,
             (select count(distinct l3.annotator) from labels l3 join annotation_tasks t3 on t3.id = l3.task_id join examples e3 on e3.id = t3.example_id
               where t3.batch_id = b.id and l3.superseded_by_spec is null and l3.adjudication = 0 and (e3.slices ->> (r ->> 'slice')) = (r ->> 'value'))::text as annotators,
             (select count(*) from annotation_tasks t4 join examples e4 on e4.id = t4.example_id
               where t4.batch_id = b.id and t4.status = 'open' and (e4.slices ->> (r ->> 'slice')) = (r ->> 'value'))::text as open_tasks,
             (select count(*) from annotators a5 where a5.active = 1 and a5.adjudicator = 0 and (a5.attributes ->> (r ->> 'attribute')) = (r ->> 'equals'))::text as pool_qualified
      from annotation_batches b, jsonb_array_elements(coalesce(b.design -> 'composition', '[]'::jsonb)) with ordinality as x(r, i)
      where b.id = ${batchId} order by i`),
  );
  return rows.map((row) => {
    const r = (typeof row.r === 'string' ? JSON.parse(row.r) : row.r) as { slice: string; value: string; attribute: string; equals: string; min: number };
    const qualified = Number(row.qualified);
    return {
      slice: r.slice,
      value: r.value,
      attribute: r.attribute,
      equals: r.equals,
      min: r.min,
      qualified,
      annotators: Number(row.annotators),
      openTasks: Number(row.open_tasks),
      poolQualified: Number(row.pool_qualified),
      met: qualified >= r.min,
    };
  });
}

/**
 * Every live (non-adjudication) label on a gold item of a model, or of one batch: its item (the
 * example, so a gold example labelled in several batches is one item), right or wrong, and the item's slices.
 */
export async function goldLabelsOf(db: DbOrTx, modelId: number, batchId?: string) {
  return resultRows<{ item: number | string; correct: boolean; slices: Record<string, string> | string }>(
    await db.execute(sql`
      select e.id as item, l.label = t.gold_label as correct, e.slices
      from labels l join annotation_tasks t on t.id = l.task_id join annotation_batches b on b.id = t.batch_id join examples e on e.id = t.example_id
      where b.model_id = ${modelId} and t.is_gold = 1 and t.gold_label is not null and l.superseded_by_spec is null and l.adjudication = 0
        ${batchId !== undefined ? sql`and b.id = ${batchId}` : sql``}`),
  ).map((r) => ({ item: Number(r.item), correct: r.correct === true || (r.correct as unknown) === 't', slices: typeof r.slices === 'string' ? (JSON.parse(r.slices) as Record<string, string>) : r.slices }));
}

// ---- the task loop -------------------------------------------------------------------------------------------

/** A task as its annotator sees it: the item, the guidelines in force, and until when it is theirs. */
export interface HeldTask {
  taskId: number;
  batchId: string;
  example: { externalId: string; input: Record<string, string> };
  spec: { version: number; guidelines: string; labels: string[] };
  /** The annotator adjudicates: other annotators disagreed on this item. */
  adjudication: boolean;
  expiresAt: Date;
}

/** The annotator's live assignment (not labelled, skipped or expired) in an open batch; null when none. */
export async function heldTask(db: DbOrTx, who: string, onlyTask?: number): Promise<HeldTask | null> {
  const rows = resultRows<{
    task_id: string;
    batch_id: string;
    external_id: string;
    input: Record<string, string>;
    adjudication: number;
    expires_at: string;
    model_id: number;
  }>(
    await db.execute(sql`
      select a.task_id, t.batch_id, e.external_id, e.input, a.adjudication, a.expires_at::text, b.model_id
      from annotation_assignments a
      join annotation_tasks t on t.id = a.task_id
      join annotation_batches b on b.id = t.batch_id
      join examples e on e.id = t.example_id
      where a.annotator = ${who} and a.status = 'assigned' and a.expires_at > now() and b.status = 'open'
        ${onlyTask !== undefined ? sql`and a.task_id = ${onlyTask}` : sql``}
      order by a.assigned_at limit 1`),
  );
  const r = rows[0];
  if (!r) return null;
  const spec = await currentSpec(db, r.model_id);
  return {
    taskId: Number(r.task_id),
    batchId: r.batch_id,
    example: { externalId: r.external_id, input: typeof r.input === 'string' ? (JSON.parse(r.input) as Record<string, string>) : r.input },
    spec: { version: spec.version, guidelines: spec.guidelines, labels: spec.labels },
    adjudication: r.adjudication === 1,
    expiresAt: new Date(r.expires_at),
  };
}

/** Assigns the annotator a task with a free slot, if one waits; returns its id, or null. */
export async function assignNextTask(db: DbOrTx, me: { subject: string; attributes: Record<string, string>; adjudicator: number }): Promise<number | null> {
  const who = me.subject;
  return db.transaction(async (tx) => {
    // A task this annotator has not labelled, skipped or holding (a lapsed one may come back), from an open batch, whose pool requirements they meet, with
    // a free slot (k minus live labels minus live assignments). Adjudicators only adjudicate: having
    // never labelled an item, they can always resolve it (one who had labelled it could not).
    // SKIP LOCKED: two annotators asking at once get different tasks instead of overfilling one.
    // Pool composition (design.composition): an item of a slice whose requirement (at least `min`
    // annotators with attribute = equals labelled the slice) is not met yet waits for a qualifying
    // annotator; qualifying annotators get such items first.
    // Review items (abstained requests, db/review) come before everything else, soonest due first.
    const mine = JSON.stringify(me.attributes);
    const unmet = (qualified: boolean) => sql`exists (
          select 1 from jsonb_array_elements(coalesce(b.design -> 'composition', '[]'::jsonb)) r
          where (e.slices ->> (r ->> 'slice')) = (r ->> 'value')
            and ${qualified ? sql`` : sql`not `}coalesce((${mine}::jsonb ->> (r ->> 'attribute')) = (r ->> 'equals'), false)
            and ${compositionQualifiedSql(sql`b.id`)} < (r ->> 'min')::int)`;
    const rows = resultRows<{ id: string; adjudication: boolean; ttl: number }>(
      await tx.execute(sql`
        select t.id, t.status = 'adjudication' as adjudication, coalesce((b.design ->> 'assignmentSeconds')::float, 600) as ttl
        from annotation_tasks t
        join annotation_batches b on b.id = t.batch_id and b.status = 'open' and b.deadline > now()
        join examples e on e.id = t.example_id
        where ${mine}::jsonb @> t.requires
          and (t.status = 'adjudication' or not ${unmet(false)})
          and not exists (select 1 from annotation_assignments a where a.task_id = t.id and a.annotator = ${who} and a.status <> 'expired')
          and (
            (t.status = 'open' and ${me.adjudicator} = 0
              and (select count(*) from labels l where l.task_id = t.id and l.superseded_by_spec is null and l.adjudication = 0)
                + (select count(*) from annotation_assignments a where a.task_id = t.id and a.status = 'assigned' and a.expires_at > now() and a.adjudication = 0)
                < b.overlap)
            or (t.status = 'adjudication' and ${me.adjudicator} = 1
              and not exists (select 1 from annotation_assignments a where a.task_id = t.id and a.adjudication = 1 and a.status = 'assigned' and a.expires_at > now()))
          )
        order by (b.kind = 'review') desc, (t.status = 'adjudication') desc, ${unmet(true)} desc, t.due_at nulls last, b.created_at, t.id
        limit 1
        for update of t skip locked`),
    );
    const pick = rows[0];
    if (!pick) return null;
    const assignment = {
      taskId: Number(pick.id),
      annotator: who,
      assignedAt: new Date(),
      expiresAt: new Date(Date.now() + Number(pick.ttl) * 1000),
      status: 'assigned' as const,
      adjudication: pick.adjudication ? 1 : 0,
    };
    // An expired assignment is not a refusal: the same annotator may pick the task up again later.
    await tx
      .insert(annotationAssignments)
      .values(assignment)
      .onConflictDoUpdate({ target: [annotationAssignments.taskId, annotationAssignments.annotator], set: assignment });
    return Number(pick.id);
  });
}

/**
 * Stores an annotator's label on a task they hold and settles the task, in one transaction. A second
 * submission of the same label is a duplicate (stored once); refusals are AnnotationRefused.
 */
export async function submitLabel(
  db: DbOrTx,
  input: { taskId: number; annotator: string; label: number; specVersion: number },
  taskVerdict: TaskJudge,
): Promise<{ duplicate: boolean; taskStatus: TaskStatus; batchId: string; batchKind: 'sample' | 'review' }> {
  const who = input.annotator;
  return db.transaction(async (tx) => {
    // The task row first, always: two labels (or a label and the batch closing) on one task then queue
    // here instead of deadlocking between the labels' foreign-key lock and settleTask's row lock.
    const [locked] = await tx.select({ id: annotationTasks.id }).from(annotationTasks).where(eq(annotationTasks.id, input.taskId)).for('no key update');
    if (!locked) throw new AnnotationRefused('missing', `task ${input.taskId} does not exist`);
    const [assignment] = await tx
      .select()
      .from(annotationAssignments)
      .where(and(eq(annotationAssignments.taskId, input.taskId), eq(annotationAssignments.annotator, who)))
      .for('update');
    const [existing] = await tx.select().from(labels).where(and(eq(labels.taskId, input.taskId), eq(labels.annotator, who)));
    if (existing && existing.supersededBySpec === null) {
      if (existing.label !== input.label) {
        throw new AnnotationRefused('conflict', `you labelled task ${input.taskId} as ${existing.label} already; labels are final`);
      }
      const [task] = resultRows<{ batch_id: string; status: (typeof TASK_STATUSES)[number]; kind: 'sample' | 'review' }>(
        await tx.execute(sql`select t.batch_id, t.status, b.kind from annotation_tasks t join annotation_batches b on b.id = t.batch_id where t.id = ${input.taskId}`),
      );
      return { duplicate: true, taskStatus: task!.status, batchId: task!.batch_id, batchKind: task!.kind };
    }
    if (!assignment) throw new AnnotationRefused('missing', `task ${input.taskId} is not assigned to you; ask annotation.next for a task`);
    if (assignment.status === 'skipped') throw new AnnotationRefused('conflict', `you skipped task ${input.taskId}`);
    const [batch] = await tx
      .select({ id: annotationBatches.id, modelId: annotationBatches.modelId, status: annotationBatches.status, kind: annotationBatches.kind })
      .from(annotationBatches)
      .innerJoin(sql`annotation_tasks t`, sql`t.batch_id = ${annotationBatches.id}`)
      .where(sql`t.id = ${input.taskId}`);
    if (!batch || batch.status !== 'open') throw new AnnotationRefused('conflict', `the batch of task ${input.taskId} is closed`);
    // A label that arrives after its time ran out but before the sweep took the task back still counts.
    if (assignment.status === 'expired') {
      throw new AnnotationRefused('conflict', `your assignment of task ${input.taskId} expired at ${assignment.expiresAt.toISOString()} and the task went back to the pool`);
    }
    const spec = await currentSpec(tx, batch.modelId);
    if (input.specVersion !== spec.version) {
      throw new AnnotationRefused(
        'conflict',
        `specVersion: the guidelines are at version ${spec.version}, you labelled under ${input.specVersion}; read them again (annotation.next returns them)`,
      );
    }
    if (input.label >= spec.labels.length) {
      throw new AnnotationRefused('invalid', `label: must be one of 0..${spec.labels.length - 1} (${spec.labels.join(', ')})`);
    }
    const secondsToLabel = (Date.now() - assignment.assignedAt.getTime()) / 1000;
    const values = { label: input.label, specVersion: spec.version, adjudication: assignment.adjudication, secondsToLabel, supersededBySpec: null };
    if (existing) {
      // A relabel after a guidelines change: the old label is in the audit log, the new one counts.
      await writeAudit(tx, { actor: who, action: 'annotation.relabel', target: `task:${input.taskId}`, details: { old: existing.label, oldSpec: existing.specVersion } });
      await tx.update(labels).set({ ...values, createdAt: new Date() }).where(eq(labels.id, existing.id));
    } else {
      await tx.insert(labels).values({ taskId: input.taskId, annotator: who, ...values });
    }
    await tx
      .update(annotationAssignments)
      .set({ status: 'labelled' })
      .where(and(eq(annotationAssignments.taskId, input.taskId), eq(annotationAssignments.annotator, who)));
    const taskStatus = await settleTask(tx, input.taskId, taskVerdict);
    // A settled review is the request's label, in this transaction (db/review applyReviewLabel).
    if (batch.kind === 'review' && taskStatus === 'done') await applyReviewLabel(tx, input.taskId, input.label);
    return { duplicate: false, taskStatus, batchId: batch.id, batchKind: batch.kind };
  });
}

export async function findAssignment(db: DbOrTx, taskId: number, annotator: string) {
  const [row] = await db
    .select()
    .from(annotationAssignments)
    .where(and(eq(annotationAssignments.taskId, taskId), eq(annotationAssignments.annotator, annotator)));
  return row;
}

export async function skipAssignment(db: DbOrTx, taskId: number, annotator: string): Promise<void> {
  await db
    .update(annotationAssignments)
    .set({ status: 'skipped' })
    .where(and(eq(annotationAssignments.taskId, taskId), eq(annotationAssignments.annotator, annotator)));
}

// ---- batches -----------------------------------------------------------------------------------------------

export async function findBatch(db: DbOrTx, batchId: string) {
  const [row] = await db.select().from(annotationBatches).where(eq(annotationBatches.id, batchId));
  return row;
}

/** A model's batches, newest first. */
export async function batchesOf(db: DbOrTx, modelId: number, limit: number) {
  return db.select().from(annotationBatches).where(eq(annotationBatches.modelId, modelId)).orderBy(desc(annotationBatches.createdAt)).limit(limit);
}

/** The newest batch of a model that has its aggregation estimate stored. */
export async function latestEstimatedBatch(db: DbOrTx, modelId: number) {
  const [row] = await db
    .select({ id: annotationBatches.id, estimate: annotationBatches.estimate })
    .from(annotationBatches)
    .where(and(eq(annotationBatches.modelId, modelId), sql`${annotationBatches.estimate} is not null`))
    .orderBy(desc(annotationBatches.createdAt))
    .limit(1);
  return row;
}

/** A batch's aggregated labels beside their majority vote, with each task's stratum and inclusion probability, in task order. */
export async function aggregatedLabelsOf(db: DbOrTx, batchId: string) {
  return resultRows<{ external_id: string; label: number; posterior: number; majority_label: number | null; dawid_skene_label: number | null; method: string; label_count: number; stratum: string; inclusion_probability: number }>(
    await db.execute(sql`
      select e.external_id, a.label, a.posterior, a.majority_label, a.dawid_skene_label, a.method, a.label_count, t.stratum, t.inclusion_probability
      from aggregated_labels a join annotation_tasks t on t.id = a.task_id join examples e on e.id = a.example_id
      where a.batch_id = ${batchId} order by a.task_id`),
  ).map((r) => ({
    externalId: r.external_id,
    label: Number(r.label),
    posterior: Number(r.posterior),
    majorityLabel: r.majority_label === null ? null : Number(r.majority_label),
    dawidSkeneLabel: r.dawid_skene_label === null ? null : Number(r.dawid_skene_label),
    method: r.method,
    labelCount: Number(r.label_count),
    stratum: r.stratum,
    inclusionProbability: Number(r.inclusion_probability),
  }));
}
