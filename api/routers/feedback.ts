// Feedback ingest: batches of explicit and implicit production signals, each tagged with the version
// that answered. All or nothing: one bad event (by schema, or naming a version the model does not
// have) refuses the whole batch with its index and field, so a sender fixes and resends one batch
// instead of reconciling half-written ones. Replays are safe: an event whose idempotency key is known
// is counted as a duplicate and written no second time.
import { TRPCError } from '@trpc/server';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { feedbackEvents, modelVersions } from '../../db/schema';
import { isoDate, modelName } from '../schemas';
import { roleProcedure, router } from '../trpc';
import { requireModel } from './models';

const MAX_BATCH = 10_000;

const common = {
  idempotencyKey: z.string().min(1).max(200),
  /** The version number that answered (as the serving system was told by models.resolve). */
  version: z.number().int().positive(),
  requestId: z.string().max(200).optional(),
  exampleExternalId: z.string().max(300).optional(),
  surface: z.string().max(100).optional(),
  position: z.number().int().min(0).max(100_000).optional(),
  attributes: z.record(z.string().max(64), z.string().max(200)).default({}),
  occurredAt: isoDate,
};

const label = z.union([z.literal(0), z.literal(1)]);

export const feedbackEventInput = z.discriminatedUnion('kind', [
  // Explicit
  z.strictObject({ ...common, kind: z.literal('rating'), rating: z.number().int().min(1).max(5), reasonCodes: z.array(z.string().max(50)).max(20).default([]) }),
  z.strictObject({ ...common, kind: z.literal('thumbs'), up: z.boolean() }),
  z.strictObject({ ...common, kind: z.literal('report'), reason: z.string().max(500).optional() }),
  z.strictObject({ ...common, kind: z.literal('correction'), correctedLabel: label }),
  // Implicit
  z.strictObject({ ...common, kind: z.literal('override'), action: z.enum(['not_spam', 'spam']) }),
  z.strictObject({ ...common, kind: z.literal('retry') }),
  z.strictObject({ ...common, kind: z.literal('abandon') }),
  z.strictObject({ ...common, kind: z.literal('undo') }),
  z.strictObject({ ...common, kind: z.literal('edit'), afterCopy: z.boolean().default(false) }),
  z.strictObject({ ...common, kind: z.literal('dwell'), ms: z.number().int().min(0).max(86_400_000) }),
]);
export type FeedbackEventInput = z.infer<typeof feedbackEventInput>;

const COMMON_KEYS = new Set(['kind', ...Object.keys(common)]);

/** The kind-specific fields, stored as the event's value. */
function valueOf(e: FeedbackEventInput): Record<string, unknown> {
  return Object.fromEntries(Object.entries(e).filter(([k]) => !COMMON_KEYS.has(k)));
}

export const feedbackRouter = router({
  ingest: roleProcedure('ingest')
    .meta({
      openapi: {
        method: 'POST',
        path: '/models/{model}/feedback',
        tags: ['feedback'],
        summary: 'Ingest up to 10,000 feedback events (all or nothing; replays are counted as duplicates)',
      },
    })
    .input(z.strictObject({ model: modelName, events: z.array(feedbackEventInput).min(1).max(MAX_BATCH) }))
    .output(z.object({ received: z.number(), inserted: z.number(), duplicates: z.number() }))
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const numbers = [...new Set(input.events.map((e) => e.version))];
      const versions = await ctx.db
        .select({ id: modelVersions.id, version: modelVersions.version })
        .from(modelVersions)
        .where(and(eq(modelVersions.modelId, model.id), inArray(modelVersions.version, numbers)));
      const idOf = new Map(versions.map((v) => [v.version, v.id]));
      const unknown = input.events.findIndex((e) => !idOf.has(e.version));
      if (unknown !== -1) {
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `events[${unknown}].version: model '${model.name}' has no version ${input.events[unknown]!.version}; nothing in this batch was written`,
        });
      }
      // One statement per batch: each column travels as one array parameter and unnest() turns them back
      // into rows, so 10,000 events cost one round trip and no per-row parameter parsing.
      const col = <T,>(f: (e: FeedbackEventInput) => T) => sql.param(input.events.map(f));
      const result = await ctx.db.execute(sql`
        insert into ${feedbackEvents} (model_id, version_id, idempotency_key, request_id, example_external_id, kind, value,
                                       surface, position, attributes, occurred_at, ingested_by)
        select ${model.id}, t.version_id, t.idempotency_key, t.request_id, t.example_external_id, t.kind, t.value::jsonb,
               t.surface, t.position, t.attributes::jsonb, t.occurred_at::timestamptz, ${ctx.identity.subject}
        from unnest(
          ${col((e) => idOf.get(e.version)!)}::int[],
          ${col((e) => e.idempotencyKey)}::text[],
          ${col((e) => e.requestId ?? null)}::text[],
          ${col((e) => e.exampleExternalId ?? null)}::text[],
          ${col((e) => e.kind)}::text[],
          ${col((e) => JSON.stringify(valueOf(e)))}::text[],
          ${col((e) => e.surface ?? null)}::text[],
          ${col((e) => e.position ?? null)}::int[],
          ${col((e) => JSON.stringify(e.attributes))}::text[],
          ${col((e) => new Date(e.occurredAt).toISOString())}::text[]
        ) as t(version_id, idempotency_key, request_id, example_external_id, kind, value, surface, position, attributes, occurred_at)
        on conflict (model_id, idempotency_key) do nothing
        returning 1`);
      const inserted = Array.isArray(result) ? result.length : ((result as unknown as { rows: unknown[] }).rows?.length ?? 0);
      const rows = input.events;
      return { received: rows.length, inserted, duplicates: rows.length - inserted };
    }),
});
