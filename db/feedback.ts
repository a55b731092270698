// Feedback events: the batch insert behind feedback.ingest, and the counts the flywheel's health is
// judged from (analysis/flywheel does the judging; the callers pass in which kinds count as what).
import { and, eq, inArray, sql } from 'drizzle-orm';
import { batchRows, type BatchColumn } from './batchRows';
import type { Db, DbOrTx } from './index';
import { resultRows } from './queries';
import { datasetSnapshotMembers, datasetSnapshots, examples, feedbackEvents, models, modelVersions, predictions, type FeedbackLabelSettings, type LabelSource, type SnapshotLabelMix } from './schema';

/** A model's version ids by version number, for the numbers given (unknown numbers are absent). */
export async function versionIdsByNumber(db: DbOrTx, modelId: number, numbers: number[]): Promise<Map<number, number>> {
  const versions = await db
    .select({ id: modelVersions.id, version: modelVersions.version })
    .from(modelVersions)
    .where(and(eq(modelVersions.modelId, modelId), inArray(modelVersions.version, numbers)));
  return new Map(versions.map((v) => [v.version, v.id]));
}

/** One feedback event as stored; `value` holds the kind-specific fields. */
export interface FeedbackEventRow {
  versionId: number;
  idempotencyKey: string;
  requestId: string | null;
  exampleExternalId: string | null;
  kind: string;
  value: Record<string, unknown>;
  surface: string | null;
  position: number | null;
  attributes: Record<string, string>;
  occurredAt: Date;
}

/**
 * Inserts a batch of events in one statement; events whose idempotency key is known (or repeats an earlier
 * event of the batch) are skipped. Returns the idempotency keys inserted. The batch reaches the statement as
 * unnest() arrays (db/batchRows: COPY was measured, and does not pay here).
 */
export async function insertFeedbackEvents(db: DbOrTx, modelId: number, ingestedBy: string, events: FeedbackEventRow[]): Promise<string[]> {
  const rows = batchRows(FEEDBACK_COLUMNS, events);
  const result = await db.execute(sql`
    with t as (${rows})
    insert into ${feedbackEvents} (model_id, version_id, idempotency_key, request_id, example_external_id, kind, value,
                                   surface, position, attributes, occurred_at, ingested_by)
    select ${modelId}, t.version_id::int, t.idempotency_key, t.request_id, t.example_external_id, t.kind, t.value::jsonb,
           t.surface, t.position::int, t.attributes::jsonb, t.occurred_at::timestamptz, ${ingestedBy}
    from t
    on conflict (model_id, idempotency_key) do nothing
    returning idempotency_key`);
  return resultRows<{ idempotency_key: string }>(result).map((r) => r.idempotency_key);
}

const FEEDBACK_COLUMNS: BatchColumn<FeedbackEventRow>[] = [
  { name: 'version_id', type: 'int', of: (e) => e.versionId },
  { name: 'idempotency_key', type: 'text', of: (e) => e.idempotencyKey },
  { name: 'request_id', type: 'text', of: (e) => e.requestId },
  { name: 'example_external_id', type: 'text', of: (e) => e.exampleExternalId },
  { name: 'kind', type: 'text', of: (e) => e.kind },
  { name: 'value', type: 'text', of: (e) => JSON.stringify(e.value) },
  { name: 'surface', type: 'text', of: (e) => e.surface },
  { name: 'position', type: 'int', of: (e) => e.position },
  { name: 'attributes', type: 'text', of: (e) => JSON.stringify(e.attributes) },
  { name: 'occurred_at', type: 'text', of: (e) => e.occurredAt.toISOString() },
];

// ---------------------------------------------------------------------------------------------
// Feedback as labels (opt-in per model: models.feedback_labels)

/** A model's feedback-label opt-in; an empty list of kinds turns it off (stored as null). */
export async function setFeedbackLabelling(db: DbOrTx, modelId: number, kinds: FeedbackLabelSettings['kinds']): Promise<FeedbackLabelSettings | null> {
  const settings = kinds.length ? { kinds: [...new Set(kinds)].sort() } : null;
  await db.update(models).set({ feedbackLabels: settings }).where(eq(models.id, modelId));
  return settings;
}

/** One feedback event that carries a label: a correction's correctedLabel, an override's action (spam = 1). */
export interface FeedbackLabelEvent {
  idempotencyKey: string;
  kind: 'correction' | 'override';
  label: 0 | 1;
  exampleExternalId: string | null;
  requestId: string | null;
  /** The version number that answered. */
  version: number;
  occurredAt: Date;
}

/** Sources whose label came from a design or a person's decision: feedback never overwrites them. */
const PROTECTED_SOURCES: LabelSource[] = ['import', 'annotation', 'review'];
const PROTECTED = sql.raw(`(${PROTECTED_SOURCES.map((s) => `'${s}'`).join(', ')})`);

/**
 * Sets the labels the events carry, in one statement (call it in the transaction that stored the events,
 * with only the events that statement inserted, so a replay changes nothing). Each event names its example
 * by external id, or by request id through the prediction that request became. Per example the latest
 * event (by occurredAt, then idempotency key) is the candidate; it is written with source 'feedback' and
 * selection {by: 'user', how: 'feedback:<kind>', inclusionProbability: null, requestId, version,
 * occurredAt} unless the example's label came from import, annotation or review (never overwritten), or
 * is a feedback label from an event that occurred at the same time or later.
 * Returns the examples labelled, the events that disagree with a protected label (conflicts), and the
 * events whose example is unknown (unlinked).
 */
export async function labelFromFeedback(tx: DbOrTx, modelId: number, events: FeedbackLabelEvent[]): Promise<{ labelled: number; conflicts: number; unlinked: number }> {
  if (events.length === 0) return { labelled: 0, conflicts: 0, unlinked: 0 };
  const col = <T,>(f: (e: FeedbackLabelEvent) => T) => sql.param(events.map(f));
  const [r] = resultRows<{ labelled: number; conflicts: number; unlinked: number }>(
    await tx.execute(sql`
      with t as (
        -- Text and int arrays only (as insertFeedbackEvents passes them), cast per row.
        select u.idempotency_key, u.kind, u.label::smallint as label, u.example_external_id, u.request_id, u.version,
               u.occurred_at::timestamptz as occurred_at
        from unnest(
          ${col((e) => e.idempotencyKey)}::text[],
          ${col((e) => e.kind)}::text[],
          ${col((e) => String(e.label))}::text[],
          ${col((e) => e.exampleExternalId)}::text[],
          ${col((e) => e.requestId)}::text[],
          ${col((e) => e.version)}::int[],
          ${col((e) => e.occurredAt.toISOString())}::text[]
        ) as u(idempotency_key, kind, label, example_external_id, request_id, version, occurred_at)
      ), linked as (
        select t.*, e.id as example_id, e.label as current_label, e.label_source as current_source
        from t
        left join ${predictions} p on t.example_external_id is null and p.model_id = ${modelId} and p.request_id = t.request_id
        left join ${examples} e on e.model_id = ${modelId} and e.external_id = coalesce(t.example_external_id, p.example_external_id)
      ), latest as (
        select distinct on (l.example_id) l.*
        from linked l
        where l.example_id is not null
        order by l.example_id, l.occurred_at desc, l.idempotency_key desc
      ), written as (
        update ${examples} e
        set label = l.label,
            label_source = 'feedback',
            label_selection = jsonb_build_object('by', 'user', 'how', 'feedback:' || l.kind, 'inclusionProbability', null::numeric)
              || jsonb_strip_nulls(jsonb_build_object('requestId', l.request_id, 'version', l.version,
                   'occurredAt', to_char(l.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
        from latest l
        where e.id = l.example_id
          and not (e.label is not null and e.label_source in ${PROTECTED})
          and not (e.label is not null and e.label_source = 'feedback'
                   and coalesce((e.label_selection->>'occurredAt')::timestamptz >= l.occurred_at, false))
        returning e.id
      )
      select (select count(*) from written)::int as labelled,
             (select count(*) from linked l
               where l.current_label is not null and l.current_source in ${PROTECTED}
                 and l.current_label <> l.label)::int as conflicts,
             (select count(*) from linked l where l.example_id is null)::int as unlinked`),
  );
  return r!;
}

// ---------------------------------------------------------------------------------------------
// The flywheel's counts

export const MAX_FLYWHEEL_ATTRIBUTES = 20;
/** Values judged per attribute (the most frequent ones); the attribute's totals still count every value. */
const MAX_VALUES_PER_ATTRIBUTE = 100;

/** Which feedback kinds count as explicit, as a correction, and towards slice coverage. */
export interface FlywheelKinds {
  explicit: readonly string[];
  correction: readonly string[];
  coverage: readonly string[];
}

const toIso = (v: Date | string): string => new Date(v).toISOString();

/** Every count the flywheel needs, each one a GROUP BY in the database (no per-row transfer). */
export async function flywheelCounts(db: Db, modelId: number, opts: { from: Date; to: Date; buckets: number; slices?: string[]; kinds: FlywheelKinds }) {
  const from = opts.from.toISOString();
  const to = opts.to.toISOString();
  const spanMs = opts.to.getTime() - opts.from.getTime();
  // Exact numeric arithmetic, so a request on a bucket boundary lands where integer maths says it does.
  const spanSeconds = (spanMs / 1000).toFixed(3);
  const inWindow = (alias: 'p' | 'f') => sql`${sql.raw(alias)}.occurred_at >= ${from}::timestamptz and ${sql.raw(alias)}.occurred_at < ${to}::timestamptz`;
  const explicitKinds = sql.param([...opts.kinds.explicit]);
  const correctionKinds = sql.param([...opts.kinds.correction]);
  const coverageKinds = sql.param([...opts.kinds.coverage]);
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
        limit ${MAX_FLYWHEEL_ATTRIBUTES}`),
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
  const [snapshot] = resultRows<{ id: number; created_at: Date | string; label_mix: SnapshotLabelMix | null }>(
    await db.execute(sql`
      select s.id, s.created_at, s.label_mix from ${datasetSnapshots} s
      where s.model_id = ${modelId} and s.created_at < ${to}::timestamptz
      order by s.created_at desc, s.id desc
      limit 1`),
  );
  // Its training labels by source and selector: as recorded when it was frozen (label_mix), else (older
  // snapshots) from its members as the examples are now.
  const joint: { source: string; by: string | null; count: number }[] = !snapshot
    ? []
    : snapshot.label_mix?.joint
      ? snapshot.label_mix.joint
      : resultRows<{ source: string; by: string | null; count: number }>(
          await db.execute(sql`
            select e.label_source as source, e.label_selection->>'by' as by, count(*)::int as count
            from ${datasetSnapshotMembers} m join ${examples} e on e.id = m.example_id
            where m.snapshot_id = ${snapshot.id} and m.split = 'train'
            group by 1, 2`),
        );
  const bySource = new Map<string, number>();
  for (const j of joint) bySource.set(j.source, (bySource.get(j.source) ?? 0) + j.count);
  const train = [...bySource].map(([source, count]) => ({ source, count }));

  const byBucket = new Map(traffic.map((r) => [r.b!, r]));
  const buckets = Array.from({ length: opts.buckets }, (_, i) => {
    const r = byBucket.get(i);
    return { start: new Date(opts.from.getTime() + Math.floor((i * spanMs) / opts.buckets)).toISOString(), traffic: r?.traffic ?? 0, corrections: r?.corrected ?? 0 };
  });
  return {
    explicit: { requests: traffic.reduce((s, r) => s + r.traffic, 0), withExplicit: traffic.reduce((s, r) => s + r.explicit, 0) },
    slices,
    buckets,
    labels: { overall, latestSnapshot: snapshot ? { id: snapshot.id, createdAt: toIso(snapshot.created_at), train, joint } : null },
    linkage,
    attributesOmitted,
    spanMs,
  };
}
