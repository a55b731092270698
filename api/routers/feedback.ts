// Feedback ingest: batches of explicit and implicit production signals, each tagged with the version
// that answered. All or nothing: one bad event (by schema, or naming a version the model does not
// have) refuses the whole batch with its index and field, so a sender fixes and resends one batch
// instead of reconciling half-written ones. Replays are safe: an event whose idempotency key is known
// is counted as a duplicate and written no second time.
//
// Feedback as labels (opt-in per model, feedback.setLabelling): corrections and overrides of the kinds
// the model enabled set their example's label (source 'feedback', selected by the user), in the same
// transaction as the events. Accepted predictions (a thumbs up, or no feedback at all) never do.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { CORRECTION_KINDS, COVERAGE_KINDS, EXPLICIT_KINDS, flywheelHealth } from '../../analysis/flywheel';
import { flywheelCounts, insertFeedbackEvents, labelFromFeedback, MAX_FLYWHEEL_ATTRIBUTES, setFeedbackLabelling, versionIdsByNumber, type FeedbackLabelEvent } from '../../db/feedback';
import { flywheelHealthOutput } from '../outputsB';
import { isoDate, modelName, PG_INT_MAX, positiveInt } from '../schemas';
import { roleProcedure, router } from '../trpc';
import { requireModel } from '../lookups';

const MAX_BATCH = 10_000;
/** The feedback kinds that can become labels (db/schema FeedbackLabelSettings). */
const FEEDBACK_LABEL_KINDS = ['correction', 'override'] as const;

const common = {
  idempotencyKey: z.string().min(1).max(200),
  /** The version number that answered (as the serving system was told by models.resolve). */
  version: z.number().int().positive().max(PG_INT_MAX),
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
  z.strictObject({ ...common, kind: z.literal('rating'), rating: z.number().int().min(1).max(5), reasonCodes: z.array(z.string().max(50)).max(20).default([]) }).meta({ id: 'RatingFeedback' }),
  z.strictObject({ ...common, kind: z.literal('thumbs'), up: z.boolean() }).meta({ id: 'ThumbsFeedback' }),
  z.strictObject({ ...common, kind: z.literal('report'), reason: z.string().max(500).optional() }).meta({ id: 'ReportFeedback' }),
  z.strictObject({ ...common, kind: z.literal('correction'), correctedLabel: label }).meta({ id: 'CorrectionFeedback' }),
  // Implicit
  z.strictObject({ ...common, kind: z.literal('override'), action: z.enum(['not_spam', 'spam']) }).meta({ id: 'OverrideFeedback' }),
  z.strictObject({ ...common, kind: z.literal('retry') }).meta({ id: 'RetryFeedback' }),
  z.strictObject({ ...common, kind: z.literal('abandon') }).meta({ id: 'AbandonFeedback' }),
  z.strictObject({ ...common, kind: z.literal('undo') }).meta({ id: 'UndoFeedback' }),
  z.strictObject({ ...common, kind: z.literal('edit'), afterCopy: z.boolean().default(false) }).meta({ id: 'EditFeedback' }),
  z.strictObject({ ...common, kind: z.literal('dwell'), ms: z.number().int().min(0).max(86_400_000) }).meta({ id: 'DwellFeedback' }),
]);
export type FeedbackEventInput = z.infer<typeof feedbackEventInput>;

const COMMON_KEYS = new Set(['kind', ...Object.keys(common)]);

/** The kind-specific fields, stored as the event's value. */
function valueOf(e: FeedbackEventInput): Record<string, unknown> {
  // A loop, not entries/filter/fromEntries: three arrays per event are 30,000 of a full batch's allocations.
  const value: Record<string, unknown> = {};
  for (const k in e) if (!COMMON_KEYS.has(k)) value[k] = e[k as keyof FeedbackEventInput];
  return value;
}

// ---------------------------------------------------------------------------------------------
// Flywheel health: counts aggregated in SQL (db/feedback), judged by analysis/flywheel

const DAY_MS = 86_400_000;
const DEFAULT_WINDOW_DAYS = 28;

const healthInput = z.strictObject({
  model: modelName,
  from: isoDate.optional(),
  to: isoDate.optional(),
  buckets: positiveInt(90)
    .refine((n) => n >= 2, 'at least 2 buckets: the latest is compared with the earlier ones')
    .default(7),
  slices: z.array(z.string().min(1).max(64)).min(1).max(MAX_FLYWHEEL_ATTRIBUTES).optional(),
});

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
    .output(
      z.object({
        received: z.number().int(),
        inserted: z.number().int(),
        duplicates: z.number().int(),
        /** Examples whose label this batch set (source 'feedback'); 0 unless the model opted in (feedback.setLabelling). */
        labelled: z.number().int(),
        /** Label-carrying events that disagree with a label from import, annotation or review (never overwritten). */
        conflicts: z.number().int(),
        /** Label-carrying events whose example is unknown (no such external id, or a request that became no example). */
        unlinked: z.number().int(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const idOf = await versionIdsByNumber(ctx.db, model.id, [...new Set(input.events.map((e) => e.version))]);
      const unknown = input.events.findIndex((e) => !idOf.has(e.version));
      if (unknown !== -1) {
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `events[${unknown}].version: model '${model.name}' has no version ${input.events[unknown]!.version}; nothing in this batch was written`,
        });
      }
      const enabled = new Set<string>(model.feedbackLabels?.kinds ?? []);
      return ctx.db.transaction(async (tx) => {
        const inserted = await insertFeedbackEvents(
          tx,
          model.id,
          ctx.identity.subject,
          input.events.map((e) => ({
            versionId: idOf.get(e.version)!,
            idempotencyKey: e.idempotencyKey,
            requestId: e.requestId ?? null,
            exampleExternalId: e.exampleExternalId ?? null,
            kind: e.kind,
            value: valueOf(e),
            surface: e.surface ?? null,
            position: e.position ?? null,
            attributes: e.attributes,
            occurredAt: new Date(e.occurredAt),
          })),
        );
        // Only the events this batch inserted (each key once): a replayed event labels nothing a second time.
        const fresh = new Set(inserted);
        const labelEvents = input.events.flatMap((e): FeedbackLabelEvent[] => {
          if ((e.kind !== 'correction' && e.kind !== 'override') || !enabled.has(e.kind) || !fresh.delete(e.idempotencyKey)) return [];
          const label = e.kind === 'correction' ? e.correctedLabel : e.action === 'spam' ? 1 : 0;
          const { idempotencyKey, exampleExternalId, requestId, version, occurredAt } = e;
          return [{ idempotencyKey, kind: e.kind, label, exampleExternalId: exampleExternalId ?? null, requestId: requestId ?? null, version, occurredAt: new Date(occurredAt) }];
        });
        const labels = await labelFromFeedback(tx, model.id, labelEvents);
        const rows = input.events;
        return { received: rows.length, inserted: inserted.length, duplicates: rows.length - inserted.length, ...labels };
      });
    }),

  setLabelling: roleProcedure('operator')
    .meta({
      openapi: {
        method: 'PUT',
        path: '/models/{model}/feedback/labelling',
        tags: ['feedback'],
        summary: "Which feedback kinds become training labels (source 'feedback', selected by the user): correction, override; [] turns it off",
      },
    })
    .input(z.strictObject({ model: modelName, kinds: z.array(z.enum(FEEDBACK_LABEL_KINDS)).max(FEEDBACK_LABEL_KINDS.length) }))
    .output(z.object({ model: z.string(), kinds: z.array(z.enum(FEEDBACK_LABEL_KINDS)), previous: z.array(z.enum(FEEDBACK_LABEL_KINDS)) }))
    .mutation(async ({ ctx, input }) => {
      // Audited like every mutation (the audit middleware records the caller and the input).
      const model = await requireModel(ctx.db, input.model);
      const settings = await setFeedbackLabelling(ctx.db, model.id, input.kinds);
      return { model: model.name, kinds: settings?.kinds ?? [], previous: model.feedbackLabels?.kinds ?? [] };
    }),

  labelling: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models/{model}/feedback/labelling', tags: ['feedback'], summary: 'Which feedback kinds become training labels ([]: none)' } })
    .input(z.strictObject({ model: modelName }))
    .output(z.object({ model: z.string(), kinds: z.array(z.enum(FEEDBACK_LABEL_KINDS)) }))
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      return { model: model.name, kinds: model.feedbackLabels?.kinds ?? [] };
    }),

  health: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/models/{model}/feedback/health',
        tags: ['feedback'],
        summary: 'Flywheel health: explicit-feedback rate, slice coverage vs traffic, label-source mix, self-label share, correction trend with a staleness alert',
      },
    })
    .input(healthInput)
    .output(flywheelHealthOutput)
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const to = input.to ? new Date(input.to) : new Date();
      const from = input.from ? new Date(input.from) : new Date(to.getTime() - DEFAULT_WINDOW_DAYS * DAY_MS);
      if (!(from.getTime() < to.getTime())) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: `from (${from.toISOString()}) must be before to (${to.toISOString()})` });
      }
      const counts = await flywheelCounts(ctx.db, model.id, {
        from,
        to,
        buckets: input.buckets,
        ...(input.slices ? { slices: input.slices } : {}),
        kinds: { explicit: EXPLICIT_KINDS, correction: CORRECTION_KINDS, coverage: COVERAGE_KINDS },
      });
      const health = flywheelHealth({ explicit: counts.explicit, slices: counts.slices, buckets: counts.buckets, labels: counts.labels });
      return {
        model: model.name,
        window: { from: from.toISOString(), to: to.toISOString(), buckets: input.buckets, bucketSeconds: counts.spanMs / 1000 / input.buckets },
        feedback: counts.linkage,
        attributesOmitted: counts.attributesOmitted,
        ...health,
      };
    }),
});
