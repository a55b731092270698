import { TRPCError } from '@trpc/server';
import { asc, count, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { gatePolicySchema } from '../../analysis/policy';
import type { Db } from '../../db/index';
import { addPolicyVersion, changeProductionRoute, currentPolicy, findModelByName, previousProductionVersionId } from '../../db/queries';
import { examples, modelVersions, models, routes, VERSION_STATUSES } from '../../db/schema';
import { exampleInput, modelName, reason } from '../schemas';
import { roleProcedure, router } from '../trpc';

export async function requireModel(db: Db, name: string) {
  const model = await findModelByName(db, name);
  if (!model) throw new TRPCError({ code: 'NOT_FOUND', message: `model '${name}' not found; register it with models.register` });
  return model;
}

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
});
