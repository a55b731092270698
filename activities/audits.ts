// Side effects of bias re-audits: the pre-launch audit of a version (stored once, at promotion or on
// first need), a window of labelled production traffic measured and compared with it, the report stored
// once per workflow.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { canonicalJson } from '../analysis/canonicalJson';
import { encodeAttribute } from '../analysis/confusion';
import { chooseLabelDesign, compareWithPrelaunch, judgeDriftSignals, judgedFindings, type AuditSide } from '../analysis/drift';
import { sliceRatesFromRateSet, weightedErrorRates, type SliceRates } from '../analysis/weightedRates';
import { CORRECTION_KINDS } from '../analysis/flywheel';
import type { VersionEvaluation } from '../analysis/report';
import type { Db, DbOrTx } from '../db/index';
import { productionVersionId } from '../db/models';
import { runOptionsOf } from '../analysis/policy';
import { currentPolicy } from '../db/policies';
import { resultRows } from '../db/queries';
import { boundedReasons } from './payloads';
import { auditReports, evalReports, models, prelaunchAudits, runs, type AuditKind } from '../db/schema';
import type { DriftMonitorPolicy, ReauditPolicy, RetrainingRunInput, RunTrigger } from '../workflows/messages';

export interface PrelaunchAudit {
  versionId: number;
  evalReportId: number;
  /** Overall and per slice value, as the version was evaluated on its held-out set. */
  slices: SliceRates[];
  /** Held-out rows per category of each attribute: the population the version was judged on. */
  attributes: Record<string, Record<string, number>>;
}

/** The version's pre-launch audit, taken from its candidate evaluation report; stored on first call. */
export async function prelaunchAuditOf(db: DbOrTx, modelId: number, versionId: number): Promise<PrelaunchAudit | null> {
  const [stored] = await db.select().from(prelaunchAudits).where(eq(prelaunchAudits.versionId, versionId));
  if (stored) return stored.audit as PrelaunchAudit;
  const [report] = await db
    .select({ id: evalReports.id, summary: evalReports.summary })
    .from(evalReports)
    .where(and(eq(evalReports.versionId, versionId), eq(evalReports.role, 'candidate')))
    .orderBy(asc(evalReports.id))
    .limit(1);
  if (!report) return null;
  const c = (report.summary as VersionEvaluation).classification;
  const audit: PrelaunchAudit = {
    versionId,
    evalReportId: report.id,
    slices: [sliceRatesFromRateSet('overall', 'all', c.overall.rates), ...c.slices.filter((s) => s.rates.support > 0).map((s) => sliceRatesFromRateSet(s.attribute, s.value, s.rates))],
    attributes: {},
  };
  for (const s of c.slices) {
    if (s.rates.support === 0) continue;
    (audit.attributes[s.attribute] ??= {})[s.value] = s.rates.support;
  }
  await db.insert(prelaunchAudits).values({ versionId, modelId, evalReportId: report.id, audit }).onConflictDoNothing();
  return audit;
}

export function createAuditActivities({ db }: { db: Db }) {
  /** Requests in [from, to) and those the user corrected (override, edit, undo): the feedback signal of a window. */
  async function overrideCounts(modelId: number, from: Date, to: Date) {
    const [row] = resultRows<{ requests: string; overridden: string }>(
      await db.execute(sql`
        select count(*)::text as requests,
               count(*) filter (where exists (select 1 from feedback_events f where f.model_id = p.model_id and f.request_id = p.request_id and f.kind in (${sql.join(CORRECTION_KINDS.map((k) => sql`${k}`), sql`, `)})))::text as overridden
        from predictions p
        where p.model_id = ${modelId} and p.occurred_at >= ${from.toISOString()}::timestamptz and p.occurred_at < ${to.toISOString()}::timestamptz`),
    );
    return { requests: Number(row?.requests ?? 0), overridden: Number(row?.overridden ?? 0) };
  }

  /** A report stored once per workflow id (a retried activity finds the first one). */
  async function storeAuditReport(r: { workflowId: string; scheduleId: string | null; modelId: number; kind: AuditKind; versionId: number; from: string; to: string; alert: boolean; report: object }) {
    const contentHash = `sha256:${createHash('sha256').update(canonicalJson(r.report)).digest('hex')}`;
    await db
      .insert(auditReports)
      .values({
        workflowId: r.workflowId,
        scheduleId: r.scheduleId,
        kind: r.kind,
        modelId: r.modelId,
        versionId: r.versionId,
        windowFrom: new Date(r.from),
        windowTo: new Date(r.to),
        alert: r.alert ? 1 : 0,
        report: r.report,
        contentHash,
      })
      .onConflictDoNothing({ target: auditReports.workflowId });
    const [row] = await db.select().from(auditReports).where(eq(auditReports.workflowId, r.workflowId));
    return row!;
  }

  return {
    /**
     * Population drift (PSI of each watched attribute's traffic in [from, to) against the production
     * version's pre-launch population; crossed when above maxPsi with chi-square p < 0.01) and
     * feedback-signal drift (override rate against the previous window of the same length; crossed
     * when the Newcombe interval's lower bound exceeds maxOverrideRise).
     */
    async measureDrift(input: { workflowId: string; scheduleId: string | null; modelId: number; from: string; to: string; policy: DriftMonitorPolicy }) {
      const [existing] = await db.select().from(auditReports).where(eq(auditReports.workflowId, input.workflowId));
      const summarise = (r: typeof auditReports.$inferSelect) => {
        const rep = r.report as { drift: boolean; reasons: string[] };
        return { reportId: r.id, versionId: r.versionId, drift: rep.drift, reasons: boundedReasons(rep.reasons, `all of them in audit report ${r.id}`) };
      };
      if (existing) return summarise(existing);
      const from = new Date(input.from);
      const to = new Date(input.to);
      const versionId = await productionVersionId(db, input.modelId);
      if (versionId === null) throw ApplicationFailure.nonRetryable(`model ${input.modelId} has no production version to watch`, 'NoProductionVersion');
      const prelaunch = await prelaunchAuditOf(db, input.modelId, versionId);
      if (!prelaunch) throw ApplicationFailure.nonRetryable(`version ${versionId} has no candidate evaluation to compare with`, 'NoPrelaunchAudit');
      const watched = input.policy.attributes ?? Object.keys(prelaunch.attributes).filter((a) => a !== 'month');
      const traffic = resultRows<{ key: string; value: string; n: string }>(
        await db.execute(sql`
          select a.key, a.value, count(*)::text as n
          from predictions p, jsonb_each_text(p.attributes) a
          where p.model_id = ${input.modelId} and p.occurred_at >= ${input.from}::timestamptz and p.occurred_at < ${input.to}::timestamptz
          group by a.key, a.value`),
      );
      const trafficCounts: Record<string, Record<string, number>> = {};
      for (const t of traffic) (trafficCounts[t.key] ??= {})[t.value] = Number(t.n);
      const judged = judgeDriftSignals({
        prelaunch: prelaunch.attributes,
        traffic: trafficCounts,
        attributes: watched,
        overrides: {
          current: await overrideCounts(input.modelId, from, to),
          previous: await overrideCounts(input.modelId, new Date(from.getTime() - (to.getTime() - from.getTime())), from),
        },
        ...(input.policy.maxPsi !== undefined ? { maxPsi: input.policy.maxPsi } : {}),
        ...(input.policy.maxOverrideRise !== undefined ? { maxOverrideRise: input.policy.maxOverrideRise } : {}),
      });
      const report = {
        schemaVersion: 1,
        versionId,
        prelaunchEvalReportId: prelaunch.evalReportId,
        window: { from: input.from, to: input.to },
        requests: judged.overrides.current.requests,
        ...judged,
      };
      return summarise(await storeAuditReport({ ...input, kind: 'drift_monitor', versionId, alert: judged.drift, report }));
    },

    /**
     * The run a schedule starts: its row (keyed by the starting workflow, so a retry records it once)
     * and the workflow input. `created` is false when it was recorded before (the caller starts it again,
     * which finds it started). When another run of the model is still going (training, or waiting for
     * approval), nothing is recorded and `activeRunId` names it: one drifting month starts one run, not
     * one per audit that notices.
     */
    async recordTriggeredRun(input: {
      modelId: number;
      model: string;
      trigger: RunTrigger;
      requestedBy: string;
      key: string;
      approvalTimeoutSeconds: number;
      trainingTaskQueue: string;
    }): Promise<{ runId: string; created: boolean; activeRunId: string | null; input: RetrainingRunInput }> {
      const runId = `run-${input.model}-${input.trigger}-${createHash('sha256').update(input.key).digest('hex').slice(0, 12)}`;
      const runInput: RetrainingRunInput = {
        runId,
        modelId: input.modelId,
        model: input.model,
        trigger: input.trigger,
        requestedBy: input.requestedBy,
        approvalTimeoutSeconds: input.approvalTimeoutSeconds,
        trainingTaskQueue: input.trainingTaskQueue,
      };
      // A gate policy that judges the saturation verdict or a time-split held-out set gets its evidence, as runs.start gives it.
      const policy = await currentPolicy(db, input.modelId);
      if (policy) Object.assign(runInput, runOptionsOf(policy.document));
      return db.transaction(async (tx) => {
        // The model row serialises concurrent scheduled runs (two backfilled periods noticing at once).
        await tx.select({ id: models.id }).from(models).where(eq(models.id, input.modelId)).for('update');
        const [mine] = await tx.select({ id: runs.id }).from(runs).where(eq(runs.id, runId));
        if (mine) return { runId, created: false, activeRunId: null, input: runInput };
        const [active] = await tx
          .select({ id: runs.id })
          .from(runs)
          .where(and(eq(runs.modelId, input.modelId), inArray(runs.status, ['running', 'awaiting_approval'])))
          .orderBy(asc(runs.startedAt))
          .limit(1);
        if (active) return { runId: active.id, created: false, activeRunId: active.id, input: runInput };
        await tx.insert(runs).values({ id: runId, modelId: input.modelId, trigger: input.trigger, requestedBy: input.requestedBy, status: 'running', step: 'queued', params: { ...runInput } });
        return { runId, created: true, activeRunId: null, input: runInput };
      });
    },

    /**
     * Re-audits the production version on [from, to): labelled traffic (aggregated annotation labels,
     * weighted 1/pi, or reviewers' corrections, weight 1: one design per window, see chooseLabelDesign)
     * against the pre-launch audit. Overrides and
     * reports are not labels here: they arrive only where the filter was wrong, so counting them would
     * make every error rate look worse than it is. Stores the report once per workflow id and returns
     * what the workflow needs to act.
     */
    async reauditWindow(input: { workflowId: string; scheduleId: string | null; modelId: number; from: string; to: string; policy: ReauditPolicy }) {
      const [existing] = await db.select().from(auditReports).where(eq(auditReports.workflowId, input.workflowId));
      const summarise = (r: typeof auditReports.$inferSelect) => {
        const rep = r.report as { comparison: { reasons: string[] }; labelled: number };
        return { reportId: r.id, versionId: r.versionId, alert: r.alert === 1, reasons: boundedReasons(rep.comparison.reasons, `all of them in audit report ${r.id}`), labelledRequests: rep.labelled, contentHash: r.contentHash };
      };
      if (existing) return summarise(existing);
      const versionId = await productionVersionId(db, input.modelId);
      if (versionId === null) throw ApplicationFailure.nonRetryable(`model ${input.modelId} has no production version to re-audit`, 'NoProductionVersion');
      const prelaunch = await prelaunchAuditOf(db, input.modelId, versionId);
      if (!prelaunch) throw ApplicationFailure.nonRetryable(`version ${versionId} has no candidate evaluation to compare with`, 'NoPrelaunchAudit');

      const rows = resultRows<{ decision: number; attributes: Record<string, string> | string; annotation_label: number | null; pi: number | null; review_label: number | null }>(
        await db.execute(sql`
          select p.decision, p.attributes, ann.label as annotation_label, ann.pi, fb.label as review_label
          from predictions p
          left join lateral (
            select a.label, t.inclusion_probability as pi
            from examples e join aggregated_labels a on a.example_id = e.id join annotation_tasks t on t.id = a.task_id
            where e.model_id = p.model_id and e.external_id = p.example_external_id and t.is_gold = 0
            limit 1
          ) ann on true
          left join lateral (
            select (f.value ->> 'correctedLabel')::int as label
            from feedback_events f
            where f.model_id = p.model_id and f.request_id = p.request_id and f.kind = 'correction'
            order by f.id limit 1
          ) fb on true
          where p.model_id = ${input.modelId} and p.version_id = ${versionId}
            and p.occurred_at >= ${input.from}::timestamptz and p.occurred_at < ${input.to}::timestamptz`),
      );
      const attrsOf = (r: (typeof rows)[number]) => (typeof r.attributes === 'string' ? (JSON.parse(r.attributes) as Record<string, string>) : r.attributes);
      // The window's population: every request, labelled or not (data drift).
      const traffic: Record<string, Record<string, number>> = {};
      for (const r of rows) for (const [k, v] of Object.entries(attrsOf(r))) (traffic[k] ??= {})[v] = (traffic[k]![v] ?? 0) + 1;
      const labels = chooseLabelDesign(
        { annotation: rows.filter((r) => r.annotation_label !== null && r.pi !== null).length, review: rows.filter((r) => r.review_label !== null).length },
        input.policy.minSupport ?? 30,
      );
      // One design's labels and weights: the annotation sample's 1/pi, or the spot-check's 1.
      const measured = rows.flatMap((r) => {
        if (labels.use === 'annotation' && r.annotation_label !== null && r.pi !== null) return [{ row: r, label: Number(r.annotation_label), weight: 1 / Number(r.pi) }];
        if (labels.use === 'review' && r.review_label !== null) return [{ row: r, label: Number(r.review_label), weight: 1 }];
        return [];
      });
      const labelled = measured.map((m) => m.row);
      const names = Object.keys(prelaunch.attributes).sort();
      const windowRates = weightedErrorRates({
        labels: measured.map((m) => m.label),
        predictions: labelled.map((r) => Number(r.decision)),
        weights: measured.map((m) => m.weight),
        slices: names.map((n) => encodeAttribute(n, labelled.map((r) => attrsOf(r)[n] ?? 'unknown'))),
      });
      const window: AuditSide = { slices: [windowRates.overall, ...windowRates.slices], attributes: Object.fromEntries(names.filter((n) => traffic[n]).map((n) => [n, traffic[n]!])) };
      const comparison = compareWithPrelaunch({
        prelaunch: { slices: prelaunch.slices, attributes: prelaunch.attributes },
        window,
        policy: {
          maxFprIncrease: input.policy.maxFprIncrease,
          maxFairnessGap: input.policy.maxFairnessGap,
          ...(input.policy.maxPsi !== undefined ? { maxPsi: input.policy.maxPsi } : {}),
          ...(input.policy.minSupport !== undefined ? { minSupport: input.policy.minSupport } : {}),
        },
      });
      // The policy's attributes are the ones judged (a month attribute always "drifts").
      const judged = judgedFindings(comparison, input.policy.attributes);
      const report = {
        schemaVersion: 1,
        versionId,
        prelaunchEvalReportId: prelaunch.evalReportId,
        window: { from: input.from, to: input.to },
        requests: rows.length,
        labelled: labelled.length,
        labelDesign: labels.design,
        labelCounts: labels.counts,
        method: windowRates.method,
        comparison: judged,
      };
      return summarise(await storeAuditReport({ ...input, kind: 'bias_reaudit', versionId, alert: judged.alert, report }));
    },
  };
}
