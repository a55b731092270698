// Scheduled audits of a production model, of two kinds: bias re-audits (`biasReaudit`, against the
// version's pre-launch audit) and drift monitors (`driftMonitor`, population and feedback drift). Each is
// a Temporal Schedule whose action starts the kind's workflow on the control task queue; how an audit
// is written onto a schedule and read back is api/auditSchedules.ts. The reports the runs
// store are read with audits.reports / audits.report. A policy's webhook is held to db/webhooks.ts's
// rules here (a secretEnv named RETRAIN_WEBHOOK_SECRET_*, a public or admin-allowed destination) and again
// by the alert activity at every delivery.
import { TRPCError } from '@trpc/server';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, ServiceError, isGrpcServiceError, type ScheduleDescription, type ScheduleHandle } from '@temporalio/client';
import { z } from 'zod';
import { alertsOf, auditReportById, auditReportsOf } from '../../db/audits';
import { ALERT_KINDS, ALERT_STATUSES, AUDIT_KINDS, auditReports, type AuditKind } from '../../db/schema';
import { secretEnvRefusal } from '../../analysis/webhookDestinations';
import {
  AUDIT_WORKFLOW_TYPE,
  OVERLAP_TO_TEMPORAL,
  auditKindOf,
  auditOf,
  auditSpecView,
  auditSummaryOf,
  overlapFromTemporal,
  temporalSpec,
  type AuditMemo,
} from '../auditSchedules';
import {
  BIAS_REAUDIT_WORKFLOW_TYPE,
  DRIFT_MONITOR_WORKFLOW_TYPE,
  modelSearchAttribute,
  type BiasReauditInput,
  type DriftMonitorInput,
  type DriftMonitorPolicy,
  type ReauditPolicy,
} from '../../workflows/messages';
import { biasReauditReportOutput, driftMonitorReportOutput } from '../outputsB';
import { auditId, auditOverlap, auditSpecInput, driftMonitorPolicyInput, isoDate, modelName, positiveInt, reason, reauditPolicyInput, timestamp } from '../schemas';
import { roleProcedure, router, type Context } from '../trpc';
import { requireModel, webhookDestinationVerdict } from '../lookups';
import { temporalFailure } from '../workflowUpdates';

const auditKind = z.enum(AUDIT_KINDS);

/** Longest backfill range, and most periods one backfill may start (interval audits; cron is left to Temporal). */
const MAX_BACKFILL_DAYS = 366;
const MAX_BACKFILL_PERIODS = 1000;
/** How long audits.trigger waits for the schedule to report the run it started. */
const TRIGGER_WAIT_MS = 5000;

// ---- outputs ----------------------------------------------------------------------------------------

const reauditPolicyOutput = z.object(reauditPolicyInput.shape).meta({ id: 'BiasReauditPolicy', description: 'A bias re-audit’s policy: when it alerts, and what else it does.' });
const driftPolicyOutput = z.object(driftMonitorPolicyInput.shape).meta({ id: 'DriftMonitorPolicy', description: 'A drift monitor’s policy: what counts as drift, and what the monitor does about it.' });
const policyOutput = z.union([reauditPolicyOutput, driftPolicyOutput]);

const recentActionOutput = z.object({
  workflowId: z.string(),
  runId: z.string(),
  /** The nominal time the action was for (a backfilled period's time, or the trigger time). */
  scheduledAt: timestamp,
  takenAt: timestamp,
});

const auditSummaryOutput = z.object({
  id: z.string(),
  kind: auditKind,
  model: z.string().nullable(),
  spec: auditSpecView,
  paused: z.boolean(),
  note: z.string().nullable(),
  nextActionTimes: z.array(timestamp),
  /** Most recent actions, oldest first (Temporal keeps the last 10). */
  recentActions: z.array(recentActionOutput),
});

const auditOutput = auditSummaryOutput.extend({
  workflowType: z.string(),
  taskQueue: z.string().nullable(),
  windowDays: z.number().int().nullable(),
  policy: policyOutput.nullable(),
  overlap: auditOverlap,
  catchupWindowSeconds: z.number().int(),
  createdBy: z.string().nullable(),
  createdAt: timestamp,
  actionsTaken: z.number().int(),
  actionsSkippedOverlap: z.number().int(),
  actionsMissedCatchupWindow: z.number().int(),
  /**
   * Runs of this audit still going, as the schedule tracks them for its overlap policy (Temporal does
   * not track runs started under allow_all, such as audits.trigger's).
   */
  runningWorkflowIds: z.array(z.string()),
});
type AuditView = z.infer<typeof auditOutput>;

/** An audit as its schedule describes it, its policy held to its kind's schema. */
function toAuditView(d: ScheduleDescription, kind: AuditKind): AuditView {
  const { storedPolicy, ...audit } = auditOf(d, kind);
  const policy = storedPolicy ? (kind === 'bias_reaudit' ? reauditPolicyOutput : driftPolicyOutput).safeParse(storedPolicy).data : undefined;
  return { ...audit, policy: policy ?? null };
}

// ---- Temporal errors as tRPC errors --------------------------------------------------------------------

const GRPC_INVALID_ARGUMENT = 3;
const GRPC_NOT_FOUND = 5;

function scheduleRefusal(err: unknown, id: string, what: string): TRPCError {
  if (err instanceof TRPCError) return err;
  if (err instanceof ScheduleNotFoundError) return new TRPCError({ code: 'NOT_FOUND', message: `audit '${id}' not found` });
  if (err instanceof ScheduleAlreadyRunning) {
    return new TRPCError({ code: 'CONFLICT', message: `audit '${id}' already exists; pick another id or delete it first` });
  }
  // The SDK turns the server's "Invalid schedule spec: ..." into a TypeError.
  if (err instanceof TypeError) return new TRPCError({ code: 'BAD_REQUEST', message: `Temporal refused the schedule spec: ${err.message}` });
  const grpc = err instanceof ServiceError ? err.cause : err;
  if (isGrpcServiceError(grpc)) {
    if (grpc.code === GRPC_INVALID_ARGUMENT) return new TRPCError({ code: 'BAD_REQUEST', message: `Temporal refused to ${what}: ${grpc.details}` });
    if (grpc.code === GRPC_NOT_FOUND) return new TRPCError({ code: 'NOT_FOUND', message: `audit '${id}' not found` });
  }
  return temporalFailure(`Temporal failed to ${what}: ${err instanceof Error ? err.message : String(err)}`, err);
}

/** The schedule behind an audit; NOT_FOUND when there is none, or when it starts neither audit workflow. */
async function requireAudit(ctx: Context, id: string): Promise<{ handle: ScheduleHandle; description: ScheduleDescription; kind: AuditKind }> {
  const handle = ctx.temporal.schedule.getHandle(id);
  let description: ScheduleDescription;
  try {
    description = await handle.describe();
  } catch (err) {
    throw scheduleRefusal(err, id, `describe audit '${id}'`);
  }
  const kind = auditKindOf(description.action.workflowType);
  if (!kind) {
    throw new TRPCError({ code: 'NOT_FOUND', message: `audit '${id}' not found (schedule '${id}' starts neither ${BIAS_REAUDIT_WORKFLOW_TYPE} nor ${DRIFT_MONITOR_WORKFLOW_TYPE})` });
  }
  return { handle, description, kind };
}

async function describeAudit(ctx: Context, id: string): Promise<AuditView> {
  const { description, kind } = await requireAudit(ctx, id);
  return toAuditView(description, kind);
}

const idInput = z.strictObject({ id: auditId });

const createFields = {
  model: modelName,
  /** Default: bias-reaudit-<model> or drift-monitor-<model>. */
  id: auditId.optional(),
  spec: auditSpecInput,
  catchupWindowSeconds: z.number().int().min(10).max(366 * 86400).default(3600),
  overlap: auditOverlap.default('skip'),
  /** Days of traffic before each scheduled time that a run looks at. */
  windowDays: z.number().int().min(1).max(365).default(7),
  paused: z.boolean().optional(),
};

/** The policy schema of each kind. */
const POLICY_INPUT = { bias_reaudit: reauditPolicyInput, drift_monitor: driftMonitorPolicyInput } as const;

/**
 * The kind decides the policy's shape: a re-audit's bounds, or a drift monitor's thresholds. The union
 * of loose shapes documents both (trpc-to-openapi needs one object input); the refinement holds the
 * policy to its kind's strict schema, so errors name the field.
 */
const createInput = z
  .strictObject({
    ...createFields,
    /** bias_reaudit (default): against the pre-launch audit; drift_monitor: population and feedback drift. */
    kind: auditKind.default('bias_reaudit'),
    policy: z.union([
      z.looseObject(reauditPolicyInput.shape).meta({
        id: 'BiasReauditPolicyInput',
        description: 'The policy of a bias_reaudit (the default kind). Open here only so that the error names the field: a field not listed is refused (400).',
      }),
      z.looseObject(driftMonitorPolicyInput.shape).meta({
        id: 'DriftMonitorPolicyInput',
        description: 'The policy of a drift_monitor. Open here only so that the error names the field: a field not listed is refused (400).',
      }),
    ]),
  })
  .superRefine((a, ctx) => {
    for (const issue of POLICY_INPUT[a.kind].safeParse(a.policy).error?.issues ?? []) {
      ctx.addIssue({ ...issue, path: ['policy', ...issue.path], message: `${a.kind} policy: ${issue.message}` } as Parameters<typeof ctx.addIssue>[0]);
    }
    // The worker signs with the variable named here: only webhook secrets, never DATABASE_URL and the like.
    const secretEnv = a.policy.webhook?.secretEnv;
    const refused = secretEnv === undefined ? null : secretEnvRefusal(secretEnv);
    if (refused) ctx.addIssue({ code: 'custom', path: ['policy', 'webhook', 'secretEnv'], message: refused });
  });

/**
 * Refuses (BAD_REQUEST) a webhook URL whose destination is not public and not on the admin's allowlist,
 * or a name resolving to such an address. A name that does not resolve now is accepted: every delivery
 * resolves and judges it again before connecting.
 */
async function requireWebhookDestination(ctx: Context, url: string): Promise<void> {
  const check = await webhookDestinationVerdict(ctx.db, url);
  if (check.verdict === 'refused') throw new TRPCError({ code: 'BAD_REQUEST', message: `policy.webhook.url: ${check.reason}` });
}

const auditReportOutput = z.object({
  reportId: z.number().int(),
  kind: auditKind,
  /** The schedule (audit id) whose run stored it; null for a run started outside a schedule. */
  auditId: z.string().nullable(),
  workflowId: z.string(),
  /** The production version audited. */
  version: z.number().int().nullable(),
  windowFrom: timestamp,
  windowTo: timestamp,
  /** The policy was crossed (an alert was sent). */
  alert: z.boolean(),
  reasons: z.array(z.string()),
  /** Requests in the window, and (re-audits) those with a label. */
  requests: z.number().int().nullable(),
  labelled: z.number().int().nullable(),
  contentHash: z.string(),
  createdAt: timestamp,
});

const storedReport = z.object({
  requests: z.number().int().optional(),
  labelled: z.number().int().optional(),
  reasons: z.array(z.string()).optional(),
  comparison: z.object({ reasons: z.array(z.string()) }).optional(),
});

/** One report whole: its body's shape follows its kind. */
const wholeAuditReportOutput = z.discriminatedUnion('kind', [
  auditReportOutput.extend({ kind: z.literal('bias_reaudit'), model: z.string(), report: biasReauditReportOutput }).meta({ id: 'BiasReauditReport' }),
  auditReportOutput.extend({ kind: z.literal('drift_monitor'), model: z.string(), report: driftMonitorReportOutput }).meta({ id: 'DriftMonitorReport' }),
]);

/** What an alert's payload says an approver or operator may act on (workflows/biasReaudit, driftMonitor). */
const alertPayload = z.object({ proposal: z.string().nullish(), retrainingRunId: z.string().nullish(), reportId: z.number().int().nullish() });

function toReportView(row: { report: typeof auditReports.$inferSelect; version: number | null }): z.infer<typeof auditReportOutput> {
  const r = row.report;
  const body = storedReport.safeParse(r.report).data;
  return {
    reportId: r.id,
    kind: r.kind,
    auditId: r.scheduleId,
    workflowId: r.workflowId,
    version: row.version,
    windowFrom: r.windowFrom,
    windowTo: r.windowTo,
    alert: r.alert === 1,
    reasons: body?.comparison?.reasons ?? body?.reasons ?? [],
    requests: body?.requests ?? null,
    labelled: body?.labelled ?? null,
    contentHash: r.contentHash,
    createdAt: r.createdAt,
  };
}
const tags = ['audits'];

export const auditsRouter = router({
  create: roleProcedure('operator')
    .meta({ openapi: { method: 'POST', path: '/audits', tags, summary: 'Schedule a recurring bias re-audit or drift monitor of a model (a Temporal Schedule)' } })
    .input(createInput)
    .output(auditOutput)
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      if (input.policy.webhook) await requireWebhookDestination(ctx, input.policy.webhook.url);
      const id = input.id ?? `${input.kind.replace('_', '-')}-${model.name}`;
      const workflowInput: BiasReauditInput | DriftMonitorInput = {
        modelId: model.id,
        model: model.name,
        scheduleId: id,
        windowDays: input.windowDays,
        policy: POLICY_INPUT[input.kind].parse(input.policy) as ReauditPolicy & DriftMonitorPolicy,
        // A run the audit starts trains where this deployment's training workers listen.
        trainingTaskQueue: ctx.taskQueues.training,
      };
      const memo: AuditMemo = {
        model: model.name,
        spec: { cron: input.spec.cron ?? null, interval: input.spec.interval ?? null, timezone: input.spec.timezone },
        createdBy: ctx.identity.subject,
      };
      try {
        const handle = await ctx.temporal.schedule.create({
          scheduleId: id,
          spec: temporalSpec(input.spec),
          action: {
            type: 'startWorkflow',
            workflowType: AUDIT_WORKFLOW_TYPE[input.kind],
            taskQueue: ctx.taskQueues.control,
            // Temporal appends the action's nominal time: <id>-2026-01-01T03:00:00Z.
            workflowId: id,
            args: [workflowInput],
            typedSearchAttributes: [{ key: modelSearchAttribute, value: model.name }],
          },
          policies: { overlap: OVERLAP_TO_TEMPORAL[input.overlap], catchupWindow: input.catchupWindowSeconds * 1000 },
          memo,
          typedSearchAttributes: [{ key: modelSearchAttribute, value: model.name }],
          state: {
            paused: input.paused ?? false,
            note: `created${input.paused ? ' paused' : ''} by ${ctx.identity.subject}`,
          },
        });
        const view = toAuditView(await handle.describe(), input.kind);
        if (view.nextActionTimes.length === 0) {
          // A spec that matches no future time (a cron for 31 February) would sit there doing nothing.
          await handle.delete();
          throw new TRPCError({ code: 'BAD_REQUEST', message: `the spec matches no future time; audit '${id}' was not created` });
        }
        return view;
      } catch (err) {
        throw scheduleRefusal(err, id, `create audit '${id}'`);
      }
    }),

  list: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/audits', tags, summary: 'Audits (all, or of one model or kind), with their next run times' } })
    .input(z.strictObject({ model: modelName.optional(), kind: auditKind.optional() }).default({}))
    .output(z.array(auditSummaryOutput))
    .query(async ({ ctx, input }) => {
      // Schedule listing is eventually consistent: a schedule created a moment ago may be missing.
      const out: z.infer<typeof auditSummaryOutput>[] = [];
      try {
        const query = input.model ? `${modelSearchAttribute.name} = '${input.model}'` : undefined;
        for await (const s of ctx.temporal.schedule.list(query ? { query } : {})) {
          const kind = auditKindOf(s.action?.workflowType);
          if (!kind || (input.kind && kind !== input.kind)) continue;
          const audit = auditSummaryOf(s, kind);
          if (input.model && audit.model !== input.model) continue;
          out.push(audit);
        }
      } catch (err) {
        throw scheduleRefusal(err, '*', 'list audits');
      }
      return out.sort((a, b) => a.id.localeCompare(b.id));
    }),

  describe: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/audits/{id}', tags, summary: 'An audit: spec, policy, state, recent and next runs' } })
    .input(idInput)
    .output(auditOutput)
    .query(({ ctx, input }) => describeAudit(ctx, input.id)),

  pause: roleProcedure('operator')
    .meta({ openapi: { method: 'POST', path: '/audits/{id}/pause', tags, summary: 'Pause an audit (no scheduled runs until resumed; the reason becomes its note)' } })
    .input(z.strictObject({ id: auditId, reason }))
    .output(auditOutput)
    .mutation(async ({ ctx, input }) => {
      const { handle } = await requireAudit(ctx, input.id);
      try {
        await handle.pause(`paused by ${ctx.identity.subject}: ${input.reason}`);
      } catch (err) {
        throw scheduleRefusal(err, input.id, `pause audit '${input.id}'`);
      }
      return describeAudit(ctx, input.id);
    }),

  resume: roleProcedure('operator')
    .meta({ openapi: { method: 'POST', path: '/audits/{id}/resume', tags, summary: 'Resume a paused audit (missed periods are not run: backfill them)' } })
    .input(z.strictObject({ id: auditId, reason }))
    .output(auditOutput)
    .mutation(async ({ ctx, input }) => {
      const { handle } = await requireAudit(ctx, input.id);
      try {
        await handle.unpause(`resumed by ${ctx.identity.subject}: ${input.reason}`);
      } catch (err) {
        throw scheduleRefusal(err, input.id, `resume audit '${input.id}'`);
      }
      return describeAudit(ctx, input.id);
    }),

  trigger: roleProcedure('operator')
    .meta({ openapi: { method: 'POST', path: '/audits/{id}/trigger', tags, summary: 'Run an audit now (alongside any running one: overlap allow_all)' } })
    .input(idInput)
    .output(z.object({ id: z.string(), requestedAt: timestamp, workflowId: z.string().nullable() }))
    .mutation(async ({ ctx, input }) => {
      const { handle, description } = await requireAudit(ctx, input.id);
      const before = description.info.numActionsTaken;
      const requestedAt = new Date();
      try {
        await handle.trigger(ScheduleOverlapPolicy.ALLOW_ALL);
      } catch (err) {
        throw scheduleRefusal(err, input.id, `trigger audit '${input.id}'`);
      }
      // The schedule starts the run asynchronously; report its workflow id when it shows up soon.
      const deadline = Date.now() + TRIGGER_WAIT_MS;
      while (Date.now() < deadline) {
        const d = await handle.describe().catch(() => null);
        if (d && d.info.numActionsTaken > before) {
          return { id: input.id, requestedAt, workflowId: d.info.recentActions.at(-1)?.action.workflow.workflowId ?? null };
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return { id: input.id, requestedAt, workflowId: null };
    }),

  backfill: roleProcedure('operator')
    .meta({ openapi: { method: 'POST', path: '/audits/{id}/backfill', tags, summary: 'Run the audit now for every period in a past range [from, to): one run per scheduled time' } })
    .input(
      z
        .strictObject({
          id: auditId,
          from: isoDate,
          to: isoDate,
          /** Default: the audit's own overlap policy. */
          overlap: auditOverlap.optional(),
        })
        .refine((b) => Date.parse(b.from) < Date.parse(b.to), { message: 'from must be before to', path: ['to'] })
        .refine((b) => Date.parse(b.to) <= Date.now() + 60_000, { message: 'to is in the future: backfill covers past periods', path: ['to'] })
        .refine((b) => Date.parse(b.to) - Date.parse(b.from) <= MAX_BACKFILL_DAYS * 86_400_000, { message: `at most ${MAX_BACKFILL_DAYS} days at once`, path: ['from'] }),
    )
    .output(z.object({ id: z.string(), from: timestamp, to: timestamp, overlap: auditOverlap }))
    .mutation(async ({ ctx, input }) => {
      const { handle, description } = await requireAudit(ctx, input.id);
      const from = new Date(input.from);
      const to = new Date(input.to);
      const everyMs = description.spec.intervals?.[0]?.every;
      if (everyMs && (to.getTime() - from.getTime()) / everyMs > MAX_BACKFILL_PERIODS) {
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `that range has more than ${MAX_BACKFILL_PERIODS} periods of ${everyMs / 1000} s; backfill it in parts`,
        });
      }
      const overlap = input.overlap ?? overlapFromTemporal(description.policies.overlap);
      try {
        // Temporal's backfill range includes both ends; `to` is exclusive here, so a 3-hour range of an
        // hourly audit is 3 runs (from, from+1h, from+2h), and adjacent ranges do not repeat a period.
        await handle.backfill({ start: from, end: new Date(to.getTime() - 1), overlap: OVERLAP_TO_TEMPORAL[overlap] });
      } catch (err) {
        throw scheduleRefusal(err, input.id, `backfill audit '${input.id}'`);
      }
      return { id: input.id, from, to, overlap };
    }),

  reports: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models/{model}/audit-reports', tags, summary: "A model's stored audit reports (re-audits and drift monitors), by window end" } })
    .input(
      z.strictObject({
        model: modelName,
        kind: auditKind.optional(),
        auditId: auditId.optional(),
        /** 'true': only reports that alerted (a string, as in a query string). */
        alertsOnly: z.enum(['true', 'false']).default('false'),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
    )
    .output(z.array(auditReportOutput))
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const rows = await auditReportsOf(ctx.db, model.id, {
        ...(input.kind ? { kind: input.kind } : {}),
        ...(input.auditId ? { auditId: input.auditId } : {}),
        alertsOnly: input.alertsOnly === 'true',
        limit: input.limit,
      });
      return rows.map(toReportView);
    }),

  report: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/audit-reports/{reportId}', tags, summary: 'One stored audit report, whole: every finding with its interval' } })
    .input(z.strictObject({ reportId: positiveInt() }))
    .output(wholeAuditReportOutput)
    .query(async ({ ctx, input }) => {
      const row = await auditReportById(ctx.db, input.reportId);
      if (!row) throw new TRPCError({ code: 'NOT_FOUND', message: `audit report ${input.reportId} not found` });
      const view = toReportView(row);
      // The stored body as activities/audits wrote it for this kind; the output schema checks it.
      return view.kind === 'bias_reaudit'
        ? { ...view, kind: view.kind, model: row.model, report: row.report.report as z.infer<typeof biasReauditReportOutput> }
        : { ...view, kind: view.kind, model: row.model, report: row.report.report as z.infer<typeof driftMonitorReportOutput> };
    }),

  alerts: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models/{model}/alerts', tags, summary: "A model's recorded alerts, newest first: delivery state, and what they propose (a rollback for an approver, a started run)" } })
    .input(
      z.strictObject({
        model: modelName,
        kind: z.enum(ALERT_KINDS).optional(),
        status: z.enum(ALERT_STATUSES).optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
    )
    .output(
      z.array(
        z.object({
          alertId: z.number().int(),
          kind: z.enum(ALERT_KINDS),
          severity: z.string(),
          summary: z.string(),
          /** pending: not (yet) delivered, or no webhook configured; failed: refused or out of retries. */
          status: z.enum(ALERT_STATUSES),
          attempts: z.number().int(),
          lastStatus: z.number().int().nullable(),
          lastError: z.string().nullable(),
          targetUrl: z.string().nullable(),
          deliveredAt: timestamp.nullable(),
          createdAt: timestamp,
          /** What an approver is asked to do (a rollback proposal), when the policy proposes one. */
          proposal: z.string().nullable(),
          retrainingRunId: z.string().nullable(),
          reportId: z.number().int().nullable(),
        }),
      ),
    )
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const rows = await alertsOf(ctx.db, model.id, { ...(input.kind ? { kind: input.kind } : {}), ...(input.status ? { status: input.status } : {}), limit: input.limit });
      return rows.map((a) => {
        const p = alertPayload.safeParse(a.payload).data;
        return {
          alertId: a.id,
          kind: a.kind,
          severity: a.severity,
          summary: a.summary,
          status: a.status,
          attempts: a.attempts,
          lastStatus: a.lastStatus,
          lastError: a.lastError,
          targetUrl: a.targetUrl,
          deliveredAt: a.deliveredAt,
          createdAt: a.createdAt,
          proposal: p?.proposal ?? null,
          retrainingRunId: p?.retrainingRunId ?? null,
          reportId: p?.reportId ?? null,
        };
      });
    }),

  delete: roleProcedure('operator')
    .meta({ openapi: { method: 'DELETE', path: '/audits/{id}', tags, summary: 'Delete an audit (runs already started finish on their own)' } })
    .input(idInput)
    .output(z.object({ id: z.string(), deleted: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const { handle } = await requireAudit(ctx, input.id);
      try {
        await handle.delete();
      } catch (err) {
        throw scheduleRefusal(err, input.id, `delete audit '${input.id}'`);
      }
      return { id: input.id, deleted: true };
    }),
});
