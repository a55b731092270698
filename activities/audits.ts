// Side effects of bias re-audits: the pre-launch audit of a version (stored once, at promotion or on
// first need), a window of labelled production traffic measured and compared with it, the report stored
// once per workflow.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { and, asc, eq, sql } from 'drizzle-orm';
import { canonicalJson } from '../analysis/canonicalJson';
import { encodeAttribute } from '../analysis/confusion';
import { compareWithPrelaunch, sliceRatesFromRateSet, weightedErrorRates, type AuditSide, type SliceRates } from '../analysis/drift';
import type { VersionEvaluation } from '../analysis/report';
import type { Db, DbOrTx } from '../db/index';
import { productionVersionId, resultRows } from '../db/queries';
import { auditReports, evalReports, prelaunchAudits } from '../db/schema';
import type { ReauditPolicy } from '../workflows/messages';

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
  return {
    /**
     * Re-audits the production version on [from, to): labelled traffic (aggregated annotation labels,
     * weighted 1/pi; explicit corrections and overrides, weight 1) against the pre-launch audit. Stores
     * the report once per workflow id and returns what the workflow needs to act.
     */
    async reauditWindow(input: { workflowId: string; scheduleId: string | null; modelId: number; from: string; to: string; policy: ReauditPolicy }) {
      const [existing] = await db.select().from(auditReports).where(eq(auditReports.workflowId, input.workflowId));
      const summarise = (r: typeof auditReports.$inferSelect) => {
        const rep = r.report as { comparison: { reasons: string[] }; labelled: number };
        return { reportId: r.id, versionId: r.versionId, alert: r.alert === 1, reasons: rep.comparison.reasons, labelledRequests: rep.labelled, contentHash: r.contentHash };
      };
      if (existing) return summarise(existing);
      const versionId = await productionVersionId(db, input.modelId);
      if (versionId === null) throw ApplicationFailure.nonRetryable(`model ${input.modelId} has no production version to re-audit`, 'NoProductionVersion');
      const prelaunch = await prelaunchAuditOf(db, input.modelId, versionId);
      if (!prelaunch) throw ApplicationFailure.nonRetryable(`version ${versionId} has no candidate evaluation to compare with`, 'NoPrelaunchAudit');

      const rows = resultRows<{ decision: number; attributes: Record<string, string> | string; label: number | null; weight: number | null }>(
        await db.execute(sql`
          select p.decision, p.attributes,
                 coalesce(ann.label, fb.label) as label,
                 case when ann.label is not null then 1.0 / ann.pi when fb.label is not null then 1.0 else null end as weight
          from predictions p
          left join lateral (
            select a.label, t.inclusion_probability as pi
            from examples e join aggregated_labels a on a.example_id = e.id join annotation_tasks t on t.id = a.task_id
            where e.model_id = p.model_id and e.external_id = p.example_external_id and t.is_gold = 0
            limit 1
          ) ann on true
          left join lateral (
            select case when f.kind = 'correction' then (f.value ->> 'correctedLabel')::int
                        when f.value ->> 'action' = 'not_spam' then 0 else 1 end as label
            from feedback_events f
            where f.model_id = p.model_id and f.request_id = p.request_id and f.kind in ('correction', 'override')
            order by (f.kind = 'correction') desc, f.id limit 1
          ) fb on true
          where p.model_id = ${input.modelId} and p.version_id = ${versionId}
            and p.occurred_at >= ${input.from}::timestamptz and p.occurred_at < ${input.to}::timestamptz`),
      );
      const attrsOf = (r: (typeof rows)[number]) => (typeof r.attributes === 'string' ? (JSON.parse(r.attributes) as Record<string, string>) : r.attributes);
      // The window's population: every request, labelled or not (data drift).
      const traffic: Record<string, Record<string, number>> = {};
      for (const r of rows) for (const [k, v] of Object.entries(attrsOf(r))) (traffic[k] ??= {})[v] = (traffic[k]![v] ?? 0) + 1;
      const labelled = rows.filter((r) => r.label !== null && r.weight !== null);
      const names = Object.keys(prelaunch.attributes).sort();
      const windowRates = weightedErrorRates({
        labels: labelled.map((r) => Number(r.label)),
        predictions: labelled.map((r) => Number(r.decision)),
        weights: labelled.map((r) => Number(r.weight)),
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
      // The policy's attributes are the ones judged (a month attribute always "drifts"); overall always is.
      const judged = input.policy.attributes;
      const keep = (attribute: string) => !judged || attribute === 'overall' || judged.includes(attribute);
      const fairness = comparison.fairness.filter((f) => keep(f.attribute));
      const dataDrift = comparison.dataDrift.filter((d) => keep(d.attribute));
      const conceptDrift = comparison.conceptDrift.filter((c) => keep(c.attribute));
      const alert = conceptDrift.some((c) => c.crossed) || fairness.some((f) => f.crossed) || dataDrift.some((d) => d.crossed);
      const reasons = [
        ...dataDrift.filter((d) => d.crossed).map((d) => `data drift: PSI of ${d.attribute} is ${d.psi.toFixed(4)} (${d.band}, p = ${d.p === null ? 'n/a' : d.p.toExponential(2)})`),
        ...conceptDrift.filter((c) => c.crossed).map((c) => `concept drift: ${c.metric} on ${c.slice} rose by ${c.difference.estimate?.toFixed(4)} [${c.difference.lower?.toFixed(4)}, ${c.difference.upper?.toFixed(4)}]`),
        ...fairness.filter((f) => f.crossed).map((f) => `fairness: ${f.metric} over ${f.attribute} is ${f.window?.estimate?.toFixed(4) ?? 'n/a'} in the window (pre-launch ${f.prelaunch?.estimate?.toFixed(4) ?? 'n/a'})`),
      ];
      const report = {
        schemaVersion: 1,
        versionId,
        prelaunchEvalReportId: prelaunch.evalReportId,
        window: { from: input.from, to: input.to },
        requests: rows.length,
        labelled: labelled.length,
        method: windowRates.method,
        comparison: { ...comparison, dataDrift, conceptDrift, fairness, alert, reasons },
      };
      const contentHash = `sha256:${createHash('sha256').update(canonicalJson(report)).digest('hex')}`;
      await db
        .insert(auditReports)
        .values({
          workflowId: input.workflowId,
          scheduleId: input.scheduleId,
          modelId: input.modelId,
          versionId,
          windowFrom: new Date(input.from),
          windowTo: new Date(input.to),
          alert: alert ? 1 : 0,
          report,
          contentHash,
        })
        .onConflictDoNothing({ target: auditReports.workflowId });
      const [row] = await db.select().from(auditReports).where(eq(auditReports.workflowId, input.workflowId));
      return summarise(row!);
    },
  };
}
