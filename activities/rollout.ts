// Side effects of a rollout: routes set for shadow and canary, a canary window's traffic and feedback
// counted per version, and the two endings (promote, roll back), each keyed by the run so a retried
// activity changes nothing twice.
import { and, eq, sql } from 'drizzle-orm';
import { judgeCanaryWindow, type CanaryRule, type WindowCounts, type WindowJudgement } from '../analysis/rollout';
import type { Db } from '../db/index';
import { prelaunchAuditOf } from './audits';
import { changeProductionRoute, resultRows, writeAudit } from '../db/queries';
import { deploymentEvents, modelVersions, routes } from '../db/schema';

export function createRolloutActivities({ db }: { db: Db }) {
  /** Requests and their override/report events per version in [from, to), overall and per slice value. */
  async function windowCounts(modelId: number, versionId: number, from: Date, to: Date): Promise<WindowCounts> {
    const rows = resultRows<{ slice: string | null; requests: string; overrides: string; reports: string }>(
      await db.execute(sql`
        with traffic as (
          select p.request_id, p.attributes from predictions p
          where p.model_id = ${modelId} and p.version_id = ${versionId}
            and p.occurred_at >= ${from.toISOString()}::timestamptz and p.occurred_at < ${to.toISOString()}::timestamptz
        ), flagged as (
          select t.request_id, t.attributes,
                 exists (select 1 from feedback_events f where f.model_id = ${modelId} and f.request_id = t.request_id and f.kind = 'override') as overridden,
                 exists (select 1 from feedback_events f where f.model_id = ${modelId} and f.request_id = t.request_id and f.kind = 'report') as reported
          from traffic t
        )
        select null as slice, count(*)::text as requests, count(*) filter (where overridden)::text as overrides, count(*) filter (where reported)::text as reports from flagged
        union all
        select a.key || '=' || a.value, count(*)::text, count(*) filter (where overridden)::text, count(*) filter (where reported)::text
        from flagged, jsonb_each_text(flagged.attributes) a group by a.key, a.value`),
    );
    const toCell = (r: { requests: string; overrides: string; reports: string }) => ({
      requests: Number(r.requests),
      events: { override_rate: Number(r.overrides), report_rate: Number(r.reports) },
    });
    const overall = rows.find((r) => r.slice === null);
    return {
      ...(overall ? toCell(overall) : { requests: 0, events: { override_rate: 0, report_rate: 0 } }),
      slices: Object.fromEntries(rows.filter((r) => r.slice !== null).map((r) => [r.slice!, toCell(r)])),
    };
  }

  async function setRoute(modelId: number, kind: 'canary' | 'shadow', versionId: number, weight: number) {
    const now = new Date();
    await db
      .insert(routes)
      .values({ modelId, kind, versionId, weight, updatedAt: now })
      .onConflictDoUpdate({ target: [routes.modelId, routes.kind], set: { versionId, weight, updatedAt: now } });
    await db
      .update(modelVersions)
      .set({ status: kind, statusChangedAt: now })
      .where(and(eq(modelVersions.id, versionId), sql`${modelVersions.status} in ('candidate', 'shadow', 'canary')`));
  }

  return {
    /** Routes the candidate: shadow (scores silently) or canary (answers this share of request keys). */
    async setRolloutRoute(input: { runId: string; modelId: number; versionId: number; kind: 'canary' | 'shadow'; weight: number }): Promise<void> {
      await setRoute(input.modelId, input.kind, input.versionId, input.weight);
      await writeAudit(db, {
        actor: 'workflow',
        action: `rollout.${input.kind}`,
        target: `model:${input.modelId}`,
        details: { runId: input.runId, versionId: input.versionId, weight: input.weight },
      });
    },

    /** Judges a canary window: the canary's traffic and feedback against the baseline's over the same time. */
    async analyzeCanaryWindow(input: {
      modelId: number;
      canaryVersionId: number;
      baselineVersionId: number;
      from: string;
      to: string;
      rules: CanaryRule[];
    }): Promise<WindowJudgement> {
      const from = new Date(input.from);
      const to = new Date(input.to);
      const [baseline, canary] = await Promise.all([
        windowCounts(input.modelId, input.baselineVersionId, from, to),
        windowCounts(input.modelId, input.canaryVersionId, from, to),
      ]);
      return judgeCanaryWindow(baseline, canary, input.rules);
    },

    /** The end of a successful rollout: the candidate becomes production, canary and shadow routes go. */
    async completeRollout(input: { runId: string; modelId: number; versionId: number; approver: string | null }) {
      await prelaunchAuditOf(db, input.modelId, input.versionId);
      const change = await changeProductionRoute(db, {
        modelId: input.modelId,
        toVersionId: input.versionId,
        action: 'promote',
        actor: input.approver ?? 'workflow',
        reason: `run ${input.runId}: rollout completed`,
        runId: input.runId,
        idempotencyKey: `${input.runId}:promote`,
        previousStatus: 'retired',
      });
      await db.delete(routes).where(and(eq(routes.modelId, input.modelId), sql`${routes.kind} in ('canary', 'shadow')`));
      return change;
    },

    /**
     * Rolls the candidate back at once: canary and shadow routes removed (production never moved), the
     * version marked rolled_back, the reason recorded as a deployment event.
     */
    async rollbackRollout(input: { runId: string; modelId: number; versionId: number; championVersionId: number | null; actor: string; reason: string }): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.delete(routes).where(and(eq(routes.modelId, input.modelId), sql`${routes.kind} in ('canary', 'shadow')`));
        await tx.update(modelVersions).set({ status: 'rolled_back', statusChangedAt: new Date() }).where(eq(modelVersions.id, input.versionId));
        const inserted = await tx
          .insert(deploymentEvents)
          .values({
            modelId: input.modelId,
            action: 'rollback',
            fromVersionId: input.versionId,
            toVersionId: input.championVersionId ?? input.versionId,
            runId: input.runId,
            actor: input.actor,
            reason: input.reason,
            idempotencyKey: `${input.runId}:rollout-rollback`,
          })
          .onConflictDoNothing()
          .returning({ id: deploymentEvents.id });
        if (inserted.length) {
          await writeAudit(tx, { actor: input.actor, action: 'rollout.rollback', target: `model:${input.modelId}`, details: { runId: input.runId, versionId: input.versionId, reason: input.reason } });
        }
      });
    },
  };
}
