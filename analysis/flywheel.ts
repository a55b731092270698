/**
 * Flywheel health of one model over one window: is production feedback still arriving, does it
 * cover the traffic it is meant to teach us about, where do the training labels come from (and how
 * many did the model give itself), and are users correcting the model more often than they used to.
 *
 * Input is plain counts (the API aggregates them in SQL); output is every number with the rule that
 * judged it. Proportions carry Wilson 95% intervals (analysis/numerics/intervals), as everywhere else.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 */
import { LABEL_SOURCE_NAMES } from './labelSelection';
import { weightedSlope } from './numerics/descriptive';
import { wilsonInterval } from './numerics/intervals';
import { twoProportionZTest } from './numerics/tests';
import { labelMixOf, LABEL_SELECTOR_NAMES, selfSelectedCount } from './labelSelection';

/** Explicit feedback: the user told us what they think of an answer. */
export const EXPLICIT_KINDS = ['rating', 'thumbs', 'report', 'correction'] as const;
/** Implicit corrections: the user undid or changed what the model did. */
export const CORRECTION_KINDS = ['override', 'edit', 'undo'] as const;
/**
 * The feedback that can become a label or a correction signal, counted for slice coverage.
 * Passive signals (dwell, retry, abandon) are left out: they are emitted for most requests whether or
 * not the user judged the answer, and would make every slice look covered.
 */
export const COVERAGE_KINDS = [...EXPLICIT_KINDS, ...CORRECTION_KINDS] as const;
/** Known label sources, in report order: analysis/labelSelection's copy of db/schema LABEL_SOURCES (analysis/ stays free of db/). */
export const KNOWN_LABEL_SOURCES = LABEL_SOURCE_NAMES;

export interface FlywheelSettings {
  /** A slice value with fewer requests than this in the window is 'insufficient'. Default 100. */
  minSliceSupport: number;
  /** A slice is 'under' covered when even the upper 95% bound of its feedback share is below this fraction of its traffic share. Default 0.5. */
  underRatio: number;
  /** Alert when more than this share of the latest snapshot's training labels came from the model or were selected by it. Default 0.2. */
  selfLabelLimit: number;
  /** One-sided significance level of the staleness test. Default 0.01. */
  alpha: number;
  /** The latest bucket's correction rate must also exceed the baseline by at least this relative amount. Default 0.25. */
  minRelativeRise: number;
  /** The latest bucket and the pooled baseline each need at least this many requests to be judged. Default 100. */
  minBucketSupport: number;
}

export const DEFAULT_FLYWHEEL_SETTINGS: FlywheelSettings = {
  minSliceSupport: 100,
  underRatio: 0.5,
  selfLabelLimit: 0.2,
  alpha: 0.01,
  minRelativeRise: 0.25,
  minBucketSupport: 100,
};

export interface SliceValueCounts {
  value: string;
  /** Requests in the window carrying attribute=value. */
  traffic: number;
  /** Coverage-kind feedback events in the window whose own attributes carry attribute=value. */
  feedback: number;
}

export interface AttributeCounts {
  attribute: string;
  /** Requests in the window carrying the attribute (any value): the traffic-share denominator. */
  traffic: number;
  /** Coverage-kind feedback events in the window carrying the attribute: the feedback-share denominator. */
  feedback: number;
  /** Values to judge (may be the top values only; the totals above still count all of them). */
  values: SliceValueCounts[];
  /** Values left out of `values` by the caller (e.g. beyond a per-attribute cap). Default 0. */
  valuesOmitted?: number;
}

export interface BucketCounts {
  /** ISO start of the bucket (echoed, not interpreted). */
  start: string;
  /** Requests in the bucket. */
  traffic: number;
  /** Requests in the bucket that received at least one override, edit or undo (<= traffic). */
  corrections: number;
}

export interface SourceCount {
  source: string;
  count: number;
}

export interface FlywheelInput {
  explicit: {
    /** Requests in the window. */
    requests: number;
    /** Of those, requests with at least one explicit feedback event. */
    withExplicit: number;
  };
  slices: AttributeCounts[];
  /** Time buckets, oldest first; the last one is the one judged for staleness. */
  buckets: BucketCounts[];
  labels: {
    /** Labelled examples of the model by label source. */
    overall: SourceCount[];
    /**
     * The latest dataset snapshot and its training members by label source; null when the model has none.
     * `joint`: the members by (source, selector) together (its label_mix, or computed from the members for
     * older snapshots); without it the selector mix is unknown and only source 'model' counts as self-labelled.
     */
    latestSnapshot: { id: number; createdAt: string; train: SourceCount[]; joint?: { source: string; by: string | null; count: number }[] } | null;
  };
  settings?: Partial<FlywheelSettings>;
}

export interface Ci95 {
  lower: number | null;
  upper: number | null;
}

export type CoverageStatus = 'ok' | 'under' | 'insufficient';

export interface SliceCoverage {
  value: string;
  traffic: number;
  feedback: number;
  trafficShare: number | null;
  feedbackShare: number | null;
  feedbackShareCi95: Ci95;
  /** feedbackShare / trafficShare: 1 = covered in proportion, 0.5 = half the feedback its traffic would predict. */
  ratio: number | null;
  /** Upper 95% bound of the ratio (Wilson upper bound of the feedback share over the traffic share). */
  ratioUpper: number | null;
  status: CoverageStatus;
}

export interface SourceMix {
  total: number;
  mix: { source: string; count: number; share: number | null }[];
}

/** Training labels by who chose them: a design, the model's own score, a user. */
export interface SelectorMix {
  total: number;
  mix: { selector: string; count: number; share: number | null }[];
}

export interface TrendBucket {
  start: string;
  traffic: number;
  corrections: number;
  rate: number | null;
  ci95: Ci95;
}

export interface FlywheelHealth {
  settings: FlywheelSettings;
  explicitRate: { kinds: string[]; requests: number; withExplicit: number; rate: number | null; ci95: Ci95 };
  coverage: {
    kinds: string[];
    rule: string;
    attributes: { attribute: string; traffic: number; feedback: number; valuesOmitted: number; values: SliceCoverage[] }[];
    /** Every 'under' slice, largest traffic share first. */
    under: { attribute: string; value: string; trafficShare: number; feedbackShare: number; ratio: number; ratioUpper: number }[];
  };
  labelSources: {
    overall: SourceMix;
    latestSnapshot: (SourceMix & { snapshotId: number; createdAt: string; bySelector: SelectorMix | null }) | null;
    /** Share of the latest snapshot's training labels whose source is 'model' or whose selector is 'model'; null without a snapshot or training members. */
    selfLabelShare: number | null;
    /** Share selected by users (feedback corrections: source 'feedback'); null without a snapshot, training members or a selector mix. */
    userSelectedShare: number | null;
    selfLabelLimit: number;
    selfLabelAlert: boolean;
    rule: string;
  };
  overrideTrend: {
    kinds: string[];
    buckets: TrendBucket[];
    /** Weighted least-squares slope of the rate on the bucket index (rate change per bucket), weights = bucket traffic. */
    slope: number | null;
    staleness: {
      status: 'alert' | 'ok' | 'insufficient';
      alert: boolean;
      latestRate: number | null;
      baselineRate: number | null;
      /** (latest - baseline) / baseline; null when the baseline rate is 0. */
      relativeRise: number | null;
      z: number | null;
      p: number | null;
      rule: string;
      detail: string;
    };
  };
  /** One line per raised alert, for a human summary. */
  alerts: string[];
}

// Mills ratio R(z) = Q(z)/phi(z) at z = 0, 2, ..., 16 (Marsaglia 2004, "Evaluating the Normal Distribution").
function checkCount(what: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 0)) throw new RangeError(`flywheelHealth: ${what} must be an integer >= 0, got ${v}`);
}

const ci = (successes: number, n: number): Ci95 => {
  const w = wilsonInterval(successes, n);
  return { lower: w.lower, upper: w.upper };
};

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sourceMix(counts: SourceCount[], what: string): SourceMix {
  const by = new Map<string, number>();
  for (const c of counts) {
    checkCount(`${what} count for '${c.source}'`, c.count);
    by.set(c.source, (by.get(c.source) ?? 0) + c.count);
  }
  const known = new Set<string>(KNOWN_LABEL_SOURCES);
  const order = [...KNOWN_LABEL_SOURCES, ...[...by.keys()].filter((s) => !known.has(s)).sort(compareStrings)];
  const total = [...by.values()].reduce((s, n) => s + n, 0);
  return { total, mix: order.map((source) => ({ source, count: by.get(source) ?? 0, share: total > 0 ? (by.get(source) ?? 0) / total : null })) };
}

const fmtPct = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);

/**
 * Coverage rule. Per attribute, a value's traffic share is its requests over the attribute's
 * requests (a census of the window, taken as exact) and its feedback share is its coverage-kind
 * feedback events over the attribute's events, with a Wilson 95% interval. The value is
 * - 'insufficient' when it has fewer than minSliceSupport requests, or the attribute has no feedback
 *   events at all (nothing to compare);
 * - 'under' when the interval's upper bound divided by the traffic share is below underRatio, i.e. the
 *   data say with 95% confidence that the slice gets less than underRatio (default half) of the
 *   feedback its traffic would predict;
 * - 'ok' otherwise (not shown to be under-covered).
 */
function coverageOf(slices: AttributeCounts[], s: FlywheelSettings): FlywheelHealth['coverage'] {
  const attributes = [...slices]
    .sort((a, b) => compareStrings(a.attribute, b.attribute))
    .map((attr) => {
      checkCount(`slices[${attr.attribute}].traffic`, attr.traffic);
      checkCount(`slices[${attr.attribute}].feedback`, attr.feedback);
      const values = attr.values.map((v): SliceCoverage => {
        checkCount(`${attr.attribute}=${v.value} traffic`, v.traffic);
        checkCount(`${attr.attribute}=${v.value} feedback`, v.feedback);
        if (v.traffic > attr.traffic || v.feedback > attr.feedback) {
          throw new RangeError(`flywheelHealth: ${attr.attribute}=${v.value} counts exceed the attribute's totals`);
        }
        const trafficShare = attr.traffic > 0 ? v.traffic / attr.traffic : null;
        const feedbackShare = attr.feedback > 0 ? v.feedback / attr.feedback : null;
        const shareCi = ci(v.feedback, attr.feedback);
        const ratio = trafficShare && feedbackShare !== null ? feedbackShare / trafficShare : null;
        const ratioUpper = trafficShare && shareCi.upper !== null ? shareCi.upper / trafficShare : null;
        const status: CoverageStatus =
          v.traffic < s.minSliceSupport || attr.feedback === 0 || ratioUpper === null ? 'insufficient' : ratioUpper < s.underRatio ? 'under' : 'ok';
        return { value: v.value, traffic: v.traffic, feedback: v.feedback, trafficShare, feedbackShare, feedbackShareCi95: shareCi, ratio, ratioUpper, status };
      });
      values.sort((a, b) => b.traffic - a.traffic || compareStrings(a.value, b.value));
      return { attribute: attr.attribute, traffic: attr.traffic, feedback: attr.feedback, valuesOmitted: attr.valuesOmitted ?? 0, values };
    });
  const under = attributes
    .flatMap((a) =>
      a.values
        .filter((v) => v.status === 'under')
        .map((v) => ({ attribute: a.attribute, value: v.value, trafficShare: v.trafficShare!, feedbackShare: v.feedbackShare!, ratio: v.ratio!, ratioUpper: v.ratioUpper! })),
    )
    .sort((a, b) => b.trafficShare - a.trafficShare || compareStrings(a.attribute, b.attribute) || compareStrings(a.value, b.value));
  return {
    kinds: [...COVERAGE_KINDS],
    rule:
      `per attribute, feedback share (events of kinds ${COVERAGE_KINDS.join(', ')}) vs traffic share (requests); ` +
      `'insufficient' when the slice has < ${s.minSliceSupport} requests or the attribute has no feedback; ` +
      `'under' when the Wilson 95% upper bound of the feedback share is < ${s.underRatio} x the traffic share; else 'ok'`,
    attributes,
    under,
  };
}

/**
 * Staleness rule: the latest bucket's correction rate (requests with an override, edit or undo over
 * requests) is compared with the baseline, all earlier buckets pooled. Alert when the one-sided
 * pooled two-proportion z-test gives p < alpha (default 0.01) AND the latest rate is at least
 * (1 + minRelativeRise) x the baseline (default +25%; any rise when the baseline is 0). 'insufficient'
 * when there are fewer than 2 buckets or either side has fewer than minBucketSupport requests.
 */
function trendOf(buckets: BucketCounts[], s: FlywheelSettings): FlywheelHealth['overrideTrend'] {
  const rows: TrendBucket[] = buckets.map((b, i) => {
    checkCount(`buckets[${i}].traffic`, b.traffic);
    checkCount(`buckets[${i}].corrections`, b.corrections);
    if (b.corrections > b.traffic) throw new RangeError(`flywheelHealth: buckets[${i}] has more corrected requests (${b.corrections}) than requests (${b.traffic})`);
    return { start: b.start, traffic: b.traffic, corrections: b.corrections, rate: b.traffic > 0 ? b.corrections / b.traffic : null, ci95: ci(b.corrections, b.traffic) };
  });
  const slope = weightedSlope(
    rows.map((_, i) => i),
    rows.map((r) => r.rate),
    rows.map((r) => r.traffic),
  );
  const rule =
    `latest bucket vs all earlier buckets pooled: alert when the one-sided pooled two-proportion z-test gives p < ${s.alpha} ` +
    `and the latest rate is >= ${1 + s.minRelativeRise} x the baseline; 'insufficient' when either side has < ${s.minBucketSupport} requests`;
  const latest = rows[rows.length - 1];
  const earlier = rows.slice(0, -1);
  const n0 = earlier.reduce((a, r) => a + r.traffic, 0);
  const x0 = earlier.reduce((a, r) => a + r.corrections, 0);
  const latestRate = latest?.rate ?? null;
  const baselineRate = n0 > 0 ? x0 / n0 : null;
  const relativeRise = latestRate !== null && baselineRate !== null && baselineRate > 0 ? (latestRate - baselineRate) / baselineRate : null;
  const base = { latestRate, baselineRate, relativeRise, rule };
  if (!latest || earlier.length === 0 || latest.traffic < s.minBucketSupport || n0 < s.minBucketSupport) {
    const detail = !latest || earlier.length === 0
      ? 'needs at least 2 buckets'
      : `latest bucket has ${latest.traffic} requests and the baseline ${n0}; each needs >= ${s.minBucketSupport}`;
    return { kinds: [...CORRECTION_KINDS], buckets: rows, slope, staleness: { status: 'insufficient', alert: false, z: null, p: null, detail, ...base } };
  }
  const { z, p } = twoProportionZTest(latest.corrections, latest.traffic, x0, n0);
  const significant = p !== null && p < s.alpha;
  const largeEnough = baselineRate === 0 ? latestRate! > 0 : latestRate! >= (1 + s.minRelativeRise) * baselineRate!;
  const alert = significant && largeEnough;
  const detail =
    `latest ${fmtPct(latestRate)} (${latest.corrections}/${latest.traffic}) vs baseline ${fmtPct(baselineRate)} (${x0}/${n0}); ` +
    (z === null ? 'no variance to test' : `z = ${z.toFixed(2)}, p = ${p! < 1e-4 ? p!.toExponential(1) : p!.toFixed(4)}`) +
    (alert ? ': corrections are rising, the model is going stale' : significant ? `: significant but below the +${100 * s.minRelativeRise}% threshold` : '');
  return { kinds: [...CORRECTION_KINDS], buckets: rows, slope, staleness: { status: alert ? 'alert' : 'ok', alert, z, p, detail, ...base } };
}

/**
 * Self-label rule: the share of the latest snapshot's training labels that the model produced (source
 * 'model') or selected (selector 'model': an abstain band sent them to review). The snapshot is the
 * whole training set, not a sample, so the share is exact and compared as a point value: alert when it
 * is above selfLabelLimit (default 0.2). Labels users selected (feedback corrections) are reported
 * beside it as userSelectedShare: selected, but not by the model.
 */
function labelsOf(labels: FlywheelInput['labels'], s: FlywheelSettings): FlywheelHealth['labelSources'] {
  const overall = sourceMix(labels.overall, 'labels.overall');
  const snap = labels.latestSnapshot;
  const joint = snap?.joint ? labelMixOf(snap.joint) : null;
  const train = snap ? sourceMix(snap.train, 'labels.latestSnapshot.train') : null;
  if (joint && train && joint.train !== train.total) {
    throw new RangeError(`flywheelHealth: labels.latestSnapshot.joint counts ${joint.train} training labels but train counts ${train.total}`);
  }
  const bySelector: SelectorMix | null = joint
    ? { total: joint.train, mix: LABEL_SELECTOR_NAMES.map((k) => ({ selector: k, count: joint.bySelector[k] ?? 0, share: joint.train > 0 ? (joint.bySelector[k] ?? 0) / joint.train : null })) }
    : null;
  const latestSnapshot = snap && train ? { snapshotId: snap.id, createdAt: snap.createdAt, ...train, bySelector } : null;
  const total = train?.total ?? 0;
  const self = joint ? selfSelectedCount(joint, ['model']) : (train?.mix.find((m) => m.source === 'model')!.count ?? 0);
  const selfLabelShare = total > 0 && self !== null ? self / total : null;
  const userSelectedShare = joint && total > 0 ? (joint.bySelector.user ?? 0) / total : null;
  return {
    overall,
    latestSnapshot,
    selfLabelShare,
    userSelectedShare,
    selfLabelLimit: s.selfLabelLimit,
    selfLabelAlert: selfLabelShare !== null && selfLabelShare > s.selfLabelLimit,
    rule:
      `share of the latest snapshot's training labels with source 'model' or selector 'model' (exact: the snapshot is the whole training set); ` +
      `alert when > ${s.selfLabelLimit}; labels users selected (feedback) are reported as userSelectedShare`,
  };
}

export function flywheelHealth(input: FlywheelInput): FlywheelHealth {
  const settings: FlywheelSettings = { ...DEFAULT_FLYWHEEL_SETTINGS, ...input.settings };
  for (const [k, v] of Object.entries(settings)) {
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`flywheelHealth: settings.${k} must be a finite number >= 0, got ${v}`);
  }
  if (!(settings.alpha > 0 && settings.alpha < 1)) throw new RangeError(`flywheelHealth: settings.alpha must be in (0, 1), got ${settings.alpha}`);

  const { requests, withExplicit } = input.explicit;
  checkCount('explicit.requests', requests);
  checkCount('explicit.withExplicit', withExplicit);
  if (withExplicit > requests) throw new RangeError(`flywheelHealth: explicit.withExplicit (${withExplicit}) exceeds explicit.requests (${requests})`);
  const explicitRate = { kinds: [...EXPLICIT_KINDS] as string[], requests, withExplicit, rate: requests > 0 ? withExplicit / requests : null, ci95: ci(withExplicit, requests) };

  const coverage = coverageOf(input.slices, settings);
  const labelSources = labelsOf(input.labels, settings);
  const overrideTrend = trendOf(input.buckets, settings);

  const alerts: string[] = [];
  if (overrideTrend.staleness.alert) alerts.push(`staleness: ${overrideTrend.staleness.detail}`);
  if (labelSources.selfLabelAlert) {
    alerts.push(`self-labelling: ${fmtPct(labelSources.selfLabelShare)} of snapshot ${labelSources.latestSnapshot!.snapshotId}'s training labels came from or were selected by the model (limit ${fmtPct(settings.selfLabelLimit)})`);
  }
  for (const u of coverage.under) {
    alerts.push(`coverage: ${u.attribute}=${u.value} has ${fmtPct(u.trafficShare)} of traffic but ${fmtPct(u.feedbackShare)} of feedback (ratio ${u.ratio.toFixed(2)})`);
  }
  return { settings, explicitRate, coverage, labelSources, overrideTrend, alerts };
}
