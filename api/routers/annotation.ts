// The annotation workforce's face: the pool (annotators and their attributes), the guidelines (specs,
// versioned; a new version marks affected labels for relabelling), and the task loop annotators pull:
// next task, submit a label, skip. Every call is idempotent: asking again for the next task returns the
// task you already hold, and submitting the same label twice stores it once.
import { WorkflowNotFoundError } from '@temporalio/client';
import { TRPCError } from '@trpc/server';
import { and, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { goldAccuracyDrift } from '../../analysis/labelQuality';
import { batchCounts, currentSpec, settleTask } from '../../db/annotation';
import type { DbOrTx } from '../../db/index';
import { resultRows, writeAudit } from '../../db/queries';
import { annotationAssignments, annotationBatches, annotationSpecs, annotationTasks, annotators, labels, TASK_STATUSES } from '../../db/schema';
import { labelSubmittedSignal, type LabelSubmittedSignal } from '../../workflows/messages';
import { modelName, subject } from '../schemas';
import { roleProcedure, router, type Context } from '../trpc';
import { requireModel } from '../lookups';

const attributes = z.record(z.string().min(1).max(64), z.string().max(200));

const specOutput = z.object({
  version: z.number(),
  guidelines: z.string(),
  labels: z.array(z.string()),
  affects: z.record(z.string(), z.array(z.string())),
  createdBy: z.string(),
  createdAt: z.date(),
});

const taskOutput = z.object({
  taskId: z.number(),
  batchId: z.string(),
  example: z.object({ externalId: z.string(), input: z.record(z.string(), z.string()) }),
  spec: z.object({ version: z.number(), guidelines: z.string(), labels: z.array(z.string()) }),
  /** You adjudicate: other annotators disagreed on this item. */
  adjudication: z.boolean(),
  expiresAt: z.date(),
});
type TaskView = z.infer<typeof taskOutput>;

const taskId = z.coerce.number().int().positive();

async function requireAnnotator(db: DbOrTx, who: string) {
  const [row] = await db.select().from(annotators).where(eq(annotators.subject, who));
  if (!row || row.active !== 1) {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: `${who} is not in the annotator pool; an operator adds them with annotation.registerAnnotator`,
    });
  }
  return row;
}

/** The caller's live assignment (not labelled, skipped or expired), with what an annotator sees. */
async function liveAssignment(db: DbOrTx, who: string, onlyTask?: number): Promise<TaskView | null> {
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

/** Best effort: the batch's periodic sweep recounts from the database, so a lost signal only delays it. */
async function signalBatch(ctx: Context, batchId: string, payload: LabelSubmittedSignal) {
  try {
    await ctx.temporal.workflow.getHandle(batchId).signal(labelSubmittedSignal, payload);
  } catch (err) {
    // Not found: the batch workflow has not started yet or has closed; either way the database has the label.
    if (err instanceof WorkflowNotFoundError) return;
    process.stderr.write(`annotation: could not signal batch ${batchId}: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

export const annotationRouter = router({
  registerAnnotator: roleProcedure('operator')
    .meta({ openapi: { method: 'PUT', path: '/annotation/annotators/{subject}', tags: ['annotation'], summary: 'Add or update an annotator of the pool' } })
    // adjudicator: reviews items without quorum instead of labelling new ones.
    .input(z.strictObject({ subject, attributes: attributes.default({}), adjudicator: z.boolean().default(false), active: z.boolean().default(true) }))
    .output(z.object({ subject: z.string(), attributes: z.record(z.string(), z.string()), adjudicator: z.boolean(), active: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const values = { subject: input.subject, attributes: input.attributes, adjudicator: input.adjudicator ? 1 : 0, active: input.active ? 1 : 0 };
      await ctx.db
        .insert(annotators)
        .values(values)
        .onConflictDoUpdate({ target: annotators.subject, set: { attributes: values.attributes, adjudicator: values.adjudicator, active: values.active } });
      return { subject: input.subject, attributes: input.attributes, adjudicator: input.adjudicator, active: input.active };
    }),

  getSpec: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models/{model}/annotation-spec', tags: ['annotation'], summary: 'The annotation guidelines in force' } })
    .input(z.strictObject({ model: modelName }))
    .output(specOutput)
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      return currentSpec(ctx.db, model.id);
    }),

  setSpec: roleProcedure('operator')
    .meta({
      openapi: {
        method: 'PUT',
        path: '/models/{model}/annotation-spec',
        tags: ['annotation'],
        summary: 'Publish a new guidelines version; labels made under older versions on affected items are marked for relabelling',
      },
    })
    .input(
      z.strictObject({
        model: modelName,
        guidelines: z.string().trim().min(20, 'guidelines of at least 20 characters are required').max(20_000),
        labels: z.array(z.string().min(1).max(50)).min(2).max(20).optional(),
        /** slice attribute → values the change concerns; omitted or {} = every item. */
        affects: z.record(z.string().min(1).max(64), z.array(z.string().max(200)).min(1)).default({}),
      }),
    )
    .output(specOutput.extend({ relabel: z.object({ labels: z.number(), tasksReopened: z.number() }) }))
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      return ctx.db.transaction(async (tx) => {
        const previous = await currentSpec(tx, model.id, ctx.identity.subject);
        if (input.labels && input.labels.join('\u0000') !== previous.labels.join('\u0000') && input.labels.length < previous.labels.length) {
          throw new TRPCError({ code: 'BAD_REQUEST', message: `labels: a new version may add labels but not remove them (in force: ${previous.labels.join(', ')})` });
        }
        const [spec] = await tx
          .insert(annotationSpecs)
          .values({
            modelId: model.id,
            version: previous.version + 1,
            guidelines: input.guidelines,
            labels: input.labels ?? previous.labels,
            affects: input.affects,
            createdBy: ctx.identity.subject,
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
            where t.id = l.task_id and b.id = t.batch_id and e.id = t.example_id and b.model_id = ${model.id}
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
          if (open && (await settleTask(tx, id)) === 'open') reopened++;
        }
        await writeAudit(tx, {
          actor: ctx.identity.subject,
          action: 'annotation.spec.relabel',
          target: `model:${model.name}`,
          details: { version: spec.version, labelsSuperseded: marked.length, tasksReopened: reopened },
        });
        return { ...spec, relabel: { labels: marked.length, tasksReopened: reopened } };
      });
    }),

  next: roleProcedure('annotator')
    .meta({ openapi: { method: 'POST', path: '/annotation/tasks/next', tags: ['annotation'], summary: 'Your next task (the one you hold, or a new one); null when none is waiting' } })
    .input(z.strictObject({}).default({}))
    .output(z.object({ task: taskOutput.nullable() }))
    .mutation(async ({ ctx }) => {
      const who = ctx.identity.subject;
      const me = await requireAnnotator(ctx.db, who);
      const held = await liveAssignment(ctx.db, who);
      if (held) return { task: held };
      const assigned = await ctx.db.transaction(async (tx) => {
        // A task this annotator has not labelled, skipped or holding (a lapsed one may come back), from an open batch, whose pool requirements they meet, with
        // a free slot (k minus live labels minus live assignments). Adjudicators only adjudicate: having
        // never labelled an item, they can always resolve it (one who had labelled it could not).
        // SKIP LOCKED: two annotators asking at once get different tasks instead of overfilling one.
        const rows = resultRows<{ id: string; adjudication: boolean; ttl: number }>(
          await tx.execute(sql`
            select t.id, t.status = 'adjudication' as adjudication, coalesce((b.design ->> 'assignmentSeconds')::float, 600) as ttl
            from annotation_tasks t
            join annotation_batches b on b.id = t.batch_id and b.status = 'open' and b.deadline > now()
            where ${JSON.stringify(me.attributes)}::jsonb @> t.requires
              and not exists (select 1 from annotation_assignments a where a.task_id = t.id and a.annotator = ${who} and a.status <> 'expired')
              and (
                (t.status = 'open' and ${me.adjudicator} = 0
                  and (select count(*) from labels l where l.task_id = t.id and l.superseded_by_spec is null and l.adjudication = 0)
                    + (select count(*) from annotation_assignments a where a.task_id = t.id and a.status = 'assigned' and a.expires_at > now() and a.adjudication = 0)
                    < b.overlap)
                or (t.status = 'adjudication' and ${me.adjudicator} = 1
                  and not exists (select 1 from annotation_assignments a where a.task_id = t.id and a.adjudication = 1 and a.status = 'assigned' and a.expires_at > now()))
              )
            order by (t.status = 'adjudication') desc, b.created_at, t.id
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
      return { task: assigned === null ? null : await liveAssignment(ctx.db, who, assigned) };
    }),

  submit: roleProcedure('annotator')
    .meta({ openapi: { method: 'POST', path: '/annotation/tasks/{taskId}/label', tags: ['annotation'], summary: 'Label a task you hold (idempotent)' } })
    .input(z.strictObject({ taskId, label: z.number().int().min(0).max(19), specVersion: z.number().int().positive() }))
    .output(z.object({ taskId: z.number(), duplicate: z.boolean(), taskStatus: z.enum(TASK_STATUSES) }))
    .mutation(async ({ ctx, input }) => {
      const who = ctx.identity.subject;
      await requireAnnotator(ctx.db, who);
      const outcome = await ctx.db.transaction(async (tx) => {
        // The task row first, always: two labels (or a label and the batch closing) on one task then queue
        // here instead of deadlocking between the labels' foreign-key lock and settleTask's row lock.
        const [locked] = await tx.select({ id: annotationTasks.id }).from(annotationTasks).where(eq(annotationTasks.id, input.taskId)).for('no key update');
        if (!locked) throw new TRPCError({ code: 'NOT_FOUND', message: `task ${input.taskId} does not exist` });
        const [assignment] = await tx
          .select()
          .from(annotationAssignments)
          .where(and(eq(annotationAssignments.taskId, input.taskId), eq(annotationAssignments.annotator, who)))
          .for('update');
        const [existing] = await tx.select().from(labels).where(and(eq(labels.taskId, input.taskId), eq(labels.annotator, who)));
        if (existing && existing.supersededBySpec === null) {
          if (existing.label !== input.label) {
            throw new TRPCError({ code: 'CONFLICT', message: `you labelled task ${input.taskId} as ${existing.label} already; labels are final` });
          }
          const [task] = resultRows<{ batch_id: string; status: (typeof TASK_STATUSES)[number] }>(
            await tx.execute(sql`select batch_id, status from annotation_tasks where id = ${input.taskId}`),
          );
          return { duplicate: true, taskStatus: task!.status, batchId: task!.batch_id };
        }
        if (!assignment) throw new TRPCError({ code: 'NOT_FOUND', message: `task ${input.taskId} is not assigned to you; ask annotation.next for a task` });
        if (assignment.status === 'skipped') throw new TRPCError({ code: 'CONFLICT', message: `you skipped task ${input.taskId}` });
        const [batch] = await tx
          .select({ id: annotationBatches.id, modelId: annotationBatches.modelId, status: annotationBatches.status })
          .from(annotationBatches)
          .innerJoin(sql`annotation_tasks t`, sql`t.batch_id = ${annotationBatches.id}`)
          .where(sql`t.id = ${input.taskId}`);
        if (!batch || batch.status !== 'open') throw new TRPCError({ code: 'CONFLICT', message: `the batch of task ${input.taskId} is closed` });
        // A label that arrives after its time ran out but before the sweep took the task back still counts.
        if (assignment.status === 'expired') {
          throw new TRPCError({
            code: 'CONFLICT',
            message: `your assignment of task ${input.taskId} expired at ${assignment.expiresAt.toISOString()} and the task went back to the pool`,
          });
        }
        const spec = await currentSpec(tx, batch.modelId);
        if (input.specVersion !== spec.version) {
          throw new TRPCError({
            code: 'CONFLICT',
            message: `specVersion: the guidelines are at version ${spec.version}, you labelled under ${input.specVersion}; read them again (annotation.next returns them)`,
          });
        }
        if (input.label >= spec.labels.length) {
          throw new TRPCError({ code: 'BAD_REQUEST', message: `label: must be one of 0..${spec.labels.length - 1} (${spec.labels.join(', ')})` });
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
        return { duplicate: false, taskStatus: await settleTask(tx, input.taskId), batchId: batch.id };
      });
      if (!outcome.duplicate) await signalBatch(ctx, outcome.batchId, { taskId: input.taskId, annotator: who, taskStatus: outcome.taskStatus });
      return { taskId: input.taskId, duplicate: outcome.duplicate, taskStatus: outcome.taskStatus };
    }),

  skip: roleProcedure('annotator')
    .meta({ openapi: { method: 'POST', path: '/annotation/tasks/{taskId}/skip', tags: ['annotation'], summary: 'Give a task back (it goes to someone else; idempotent)' } })
    .input(z.strictObject({ taskId, reason: z.string().max(500).optional() }))
    .output(z.object({ taskId: z.number(), skipped: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const who = ctx.identity.subject;
      await requireAnnotator(ctx.db, who);
      const [row] = await ctx.db
        .select()
        .from(annotationAssignments)
        .where(and(eq(annotationAssignments.taskId, input.taskId), eq(annotationAssignments.annotator, who)));
      if (!row) throw new TRPCError({ code: 'NOT_FOUND', message: `task ${input.taskId} is not assigned to you` });
      if (row.status === 'labelled') throw new TRPCError({ code: 'CONFLICT', message: `you labelled task ${input.taskId} already` });
      if (row.status === 'assigned') {
        await ctx.db
          .update(annotationAssignments)
          .set({ status: 'skipped' })
          .where(and(eq(annotationAssignments.taskId, input.taskId), eq(annotationAssignments.annotator, who)));
      }
      return { taskId: input.taskId, skipped: true };
    }),

  batch: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/annotation/batches/{batchId}', tags: ['annotation'], summary: 'A batch: progress, SLA figures, aggregation and quality' } })
    .input(z.strictObject({ batchId: z.string().min(1).max(200) }))
    .output(
      z.object({
        batchId: z.string(),
        runId: z.string().nullable(),
        status: z.string(),
        specVersion: z.number(),
        overlap: z.number(),
        deadline: z.date(),
        progress: z.object({ tasks: z.number(), open: z.number(), adjudication: z.number(), done: z.number(), labels: z.number(), reassigned: z.number() }),
        sla: z.unknown(),
        estimate: z.unknown(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const [b] = await ctx.db.select().from(annotationBatches).where(eq(annotationBatches.id, input.batchId));
      if (!b) throw new TRPCError({ code: 'NOT_FOUND', message: `annotation batch '${input.batchId}' not found` });
      return {
        batchId: b.id,
        runId: b.runId,
        status: b.status,
        specVersion: b.specVersion,
        overlap: b.overlap,
        deadline: b.deadline,
        progress: await batchCounts(ctx.db, b.id),
        sla: b.sla,
        estimate: b.estimate,
      };
    }),

  aggregated: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/annotation/batches/{batchId}/labels', tags: ['annotation'], summary: 'A batch’s aggregated labels: Dawid-Skene (or adjudication) beside majority vote, per item' } })
    .input(z.strictObject({ batchId: z.string().min(1).max(200) }))
    .output(
      z.array(
        z.object({
          externalId: z.string(),
          label: z.number(),
          posterior: z.number(),
          majorityLabel: z.number().nullable(),
          dawidSkeneLabel: z.number().nullable(),
          method: z.string(),
          labelCount: z.number(),
          stratum: z.string(),
          inclusionProbability: z.number(),
        }),
      ),
    )
    .query(async ({ ctx, input }) => {
      const [b] = await ctx.db.select({ id: annotationBatches.id }).from(annotationBatches).where(eq(annotationBatches.id, input.batchId));
      if (!b) throw new TRPCError({ code: 'NOT_FOUND', message: `annotation batch '${input.batchId}' not found` });
      return resultRows<{ external_id: string; label: number; posterior: number; majority_label: number | null; dawid_skene_label: number | null; method: string; label_count: number; stratum: string; inclusion_probability: number }>(
        await ctx.db.execute(sql`
          select e.external_id, a.label, a.posterior, a.majority_label, a.dawid_skene_label, a.method, a.label_count, t.stratum, t.inclusion_probability
          from aggregated_labels a join annotation_tasks t on t.id = a.task_id join examples e on e.id = a.example_id
          where a.batch_id = ${input.batchId} order by a.task_id`),
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
    }),

  annotators: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/models/{model}/annotators',
        tags: ['annotation'],
        summary: 'The pool’s quality on this model: labels, gold accuracy per batch with drift, and slice-bias flags from the latest batch',
      },
    })
    .input(z.strictObject({ model: modelName }))
    .output(
      z.array(
        z.object({
          subject: z.string(),
          attributes: z.record(z.string(), z.string()),
          adjudicator: z.boolean(),
          labels: z.number(),
          gold: z.unknown(),
          biasFlags: z.array(z.object({ batchId: z.string(), slice: z.string(), value: z.string(), disagreement: z.number(), rest: z.number(), n: z.number(), p: z.number() })),
        }),
      ),
    )
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const rows = resultRows<{ annotator: string; batch_id: string; at: string; labels: string; gold: string; correct: string }>(
        await ctx.db.execute(sql`
          select l.annotator, t.batch_id, b.created_at::text as at, count(*)::text as labels,
                 count(*) filter (where t.is_gold = 1)::text as gold,
                 count(*) filter (where t.is_gold = 1 and l.label = t.gold_label)::text as correct
          from labels l join annotation_tasks t on t.id = l.task_id join annotation_batches b on b.id = t.batch_id
          where b.model_id = ${model.id} and l.superseded_by_spec is null
          group by l.annotator, t.batch_id, b.created_at order by b.created_at, t.batch_id`),
      );
      const [latest] = await ctx.db
        .select({ id: annotationBatches.id, estimate: annotationBatches.estimate })
        .from(annotationBatches)
        .where(and(eq(annotationBatches.modelId, model.id), sql`${annotationBatches.estimate} is not null`))
        .orderBy(desc(annotationBatches.createdAt))
        .limit(1);
      const flags = ((latest?.estimate as { summary?: { biasFlags?: { annotator: string; slice: string; value: string; disagreement: number; rest: number; n: number; p: number }[] } } | null)?.summary?.biasFlags ?? []).map(
        (f) => ({ ...f, batchId: latest!.id }),
      );
      const pool = await ctx.db.select().from(annotators);
      const subjects = [...new Set(rows.map((r) => r.annotator))].sort();
      return subjects.map((subject) => {
        const mine = rows.filter((r) => r.annotator === subject);
        const member = pool.find((p) => p.subject === subject);
        return {
          subject,
          attributes: member?.attributes ?? {},
          adjudicator: member?.adjudicator === 1,
          labels: mine.reduce((a, r) => a + Number(r.labels), 0),
          gold: goldAccuracyDrift(mine.map((r) => ({ batchId: r.batch_id, at: r.at, gold: Number(r.gold), correct: Number(r.correct) }))),
          biasFlags: flags.filter((f) => f.annotator === subject).map(({ annotator: _a, ...f }) => f),
        };
      });
    }),

  batches: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models/{model}/annotation-batches', tags: ['annotation'], summary: 'A model’s batches, newest first' } })
    .input(z.strictObject({ model: modelName, limit: z.coerce.number().int().min(1).max(200).default(20) }))
    .output(z.array(z.object({ batchId: z.string(), runId: z.string().nullable(), status: z.string(), createdAt: z.date(), closedAt: z.date().nullable() })))
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const rows = await ctx.db
        .select()
        .from(annotationBatches)
        .where(eq(annotationBatches.modelId, model.id))
        .orderBy(desc(annotationBatches.createdAt))
        .limit(input.limit);
      return rows.map((b) => ({ batchId: b.id, runId: b.runId, status: b.status, createdAt: b.createdAt, closedAt: b.closedAt }));
    }),
});
