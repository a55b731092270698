import { TRPCError } from '@trpc/server';
import { and, asc, count, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { gatePolicySchema } from '../../analysis/policy';
import { routeFor } from '../../analysis/rollout';
import { defaultEvaluationSettings } from '../../analysis/report';
import type { Db } from '../../db/index';
import { addPolicyVersion, changeProductionRoute, currentPolicy, previousProductionVersionId } from '../../db/queries';
import { approvals, datasetSnapshots, deploymentEvents, evalReports, examples, gateResults, modelVersions, models, predictions, routes, saturationReports, shadowPredictions, VERSION_STATUSES } from '../../db/schema';
import { exampleInput, isoDate, modelName, reason } from '../schemas';
import { requireModel } from '../lookups';
import { authedProcedure, roleAllows, roleProcedure, router } from '../trpc';

const versionOutput = z.object({
  id: z.number(),
  version: z.number(),
  status: z.enum(VERSION_STATUSES),
  trainer: z.string(),
  artifactHash: z.string(),
  snapshotId: z.number().nullable(),
  parentVersionId: z.number().nullable(),
  runId: z.string().nullable(),
  createdAt: z.date(),
});

const modelSummary = z.object({
  name: z.string(),
  description: z.string(),
  productionVersion: z.number().nullable(),
  versions: z.number(),
  createdBy: z.string(),
  createdAt: z.date(),
});

// ---------------------------------------------------------------------------------------------
// Serving: which version answers, and scoring with it

const MAX_PREDICT_BATCH = 10_000;

/** Rows an `insert … returning` gave back, from either driver (postgres.js: an array; PGlite: { rows }). */
const rowCount = (result: unknown) => (Array.isArray(result) ? result.length : ((result as { rows?: unknown[] }).rows?.length ?? 0));

/**
 * The operating threshold of a version. The gate judged the version's bounds (FPR, recall, slice
 * rates) at the threshold its evaluation ran with, recorded in its own run's candidate eval report
 * (summary.settings.threshold), so that is the threshold it serves at. The packet's `thresholds`
 * analyses (analysis/thresholds chooseThreshold under a policy's threshold rule) are advice to the
 * approver, not a setting: they are not applied here. A version without a report (loaded by hand)
 * serves at the evaluation default, 0.5.
 */
const evaluatedThreshold = z.object({ settings: z.object({ threshold: z.number().min(0).max(1) }) });

const servingOutput = z.object({
  version: z.number(),
  versionId: z.number(),
  /** A score at or above it is a positive decision (spam: blocked). */
  threshold: z.number(),
  /** 'evaluation': the threshold the version was evaluated and gated at; 'default': no report, 0.5. */
  thresholdSource: z.enum(['evaluation', 'default']),
});
type Serving = z.infer<typeof servingOutput> & { trainer: string; artifactHash: string };

/** The version behind a route (production, canary or shadow) with the threshold it decides at; null when no such route. */
async function routeServing(db: Db, modelId: number, kind: 'production' | 'canary' | 'shadow'): Promise<(Serving & { weight: number }) | null> {
  const [row] = await db
    .select({ versionId: modelVersions.id, version: modelVersions.version, trainer: modelVersions.trainer, artifactHash: modelVersions.artifactHash, weight: routes.weight })
    .from(routes)
    .innerJoin(modelVersions, eq(modelVersions.id, routes.versionId))
    .where(and(eq(routes.modelId, modelId), eq(routes.kind, kind)))
    .limit(1);
  if (!row) return null;
  const [report] = await db
    .select({ summary: evalReports.summary })
    .from(evalReports)
    .where(and(eq(evalReports.versionId, row.versionId), eq(evalReports.role, 'candidate')))
    .orderBy(asc(evalReports.id))
    .limit(1);
  const parsed = report ? evaluatedThreshold.safeParse(report.summary) : null;
  return parsed?.success
    ? { ...row, threshold: parsed.data.settings.threshold, thresholdSource: 'evaluation' }
    : { ...row, threshold: defaultEvaluationSettings.threshold, thresholdSource: 'default' };
}

async function productionServing(db: Db, model: { id: number; name: string }): Promise<Serving> {
  const row = await routeServing(db, model.id, 'production');
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
  /** When given, the request is also kept as an unlabelled example under this id, so annotation can label it later. */
  externalId: exampleInput.shape.externalId.optional(),
  input: exampleInput.shape.input,
  /** Slice attributes of the request (e.g. sender_tld), kept with the prediction and the example. */
  attributes: exampleInput.shape.slices,
  occurredAt: isoDate,
});
type PredictRequest = z.infer<typeof predictRequest>;

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

export const modelsRouter = router({
  register: roleProcedure('operator')
    .meta({ openapi: { method: 'POST', path: '/models', tags: ['models'], summary: 'Register a model family' } })
    .input(
      z.strictObject({
        name: modelName,
        description: z.string().max(2000).default(''),
        /** Version 1 of the gate policy. Without one, no run of this model is approved until one is set. */
        gatePolicy: gatePolicySchema.optional(),
      }),
    )
    .output(z.object({ id: z.number(), name: z.string(), policyVersion: z.number().nullable() }))
    .mutation(async ({ ctx, input }) =>
      ctx.db.transaction(async (tx) => {
        const [row] = await tx
          .insert(models)
          .values({ name: input.name, description: input.description, createdBy: ctx.identity.subject })
          .onConflictDoNothing({ target: models.name })
          .returning({ id: models.id, name: models.name });
        if (!row) throw new TRPCError({ code: 'CONFLICT', message: `model '${input.name}' is already registered` });
        const policyVersion = input.gatePolicy ? await addPolicyVersion(tx, row.id, input.gatePolicy, ctx.identity.subject) : null;
        return { ...row, policyVersion };
      }),
    ),

  list: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models', tags: ['models'], summary: 'List models' } })
    .input(z.strictObject({}).optional())
    .output(z.array(modelSummary))
    .query(async ({ ctx }) => {
      const rows = await ctx.db
        .select({
          name: models.name,
          description: models.description,
          createdBy: models.createdBy,
          createdAt: models.createdAt,
          // Correlated subqueries name the outer table explicitly: drizzle renders a bare column as "id",
          // which inside the subquery would bind to the inner table's own id.
          versions: sql<number>`(select count(*) from model_versions v where v.model_id = "models"."id")`,
          productionVersion: sql<number | null>`(select mv.version from routes r join model_versions mv on mv.id = r.version_id where r.model_id = "models"."id" and r.kind = 'production')`,
        })
        .from(models)
        .orderBy(asc(models.name));
      return rows.map((r) => ({
        ...r,
        versions: Number(r.versions),
        productionVersion: r.productionVersion === null ? null : Number(r.productionVersion),
      }));
    }),

  get: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models/{name}', tags: ['models'], summary: 'A model with its versions, routes and gate policy' } })
    .input(z.strictObject({ name: modelName }))
    .output(
      z.object({
        name: z.string(),
        description: z.string(),
        gatePolicy: gatePolicySchema.nullable(),
        policyVersion: z.number().nullable(),
        examples: z.number(),
        versions: z.array(versionOutput),
        routes: z.array(z.object({ kind: z.string(), version: z.number(), weight: z.number(), updatedAt: z.date() })),
        /** champion: the production version; challenger: the one being rolled out (canary, else shadow, else the newest candidate). */
        aliases: z.object({ champion: z.number().nullable(), challenger: z.number().nullable() }),
      }),
    )
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const versions = await ctx.db
        .select({
          id: modelVersions.id,
          version: modelVersions.version,
          status: modelVersions.status,
          trainer: modelVersions.trainer,
          artifactHash: modelVersions.artifactHash,
          snapshotId: modelVersions.snapshotId,
          parentVersionId: modelVersions.parentVersionId,
          runId: modelVersions.runId,
          createdAt: modelVersions.createdAt,
        })
        .from(modelVersions)
        .where(eq(modelVersions.modelId, model.id))
        .orderBy(asc(modelVersions.version));
      const routeRows = await ctx.db
        .select({ kind: routes.kind, version: modelVersions.version, weight: routes.weight, updatedAt: routes.updatedAt })
        .from(routes)
        .innerJoin(modelVersions, eq(modelVersions.id, routes.versionId))
        .where(eq(routes.modelId, model.id));
      const [exampleCount] = await ctx.db.select({ n: count() }).from(examples).where(eq(examples.modelId, model.id));
      const policy = await currentPolicy(ctx.db, model.id);
      return {
        name: model.name,
        description: model.description,
        gatePolicy: policy ? gatePolicySchema.parse(policy.document) : null,
        policyVersion: policy?.version ?? null,
        examples: Number(exampleCount?.n ?? 0),
        versions,
        routes: routeRows,
        aliases: {
          champion: routeRows.find((r) => r.kind === 'production')?.version ?? null,
          challenger:
            routeRows.find((r) => r.kind === 'canary')?.version ??
            routeRows.find((r) => r.kind === 'shadow')?.version ??
            versions.filter((v) => v.status === 'candidate').at(-1)?.version ??
            null,
        },
      };
    }),

  importExamples: roleProcedure('operator')
    .meta({ openapi: { method: 'POST', path: '/models/{name}/examples', tags: ['models'], summary: 'Add labelled examples (idempotent by externalId)' } })
    .input(z.strictObject({ name: modelName, examples: z.array(exampleInput).min(1).max(2000) }))
    .output(z.object({ inserted: z.number(), duplicates: z.number() }))
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const seen = new Set<string>();
      for (const [i, e] of input.examples.entries()) {
        if (seen.has(e.externalId)) {
          throw new TRPCError({ code: 'BAD_REQUEST', message: `examples[${i}].externalId '${e.externalId}' appears twice in this batch` });
        }
        seen.add(e.externalId);
      }
      const inserted = await ctx.db
        .insert(examples)
        .values(
          input.examples.map((e) => ({
            modelId: model.id,
            externalId: e.externalId,
            input: e.input,
            label: e.label,
            slices: e.slices,
            split: e.split,
            observedAt: e.observedAt ? new Date(e.observedAt) : null,
          })),
        )
        .onConflictDoNothing({ target: [examples.modelId, examples.externalId] })
        .returning({ id: examples.id });
      return { inserted: inserted.length, duplicates: input.examples.length - inserted.length };
    }),

  rollback: roleProcedure('approver')
    .meta({ openapi: { method: 'POST', path: '/models/{name}/rollback', tags: ['models'], summary: 'Restore the previous production version' } })
    .input(z.strictObject({ name: modelName, reason }))
    .output(z.object({ fromVersion: z.number(), toVersion: z.number() }))
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
      const numbers = await ctx.db
        .select({ id: modelVersions.id, version: modelVersions.version })
        .from(modelVersions)
        .where(eq(modelVersions.modelId, model.id));
      const versionOf = (id: number | null) => numbers.find((n) => n.id === id)?.version ?? 0;
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
      const { version, versionId, threshold, thresholdSource } = await productionServing(ctx.db, model);
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
        version: z.number(),
        versionId: z.number(),
        route: z.enum(['production', 'canary']),
        canaryWeight: z.number(),
        shadow: z.array(z.object({ version: z.number(), versionId: z.number() })),
      }),
    )
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const rows = await ctx.db
        .select({ kind: routes.kind, weight: routes.weight, versionId: routes.versionId, version: modelVersions.version })
        .from(routes)
        .innerJoin(modelVersions, eq(modelVersions.id, routes.versionId))
        .where(eq(routes.modelId, model.id));
      const production = rows.find((r) => r.kind === 'production');
      const canary = rows.find((r) => r.kind === 'canary');
      if (!production && !canary) {
        throw new TRPCError({ code: 'NOT_FOUND', message: `model '${model.name}' has no production version: nothing serves until a run's candidate is promoted` });
      }
      const canaryWeight = canary ? canary.weight : 0;
      // Sticky: the same request key (a user, a mailbox) always lands on the same side of the split.
      const route = !production || (canary && routeFor(input.requestKey, canaryWeight) === 'canary') ? 'canary' : 'production';
      const answering = route === 'canary' ? canary! : production!;
      return {
        version: answering.version,
        versionId: answering.versionId,
        route,
        canaryWeight,
        shadow: rows.filter((r) => r.kind === 'shadow').map((r) => ({ version: r.version, versionId: r.versionId })),
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
    .input(z.strictObject({ name: modelName, version: z.coerce.number().int().positive() }))
    .output(z.record(z.string(), z.unknown()))
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const [v] = await ctx.db
        .select()
        .from(modelVersions)
        .where(and(eq(modelVersions.modelId, model.id), eq(modelVersions.version, input.version)));
      if (!v) throw new TRPCError({ code: 'NOT_FOUND', message: `model '${model.name}' has no version ${input.version}` });
      const one = async <T,>(q: Promise<T[]>) => (await q)[0] ?? null;
      const snapshot = v.snapshotId ? await one(ctx.db.select().from(datasetSnapshots).where(eq(datasetSnapshots.id, v.snapshotId))) : null;
      const parent = v.parentVersionId ? await one(ctx.db.select({ version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.id, v.parentVersionId))) : null;
      const reports = await ctx.db
        .select({ id: evalReports.id, runId: evalReports.runId, role: evalReports.role, contentHash: evalReports.contentHash, createdAt: evalReports.createdAt })
        .from(evalReports)
        .where(eq(evalReports.versionId, v.id))
        .orderBy(asc(evalReports.id));
      const gate = v.runId ? await one(ctx.db.select({ decision: gateResults.decision, policyVersion: gateResults.policyVersion, packetHash: gateResults.packetHash }).from(gateResults).where(eq(gateResults.runId, v.runId))) : null;
      const approval = v.runId ? await one(ctx.db.select({ decision: approvals.decision, approver: approvals.approver, reason: approvals.reason, reportHash: approvals.reportHash }).from(approvals).where(eq(approvals.runId, v.runId))) : null;
      const saturation = v.runId ? await one(ctx.db.select({ verdict: saturationReports.verdict, contentHash: saturationReports.contentHash }).from(saturationReports).where(eq(saturationReports.runId, v.runId))) : null;
      const deployments = await ctx.db
        .select({ action: deploymentEvents.action, actor: deploymentEvents.actor, reason: deploymentEvents.reason, runId: deploymentEvents.runId, createdAt: deploymentEvents.createdAt })
        .from(deploymentEvents)
        .where(sql`${deploymentEvents.toVersionId} = ${v.id} or ${deploymentEvents.fromVersionId} = ${v.id}`)
        .orderBy(asc(deploymentEvents.id));
      return {
        model: model.name,
        version: v.version,
        status: v.status,
        trainer: v.trainer,
        params: v.params,
        artifactHash: v.artifactHash,
        parentVersion: parent?.version ?? null,
        runId: v.runId,
        snapshot: snapshot ? { id: snapshot.id, contentHash: snapshot.contentHash, trainCount: snapshot.trainCount, heldoutCount: snapshot.heldoutCount, runId: snapshot.runId } : null,
        reports,
        gate,
        approval,
        saturation,
        deployments,
        createdAt: v.createdAt,
      };
    }),

  predict: roleProcedure('ingest')
    .meta({
      openapi: {
        method: 'POST',
        path: '/models/{name}/predict',
        tags: ['models'],
        summary:
          'Score up to 10,000 requests with the production version (or the canary, by sticky weight) and log them (all or nothing; replayed request ids are logged once); a shadow version scores them too, silently',
      },
    })
    .input(z.strictObject({ name: modelName, requests: z.array(predictRequest).min(1).max(MAX_PREDICT_BATCH) }))
    .output(
      z.object({
        version: z.number(),
        threshold: z.number(),
        /** In request order; decision 1 = positive (spam: blocked), i.e. score >= threshold. */
        /** version: the one that answered this request (the canary's share during a rollout, sticky by routing key). */
        results: z.array(z.object({ requestId: z.string(), version: z.number(), score: z.number(), decision: z.union([z.literal(0), z.literal(1)]) })),
        /** Requests logged now; duplicates were logged by an earlier call with the same request id. */
        logged: z.number(),
        duplicates: z.number(),
        /** Shadow decisions logged now (shadow_predictions; none answer the caller). */
        shadowed: z.number(),
        /** Shadow versions that could not score this batch (their artifact failed to load or score); the requests were served and logged all the same. */
        shadowSkipped: z.number(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
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
      const serving = await productionServing(ctx.db, model);
      // During a rollout the canary answers its share of request keys (sticky); everyone else gets production.
      const canary = await routeServing(ctx.db, model.id, 'canary');
      const servedBy = reqs.map((r) => (canary && routeFor(r.routingKey ?? r.requestId, canary.weight) === 'canary' ? canary : serving));
      const scorer = ctx.scorer;
      if (!scorer) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'this API server has no scorer configured; predictions are served by `retrain up` or `retrain api`' });
      const scores = new Float64Array(reqs.length);
      for (const version of canary ? [serving, canary] : [serving]) {
        const mine = reqs.flatMap((_r, i) => (servedBy[i] === version ? [i] : []));
        if (mine.length === 0) continue;
        try {
          const part = await scorer.score(
            version.artifactHash,
            async () => (await ctx.db.select({ artifact: modelVersions.artifact }).from(modelVersions).where(eq(modelVersions.id, version.versionId)))[0]!.artifact,
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
      const decisions = Array.from(scores, (s, i) => (s >= servedBy[i]!.threshold ? 1 : 0) as 0 | 1);

      // Shadow: the candidate scores every request another version answered, at its own evaluated threshold,
      // and answers nobody. Its failure must not fail serving: the batch is served and logged without its
      // shadow decisions, counted in shadowSkipped and in the server log; the rollout's shadow analysis
      // sees the gap as low coverage (and as Inconclusive when too little is left to compare).
      const shadow = await routeServing(ctx.db, model.id, 'shadow');
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
                  async () => (await ctx.db.select({ artifact: modelVersions.artifact }).from(modelVersions).where(eq(modelVersions.id, shadow.versionId)))[0]!.artifact,
                  mine.map((i) => reqs[i]!.input),
                );
          mine.forEach((i, k) => shadowRows.push({ versionId: shadow.versionId, i, score: part[k]!, decision: part[k]! >= shadow.threshold ? 1 : 0 }));
        } catch (err) {
          shadowSkipped++;
          process.stderr.write(`models.predict: shadow v${shadow.version} of '${model.name}' (trainer '${shadow.trainer}') skipped for ${mine.length} requests: ${(err as Error).message}\n`);
        }
      }
      const col = <T,>(rows: PredictRequest[], f: (r: PredictRequest, i: number) => T) => sql.param(rows.map(f));
      const withExample = reqs.filter((r) => r.externalId !== undefined);

      const { logged, shadowed } = await ctx.db.transaction(async (tx) => {
        // One statement each, as feedback ingest does: every column one array parameter, unnest() makes rows.
        const result = await tx.execute(sql`
          insert into ${predictions} (model_id, version_id, request_id, example_external_id, score, decision, attributes, occurred_at, logged_by)
          select ${model.id}, t.version_id, t.request_id, t.example_external_id, t.score, t.decision, t.attributes::jsonb,
                 t.occurred_at::timestamptz, ${ctx.identity.subject}
          from unnest(
            ${col(reqs, (_r, i) => servedBy[i]!.versionId)}::int[],
            ${col(reqs, (r) => r.requestId)}::text[],
            ${col(reqs, (r) => r.externalId ?? null)}::text[],
            ${col(reqs, (_r, i) => scores[i]!)}::float8[],
            ${col(reqs, (_r, i) => decisions[i]!)}::smallint[],
            ${col(reqs, (r) => JSON.stringify(r.attributes))}::text[],
            ${col(reqs, (r) => new Date(r.occurredAt).toISOString())}::text[]
          ) as t(version_id, request_id, example_external_id, score, decision, attributes, occurred_at)
          on conflict (model_id, request_id) do nothing
          returning 1`);
        if (withExample.length > 0) {
          // Unlabelled until annotation labels them; an id already known (a labelled import, say) is left as it is.
          await tx.execute(sql`
            insert into ${examples} (model_id, external_id, input, label, slices, split, observed_at)
            select ${model.id}, t.external_id, t.input::jsonb, null, t.slices::jsonb, 'train', t.observed_at::timestamptz
            from unnest(
              ${col(withExample, (r) => r.externalId!)}::text[],
              ${col(withExample, (r) => JSON.stringify(r.input))}::text[],
              ${col(withExample, (r) => JSON.stringify(r.attributes))}::text[],
              ${col(withExample, (r) => new Date(r.occurredAt).toISOString())}::text[]
            ) as t(external_id, input, slices, observed_at)
            on conflict (model_id, external_id) do nothing`);
        }
        let shadowed = 0;
        if (shadowRows.length > 0) {
          // One statement too; a replayed request id is logged once per shadow version.
          const shadowResult = await tx.execute(sql`
            insert into ${shadowPredictions} (model_id, version_id, request_id, score, decision, attributes, occurred_at)
            select ${model.id}, t.version_id, t.request_id, t.score, t.decision, t.attributes::jsonb, t.occurred_at::timestamptz
            from unnest(
              ${sql.param(shadowRows.map((r) => r.versionId))}::int[],
              ${sql.param(shadowRows.map((r) => reqs[r.i]!.requestId))}::text[],
              ${sql.param(shadowRows.map((r) => r.score))}::float8[],
              ${sql.param(shadowRows.map((r) => r.decision))}::smallint[],
              ${sql.param(shadowRows.map((r) => JSON.stringify(reqs[r.i]!.attributes)))}::text[],
              ${sql.param(shadowRows.map((r) => new Date(reqs[r.i]!.occurredAt).toISOString()))}::text[]
            ) as t(version_id, request_id, score, decision, attributes, occurred_at)
            on conflict (model_id, version_id, request_id) do nothing
            returning 1`);
          shadowed = rowCount(shadowResult);
        }
        return { logged: rowCount(result), shadowed };
      });
      return {
        version: serving.version,
        threshold: serving.threshold,
        results: reqs.map((r, i) => ({ requestId: r.requestId, version: servedBy[i]!.version, score: scores[i]!, decision: decisions[i]! })),
        logged,
        duplicates: reqs.length - logged,
        shadowed,
        shadowSkipped,
      };
    }),
});
