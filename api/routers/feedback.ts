// Feedback ingest: batches of explicit and implicit production signals, each tagged with the version
// that answered. All or nothing: one bad event (by schema, or naming a version the model does not
// have) refuses the whole batch with its index and field, so a sender fixes and resends one batch
// instead of reconciling half-written ones. Replays are safe: an event whose idempotency key is known
// is counted as a duplicate and written no second time.
import { TRPCError } from '@trpc/server';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { CORRECTION_KINDS, COVERAGE_KINDS, EXPLICIT_KINDS, flywheelHealth } from '../../analysis/flywheel';
import type { Db } from '../../db/index';
import { resultRows } from '../../db/queries';
import { datasetSnapshotMembers, datasetSnapshots, examples, feedbackEvents, modelVersions, predictions } from '../../db/schema';
import { isoDate, modelName, positiveInt } from '../schemas';
import { roleProcedure, router } from '../trpc';
import { requireModel } from '../lookups';

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

// ---------------------------------------------------------------------------------------------
// Flywheel health: counts aggregated in SQL, judged by analysis/flywheel

const DAY_MS = 86_400_000;
const DEFAULT_WINDOW_DAYS = 28;
const MAX_ATTRIBUTES = 20;
/** Values judged per attribute (the most frequent ones); the attribute's totals still count every value. */
const MAX_VALUES_PER_ATTRIBUTE = 100;

const ci95Output = z.object({ lower: z.number().nullable(), upper: z.number().nullable() });
const sourceMixOutput = z.object({
  total: z.number(),
  mix: z.array(z.object({ source: z.string(), count: z.number(), share: z.number().nullable() })),
});

export const flywheelHealthOutput = z.object({
  model: z.string(),
  window: z.object({ from: z.string(), to: z.string(), buckets: z.number(), bucketSeconds: z.number() }),
  /** Coverage-kind feedback events in the window, and how many name a request_id found in the window's traffic. */
  feedback: z.object({ events: z.number(), linkedToTraffic: z.number() }),
  /** Attribute keys seen in traffic beyond the MAX_ATTRIBUTES most frequent (only when slices were not given). */
  attributesOmitted: z.number(),
  settings: z.object({
    minSliceSupport: z.number(),
    underRatio: z.number(),
    selfLabelLimit: z.number(),
    alpha: z.number(),
    minRelativeRise: z.number(),
    minBucketSupport: z.number(),
  }),
  explicitRate: z.object({ kinds: z.array(z.string()), requests: z.number(), withExplicit: z.number(), rate: z.number().nullable(), ci95: ci95Output }),
  coverage: z.object({
    kinds: z.array(z.string()),
    rule: z.string(),
    attributes: z.array(
      z.object({
        attribute: z.string(),
        traffic: z.number(),
        feedback: z.number(),
        valuesOmitted: z.number(),
        values: z.array(
          z.object({
            value: z.string(),
            traffic: z.number(),
            feedback: z.number(),
            trafficShare: z.number().nullable(),
            feedbackShare: z.number().nullable(),
            feedbackShareCi95: ci95Output,
            ratio: z.number().nullable(),
            ratioUpper: z.number().nullable(),
            status: z.enum(['ok', 'under', 'insufficient']),
          }),
        ),
      }),
    ),
    under: z.array(
      z.object({ attribute: z.string(), value: z.string(), trafficShare: z.number(), feedbackShare: z.number(), ratio: z.number(), ratioUpper: z.number() }),
    ),
  }),
  labelSources: z.object({
    overall: sourceMixOutput,
    latestSnapshot: sourceMixOutput.extend({ snapshotId: z.number(), createdAt: z.string() }).nullable(),
    selfLabelShare: z.number().nullable(),
    selfLabelLimit: z.number(),
    selfLabelAlert: z.boolean(),
    rule: z.string(),
  }),
  overrideTrend: z.object({
    kinds: z.array(z.string()),
    buckets: z.array(z.object({ start: z.string(), traffic: z.number(), corrections: z.number(), rate: z.number().nullable(), ci95: ci95Output })),
    slope: z.number().nullable(),
    staleness: z.object({
      status: z.enum(['alert', 'ok', 'insufficient']),
      alert: z.boolean(),
      latestRate: z.number().nullable(),
      baselineRate: z.number().nullable(),
      relativeRise: z.number().nullable(),
      z: z.number().nullable(),
      p: z.number().nullable(),
      rule: z.string(),
      detail: z.string(),
    }),
  }),
  alerts: z.array(z.string()),
});
export type FlywheelHealthOutput = z.infer<typeof flywheelHealthOutput>;

const healthInput = z.strictObject({
  model: modelName,
  from: isoDate.optional(),
  to: isoDate.optional(),
  buckets: positiveInt(90)
    .refine((n) => n >= 2, 'at least 2 buckets: the latest is compared with the earlier ones')
    .default(7),
  slices: z.array(z.string().min(1).max(64)).min(1).max(MAX_ATTRIBUTES).optional(),
});

const toIso = (v: Date | string): string => new Date(v).toISOString();

/** Every count the flywheel needs, each one a GROUP BY in the database (no per-row transfer). */
async function flywheelCounts(db: Db, modelId: number, opts: { from: Date; to: Date; buckets: number; slices?: string[] }) {
  const from = opts.from.toISOString();
  const to = opts.to.toISOString();
  const spanMs = opts.to.getTime() - opts.from.getTime();
  // Exact numeric arithmetic, so a request on a bucket boundary lands where integer maths says it does.
  const spanSeconds = (spanMs / 1000).toFixed(3);
  const inWindow = (alias: 'p' | 'f') => sql`${sql.raw(alias)}.occurred_at >= ${from}::timestamptz and ${sql.raw(alias)}.occurred_at < ${to}::timestamptz`;
  const explicitKinds = sql.param([...EXPLICIT_KINDS]);
  const correctionKinds = sql.param([...CORRECTION_KINDS]);
  const coverageKinds = sql.param([...COVERAGE_KINDS]);

  // One pass over the window's traffic and its feedback, grouped by request_id: per time bucket the
  // requests, those with explicit feedback and those corrected, and how many of the window's feedback
  // events name a request of the window's traffic. Feedback is tied to traffic by request_id; it may
  // arrive after the window closes, never before it opens. A UNION ALL and GROUP BY instead of a join, so
  // the plan stays linear even where statistics are stale (PGlite has no autovacuum to refresh them).
  const bucketRows = resultRows<{ b: number | null; traffic: number; explicit: number; corrected: number; events: number }>(
    await db.execute(sql`
      with u as (
        select p.request_id,
               floor(extract(epoch from (p.occurred_at - ${from}::timestamptz)) * ${opts.buckets}::int / ${spanSeconds}::numeric)::int as b,
               false as is_event, false as in_window, false as explicit, false as corrected
        from ${predictions} p
        where p.model_id = ${modelId} and ${inWindow('p')}
        union all
        select f.request_id, null, true, f.occurred_at < ${to}::timestamptz,
               f.kind = any(${explicitKinds}::text[]), f.kind = any(${correctionKinds}::text[])
        from ${feedbackEvents} f
        where f.model_id = ${modelId} and f.occurred_at >= ${from}::timestamptz and f.kind = any(${coverageKinds}::text[])
      ), r as (
        -- Events without a request_id fall into one null group, which has no traffic row (b is null).
        select max(u.b) as b, bool_or(u.explicit) as explicit, bool_or(u.corrected) as corrected,
               count(*) filter (where u.is_event and u.in_window) as events
        from u
        group by u.request_id
      )
      select r.b, (count(*) filter (where r.b is not null))::int as traffic,
             (count(*) filter (where r.b is not null and r.explicit))::int as explicit,
             (count(*) filter (where r.b is not null and r.corrected))::int as corrected,
             sum(r.events)::int as events
      from r
      group by r.b
      order by r.b`),
  );
  const traffic = bucketRows.filter((r) => r.b !== null);
  const linkage = {
    events: bucketRows.reduce((s, r) => s + r.events, 0),
    linkedToTraffic: traffic.reduce((s, r) => s + r.events, 0),
  };

  // Attributes: the ones asked for, or the most frequent keys in the window's traffic.
  let keys = opts.slices ? [...new Set(opts.slices)] : [];
  let attributesOmitted = 0;
  if (!opts.slices) {
    const keyRows = resultRows<{ key: string; n: number; keys: number }>(
      await db.execute(sql`
        select k.key, count(*)::int as n, (count(*) over ())::int as keys
        from ${predictions} p cross join lateral jsonb_object_keys(p.attributes) as k(key)
        where p.model_id = ${modelId} and ${inWindow('p')}
        group by k.key
        order by n desc, k.key
        limit ${MAX_ATTRIBUTES}`),
    );
    keys = keyRows.map((r) => r.key);
    attributesOmitted = keyRows.length ? keyRows[0]!.keys - keyRows.length : 0;
  }

  type SliceRow = { key: string; value: string | null; total_row: number; n: number; nvalues: number };
  const trafficRows = keys.length
    ? resultRows<SliceRow>(
        await db.execute(sql`
          with g as (
            select kv.key, kv.value, grouping(kv.value) as total_row, count(*)::int as n
            from ${predictions} p cross join lateral jsonb_each_text(p.attributes) as kv(key, value)
            where p.model_id = ${modelId} and ${inWindow('p')} and kv.key = any(${sql.param(keys)}::text[])
            group by grouping sets ((kv.key, kv.value), (kv.key))
          ), r as (
            select g.*, row_number() over (partition by g.key, g.total_row order by g.n desc, g.value) as rn,
                   (count(*) over (partition by g.key, g.total_row))::int as nvalues
            from g
          )
          select key, value, total_row, n, nvalues from r
          where total_row = 1 or rn <= ${MAX_VALUES_PER_ATTRIBUTE}`),
      )
    : [];
  const kept = trafficRows.filter((r) => r.total_row === 0);
  const feedbackRows = keys.length
    ? resultRows<SliceRow>(
        await db.execute(sql`
          with g as (
            select kv.key, kv.value, grouping(kv.value) as total_row, count(*)::int as n
            from ${feedbackEvents} f cross join lateral jsonb_each_text(f.attributes) as kv(key, value)
            where f.model_id = ${modelId} and ${inWindow('f')} and f.kind = any(${coverageKinds}::text[])
              and kv.key = any(${sql.param(keys)}::text[])
            group by grouping sets ((kv.key, kv.value), (kv.key))
          )
          select g.key, g.value, g.total_row, g.n, 0 as nvalues from g
          where g.total_row = 1
             or (g.key, g.value) in (select * from unnest(${sql.param(kept.map((r) => r.key))}::text[], ${sql.param(kept.map((r) => r.value))}::text[]))`),
      )
    : [];

  const slices = keys.map((attribute) => {
    const total = (rows: SliceRow[]) => rows.find((r) => r.key === attribute && r.total_row === 1);
    const fb = new Map(feedbackRows.filter((r) => r.key === attribute && r.total_row === 0).map((r) => [r.value!, r.n]));
    const values = kept.filter((r) => r.key === attribute).map((r) => ({ value: r.value!, traffic: r.n, feedback: fb.get(r.value!) ?? 0 }));
    const nvalues = kept.find((r) => r.key === attribute)?.nvalues ?? 0;
    return {
      attribute,
      traffic: total(trafficRows)?.n ?? 0,
      feedback: total(feedbackRows)?.n ?? 0,
      values,
      valuesOmitted: Math.max(0, nvalues - values.length),
    };
  });

  const overall = resultRows<{ source: string; count: number }>(
    await db.execute(sql`
      select e.label_source as source, count(*)::int as count
      from ${examples} e
      where e.model_id = ${modelId} and e.label is not null
      group by e.label_source`),
  );
  // The latest snapshot frozen before the window's end, and the sources of its training labels.
  const [snapshot] = resultRows<{ id: number; created_at: Date | string }>(
    await db.execute(sql`
      select s.id, s.created_at from ${datasetSnapshots} s
      where s.model_id = ${modelId} and s.created_at < ${to}::timestamptz
      order by s.created_at desc, s.id desc
      limit 1`),
  );
  const train = snapshot
    ? resultRows<{ source: string; count: number }>(
        await db.execute(sql`
          select e.label_source as source, count(*)::int as count
          from ${datasetSnapshotMembers} m join ${examples} e on e.id = m.example_id
          where m.snapshot_id = ${snapshot.id} and m.split = 'train'
          group by e.label_source`),
      )
    : [];

  const byBucket = new Map(traffic.map((r) => [r.b!, r]));
  const buckets = Array.from({ length: opts.buckets }, (_, i) => {
    const r = byBucket.get(i);
    return { start: new Date(opts.from.getTime() + Math.floor((i * spanMs) / opts.buckets)).toISOString(), traffic: r?.traffic ?? 0, corrections: r?.corrected ?? 0 };
  });
  return {
    explicit: { requests: traffic.reduce((s, r) => s + r.traffic, 0), withExplicit: traffic.reduce((s, r) => s + r.explicit, 0) },
    slices,
    buckets,
    labels: { overall, latestSnapshot: snapshot ? { id: snapshot.id, createdAt: toIso(snapshot.created_at), train } : null },
    linkage,
    attributesOmitted,
    spanMs,
  };
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
      const counts = await flywheelCounts(ctx.db, model.id, { from, to, buckets: input.buckets, ...(input.slices ? { slices: input.slices } : {}) });
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
