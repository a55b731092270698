// Serving outside the control plane: a model whose trainer the control plane cannot load is served by
// the team's own system, which asks models.resolve which version answers (and which shadow versions to
// score) and logs what it answered here, in batches, all or nothing, once per request id. The rows are
// the ones models.predict writes (db/predictions), so feedback attribution, rollout windows, drift
// monitors, re-audits and annotation sampling read them exactly as they read predict's.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { thresholdDecision } from '../../analysis/serving';
import { decisionRulesOf } from '../../db/review';
import { servingRule } from './models';
import type { FeatureSpec } from '../../trainers/contract';
import { inputViolation } from '../../analysis/featureSchema';
import { logServedElsewhere, PredictionLogConflict, versionsServed } from '../../db/predictions';
import { requireModel } from '../lookups';
import { exampleInput, isoDate, modelName, PG_INT_MAX } from '../schemas';
import { roleProcedure, router } from '../trpc';

const MAX_LOG_BATCH = 10_000;
/** How far a request's time may lie ahead of the server's clock: clocks of two machines disagree a little, never by minutes. */
const FUTURE_SKEW_MS = 5 * 60_000;

const version = z.number().int().positive().max(PG_INT_MAX);
const score = z.number().min(0).max(1);
const decision = z.union([z.literal(0), z.literal(1)]);
const servedDecision = z.union([z.literal(0), z.literal(1), z.literal('abstain')]);

/** A feature value as the trainer contract carries it; strings capped as predict's inputs are. */
const featureValue = z.union([exampleInput.shape.input.valueType, z.number(), z.boolean(), z.null()]);

const loggedRequest = z.strictObject({
  /** The serving system's id for this request: a replay is logged once; the same id with other values is refused. */
  requestId: z.string().min(1).max(200),
  /** The version number that answered, as models.resolve named it. */
  version,
  /** The answering version's score: the probability of the positive class. */
  score,
  /**
   * The decision served; when absent, score >= the version's threshold (its decision rule's; 0.5 without an evaluation).
   * 'abstain': the score fell in the version's abstain band (models.resolve decisionRule) and the request went to a person:
   * it is queued for review (GET /models/{name}/review) and needs `input`; it is kept as the example externalId names, or
   * under its requestId when none is given.
   */
  decision: servedDecision.optional(),
  /** With decision 'abstain' only: what was applied until a person decides; default the threshold's decision. */
  fallback: decision.optional(),
  /** The request's features: kept as the example named by externalId, for annotation and audits. */
  input: z.record(z.string().max(64), featureValue).optional(),
  /** When given, the request is kept as an unlabelled example under this id (with `input`), so labels and feedback reach it. */
  externalId: exampleInput.shape.externalId.optional(),
  /** What kept the user on one side of a canary split; accepted for symmetry with predict, not stored. */
  routingKey: z.string().min(1).max(500).optional(),
  /** Slice attributes of the request (e.g. sex, native_country), kept with the prediction and the example. */
  attributes: exampleInput.shape.slices,
  occurredAt: isoDate,
  /** What each shadow version named by models.resolve would have answered; it answered nobody. */
  shadow: z.array(z.strictObject({ version, score, decision: decision.optional() })).max(10).default([]),
});
type LoggedRequest = z.infer<typeof loggedRequest>;

const bad = (message: string) => new TRPCError({ code: 'BAD_REQUEST', message: `${message}; nothing in this batch was written` });

/** Refuses a batch that repeats a request id, shadows the answering version, shadows one version twice, or comes from the future. */
function checkBatchShape(reqs: LoggedRequest[], now: number) {
  const seen = new Map<string, number>();
  for (const [i, r] of reqs.entries()) {
    const first = seen.get(r.requestId);
    if (first !== undefined) throw bad(`requests[${i}].requestId '${r.requestId}' repeats requests[${first}].requestId`);
    seen.set(r.requestId, i);
    if (Date.parse(r.occurredAt) > now + FUTURE_SKEW_MS) {
      throw bad(`requests[${i}].occurredAt ${r.occurredAt} is in the future (the server's clock reads ${new Date(now).toISOString()}; at most ${FUTURE_SKEW_MS / 60_000} minutes of skew)`);
    }
    if (r.decision === 'abstain' && r.input === undefined) {
      throw bad(`requests[${i}].input is missing: an abstained request is queued for a person to review, who needs its input`);
    }
    if (r.fallback !== undefined && r.decision !== 'abstain') {
      throw bad(`requests[${i}].fallback is given with decision ${String(r.decision)}: a fallback is what an abstained request gets until a person decides; give decision 'abstain' or leave fallback out`);
    }
    if (r.input !== undefined && r.externalId === undefined && r.decision !== 'abstain') {
      throw bad(`requests[${i}].input is given without externalId: an input is kept as the example externalId names (nothing else stores it); give externalId or leave input out`);
    }
    const shadowed = new Set<number>();
    for (const [j, s] of r.shadow.entries()) {
      if (s.version === r.version) throw bad(`requests[${i}].shadow[${j}].version ${s.version} is the version that answered (requests[${i}].version): a shadow version scores silently beside it`);
      if (shadowed.has(s.version)) throw bad(`requests[${i}].shadow[${j}].version ${s.version} appears twice for this request`);
      shadowed.add(s.version);
    }
  }
}

/**
 * Holds each logged input to the model's features, as an imported example's is held (analysis/featureSchema):
 * every value of its kind, none unknown, none missing that may not be; a model without a feature schema has text fields.
 */
function checkFeatures(features: FeatureSpec[] | null, reqs: LoggedRequest[]) {
  for (const [i, r] of reqs.entries()) {
    if (!r.input) continue;
    const found = inputViolation(features, r.input);
    if (found) throw bad(`requests[${i}].input.${found.field}: ${found.problem}`);
  }
}

export const servingRouter = router({
  logPredictions: roleProcedure('ingest')
    .meta({
      openapi: {
        method: 'POST',
        path: '/models/{name}/predictions',
        tags: ['models'],
        summary:
          'Log up to 10,000 predictions your own serving system made (the version models.resolve named, its score and decision, shadow scores): all or nothing; a replayed request id is logged once, the same id with another version, score or decision is refused',
      },
    })
    .input(z.strictObject({ name: modelName, requests: z.array(loggedRequest).min(1).max(MAX_LOG_BATCH) }))
    .output(
      z.object({
        received: z.number().int(),
        /** Requests logged now; duplicates were logged before under the same request id, with the same values. */
        logged: z.number().int(),
        duplicates: z.number().int(),
        /** Shadow decisions logged now (shadow_predictions), and those logged before. */
        shadowed: z.number().int(),
        shadowDuplicates: z.number().int(),
        /** Abstained requests queued for review now. */
        queuedForReview: z.number().int(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const reqs = input.requests;
      checkBatchShape(reqs, Date.now());
      checkFeatures(model.featureSchema, reqs);

      // Every version named must be one of this model's that served (routed now or before): a log for a
      // version nobody routed is a serving system's mistake that would skew every window downstream.
      const numbers = [...new Set(reqs.flatMap((r) => [r.version, ...r.shadow.map((s) => s.version)]))];
      const known = await versionsServed(ctx.db, model.id, numbers);
      const served = (n: number, field: string) => {
        const v = known.get(n);
        if (!v) throw bad(`${field}: model '${model.name}' has no version ${n}`);
        if (!v.served) {
          throw bad(`${field}: version ${n} of model '${model.name}' never served (status ${v.status}): only versions routed as production, canary or shadow answer or shadow traffic; ask models.resolve`);
        }
        return v.versionId;
      };
      const thresholds = new Map<number, number>();
      /** The threshold's decision, for a request or shadow row that gives none. */
      const decide = async (versionId: number, s: number): Promise<0 | 1> => {
        if (!thresholds.has(versionId)) {
          const frozen = (await decisionRulesOf(ctx.db, [versionId])).get(versionId) ?? null;
          thresholds.set(versionId, (await servingRule(ctx.db, versionId, frozen)).rule.threshold);
        }
        return thresholdDecision(s, { threshold: thresholds.get(versionId)! });
      };
      // An abstained request is kept as an example under its externalId, or its requestId when none is given.
      const keptAs = (r: LoggedRequest) => r.externalId ?? (r.decision === 'abstain' ? r.requestId : undefined);

      const servedRows = [];
      const shadowRows = [];
      for (const [i, r] of reqs.entries()) {
        const versionId = served(r.version, `requests[${i}].version`);
        const abstained = r.decision === 'abstain';
        servedRows.push({
          requestId: r.requestId,
          versionId,
          externalId: keptAs(r) ?? null,
          score: r.score,
          // Awaited only when the threshold decides: a promise per request is 10,000 of them a batch.
          decision: (r.decision === 'abstain' ? r.fallback : r.decision) ?? (await decide(versionId, r.score)),
          abstained,
          attributes: r.attributes,
          occurredAt: r.occurredAt,
        });
        for (const [j, s] of r.shadow.entries()) {
          const shadowId = served(s.version, `requests[${i}].shadow[${j}].version`);
          shadowRows.push({ i, requestId: r.requestId, versionId: shadowId, score: s.score, decision: s.decision ?? (await decide(shadowId, s.score)), attributes: r.attributes, occurredAt: r.occurredAt });
        }
      }
      try {
        const { logged, shadowed, reviews } = await logServedElsewhere(ctx.db, {
          modelId: model.id,
          loggedBy: ctx.identity.subject,
          served: servedRows,
          examples: reqs.flatMap((r) => {
            const id = keptAs(r);
            return id === undefined || r.input === undefined ? [] : [{ externalId: id, input: r.input, slices: r.attributes, occurredAt: r.occurredAt }];
          }),
          shadow: shadowRows.map(({ i: _i, ...row }) => row),
        });
        return { received: reqs.length, logged, duplicates: reqs.length - logged, shadowed, shadowDuplicates: shadowRows.length - shadowed, queuedForReview: reviews };
      } catch (err) {
        if (!(err instanceof PredictionLogConflict)) throw err;
        const c = err.conflict;
        const where =
          c.shadowVersion === null
            ? `requests[${c.index}]`
            : `requests[${shadowRows[c.index]!.i}].shadow[${reqs[shadowRows[c.index]!.i]!.shadow.findIndex((s) => s.version === c.shadowVersion)}]`;
        const what = c.shadowVersion === null ? 'logged' : `logged for shadow version ${c.shadowVersion}`;
        throw new TRPCError({
          code: 'CONFLICT',
          message:
            `${where}: request '${c.requestId}' is ${what} already as version ${c.logged.version}, score ${c.logged.score}, decision ${c.logged.decision}; ` +
            `this batch says version ${c.given.version}, score ${c.given.score}, decision ${c.given.decision}. A request is logged once: ` +
            `replay it unchanged or give it a new request id; nothing in this batch was written`,
        });
      }
    }),
});
