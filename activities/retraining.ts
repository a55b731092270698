// Side effects of retrainingRun. Each write is keyed by the run id (one snapshot, one candidate, one
// report per version, one gate result, one approval per run), so a retried activity writes nothing twice.
import { createHash } from 'node:crypto';
import { heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { and, desc, eq, inArray, isNotNull } from 'drizzle-orm';
import { canonicalJson } from '../analysis/canonicalJson';
import { calibrationBinsOf, gatePolicySchema, type GatePolicy, type PolicyDecision, type RuleResult } from '../analysis/policy';
import {
  buildApprovalPacket,
  defaultEvaluationSettings,
  encodeHeldOut,
  intersectionPairs,
  trafficCounts,
  type ApprovalPacket,
  type VersionEvaluation,
} from '../analysis/report';
import type { Db } from '../db/index';
import { prelaunchAuditOf } from './audits';
import { boundedList, boundedReasons, boundedText, MAX_PAYLOAD_ITEMS } from './payloads';
import { writeAudit } from '../db/auditLog';
import { changeProductionRoute, productionVersionId } from '../db/models';
import { freezeDecisionRule } from '../db/review';
import { decisionRuleFor } from '../analysis/serving';
import { currentPolicy } from '../db/policies';
import { snapshotMembers } from '../db/queries';
import { freezeLabelledExamples, heldOutDesignOf, labelMixOfSnapshot, snapshotOfRun, TooFewLabelledExamples, type HeldOutOption } from '../db/snapshots';
import {
  approvals,
  evalReports,
  examples,
  gateResults,
  models,
  modelVersions,
  runs,
  saturationReports,
  type RunStatus,
} from '../db/schema';
import { completedScoreSet } from '../db/trainerData';
import { runInThread } from '../trainers/threadPool';
import type { EvaluateJob } from './evaluateThread';

const evaluateThreadFile = new URL('./evaluateThread.ts', import.meta.url);

export interface ActivityDeps {
  db: Db;
  /** Where trainers reach the control plane's data plane (the API server's base URL). */
  dataPlane: { apiUrl(): string };
}

export interface SnapshotRef {
  snapshotId: number;
  contentHash: string;
  trainCount: number;
  heldoutCount: number;
}

export interface StoredReport {
  reportId: number;
  versionId: number;
  contentHash: string;
}

export interface Evaluation {
  candidate: StoredReport;
  champion: StoredReport | null;
  /** Content hash of the approval packet: what an approver signs. */
  packetHash: string;
}

/**
 * The gate's judgement as the workflow carries it: reasons and each rule's checks bounded (a wildcard
 * rule judges every slice value, thousands on a large set); the whole judgement is in gate_results.
 */
export interface GateJudgement {
  policyVersion: number | null;
  decision: PolicyDecision;
  reasons: string[];
  rules: (RuleResult & { checksOmitted?: number })[];
}

const CHECK_ORDER: Record<string, number> = { failed: 0, needs_approval: 1, insufficient: 2, passed: 3 };

/** A rule result with its worst checks first, at most MAX_PAYLOAD_ITEMS of them, and its texts bounded. */
export function boundedRule(rule: RuleResult): GateJudgement['rules'][number] {
  const worstFirst = [...rule.checks].sort((a, b) => (CHECK_ORDER[a.outcome] ?? 4) - (CHECK_ORDER[b.outcome] ?? 4));
  const { kept, omitted } = boundedList(rule.checks.length > MAX_PAYLOAD_ITEMS ? worstFirst : rule.checks);
  return {
    ...rule,
    detail: boundedText(rule.detail),
    checks: kept.map((c) => ({ ...c, detail: boundedText(c.detail) })),
    ...(omitted > 0 ? { checksOmitted: omitted } : {}),
  };
}

/** How much recent production traffic is read for untested segments. */
const RECENT_TRAFFIC_EXAMPLES = 2000;

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

export function createRetrainingActivities({ db }: ActivityDeps) {
  const loadMembers = (snapshotId: number, split: 'train' | 'heldout') => snapshotMembers(db, snapshotId, split);

  async function storeReport(
    runId: string,
    snapshotId: number,
    versionId: number,
    role: 'candidate' | 'champion',
    summary: VersionEvaluation,
  ): Promise<StoredReport> {
    const contentHash = sha256(canonicalJson({ versionId, snapshotId, summary }));
    await db
      .insert(evalReports)
      .values({ runId, versionId, snapshotId, role, summary, contentHash })
      .onConflictDoNothing({ target: [evalReports.runId, evalReports.versionId] });
    const [row] = await db
      .select()
      .from(evalReports)
      .where(and(eq(evalReports.runId, runId), eq(evalReports.versionId, versionId)));
    if (!row) throw new Error(`eval report for run ${runId}, version ${versionId} vanished after insert`);
    // Reports are immutable: a retry returns what was stored first, not a recomputation.
    return { reportId: row.id, versionId, contentHash: row.contentHash };
  }

  /**
   * Slice values of the model's recent production traffic, for untested segments: the latest
   * examples by arrival (a count, not a time window, so one stray future-dated mail cannot make a
   * window of one).
   */
  async function recentTraffic(modelId: number) {
    const rows = await db
      .select({ slices: examples.slices })
      .from(examples)
      .where(and(eq(examples.modelId, modelId), isNotNull(examples.observedAt)))
      .orderBy(desc(examples.observedAt))
      .limit(RECENT_TRAFFIC_EXAMPLES);
    const names = [...new Set(rows.flatMap((r) => Object.keys(r.slices)))];
    return trafficCounts(Object.fromEntries(names.map((n) => [n, rows.map((r) => r.slices[n] ?? 'unknown')])));
  }

  /** The run's saturation verdict for the packet, when the run had a check. */
  async function saturationEvidence(runId: string): Promise<{ saturation?: NonNullable<ApprovalPacket['saturation']> }> {
    const [row] = await db.select().from(saturationReports).where(eq(saturationReports.runId, runId));
    if (!row) return {};
    const v = (row.report as { verdict: { verdict: 'improving' | 'plateau' | 'degrading'; reasons: string[]; recommendation: string } }).verdict;
    return { saturation: { verdict: v.verdict, reasons: v.reasons, recommendation: v.recommendation, reportHash: row.contentHash } };
  }

  return {
    async recordRunStep(input: { runId: string; step: string; status?: RunStatus }): Promise<void> {
      await db
        .update(runs)
        .set({ step: input.step, ...(input.status ? { status: input.status } : {}) })
        .where(eq(runs.id, input.runId));
    },

    /**
     * Freezes the model's labelled examples into a content-hashed snapshot: held out by the recorded split
     * column, or (heldOut kind time) by observedAt against one cut; the design is recorded on the snapshot.
     */
    async freezeSnapshot(input: { runId: string; modelId: number; heldOut?: HeldOutOption }): Promise<SnapshotRef> {
      const existing = await snapshotOfRun(db, input.runId);
      if (existing) return existing;
      try {
        return await freezeLabelledExamples(db, input);
      } catch (err) {
        if (err instanceof TooFewLabelledExamples) throw ApplicationFailure.nonRetryable(`model ${input.modelId} has ${err.message}`, 'InsufficientData');
        throw err;
      }
    },

    /**
     * Judges candidate and champion on the same held-out set from the scores their trainers put back
     * (score sets, one per version), stores one immutable report each, and
     * builds the approval packet (paired differences, fairness, thresholds, untested segments, the
     * policy's judgement), stored once per run with its content hash.
     */
    async evaluateVersions(input: {
      runId: string;
      modelId: number;
      snapshotId: number;
      candidateVersionId: number;
      /** The score sets of the candidate and the champion (trainer contract); runs from before it have none. */
      scoreSets?: { versionId: number; jobKey: string }[];
    }): Promise<Evaluation> {
      const [stored] = await db.select().from(gateResults).where(eq(gateResults.runId, input.runId));
      if (stored?.packetHash) {
        const reports = await db.select().from(evalReports).where(eq(evalReports.runId, input.runId));
        const ref = (id: number | null) => {
          const r = reports.find((x) => x.id === id);
          return r ? { reportId: r.id, versionId: r.versionId, contentHash: r.contentHash } : null;
        };
        return { candidate: ref(stored.candidateReportId)!, champion: ref(stored.championReportId), packetHash: stored.packetHash };
      }
      const [model] = await db.select().from(models).where(eq(models.id, input.modelId));
      if (!model) throw ApplicationFailure.nonRetryable(`model ${input.modelId} not found`, 'NotFound');
      const policyRow = await currentPolicy(db, input.modelId);
      const policy: GatePolicy | null = policyRow ? gatePolicySchema.parse(policyRow.document) : null;
      const championVersionId = await productionVersionId(db, input.modelId);
      const heldout = await loadMembers(input.snapshotId, 'heldout');
      const attributeNames = [...new Set(heldout.flatMap((m) => Object.keys(m.slices)))].sort();
      const data = encodeHeldOut(
        heldout.map((m) => m.label),
        Object.fromEntries(attributeNames.map((n) => [n, heldout.map((m) => m.slices[n] ?? 'unknown')])),
      );
      const settings = { ...defaultEvaluationSettings, ...(policy ? { confidence: policy.confidence } : {}) };
      // Fairness for every attribute the policy names, and every attribute with few values (a table an approver can read).
      const sensitive = [
        ...new Set([
          ...(policy?.rules ?? []).flatMap((r) => (r.kind === 'fairness' ? [r.attribute] : [])),
          ...data.attributes.filter((a) => a.values.length <= 8).map((a) => a.name),
        ]),
      ].filter((n) => attributeNames.includes(n));

      const ids = championVersionId === null || championVersionId === input.candidateVersionId ? [input.candidateVersionId] : [input.candidateVersionId, championVersionId];
      const versions = await db.select().from(modelVersions).where(inArray(modelVersions.id, ids));
      const score = async (versionId: number) => {
        const v = versions.find((x) => x.id === versionId);
        if (!v) throw ApplicationFailure.nonRetryable(`model version ${versionId} not found`, 'NotFound');
        const jobKey = input.scoreSets?.find((s) => s.versionId === versionId)?.jobKey;
        const scored = jobKey ? await completedScoreSet(db, jobKey) : null;
        if (!scored) throw ApplicationFailure.nonRetryable(`version ${versionId} has no score set on snapshot ${input.snapshotId}: its trainer has not scored it`, 'MissingScores');
        if (scored.scores.length !== heldout.length) throw ApplicationFailure.nonRetryable(`score set ${jobKey} has ${scored.scores.length} scores for ${heldout.length} held-out rows`, 'MissingScores');
        const scores = scored.scores;
        // The intersection cells the policy judges (intersectionPairs), so its rules find them; calibration for the bins its rules judge.
        // In a thread of the training pool: the bootstraps are CPU-bound (activities/evaluateThread.ts).
        const evaluation = await runInThread<VersionEvaluation>(evaluateThreadFile, {
          data,
          scores,
          opts: {
            settings,
            sensitive,
            minGroupSupport: policy?.minSliceSupport ?? 30,
            calibrationBins: calibrationBinsOf(policy),
            intersections: intersectionPairs(policy, attributeNames),
          },
        } satisfies EvaluateJob);
        heartbeat({ phase: 'evaluated', versionId });
        return { v, scores, evaluation };
      };
      const cand = await score(input.candidateVersionId);
      const champ = ids.length > 1 ? await score(ids[1]!) : null;
      const candidate = await storeReport(input.runId, input.snapshotId, cand.v.id, 'candidate', cand.evaluation);
      const champion = champ ? await storeReport(input.runId, input.snapshotId, champ.v.id, 'champion', champ.evaluation) : null;
      // What the candidate will serve if promoted, frozen now: the threshold it was evaluated at and the policy's band around it.
      await freezeDecisionRule(db, cand.v.id, { ...decisionRuleFor(settings.threshold, policy?.abstainHalfWidth), policyVersion: policyRow?.version ?? null });

      const packet = buildApprovalPacket({
        runId: input.runId,
        model: model.name,
        data,
        policy,
        policyVersion: policyRow?.version ?? null,
        candidate: { versionId: cand.v.id, version: cand.v.version, reportHash: candidate.contentHash, scores: cand.scores, evaluation: cand.evaluation },
        champion:
          champ && champion
            ? { versionId: champ.v.id, version: champ.v.version, reportHash: champion.contentHash, scores: champ.scores, evaluation: champ.evaluation }
            : null,
        traffic: await recentTraffic(input.modelId),
        settings,
        ...(await saturationEvidence(input.runId)),
        heldOutDesign: await heldOutDesignOf(db, input.snapshotId),
        labelMix: await labelMixOfSnapshot(db, input.snapshotId),
      });
      const packetHash = sha256(canonicalJson(packet));
      await db
        .insert(gateResults)
        .values({
          runId: input.runId,
          policy,
          policyVersion: policyRow?.version ?? null,
          decision: packet.judgement.decision,
          rules: packet.judgement.rules,
          reasons: packet.judgement.reasons,
          candidateReportId: candidate.reportId,
          championReportId: champion?.reportId ?? null,
          packet,
          packetHash,
        })
        .onConflictDoNothing({ target: gateResults.runId });
      const [row] = await db.select({ packetHash: gateResults.packetHash }).from(gateResults).where(eq(gateResults.runId, input.runId));
      return { candidate, champion, packetHash: row?.packetHash ?? packetHash };
    },

    /** The gate's judgement, as stored with the packet (judged when the packet was built). */
    async judgeGate(input: { runId: string; modelId: number; candidateReportId: number; championReportId: number | null }): Promise<GateJudgement> {
      const [stored] = await db.select().from(gateResults).where(eq(gateResults.runId, input.runId));
      if (!stored) throw ApplicationFailure.nonRetryable(`run ${input.runId} has no gate result; evaluate first`, 'NotFound');
      await db.update(runs).set({ gateDecision: stored.decision }).where(eq(runs.id, input.runId));
      const keptIn = `gate_results of run ${input.runId}`;
      return {
        policyVersion: stored.policyVersion,
        decision: stored.decision,
        reasons: boundedReasons(stored.reasons, keptIn),
        rules: (stored.rules as RuleResult[]).map(boundedRule),
      };
    },

    async recordApproval(input: {
      runId: string;
      decision: 'approved' | 'rejected';
      approver: string;
      reason: string;
      reportHash: string | null;
    }): Promise<void> {
      await db.transaction(async (tx) => {
        const inserted = await tx
          .insert(approvals)
          .values(input)
          .onConflictDoNothing({ target: approvals.runId })
          .returning({ id: approvals.id });
        if (inserted.length > 0) {
          await writeAudit(tx, {
            actor: input.approver,
            action: `gate.${input.decision === 'approved' ? 'approve' : 'reject'}`,
            target: `run:${input.runId}`,
            details: { reason: input.reason, reportHash: input.reportHash },
          });
        }
      });
    },

    async promoteCandidate(input: { runId: string; modelId: number; versionId: number; approver: string | null }) {
      // The baseline every scheduled re-audit of this version compares with.
      await prelaunchAuditOf(db, input.modelId, input.versionId);
      return changeProductionRoute(db, {
        modelId: input.modelId,
        toVersionId: input.versionId,
        action: 'promote',
        actor: input.approver ?? 'workflow',
        reason: `run ${input.runId} passed its gate`,
        runId: input.runId,
        idempotencyKey: `${input.runId}:promote`,
        previousStatus: 'retired',
      });
    },

    async rejectCandidate(input: { runId: string; versionId: number }): Promise<void> {
      await db
        .update(modelVersions)
        .set({ status: 'rejected', statusChangedAt: new Date() })
        .where(and(eq(modelVersions.id, input.versionId), eq(modelVersions.status, 'candidate')));
    },

    async finishRun(input: { runId: string; status: RunStatus; result: Record<string, unknown> }): Promise<void> {
      await db
        .update(runs)
        .set({ status: input.status, step: 'done', result: input.result, finishedAt: new Date() })
        .where(eq(runs.id, input.runId));
    },
  };
}
