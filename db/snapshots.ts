// Dataset snapshots: a run's labelled examples frozen in the database itself, whatever their number
// (a million rows are never carried through the process; the content hash is computed where they are).
import { eq, sql, type SQL } from 'drizzle-orm';
import type { Db } from './index';
import { resultRows } from './queries';
import { datasetSnapshots, type HeldOutDesign, type SnapshotLabelMix } from './schema';

export interface FrozenSnapshot {
  snapshotId: number;
  contentHash: string;
  trainCount: number;
  heldoutCount: number;
}

/**
 * How a run asks its held-out set to be chosen: the examples' recorded split column (the default), or
 * the newest window by observedAt: a duration (`'30d'`, `'12h'`, `'2w'`) before the newest example, or
 * a fraction of the dated examples (the newest ones held out).
 */
export type HeldOutOption = { kind: 'split' } | { kind: 'time'; newest: string | number };

const DURATION = /^([1-9][0-9]{0,5})([hdw])$/;
const UNIT_SECONDS: Record<string, number> = { h: 3600, d: 86_400, w: 604_800 };

/** A window such as '30d' in seconds; throws on anything else. */
export function windowSeconds(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new Error(`held-out window '${text}' is not a duration such as 30d, 12h or 2w`);
  return Number(m[1]) * UNIT_SECONDS[m[2]!]!;
}


export class TooFewLabelledExamples extends Error {
  constructor(
    readonly trainCount: number,
    readonly heldoutCount: number,
    context?: string,
  ) {
    super(`${trainCount} labelled training and ${heldoutCount} held-out examples${context ? ` ${context}` : ''}; at least ${TooFewLabelledExamples.MIN} of each are needed`);
  }
  static readonly MIN = 10;
}

/** The run's snapshot, if it froze one. */
export async function snapshotOfRun(db: Db, runId: string): Promise<FrozenSnapshot | null> {
  const [s] = await db.select().from(datasetSnapshots).where(eq(datasetSnapshots.runId, runId));
  return s ? { snapshotId: s.id, contentHash: s.contentHash, trainCount: s.trainCount, heldoutCount: s.heldoutCount } : null;
}

/**
 * Freezes a model's labelled examples as the run's snapshot, in one transaction: the members copied by
 * one statement (so they are one consistent set), which also reads the content hash (sha256 of
 * `externalId \t label \t split` lines in external-id order, as it has always been computed), the counts
 * and the label mix from the rows it copies.
 * With a time design the split is by observedAt against one cut (computed in the database: the newest
 * example minus the window, or the observedAt of the k-th newest dated example, k = max(1, round(f x n)));
 * undated examples are left out and counted. The design, the cut and the counts are recorded on the
 * snapshot row, and `asOf` (the cut, else the newest observedAt) is what training rows' ages count from.
 * Throws TooFewLabelledExamples (nothing written) below the minimum.
 */
export async function freezeLabelledExamples(db: Db, input: { modelId: number; runId: string; heldOut?: HeldOutOption }): Promise<FrozenSnapshot> {
  const option = input.heldOut ?? { kind: 'split' };
  return db.transaction(async (tx) => {
    const [snap] = await tx.insert(datasetSnapshots).values({ modelId: input.modelId, runId: input.runId, contentHash: '', trainCount: 0, heldoutCount: 0 }).returning({ id: datasetSnapshots.id });
    if (!snap) throw new Error('snapshot insert returned nothing');
    const labelled = sql`e.model_id = ${input.modelId} and e.label is not null`;
    // A label the model or a user chose to have (a review of an abstained request, a feedback correction) is
    // no sample of anything: it may train, but it never joins the held-out set, whose estimates assume a
    // design. The time cut is placed among the designed labels, and a selected label on the held-out side of
    // it (or of the split column) is left out of the snapshot and counted.
    const selected = sql`coalesce(e.label_selection->>'by', 'design') <> 'design'`;
    const [span] = resultRows<{ newest: string | null; dated: string; undated: string }>(
      await tx.execute(sql`
        select max(e.observed_at) filter (where not ${selected})::text as newest, count(e.observed_at) filter (where not ${selected})::text as dated,
               count(*) filter (where e.observed_at is null)::text as undated
        from examples e where ${labelled}`),
    );
    const dated = Number(span?.dated ?? 0);
    let cut: string | null = null;
    if (option.kind === 'time') {
      if (dated === 0 || !span?.newest) throw new TooFewLabelledExamples(0, 0, 'no labelled example has an observedAt: a time split needs dated examples');
      if (typeof option.newest === 'string') {
        const [c] = resultRows<{ cut: string }>(await tx.execute(sql`select (${span.newest}::timestamptz - make_interval(secs => ${windowSeconds(option.newest)}))::text as cut`));
        cut = c!.cut;
      } else {
        const k = Math.max(1, Math.round(option.newest * dated));
        const [c] = resultRows<{ cut: string }>(
          await tx.execute(sql`select e.observed_at::text as cut from examples e where ${labelled} and not ${selected} and e.observed_at is not null order by e.observed_at desc offset ${k - 1} limit 1`),
        );
        cut = c!.cut;
      }
    }
    // One pass over the model's examples: the candidates (with their split under the design, and whether
    // they stay: a selected label on the held-out side does not) are copied as members, and the hash, the
    // counts, the time spans, the selected labels left out and the label mix are read from the same rows,
    // so no statement joins the members back to the examples (at a million rows those joins, planned on
    // the members' stale statistics, took most of the freeze).
    // The hash sorts every member's external id and the candidates are read twice: in memory, not in temporary files (this transaction only).
    await tx.execute(sql`set local work_mem = '64MB'`);
    const heldOutSide = option.kind === 'time' ? sql`e.observed_at >= ${cut}::timestamptz` : sql`e.split = 'heldout'`;
    const [facts] = resultRows<{
      hash: string | null;
      train: string;
      heldout: string;
      train_from: string | null;
      train_to: string | null;
      heldout_from: string | null;
      heldout_to: string | null;
      left_out: string;
      label_mix: SnapshotLabelMix;
    }>(
      await tx.execute(sql`
        with cand as materialized (
          select e.id, e.external_id, e.label, e.observed_at, e.label_source as source, coalesce(e.label_selection->>'by', 'design') as by,
                 case when ${heldOutSide} then 'heldout' else 'train' end as split, not (${selected} and ${heldOutSide}) as keep
          from examples e where ${labelled}${option.kind === 'time' ? sql` and e.observed_at is not null` : sql``}
        ),
        added as (
          insert into dataset_snapshot_members (snapshot_id, example_id, split, label)
          select ${snap.id}, c.id, c.split, c.label from cand c where c.keep
        ),
        g as (select c.source, c.by, count(*)::int as n from cand c where c.keep and c.split = 'train' group by 1, 2)
        select encode(sha256(convert_to(coalesce(string_agg(c.external_id || E'\t' || c.label || E'\t' || c.split, E'\n' order by c.external_id) filter (where c.keep), ''), 'UTF8')), 'hex') as hash,
               count(*) filter (where c.keep and c.split = 'train')::text as train,
               count(*) filter (where c.keep and c.split = 'heldout')::text as heldout,
               min(c.observed_at) filter (where c.keep and c.split = 'train')::text as train_from,
               max(c.observed_at) filter (where c.keep and c.split = 'train')::text as train_to,
               min(c.observed_at) filter (where c.keep and c.split = 'heldout')::text as heldout_from,
               max(c.observed_at) filter (where c.keep and c.split = 'heldout')::text as heldout_to,
               count(*) filter (where not c.keep)::text as left_out,
               (${labelMixOf(sql`g`)}) as label_mix
        from cand c`),
    );
    const selectedLeftOut = Number(facts?.left_out ?? 0);
    const trainCount = Number(facts?.train ?? 0);
    const heldoutCount = Number(facts?.heldout ?? 0);
    if (trainCount < TooFewLabelledExamples.MIN || heldoutCount < TooFewLabelledExamples.MIN) {
      throw new TooFewLabelledExamples(trainCount, heldoutCount, option.kind === 'time' ? `with the held-out window ${JSON.stringify(option.newest)} (cut at ${iso(cut)})` : undefined);
    }
    const contentHash = `sha256:${facts!.hash}`;
    const heldOutDesign: HeldOutDesign =
      option.kind === 'time'
        ? {
            kind: 'time',
            newest: option.newest,
            cutAt: iso(cut),
            trainCount,
            heldoutCount,
            undated: Number(span?.undated ?? 0),
            selectedLeftOut,
            trainFrom: iso(facts!.train_from),
            trainTo: iso(facts!.train_to),
            heldOutFrom: iso(facts!.heldout_from),
            heldOutTo: iso(facts!.heldout_to),
          }
        : { kind: 'split', trainCount, heldoutCount, selectedLeftOut };
    const asOf = option.kind === 'time' ? new Date(iso(cut)) : span?.newest ? new Date(iso(span.newest)) : null;
    await tx.update(datasetSnapshots).set({ contentHash, trainCount, heldoutCount, heldOutDesign, asOf, labelMix: facts!.label_mix }).where(eq(datasetSnapshots.id, snap.id));
    return { snapshotId: snap.id, contentHash, trainCount, heldoutCount };
  });
}

/**
 * The snapshot's label mix computed from its training members, as the current examples say (frozen into
 * label_mix when the snapshot is: a later label change, such as a feedback correction, leaves the record
 * alone). By label source, by selector (label_selection.by; none recorded = 'design') and jointly, in
 * code-unit order (analysis/labelSelection labelMixOf gives the same record from the grouped counts).
 */
function labelMixSql(snapshotId: number) {
  return sql`
    with g as (
      select e.label_source as source, coalesce(e.label_selection->>'by', 'design') as by, count(*)::int as n
      from dataset_snapshot_members m join examples e on e.id = m.example_id
      where m.snapshot_id = ${snapshotId} and m.split = 'train'
      group by 1, 2
    )
    ${labelMixOf(sql`g`)}`;
}

/** The label mix record from `groups`, a relation of (source, by, n): the training members counted by label source and selector. */
function labelMixOf(groups: SQL) {
  return sql`
    select jsonb_build_object(
      'bySource', (select coalesce(jsonb_object_agg(s.source, s.n), '{}'::jsonb) from (select source, sum(n)::int as n from ${groups} group by source) s),
      'bySelector', (select coalesce(jsonb_object_agg(s.by, s.n), '{}'::jsonb) from (select by, sum(n)::int as n from ${groups} group by by) s),
      'train', (select coalesce(sum(n), 0)::int from ${groups}),
      'joint', (select coalesce(jsonb_agg(jsonb_build_object('source', g.source, 'by', g.by, 'count', g.n) order by g.source collate "C", g.by collate "C"), '[]'::jsonb) from ${groups} g))`;
}

/** The label mix recorded with the snapshot (null for snapshots frozen before mixes were recorded). */
export async function labelMixOfSnapshot(db: Db, snapshotId: number): Promise<SnapshotLabelMix | null> {
  const [s] = await db.select({ m: datasetSnapshots.labelMix }).from(datasetSnapshots).where(eq(datasetSnapshots.id, snapshotId));
  return s?.m ?? null;
}

/** The mix of an older snapshot without a record, computed from its members as the examples are now (an estimate of what it was). */
export async function labelMixFromMembers(db: Db, snapshotId: number): Promise<SnapshotLabelMix> {
  const [r] = resultRows<{ mix: SnapshotLabelMix }>(await db.execute(sql`select (${labelMixSql(snapshotId)}) as mix`));
  return r!.mix;
}

/** A timestamptz as PostgreSQL prints it (`2026-01-02 03:04:05.678+00`), as ISO 8601. */
function iso(pgText: string | null): string {
  if (pgText === null) return '';
  const d = new Date(pgText.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  if (Number.isNaN(d.getTime())) throw new Error(`unreadable timestamp ${pgText}`);
  return d.toISOString();
}

/** How the snapshot's held-out set was chosen, as recorded (null for snapshots frozen before designs were). */
export async function heldOutDesignOf(db: Db, snapshotId: number): Promise<HeldOutDesign | null> {
  const [s] = await db.select({ d: datasetSnapshots.heldOutDesign }).from(datasetSnapshots).where(eq(datasetSnapshots.id, snapshotId));
  return s?.d ?? null;
}
