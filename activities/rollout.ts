// Side effects of a rollout: routes set for shadow and canary, the shadow window's decisions compared
// with the served ones, a canary window's traffic and feedback counted per version, and the two endings (promote, roll back), each keyed by the run so a retried
// activity changes nothing twice.
import { and, eq, sql } from 'drizzle-orm';
import { judgeCanaryWindow, judgeShadowCounts, type CanaryRule, type ShadowCell, type ShadowComparison, type ShadowRules, type WindowCounts, type WindowJudgement } from '../analysis/rollout';
import type { Db } from '../db/index';
import { prelaunchAuditOf } from './audits';
import { writeAudit } from '../db/auditLog';
import { changeProductionRoute } from '../db/models';
import { resultRows } from '../db/queries';
import { boundedList, boundedReasons, boundedText } from './payloads';
import { deploymentEvents, modelVersions, predictions, routes } from '../db/schema';

const PHASE_ORDER: Record<string, number> = { Failed: 0, Inconclusive: 1, insufficient: 2, Successful: 3 };
const worstFirst = <T extends { phase: string }>(items: readonly T[]) => [...items].sort((a, b) => (PHASE_ORDER[a.phase] ?? 4) - (PHASE_ORDER[b.phase] ?? 4));

/**
 * A canary window's judgement as the workflow carries it: every rule is measured overall and per slice
 * value, so the measurements grow with the traffic's slices; the workflow keeps the phase and reasons.
 * The overall measurements and the worst slices are kept, with a count of the rest.
 */
export type BoundedWindowJudgement = WindowJudgement & { measurementsOmitted?: number };

export function boundedWindowJudgement(judged: WindowJudgement): BoundedWindowJudgement {
  const overall = judged.measurements.filter((m) => m.slice === 'overall');
  const slices = boundedList(worstFirst(judged.measurements.filter((m) => m.slice !== 'overall' && m.phase !== 'Successful')));
  const omitted = judged.measurements.length - overall.length - slices.kept.length;
  return {
    phase: judged.phase,
    measurements: [...overall, ...slices.kept].map((m) => ({ ...m, detail: boundedText(m.detail) })),
    reasons: boundedReasons(judged.reasons, 'measured again from the window\'s predictions and feedback'),
    ...(omitted > 0 ? { measurementsOmitted: omitted } : {}),
  };
}

/**
 * The shadow comparison as the workflow carries it: every slice value seen is compared, thousands on
 * real traffic; the workflow keeps the failed ones. Kept: the slices that did not pass (failed first),
 * at most MAX_PAYLOAD_ITEMS, and how many slices there were.
 */
export type BoundedShadowComparison = ShadowComparison & { servedRequests: number; coverage: number | null; slicesCompared?: number; slicesOmitted?: number };

export function boundedShadowComparison(judged: ShadowComparison & { servedRequests: number; coverage: number | null }): BoundedShadowComparison {
  const notPassed = boundedList(worstFirst(judged.slices.filter((sl) => sl.phase === 'Failed' || sl.phase === 'Inconclusive')));
  return {
    ...judged,
    reasons: boundedReasons(judged.reasons, 'compared again from shadow_predictions'),
    slices: notPassed.kept.map((sl) => ({ ...sl, detail: boundedText(sl.detail) })),
    slicesCompared: judged.slices.length,
    slicesOmitted: judged.slices.length - notPassed.kept.length,
  };
}

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

  /**
   * Shadow decisions of `shadowVersionId` paired with the served decision of the same request (predictions
   * on model and request id) answered by `servingVersionId`, shadow rows in [from, to), tallied overall and
   * per slice value in SQL (a window can hold millions of requests; the judgement needs only the counts).
   */
  async function shadowCounts(modelId: number, shadowVersionId: number, servingVersionId: number, from: Date, to: Date) {
    const rows = resultRows<{ slice: string | null; requests: string; new_blocks: string; new_passes: string; served_blocks: string }>(
      await db.execute(sql`
        with pairs as (
          select p.decision as served, s.decision as shadow, s.attributes
          from shadow_predictions s
          join predictions p on p.model_id = s.model_id and p.request_id = s.request_id
          where s.model_id = ${modelId} and s.version_id = ${shadowVersionId} and p.version_id = ${servingVersionId}
            and s.occurred_at >= ${from.toISOString()}::timestamptz and s.occurred_at < ${to.toISOString()}::timestamptz
        )
        select null as slice, count(*)::text as requests,
               count(*) filter (where served = 0 and shadow = 1)::text as new_blocks,
               count(*) filter (where served = 1 and shadow = 0)::text as new_passes,
               count(*) filter (where served = 1)::text as served_blocks
        from pairs
        union all
        select a.key || '=' || a.value, count(*)::text,
               count(*) filter (where served = 0 and shadow = 1)::text,
               count(*) filter (where served = 1 and shadow = 0)::text,
               count(*) filter (where served = 1)::text
        from pairs, jsonb_each_text(pairs.attributes) a group by a.key, a.value`),
    );
    const cell = (r: (typeof rows)[number]): ShadowCell => ({
      requests: Number(r.requests),
      newBlocks: Number(r.new_blocks),
      newPasses: Number(r.new_passes),
      servedBlocks: Number(r.served_blocks),
    });
    const overall = rows.find((r) => r.slice === null);
    return {
      ...(overall ? cell(overall) : { requests: 0, newBlocks: 0, newPasses: 0, servedBlocks: 0 }),
      slices: Object.fromEntries(rows.filter((r) => r.slice !== null).map((r) => [r.slice!, cell(r)])),
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
    // A canary answers its share itself; scoring the rest silently as well would only cost time.
    if (kind === 'canary') await db.delete(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'shadow'), eq(routes.versionId, versionId)));
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
    }): Promise<BoundedWindowJudgement> {
      const from = new Date(input.from);
      const to = new Date(input.to);
      const [baseline, canary] = await Promise.all([
        windowCounts(input.modelId, input.baselineVersionId, from, to),
        windowCounts(input.modelId, input.canaryVersionId, from, to),
      ]);
      return boundedWindowJudgement(judgeCanaryWindow(baseline, canary, input.rules));
    },

    /**
     * Judges the shadow window: what the shadow version would have decided against what the serving
     * version did decide, request by request (analysis/rollout judgeShadowCounts). `servedRequests` counts
     * the serving version's logged requests in the window, so a shadow that scored only part of the traffic
     * (its artifact failed to load, say) shows as low coverage, and as Inconclusive when too little is left.
     */
    async analyzeShadowWindow(input: {
      modelId: number;
      shadowVersionId: number;
      servingVersionId: number;
      from: string;
      to: string;
      rules?: ShadowRules;
    }): Promise<BoundedShadowComparison> {
      const from = new Date(input.from);
      const to = new Date(input.to);
      const [counts, served] = await Promise.all([
        shadowCounts(input.modelId, input.shadowVersionId, input.servingVersionId, from, to),
        db
          .select({ n: sql<string>`count(*)::text` })
          .from(predictions)
          .where(
            and(
              eq(predictions.modelId, input.modelId),
              eq(predictions.versionId, input.servingVersionId),
              sql`${predictions.occurredAt} >= ${input.from}::timestamptz and ${predictions.occurredAt} < ${input.to}::timestamptz`,
            ),
          ),
      ]);
      const servedRequests = Number(served[0]?.n ?? 0);
      const judged = judgeShadowCounts(counts, input.rules);
      const coverage = servedRequests > 0 ? counts.requests / servedRequests : null;
      return boundedShadowComparison({ ...judged, servedRequests, coverage });
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
