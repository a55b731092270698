import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { firstExampleViolation } from '../../analysis/featureSchema';
import { gatePolicySchema } from '../../analysis/policy';
import { defaultEvaluationSettings } from '../../analysis/report';
import { answeringRoute, modelAliases, served, thresholdDecision } from '../../analysis/serving';
import type { Db } from '../../db/index';
import {
  changeProductionRoute,
  evaluatedThreshold,
  insertExamples,
  listModels,
  modelDetail,
  previousProductionVersionId,
  registerModel,
  routedVersions,
  routesOf,
  setModelTrainer,
  versionArtifact,
  versionLineage,
  versionNumbers,
  type RouteKind,
} from '../../db/models';
import { logPredictions } from '../../db/predictions';
import { BUILTIN_TRAINER_NAME, VERSION_STATUSES, type DecisionRule, type models } from '../../db/schema';
import { featureSchema } from '../../trainers/contract';
import { lineageOutput } from '../outputs';
import { decisionRuleOutput } from '../outputsReview';
import { exampleInput, isoDate, jsonObject, modelName, modelTrainerInput, plainExampleBatch, positiveInt, reason, textInput, timestamp, withPlainPath } from '../schemas';
import { requireModel } from '../lookups';
import { authedProcedure, roleAllows, roleProcedure, router, type Context } from '../trpc';
import { resolveModelTrainer } from './trainers';

const versionOutput = z.object({
  id: z.number().int(),
  version: z.number().int(),
  status: z.enum(VERSION_STATUSES),
  trainer: z.string(),
  artifactHash: z.string(),
  snapshotId: z.number().int().nullable(),
  parentVersionId: z.number().int().nullable(),
  runId: z.string().nullable(),
  createdAt: timestamp,
});

/** A model's trainer: which, on which queue (the control plane's training queue for the built-in one), with which params. */
const modelTrainerOutput = z.object({
  name: z.string(),
  taskQueue: z.string(),
  params: jsonObject,
  timeToStartSeconds: z.number().int(),
});

/** The model's declared features; null: text fields (a model registered without a feature schema). */
const featuresOutput = z.array(z.object({ name: z.string(), kind: z.enum(['text', 'number', 'category', 'boolean']), missing: z.boolean() })).nullable();

/** The most examples one models.importExamples request may carry. */
export const MAX_IMPORT_BATCH = 2000;

/**
 * models.importExamples' input. A batch of ordinary examples skips zod's walk, which copies every example
 * and both its records (the largest share of the API's CPU in an import, with the garbage it left; the
 * process's CPU for a million examples went from 19.4 s to 11.4 s with this and insertExamples' plain
 * INSERT); anything else, every bad batch included, is zod's to judge.
 */
export const importExamplesInput = withPlainPath(
  z.strictObject({ name: modelName, examples: z.array(exampleInput).min(1).max(MAX_IMPORT_BATCH) }),
  (v) => plainExampleBatch(v, MAX_IMPORT_BATCH),
);

type ModelRow = Pick<typeof models.$inferSelect, 'trainerName' | 'trainerQueue' | 'trainerParams' | 'trainerTimeToStartSeconds' | 'featureSchema'>;

function trainerOf(ctx: Context, m: ModelRow): z.infer<typeof modelTrainerOutput> {
  return { name: m.trainerName, taskQueue: m.trainerQueue ?? ctx.taskQueues.training, params: m.trainerParams ?? {}, timeToStartSeconds: m.trainerTimeToStartSeconds };
}

const modelSummary = z.object({
  name: z.string(),
  description: z.string(),
  productionVersion: z.number().int().nullable(),
  /** The version on the canary route and its share of traffic, during a rollout; null otherwise. */
  canaryVersion: z.number().int().nullable(),
  canaryWeight: z.number().nullable(),
  /** The version scoring traffic silently on the shadow route; null when none. */
  shadowVersion: z.number().int().nullable(),
  versions: z.number().int(),
  trainer: modelTrainerOutput,
  features: featuresOutput,
  createdBy: z.string(),
  createdAt: timestamp,
  /** The gate policy in force (its version); null when none is set. */
  policyVersion: z.number().int().nullable(),
  /** What will not work yet, as models.get says it (no gate policy: runs are refused until gates.setPolicy sets one). */
  warnings: z.array(z.string()),
});

/** A declared feature schema with each name once; a 400 naming the repeated one. */
function requireDistinctFeatures(features: z.infer<typeof featureSchema> | null) {
  const seen = new Set<string>();
  for (const [i, f] of (features ?? []).entries()) {
    if (seen.has(f.name)) throw new TRPCError({ code: 'BAD_REQUEST', message: `features[${i}].name '${f.name}' is declared twice; nothing was written` });
    seen.add(f.name);
  }
}

// ---------------------------------------------------------------------------------------------
// Serving: which version answers, and scoring with it

const MAX_PREDICT_BATCH = 10_000;

const servingOutput = z.object({
  version: z.number().int(),
  versionId: z.number().int(),
  /** A score at or above it is a positive decision (spam: blocked). */
  threshold: z.number(),
  /** 'evaluation': the threshold the version was evaluated and gated at; 'default': no report, 0.5. */
  thresholdSource: z.enum(['evaluation', 'default']),
});
type Serving = z.infer<typeof servingOutput> & { trainer: string; artifactHash: string; rule: DecisionRule };

/**
 * The rule a version serves: the one frozen at its evaluation, else (versions evaluated before rules were
 * frozen, or loaded by hand) its evaluated threshold, or 0.5, with no band.
 */
export async function servingRule(db: Db, versionId: number, frozen: DecisionRule | null): Promise<{ rule: DecisionRule; thresholdSource: 'evaluation' | 'default' }> {
  if (frozen) return { rule: frozen, thresholdSource: 'evaluation' };
  const threshold = await evaluatedThreshold(db, versionId);
  return threshold === null
    ? { rule: { threshold: defaultEvaluationSettings.threshold, abstain: null, policyVersion: null }, thresholdSource: 'default' }
    : { rule: { threshold, abstain: null, policyVersion: null }, thresholdSource: 'evaluation' };
}

/**
 * The version behind each route of a model with the threshold it decides at, read in one query (a
 * request of predict needs production, canary and shadow). A version serves at the threshold its gate
 * judged it at (db/models evaluatedThreshold); one without an evaluation (loaded by hand) at the
 * evaluation default, 0.5.
 */
async function routesServing(db: Db, modelId: number, kinds: readonly RouteKind[]): Promise<Map<RouteKind, Serving & { weight: number }>> {
  const serving = new Map<RouteKind, Serving & { weight: number }>();
  for (const row of await routedVersions(db, modelId)) {
    const { decisionRule, kind, ...rest } = row;
    if (!kinds.includes(kind)) continue;
    const { rule, thresholdSource } = await servingRule(db, row.versionId, decisionRule ?? null);
    serving.set(kind, { ...rest, rule, threshold: rule.threshold, thresholdSource });
  }
  return serving;
}

function productionOf(routed: Map<RouteKind, Serving & { weight: number }>, model: { name: string }): Serving & { weight: number } {
  const row = routed.get('production');
  if (!row) {
    throw new TRPCError({
      code: 'NOT_FOUND',
      message: `model '${model.name}' has no production version: nothing serves until a run's candidate passes its gate and is promoted`,
    });
  }
  return row;
}

const predictRequest = z.strictObject({
  /** The caller's id for this request: a replayed request is scored again but logged once. */
  requestId: z.string().min(1).max(200),
  /** What keeps a user on one side of a canary split (a mailbox, an account); defaults to the request id. */
  routingKey: z.string().min(1).max(500).optional(),
  /**
   * When given, the request is also kept as an unlabelled example under this id, so annotation can label it later.
   * An abstained request is always kept (it is queued for review): under this id, or under its requestId when none is given.
   */
  externalId: exampleInput.shape.externalId.optional(),
  // The built-in trainer's inputs: text fields (a model with a feature schema is served by its team's own system).
  input: textInput,
  /** Slice attributes of the request (e.g. sender_tld), kept with the prediction and the example. */
  attributes: exampleInput.shape.slices,
  occurredAt: isoDate,
});

/** Serving systems hold an `ingest` token; readers a `viewer` (or better) one. Both may ask who serves. */
const servingReader = authedProcedure.use(({ ctx, next }) => {
  if (!roleAllows(ctx.identity.role, 'viewer') && !roleAllows(ctx.identity.role, 'ingest')) {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: `${ctx.identity.subject} has role '${ctx.identity.role}'; this needs 'viewer' or 'ingest'`,
    });
  }
  return next();
});

/**
 * A model without a gate policy: no run of it could ever be approved, so runs.start refuses it (api/routers/runs.ts)
 * rather than train and then reject. Said at registration and in models.get.
 */
export function noPolicyWarning(model: string): string {
  return `model '${model}' has no gate policy: runs.start refuses its runs until one is set with gates.setPolicy (nothing is approved without a policy)`;
}

/** What will not work yet for a model: the one list models.register, models.get and models.list all answer with. */
export function modelWarnings(model: { name: string; policyVersion: number | null }): string[] {
  return model.policyVersion === null ? [noPolicyWarning(model.name)] : [];
}

export const modelsRouter = router({
  register: roleProcedure('operator')
    .meta({ openapi: { method: 'POST', path: '/models', tags: ['models'], summary: 'Register a model family' } })
    .input(
      z.strictObject({
        name: modelName,
        description: z.string().max(2000).default(''),
        /** Version 1 of the gate policy. Without one, no run of this model is approved until one is set. */
        gatePolicy: gatePolicySchema.optional(),
        /** The trainer that trains its versions (registered with trainers.register); default the built-in builtin/hashed-logreg. */
        trainer: modelTrainerInput.optional(),
        /** Its features (names and kinds); absent or null: text fields, as models had before the trainer contract. */
        features: featureSchema.nullable().optional(),
        /** How long an abstained request may wait for its review (its due time = served + this); default 4 hours. */
        reviewSlaSeconds: z.number().int().min(60).max(30 * 86_400).optional(),
      }),
    )
    .output(
      z.object({
        id: z.number().int(),
        name: z.string(),
        policyVersion: z.number().int().nullable(),
        /** What will not work yet: without a gate policy, runs.start refuses this model until gates.setPolicy sets one. */
        warnings: z.array(z.string()),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const features = input.features ?? null;
      requireDistinctFeatures(features);
      const trainer = await resolveModelTrainer(ctx.db, input.trainer, features);
      const registered = await registerModel(ctx.db, {
        name: input.name,
        description: input.description,
        ...(input.gatePolicy ? { gatePolicy: input.gatePolicy } : {}),
        trainer,
        features,
        ...(input.reviewSlaSeconds !== undefined ? { reviewSlaSeconds: input.reviewSlaSeconds } : {}),
        createdBy: ctx.identity.subject,
      });
      if (!registered) throw new TRPCError({ code: 'CONFLICT', message: `model '${input.name}' is already registered` });
      return { ...registered, warnings: modelWarnings(registered) };
    }),

  list: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models', tags: ['models'], summary: 'List models' } })
    .input(z.strictObject({}).optional())
    .output(z.array(modelSummary))
    .query(async ({ ctx }) =>
      (await listModels(ctx.db)).map(({ trainerName, trainerQueue, trainerParams, trainerTimeToStartSeconds, featureSchema: features, ...m }) => ({
        ...m,
        trainer: trainerOf(ctx, { trainerName, trainerQueue, trainerParams, trainerTimeToStartSeconds, featureSchema: features }),
        features: features ?? null,
        warnings: modelWarnings(m),
      })),
    ),

  configureTrainer: roleProcedure('operator')
    .meta({
      openapi: {
        method: 'POST',
        path: '/models/{name}/trainer',
        tags: ['models'],
        summary: "Change a model's trainer, its params or how long its jobs may wait for a worker (checked as at registration); later runs use it",
      },
    })
    .input(z.strictObject({ name: modelName, trainer: modelTrainerInput }))
    .output(z.object({ name: z.string(), trainer: modelTrainerOutput }))
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const current = { name: model.trainerName, queue: model.trainerQueue, params: model.trainerParams ?? {}, timeToStartSeconds: model.trainerTimeToStartSeconds };
      const trainer = await resolveModelTrainer(ctx.db, input.trainer, model.featureSchema ?? null, current);
      await setModelTrainer(ctx.db, model.id, trainer);
      return {
        name: model.name,
        trainer: trainerOf(ctx, { trainerName: trainer.name, trainerQueue: trainer.queue, trainerParams: trainer.params, trainerTimeToStartSeconds: trainer.timeToStartSeconds, featureSchema: null }),
      };
    }),

  get: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models/{name}', tags: ['models'], summary: 'A model with its versions, routes and gate policy' } })
    .input(z.strictObject({ name: modelName }))
    .output(
      z.object({
        name: z.string(),
        description: z.string(),
        gatePolicy: gatePolicySchema.nullable(),
        policyVersion: z.number().int().nullable(),
        trainer: modelTrainerOutput,
        features: featuresOutput,
        examples: z.number().int(),
        versions: z.array(versionOutput),
        routes: z.array(z.object({ kind: z.enum(['production', 'canary', 'shadow']), version: z.number().int(), weight: z.number(), updatedAt: timestamp })),
        /** champion: the production version; challenger: the one being rolled out (canary, else shadow, else the newest candidate). */
        aliases: z.object({ champion: z.number().int().nullable(), challenger: z.number().int().nullable() }),
        /** What will not work yet (no gate policy: runs are refused until gates.setPolicy sets one). */
        warnings: z.array(z.string()),
      }),
    )
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const { versions, routes, examples, policy } = await modelDetail(ctx.db, model.id);
      return {
        name: model.name,
        description: model.description,
        gatePolicy: policy ? gatePolicySchema.parse(policy.document) : null,
        policyVersion: policy?.version ?? null,
        trainer: trainerOf(ctx, model),
        features: model.featureSchema ?? null,
        examples,
        versions,
        routes: routes.map(({ kind, version, weight, updatedAt }) => ({ kind, version, weight, updatedAt })),
        aliases: modelAliases(routes, versions),
        warnings: modelWarnings({ name: model.name, policyVersion: policy?.version ?? null }),
      };
    }),

  importExamples: roleProcedure('operator')
    .meta({ openapi: { method: 'POST', path: '/models/{name}/examples', tags: ['models'], summary: 'Add labelled examples (idempotent by externalId)' } })
    .input(importExamplesInput)
    .output(z.object({ inserted: z.number().int(), duplicates: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const seen = new Set<string>();
      for (const [i, e] of input.examples.entries()) {
        if (seen.has(e.externalId)) {
          throw new TRPCError({ code: 'BAD_REQUEST', message: `examples[${i}].externalId '${e.externalId}' appears twice in this batch` });
        }
        seen.add(e.externalId);
      }
      // Every example against the model's features before anything is written: one bad value refuses the batch.
      const bad = firstExampleViolation(model.featureSchema ?? null, input.examples);
      if (bad) {
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `examples[${bad.index}] (externalId '${bad.externalId}'): ${bad.problem}; nothing in this batch was written`,
        });
      }
      const inserted = await insertExamples(ctx.db, model.id, input.examples);
      return { inserted, duplicates: input.examples.length - inserted };
    }),

  rollback: roleProcedure('approver')
    .meta({ openapi: { method: 'POST', path: '/models/{name}/rollback', tags: ['models'], summary: 'Restore the previous production version' } })
    .input(z.strictObject({ name: modelName, reason }))
    .output(z.object({ fromVersion: z.number().int(), toVersion: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const target = await previousProductionVersionId(ctx.db, model.id);
      if (target === null) {
        throw new TRPCError({ code: 'CONFLICT', message: `model '${input.name}' has no earlier production version to roll back to` });
      }
      const change = await changeProductionRoute(ctx.db, {
        modelId: model.id,
        toVersionId: target,
        action: 'rollback',
        actor: ctx.identity.subject,
        reason: input.reason,
        runId: null,
        idempotencyKey: `rollback:${model.id}:${crypto.randomUUID()}`,
        previousStatus: 'rolled_back',
      });
      const versionOf = await versionNumbers(ctx.db, model.id);
      return { fromVersion: versionOf(change.fromVersionId), toVersion: versionOf(change.toVersionId) };
    }),

  serving: servingReader
    .meta({
      openapi: {
        method: 'GET',
        path: '/models/{name}/serving',
        tags: ['models'],
        summary: 'The production version that answers traffic, and the threshold it decides at',
      },
    })
    .input(z.strictObject({ name: modelName }))
    .output(servingOutput)
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const { version, versionId, threshold, thresholdSource } = productionOf(await routesServing(ctx.db, model.id, ['production']), model);
      return { version, versionId, threshold, thresholdSource };
    }),

  resolve: servingReader
    .meta({
      openapi: {
        method: 'GET',
        path: '/models/{name}/resolve',
        tags: ['models'],
        summary: 'For a serving system: the version that answers this request key (production, or canary by weight, sticky per key) and the shadow versions to score silently',
      },
    })
    .input(z.strictObject({ name: modelName, requestKey: z.string().min(1).max(500) }))
    .output(
      z.object({
        version: z.number().int(),
        versionId: z.number().int(),
        route: z.enum(['production', 'canary']),
        canaryWeight: z.number(),
        /** What the answering version serves: answer 'abstain' (and log it so) for scores inside its band. */
        decisionRule: decisionRuleOutput,
        shadow: z.array(z.object({ version: z.number().int(), versionId: z.number().int(), decisionRule: decisionRuleOutput })),
      }),
    )
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const rows = await routesOf(ctx.db, model.id);
      const canary = rows.find((r) => r.kind === 'canary');
      const answering = answeringRoute(rows.find((r) => r.kind === 'production'), canary, input.requestKey);
      if (!answering) {
        throw new TRPCError({ code: 'NOT_FOUND', message: `model '${model.name}' has no production version: nothing serves until a run's candidate is promoted` });
      }
      const ruleOf = async (r: { versionId: number; decisionRule: DecisionRule | null }) => (await servingRule(ctx.db, r.versionId, r.decisionRule)).rule;
      return {
        version: answering.version.version,
        versionId: answering.version.versionId,
        route: answering.route,
        canaryWeight: canary ? canary.weight : 0,
        decisionRule: await ruleOf(answering.version),
        shadow: await Promise.all(
          rows.filter((r) => r.kind === 'shadow').map(async (r) => ({ version: r.version, versionId: r.versionId, decisionRule: await ruleOf(r) })),
        ),
      };
    }),

  lineage: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/models/{name}/versions/{version}',
        tags: ['models'],
        summary: 'A version with its full lineage: snapshot (content hash), trainer and parameters, parent, run, reports, gate, approval, saturation, deployments',
      },
    })
    .input(z.strictObject({ name: modelName, version: positiveInt() }))
    .output(lineageOutput)
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const lineage = await versionLineage(ctx.db, model.id, input.version);
      if (!lineage) throw new TRPCError({ code: 'NOT_FOUND', message: `model '${model.name}' has no version ${input.version}` });
      return { model: model.name, ...lineage };
    }),

  predict: roleProcedure('ingest')
    .meta({
      openapi: {
        method: 'POST',
        path: '/models/{name}/predict',
        tags: ['models'],
        summary:
          'For a model of the built-in trainer (others are served by the team, which logs through POST /models/{name}/predictions): score up to 10,000 requests with the production version (or the canary, by sticky weight) and log them (all or nothing; replayed request ids are logged once); a shadow version scores them too, silently',
      },
    })
    .input(z.strictObject({ name: modelName, requests: z.array(predictRequest).min(1).max(MAX_PREDICT_BATCH) }))
    .output(
      z.object({
        version: z.number().int(),
        threshold: z.number(),
        /**
         * In request order. version: the one that answered this request (the canary's share during a rollout, sticky by routing key).
         * decision: 'abstain' when the score falls in the version's abstain band (the request is queued for review), else 1 = positive
         * (spam: blocked), i.e. score >= threshold. fallback: the threshold's decision, what to do until a person decides.
         */
        results: z.array(
          z.object({
            requestId: z.string(),
            version: z.number().int(),
            score: z.number(),
            decision: z.union([z.literal(0), z.literal(1), z.literal('abstain')]),
            fallback: z.union([z.literal(0), z.literal(1)]),
          }),
        ),
        /** Abstained requests queued for review now (GET /models/{name}/review). */
        queuedForReview: z.number().int(),
        /** Requests logged now; duplicates were logged by an earlier call with the same request id. */
        logged: z.number().int(),
        duplicates: z.number().int(),
        /** Shadow decisions logged now (shadow_predictions; none answer the caller). */
        shadowed: z.number().int(),
        /** Shadow versions that could not score this batch (their artifact failed to load or score); the requests were served and logged all the same. */
        shadowSkipped: z.number().int(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      // Only the built-in trainer's artifacts can be loaded here; any other trainer's model is served by the team.
      if (model.trainerName !== BUILTIN_TRAINER_NAME) {
        throw new TRPCError({
          code: 'PRECONDITION_FAILED',
          message: `model ${model.name} is trained by ${model.trainerName}; serve it from your own system: resolve, then POST /models/${model.name}/predictions`,
        });
      }
      const reqs = input.requests;
      const seen = new Map<string, number>();
      for (const [i, r] of reqs.entries()) {
        const first = seen.get(r.requestId);
        if (first !== undefined) {
          throw new TRPCError({
            code: 'BAD_REQUEST',
            message: `requests[${i}].requestId '${r.requestId}' repeats requests[${first}].requestId; nothing in this batch was written`,
          });
        }
        seen.set(r.requestId, i);
      }
      // Production, canary and shadow in one read.
      const routed = await routesServing(ctx.db, model.id, ['production', 'canary', 'shadow']);
      const serving = productionOf(routed, model);
      // During a rollout the canary answers its share of request keys (sticky); everyone else gets production.
      const canary = routed.get('canary') ?? null;
      const servedBy = reqs.map((r) => answeringRoute(serving, canary ?? undefined, r.routingKey ?? r.requestId)!.version);
      const scorer = ctx.scorer;
      if (!scorer) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'this API server has no scorer configured; predictions are served by `retrain up` or `retrain api`' });
      const scores = new Float64Array(reqs.length);
      for (const version of canary ? [serving, canary] : [serving]) {
        const mine = reqs.flatMap((_r, i) => (servedBy[i] === version ? [i] : []));
        if (mine.length === 0) continue;
        try {
          const part = await scorer.score(
            version.artifactHash,
            () => versionArtifact(ctx.db, version.versionId),
            mine.map((i) => reqs[i]!.input),
          );
          mine.forEach((i, k) => (scores[i] = part[k]!));
        } catch (err) {
          throw new TRPCError({
            code: 'PRECONDITION_FAILED',
            message: `model '${model.name}' v${version.version} (trainer '${version.trainer}') cannot be scored: ${(err as Error).message}`,
          });
        }
      }
      const fallbacks = Array.from(scores, (s, i) => thresholdDecision(s, servedBy[i]!.rule));
      const decisions = Array.from(scores, (s, i) => served(s, servedBy[i]!.rule));
      // An abstained request is kept as an example (under its requestId when no externalId was given): a reviewer labels it.
      const keptAs = reqs.map((r, i) => r.externalId ?? (decisions[i] === 'abstain' ? r.requestId : undefined));

      // Shadow: the candidate scores every request another version answered, at its own evaluated threshold,
      // and answers nobody. Its failure must not fail serving: the batch is served and logged without its
      // shadow decisions, counted in shadowSkipped and in the server log; the rollout's shadow analysis
      // sees the gap as low coverage (and as Inconclusive when too little is left to compare).
      const shadow = routed.get('shadow') ?? null;
      const shadowRows: { versionId: number; i: number; score: number; decision: 0 | 1 }[] = [];
      let shadowSkipped = 0;
      if (shadow) {
        const mine = reqs.flatMap((_r, i) => (servedBy[i]!.versionId !== shadow.versionId ? [i] : []));
        try {
          const part =
            mine.length === 0
              ? new Float64Array(0)
              : await scorer.score(
                  shadow.artifactHash,
                  () => versionArtifact(ctx.db, shadow.versionId),
                  mine.map((i) => reqs[i]!.input),
                );
          mine.forEach((i, k) => shadowRows.push({ versionId: shadow.versionId, i, score: part[k]!, decision: thresholdDecision(part[k]!, shadow.rule) }));
        } catch (err) {
          shadowSkipped++;
          ctx.log.warn({ model: model.name, version: shadow.version, trainer: shadow.trainer, requests: mine.length, err: { message: (err as Error).message } }, 'shadow scoring skipped');
        }
      }
      const { logged, shadowed, reviews } = await logPredictions(ctx.db, {
        modelId: model.id,
        loggedBy: ctx.identity.subject,
        served: reqs.map((r, i) => ({
          requestId: r.requestId,
          versionId: servedBy[i]!.versionId,
          externalId: keptAs[i] ?? null,
          score: scores[i]!,
          decision: fallbacks[i]!,
          abstained: decisions[i] === 'abstain',
          attributes: r.attributes,
          occurredAt: r.occurredAt,
        })),
        examples: reqs.flatMap((r, i) => { const id = keptAs[i]; return id === undefined ? [] : [{ externalId: id, input: r.input, slices: r.attributes, occurredAt: r.occurredAt }]; }),
        shadow: shadowRows.map(({ versionId, i, score, decision }) => ({ versionId, requestId: reqs[i]!.requestId, score, decision, attributes: reqs[i]!.attributes, occurredAt: reqs[i]!.occurredAt })),
      });
      return {
        version: serving.version,
        threshold: serving.threshold,
        results: reqs.map((r, i) => ({ requestId: r.requestId, version: servedBy[i]!.version, score: scores[i]!, decision: decisions[i]!, fallback: fallbacks[i]! })),
        queuedForReview: reviews,
        logged,
        duplicates: reqs.length - logged,
        shadowed,
        shadowSkipped,
      };
    }),
});
