/**
 * The served abstain band, judged: before (what the packet predicted on held-out: the band's share and the
 * error rate of the decisions outside it) beside after (what serving saw: the abstained share of served
 * requests and the error rate outside the band among served requests whose example has a label), overall
 * and per slice value, each proportion with its Wilson interval and counts. And the review queue's SLA
 * figures. Pure: the API loads rows and calls these.
 */
import { quantileSorted } from './numerics/descriptive';
import { wilsonInterval, type Interval } from './numerics/intervals';
import { inBand, thresholdDecision, type ServedRule } from './serving';

/** A count out of n with its Wilson interval. */
export interface Share {
  count: number;
  n: number;
  interval: Interval;
}

const share = (count: number, n: number, confidence: number): Share => ({ count, n, interval: wilsonInterval(count, n, confidence) });

/** One side (before or after) of one group. */
export interface BandSide {
  /** Rows in the group (held-out rows before; served requests after). */
  n: number;
  /** Rows inside the band (abstained), of n. */
  abstained: Share;
  /** Decided share: 1 - abstained share (the packet's coverage); null when n = 0. */
  coverage: number | null;
  /** Wrong decisions outside the band, of the decided rows with a label. */
  errorOutside: Share;
}

export interface AbstainGroup {
  /** null: every row (overall). */
  attribute: string | null;
  value: string | null;
  before: BandSide | null;
  after: BandSide;
}

/** A held-out row: its label and the version's score (the evaluation's own scores). */
export interface HeldOutRow {
  label: number;
  score: number;
  slices: Record<string, string>;
}

/** A served request: whether it was answered 'abstain', and its example's label when one counts (else null). */
export interface ServedRequest {
  score: number;
  abstained: boolean;
  label: number | null;
  slices: Record<string, string>;
}

/** One group's counts: rows, abstained rows, decided rows with a label, and the wrong ones among those. */
export interface Tally {
  n: number;
  abstained: number;
  decidedLabelled: number;
  errors: number;
}

/** The served side's tallies per group, as the database computes them (db/review servedBandTallies). */
export interface GroupTally extends Tally {
  /** null: every served request (overall). */
  attribute: string | null;
  value: string | null;
}

const empty = (): Tally => ({ n: 0, abstained: 0, decidedLabelled: 0, errors: 0 });

function side(t: Tally, confidence: number): BandSide {
  return {
    n: t.n,
    abstained: share(t.abstained, t.n, confidence),
    coverage: t.n > 0 ? (t.n - t.abstained) / t.n : null,
    errorOutside: share(t.errors, t.decidedLabelled, confidence),
  };
}

/** Tallies rows overall ('' key) and per attribute=value, in one pass. */
function tallyBy<R extends { slices: Record<string, string> }>(rows: readonly R[], add: (t: Tally, r: R) => void): Map<string, Tally> {
  const out = new Map<string, Tally>([['', empty()]]);
  for (const r of rows) {
    add(out.get('')!, r);
    for (const [a, v] of Object.entries(r.slices)) {
      const key = JSON.stringify([a, v]);
      let t = out.get(key);
      if (!t) out.set(key, (t = empty()));
      add(t, r);
    }
  }
  return out;
}

/**
 * Before and after per group. Before: held-out rows under the rule (inside the band abstains; outside, the
 * threshold's decision against the label). After: served requests as they were answered (the logged
 * abstained flag), the error rate outside the band among those with a label, the decision being the rule's
 * threshold decision. Groups: overall first, then attribute=value in name order; a group only served (or
 * only held out) has a null before (or an empty after).
 */
export function abstainReport(input: { rule: ServedRule; heldOut: readonly HeldOutRow[] | null; served: readonly ServedRequest[] | readonly GroupTally[]; confidence?: number }): AbstainGroup[] {
  const confidence = input.confidence ?? 0.95;
  const { rule } = input;
  const before = input.heldOut
    ? tallyBy(input.heldOut, (t, r) => {
        t.n++;
        if (inBand(r.score, rule)) t.abstained++;
        else {
          t.decidedLabelled++;
          if (thresholdDecision(r.score, rule) !== r.label) t.errors++;
        }
      })
    : null;
  const after = isTallies(input.served)
    ? new Map<string, Tally>([['', empty()], ...input.served.map((g): [string, Tally] => [g.attribute === null ? '' : JSON.stringify([g.attribute, g.value]), g])])
    : servedTallies(input.served, rule);
  const keys = [...new Set([...(before?.keys() ?? []), ...after.keys()])].filter((k) => k !== '').sort();
  return ['', ...keys].map((key) => {
    const [attribute, value] = key === '' ? [null, null] : (JSON.parse(key) as [string, string]);
    const b = before?.get(key);
    return { attribute, value, before: b ? side(b, confidence) : null, after: side(after.get(key) ?? empty(), confidence) };
  });
}

const isTallies = (rows: readonly ServedRequest[] | readonly GroupTally[]): rows is readonly GroupTally[] => rows.length > 0 && 'decidedLabelled' in rows[0]!;

/**
 * The served side from rows: every request counts, abstained as it was answered, and a decided request with
 * a label is wrong when the rule's threshold decision differs from it. db/review servedBandTallies computes
 * the same in SQL (its test holds the two equal), so the API never loads a version's traffic.
 */
export function servedTallies(rows: readonly ServedRequest[], rule: ServedRule): Map<string, Tally> {
  return tallyBy(rows, (t, r) => {
    t.n++;
    if (r.abstained) t.abstained++;
    else if (r.label !== null) {
      t.decidedLabelled++;
      if (thresholdDecision(r.score, rule) !== r.label) t.errors++;
    }
  });
}

/** One review item's times in epoch milliseconds. */
export interface ReviewItemTimes {
  queuedAt: number;
  dueAt: number;
  /** null while pending. */
  reviewedAt: number | null;
}

export interface ReviewQueueSummary {
  items: number;
  pending: number;
  /** Pending past their due time. */
  overdue: number;
  reviewed: number;
  /** Reviewed at or before their due time, of the reviewed, with its Wilson interval. */
  withinSla: Share;
  /** Seconds from queued to reviewed, over reviewed items; null when none is reviewed. */
  medianSecondsToReview: number | null;
  p90SecondsToReview: number | null;
  /** The earliest due time of a pending item (epoch ms); null when nothing is pending. */
  oldestPendingDueAt: number | null;
}

/** The review queue's status and SLA at `now` (epoch ms). */
export function reviewQueueSummary(items: readonly ReviewItemTimes[], now: number, confidence = 0.95): ReviewQueueSummary {
  let pending = 0;
  let overdue = 0;
  let within = 0;
  let oldest: number | null = null;
  const waits: number[] = [];
  for (const it of items) {
    if (it.reviewedAt === null) {
      pending++;
      if (it.dueAt < now) overdue++;
      if (oldest === null || it.dueAt < oldest) oldest = it.dueAt;
    } else {
      waits.push(Math.max(0, (it.reviewedAt - it.queuedAt) / 1000));
      if (it.reviewedAt <= it.dueAt) within++;
    }
  }
  waits.sort((a, b) => a - b);
  const q = (p: number) => (waits.length === 0 ? null : quantileSorted(waits, waits.length, p));
  return {
    items: items.length,
    pending,
    overdue,
    reviewed: waits.length,
    withinSla: share(within, waits.length, confidence),
    medianSecondsToReview: q(0.5),
    p90SecondsToReview: q(0.9),
    oldestPendingDueAt: oldest,
  };
}
