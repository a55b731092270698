/**
 * Drift between a model version's pre-launch audit and a recent window of production traffic:
 * data drift (population stability index per attribute, and of the score), concept drift (error
 * rates given the label, estimated from inclusion-weighted labels), and fairness gaps, judged
 * against a re-audit policy. Used by the `biasReaudit` and `driftMonitor` workflows.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 *
 * Data drift is measured with analysis/psi.ts, window error rates with analysis/weightedRates.ts.
 *
 * ## Comparison with the pre-launch audit (compareWithPrelaunch)
 *
 * Reported separately: data drift (PSI per attribute: crossed when PSI > maxPsi AND its p-value
 * < psiAlpha, so a tiny sample's noise cannot raise an alert), concept drift (per slice, FPR and FNR
 * window minus pre-launch, with a Newcombe hybrid score interval for the difference of two
 * independent proportions; crossed when the interval's LOWER bound exceeds the allowed increase),
 * and fairness (Fairlearn's between-groups difference max - min per attribute; crossed when the
 * Newcombe interval of the difference between the two extreme groups has its lower bound above
 * maxFairnessGap). A rate whose denominator (negatives for FPR, positives for FNR, rows for the
 * selection rate; the Kish effective size for weighted rates) is below minSupport on either side,
 * a slice missing on one side, or a distribution with fewer than minSupport items, is listed in
 * `insufficient`, never passed silently; thin groups are left out of the fairness gaps.
 */
import { newcombeDifference, type Interval } from './numerics/intervals';
import type { FairnessGap } from './fairness';
import { DEFAULT_PSI_EPSILON, byCodeUnit, entriesOf, populationStabilityIndex, psiCore, type CategoryCounts, type PsiBand, type PsiCategory } from './psi';
import type { RateEvidence, SliceRates } from './weightedRates';

// ---------------------------------------------------------------------------------------------
// Comparison with the pre-launch audit

export interface DriftPolicy {
  /** Largest tolerated FPR increase (absolute), judged on the lower bound of the difference's interval. */
  maxFprIncrease: number;
  /** Same for FNR; when absent FNR is reported but never crossed. */
  maxFnrIncrease?: number;
  /** Largest tolerated between-groups gap (max - min over an attribute's values), on the lower bound. */
  maxFairnessGap: number;
  /** Which gaps to judge, in Fairlearn's names; default ['fpr_difference']. tpr_difference is the FNR range. */
  fairnessMetrics?: FairnessDriftMetric[];
  /** Default 0.25 (the 'significant' band). */
  maxPsi?: number;
  /** PSI crosses only when its chi-square p-value is also below this; default 0.01. */
  psiAlpha?: number;
  /** A rate with fewer (effective) trials than this on either side is insufficient; default 30. */
  minSupport?: number;
  /** Default 0.95, for the Newcombe intervals. */
  confidence?: number;
  /** PSI smoothing; default 1e-4. */
  psiEpsilon?: number;
}

/** The between-groups gaps a re-audit judges, in analysis/fairness.ts's (Fairlearn's) names. */
export type FairnessDriftMetric = Extract<FairnessGap, 'fpr_difference' | 'tpr_difference' | 'demographic_parity_difference'>;
const FAIRNESS_RATE: Record<FairnessDriftMetric, RateName> = { fpr_difference: 'fpr', tpr_difference: 'fnr', demographic_parity_difference: 'selectionRate' };
export type RateName = 'fpr' | 'fnr' | 'selectionRate';

export interface AuditSide {
  /** Overall (attribute 'overall', value 'all') and per attribute value. */
  slices: SliceRates[];
  /** Counts per category of each attribute over all traffic of the period (not just labelled rows). */
  attributes?: Record<string, CategoryCounts>;
}

export interface DataDriftFinding {
  attribute: string;
  psi: number;
  band: PsiBand;
  p: number | null;
  df: number;
  statistic: number;
  categories: PsiCategory[];
  crossed: boolean;
}

export interface ConceptDriftFinding {
  /** 'overall' or 'attribute=value' */
  slice: string;
  attribute: string;
  value: string;
  metric: 'fpr' | 'fnr';
  prelaunch: RateEvidence;
  window: RateEvidence;
  /** window - prelaunch with its Newcombe interval */
  difference: Interval;
  /** The policy's allowed increase; null when the policy sets none for this metric. */
  threshold: number | null;
  crossed: boolean;
}

export interface GapEstimate extends Interval {
  /** The values with the largest and smallest rate; the interval is Newcombe's for their difference. */
  high: string;
  low: string;
  /** Values with enough support that entered max / min. */
  groups: number;
}

export interface FairnessDriftFinding {
  attribute: string;
  metric: FairnessDriftMetric;
  /** null when fewer than two values have enough support on that side */
  prelaunch: GapEstimate | null;
  window: GapEstimate | null;
  threshold: number;
  crossed: boolean;
}

export interface InsufficientFinding {
  /** 'overall', 'attribute=value', or an attribute name for a distribution */
  slice: string;
  metric: RateName | 'distribution';
  prelaunchSupport: number | null;
  windowSupport: number | null;
  detail: string;
}

export interface DriftComparison {
  dataDrift: DataDriftFinding[];
  conceptDrift: ConceptDriftFinding[];
  fairness: FairnessDriftFinding[];
  insufficient: InsufficientFinding[];
  alert: boolean;
  reasons: string[];
  policy: Required<Omit<DriftPolicy, 'maxFnrIncrease'>> & { maxFnrIncrease: number | null };
}

const sliceName = (s: { attribute: string; value: string }): string => (s.attribute === 'overall' ? 'overall' : `${s.attribute}=${s.value}`);
const fmt = (x: number | null): string => (x === null ? 'n/a' : Number.isInteger(x) ? String(x) : x.toFixed(4));
const fmtIv = (i: Interval): string => `${fmt(i.estimate)} [${fmt(i.lower)}, ${fmt(i.upper)}]`;

function resolvePolicy(fn: string, p: DriftPolicy): DriftComparison['policy'] {
  const unit = (v: unknown, field: string, lo: number, hi: number, loOpen = false): number => {
    if (!(typeof v === 'number' && (loOpen ? v > lo : v >= lo) && v <= hi)) throw new RangeError(`${fn}: policy.${field} must be in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${v}`);
    return v;
  };
  if (p === null || typeof p !== 'object') throw new RangeError(`${fn}: policy must be an object`);
  const minSupport = p.minSupport ?? 30;
  if (!(Number.isInteger(minSupport) && minSupport >= 1)) throw new RangeError(`${fn}: policy.minSupport must be an integer >= 1, got ${minSupport}`);
  const confidence = p.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`${fn}: policy.confidence must be in (0, 1), got ${confidence}`);
  const fairnessMetrics = p.fairnessMetrics ?? ['fpr_difference'];
  fairnessMetrics.forEach((m, i) => {
    if (!(m in FAIRNESS_RATE)) throw new RangeError(`${fn}: policy.fairnessMetrics[${i}] must be one of ${Object.keys(FAIRNESS_RATE).join(', ')}, got ${m}`);
  });
  const maxPsi = p.maxPsi ?? 0.25;
  if (!(typeof maxPsi === 'number' && maxPsi >= 0 && Number.isFinite(maxPsi))) throw new RangeError(`${fn}: policy.maxPsi must be a finite number >= 0, got ${maxPsi}`);
  return {
    maxFprIncrease: unit(p.maxFprIncrease, 'maxFprIncrease', 0, 1),
    maxFnrIncrease: p.maxFnrIncrease === undefined ? null : unit(p.maxFnrIncrease, 'maxFnrIncrease', 0, 1),
    maxFairnessGap: unit(p.maxFairnessGap, 'maxFairnessGap', 0, 1),
    fairnessMetrics: [...new Set(fairnessMetrics)],
    maxPsi,
    psiAlpha: unit(p.psiAlpha ?? 0.01, 'psiAlpha', 0, 1, true),
    minSupport,
    confidence,
    psiEpsilon: unit(p.psiEpsilon ?? DEFAULT_PSI_EPSILON, 'psiEpsilon', 0, 0.5, true),
  };
}

function validateSide(fn: string, side: 'prelaunch' | 'window', s: AuditSide): Map<string, SliceRates> {
  if (s === null || typeof s !== 'object' || !Array.isArray(s.slices)) throw new RangeError(`${fn}: ${side}.slices must be an array`);
  const out = new Map<string, SliceRates>();
  s.slices.forEach((sl, i) => {
    const where = `${side}.slices[${i}]`;
    if (typeof sl.attribute !== 'string' || typeof sl.value !== 'string') throw new RangeError(`${fn}: ${where}.attribute and .value must be strings`);
    if (!(Number.isInteger(sl.support) && sl.support >= 0)) throw new RangeError(`${fn}: ${where}.support must be an integer >= 0, got ${sl.support}`);
    for (const m of ['fpr', 'fnr', 'selectionRate'] as const) {
      const r = sl[m];
      if (r === null || typeof r !== 'object') throw new RangeError(`${fn}: ${where}.${m} is missing`);
      if (!(Number.isFinite(r.n) && r.n >= 0)) throw new RangeError(`${fn}: ${where}.${m}.n must be a finite number >= 0, got ${r.n}`);
      if (!(Number.isFinite(r.events) && r.events >= 0 && r.events <= r.n * (1 + 1e-12))) {
        throw new RangeError(`${fn}: ${where}.${m}.events must be in [0, n=${r.n}], got ${r.events}`);
      }
      if (r.n > 0 && !(typeof r.estimate === 'number' && r.estimate >= 0 && r.estimate <= 1)) throw new RangeError(`${fn}: ${where}.${m}.estimate must be in [0, 1] when n > 0, got ${r.estimate}`);
    }
    const key = sliceName(sl);
    if (out.has(key)) throw new RangeError(`${fn}: ${where} duplicates slice ${key}`);
    out.set(key, sl);
  });
  return out;
}

/** Events clamped to n (validation allows a relative 1e-12 overshoot from rounding). */
const eventsOf = (r: RateEvidence): number => Math.min(r.events, r.n);

function gapOf(groups: SliceRates[], rate: RateName, minSupport: number, confidence: number): GapEstimate | null {
  const ok = groups.filter((g) => g[rate].n >= minSupport && g[rate].estimate !== null);
  if (ok.length < 2) return null;
  let hi = ok[0]!;
  let lo = ok[0]!;
  for (const g of ok) {
    if (g[rate].estimate! > hi[rate].estimate!) hi = g;
    if (g[rate].estimate! < lo[rate].estimate!) lo = g;
  }
  const a = hi[rate];
  const b = lo[rate];
  const iv = newcombeDifference(eventsOf(a), a.n, eventsOf(b), b.n, confidence);
  // The gap is max - min of the estimates (Fairlearn); the interval is for the pair's difference.
  return { estimate: a.estimate! - b.estimate!, lower: iv.lower, upper: iv.upper, high: hi.value, low: lo.value, groups: ok.length };
}

/**
 * Compares a window of production traffic with the version's pre-launch audit under a re-audit
 * policy (see the module comment). Throws RangeError naming the field on a malformed policy or
 * side.
 */
export function compareWithPrelaunch(input: { prelaunch: AuditSide; window: AuditSide; policy: DriftPolicy }): DriftComparison {
  const fn = 'compareWithPrelaunch';
  const policy = resolvePolicy(fn, input.policy);
  const pre = validateSide(fn, 'prelaunch', input.prelaunch);
  const win = validateSide(fn, 'window', input.window);
  const { minSupport, confidence } = policy;
  const pct = `${Math.round(confidence * 1000) / 10}%`;
  const insufficient: InsufficientFinding[] = [];
  const reasons: string[] = [];

  // Data drift.
  const dataDrift: DataDriftFinding[] = [];
  const preAttrs = input.prelaunch.attributes ?? {};
  const winAttrs = input.window.attributes ?? {};
  const attrNames = [...new Set([...Object.keys(preAttrs), ...Object.keys(winAttrs)])].sort(byCodeUnit);
  for (const attribute of attrNames) {
    const e = preAttrs[attribute];
    const a = winAttrs[attribute];
    const total = (d: CategoryCounts | undefined, side: string): number | null => {
      if (d === undefined) return null;
      let t = 0;
      for (const [, v] of entriesOf(fn, `${side}.attributes[${JSON.stringify(attribute)}]`, d)) t += v;
      return t;
    };
    const te = total(e, 'prelaunch');
    const ta = total(a, 'window');
    if (te === null || ta === null || te < minSupport || ta < minSupport) {
      const detail =
        te === null ? 'no pre-launch distribution' : ta === null ? 'no distribution in the window' : `${Math.min(te, ta) === te ? 'pre-launch' : 'window'} has ${Math.min(te, ta)} items < minimum ${minSupport}`;
      insufficient.push({ slice: attribute, metric: 'distribution', prelaunchSupport: te, windowSupport: ta, detail });
      continue;
    }
    const r = psiCore(fn, [`prelaunch.attributes[${JSON.stringify(attribute)}]`, `window.attributes[${JSON.stringify(attribute)}]`], e!, a!, { epsilon: policy.psiEpsilon }, true);
    const crossed = r.psi > policy.maxPsi && r.p !== null && r.p < policy.psiAlpha;
    dataDrift.push({ attribute, psi: r.psi, band: r.band, p: r.p, df: r.df, statistic: r.statistic, categories: r.categories, crossed });
    if (crossed) reasons.push(`data drift: PSI of ${attribute} is ${fmt(r.psi)} (${r.band}, p = ${r.p!.toExponential(2)}) > maxPsi ${policy.maxPsi}`);
  }

  // Support per (slice, rate) on both sides; each shortfall listed once.
  const needed = new Set<RateName>(['fpr', 'fnr']);
  for (const m of policy.fairnessMetrics) needed.add(FAIRNESS_RATE[m]);
  const keys = [...pre.keys(), ...[...win.keys()].filter((k) => !pre.has(k))];
  const DENOM: Record<RateName, string> = { fpr: 'negatives', fnr: 'positives', selectionRate: 'rows' };
  const sufficient = new Set<string>();
  for (const key of keys) {
    const p = pre.get(key);
    const w = win.get(key);
    for (const rate of needed) {
      const pn = p ? p[rate].n : null;
      const wn = w ? w[rate].n : null;
      let detail: string | null = null;
      if (!p) detail = 'no pre-launch baseline';
      else if (!w) detail = 'absent from the window';
      else if (pn! < minSupport || wn! < minSupport) {
        const parts: string[] = [];
        if (pn! < minSupport) parts.push(`pre-launch ${fmt(pn)} ${DENOM[rate]}`);
        if (wn! < minSupport) parts.push(`window ${fmt(wn)} ${DENOM[rate]}${Number.isInteger(wn) ? '' : ' (Kish effective)'}`);
        detail = `${parts.join(', ')} < minimum ${minSupport}`;
      }
      if (detail === null) sufficient.add(`${key}\u0000${rate}`);
      else insufficient.push({ slice: key, metric: rate, prelaunchSupport: pn, windowSupport: wn, detail });
    }
  }

  // Concept drift.
  const conceptDrift: ConceptDriftFinding[] = [];
  for (const key of keys) {
    const p = pre.get(key);
    const w = win.get(key);
    if (!p || !w) continue;
    for (const metric of ['fpr', 'fnr'] as const) {
      if (!sufficient.has(`${key}\u0000${metric}`)) continue;
      const a = w[metric];
      const b = p[metric];
      const difference = newcombeDifference(eventsOf(a), a.n, eventsOf(b), b.n, confidence);
      const threshold = metric === 'fpr' ? policy.maxFprIncrease : policy.maxFnrIncrease;
      const crossed = threshold !== null && difference.lower !== null && difference.lower > threshold;
      conceptDrift.push({ slice: key, attribute: w.attribute, value: w.value, metric, prelaunch: b, window: a, difference, threshold, crossed });
      if (crossed) {
        reasons.push(
          `concept drift: ${metric} of ${key} went from ${fmt(b.estimate)} to ${fmt(a.estimate)}; difference ${fmtIv(difference)} (${pct} Newcombe) has its lower bound above the allowed increase ${threshold}`,
        );
      }
    }
  }

  // Fairness gaps per attribute.
  const fairness: FairnessDriftFinding[] = [];
  const groupAttrs = [...new Set(keys.map((k) => (pre.get(k) ?? win.get(k))!.attribute).filter((a) => a !== 'overall'))];
  for (const attribute of groupAttrs) {
    for (const metric of policy.fairnessMetrics) {
      const rate = FAIRNESS_RATE[metric];
      // Only groups sufficient on both sides, so the two gaps are over the same values.
      const both = keys.filter((k) => sufficient.has(`${k}\u0000${rate}`) && pre.get(k)?.attribute === attribute);
      const prelaunch = gapOf(both.map((k) => pre.get(k)!), rate, minSupport, confidence);
      const window = gapOf(both.map((k) => win.get(k)!), rate, minSupport, confidence);
      const crossed = window !== null && window.lower !== null && window.lower > policy.maxFairnessGap;
      fairness.push({ attribute, metric, prelaunch, window, threshold: policy.maxFairnessGap, crossed });
      if (crossed) {
        reasons.push(
          `fairness: ${metric} over ${attribute} is ${fmt(window.estimate)} in the window (${window.high} vs ${window.low}, ${pct} Newcombe [${fmt(window.lower)}, ${fmt(window.upper)}]; pre-launch ${prelaunch ? fmt(prelaunch.estimate) : 'n/a'}), lower bound above maxFairnessGap ${policy.maxFairnessGap}`,
        );
      }
    }
  }

  return { dataDrift, conceptDrift, fairness, insufficient, alert: reasons.length > 0, reasons, policy };
}

// ---------------------------------------------------------------------------------------------
// What the scheduled jobs decide (the activities only load counts and store results)

/**
 * A comparison restricted to the attributes a policy judges (a month attribute always "drifts";
 * 'overall' is always judged), with its alert and one reason per crossed finding.
 */
export function judgedFindings(comparison: DriftComparison, attributes?: readonly string[]) {
  const keep = (attribute: string) => !attributes || attribute === 'overall' || attributes.includes(attribute);
  const dataDrift = comparison.dataDrift.filter((d) => keep(d.attribute));
  const conceptDrift = comparison.conceptDrift.filter((c) => keep(c.attribute));
  const fairness = comparison.fairness.filter((f) => keep(f.attribute));
  const reasons = [
    ...dataDrift.filter((d) => d.crossed).map((d) => `data drift: PSI of ${d.attribute} is ${fmt(d.psi)} (${d.band}, p = ${d.p === null ? 'n/a' : d.p.toExponential(2)})`),
    ...conceptDrift.filter((c) => c.crossed).map((c) => `concept drift: ${c.metric} on ${c.slice} rose by ${fmtIv(c.difference)}`),
    ...fairness.filter((f) => f.crossed).map((f) => `fairness: ${f.metric} over ${f.attribute} is ${fmt(f.window?.estimate ?? null)} in the window (pre-launch ${fmt(f.prelaunch?.estimate ?? null)})`),
  ];
  return { ...comparison, dataDrift, conceptDrift, fairness, alert: reasons.length > 0, reasons };
}

export const DRIFT_PSI_ALPHA = 0.01;
export const DRIFT_MIN_WINDOW_REQUESTS = 100;

/**
 * The drift monitor's judgement. Population drift: each watched attribute's traffic against the
 * pre-launch population, crossed when PSI > maxPsi (default 0.25) and its chi-square p < 0.01.
 * Feedback drift: the correction rate (requests overridden, edited or undone) against the previous
 * window of the same length, crossed when
 * the Newcombe interval's lower bound exceeds maxOverrideRise (default 0.02), with >= 100 requests
 * on each side.
 */
export function judgeDriftSignals(input: {
  prelaunch: Record<string, CategoryCounts>;
  traffic: Record<string, CategoryCounts>;
  attributes: readonly string[];
  overrides: { current: { requests: number; overridden: number }; previous: { requests: number; overridden: number } };
  maxPsi?: number;
  maxOverrideRise?: number;
}) {
  const maxPsi = input.maxPsi ?? 0.25;
  const maxRise = input.maxOverrideRise ?? 0.02;
  const reasons: string[] = [];
  const population = input.attributes
    .filter((a) => input.prelaunch[a])
    .map((a) => {
      const counts = input.traffic[a];
      if (!counts || Object.keys(counts).length === 0) return { attribute: a, psi: null, band: null, p: null, crossed: false };
      const r = populationStabilityIndex(input.prelaunch[a]!, counts);
      const crossed = r.psi > maxPsi && r.p !== null && r.p < DRIFT_PSI_ALPHA;
      if (crossed) reasons.push(`population drift: PSI of ${a} is ${fmt(r.psi)} (${r.band}, p = ${r.p!.toExponential(2)}) > ${maxPsi}`);
      return { attribute: a, psi: r.psi, band: r.band, p: r.p, crossed };
    });
  const { current, previous } = input.overrides;
  const difference = newcombeDifference(current.overridden, current.requests, previous.overridden, previous.requests);
  const enough = current.requests >= DRIFT_MIN_WINDOW_REQUESTS && previous.requests >= DRIFT_MIN_WINDOW_REQUESTS;
  const overrideCrossed = enough && difference.lower !== null && difference.lower > maxRise;
  if (overrideCrossed) {
    reasons.push(`feedback drift: override/edit rate ${fmt(current.overridden / current.requests)} vs ${fmt(previous.overridden / previous.requests)} in the previous window, rise ${fmtIv(difference)} > ${maxRise}`);
  }
  return { drift: reasons.length > 0, reasons, population, overrides: { current, previous, difference, crossed: overrideCrossed, enough } };
}

export type LabelSource = 'annotation' | 'review';
export type LabelDesign = 'annotation_sample' | 'review' | 'none';

/**
 * Which labels a re-audit window is measured on, given how many of its requests each source labels.
 * Two samples of different design are not pooled: the annotation sample (drawn with known inclusion
 * probabilities, weighted 1/pi) when it labels at least `minSupport` requests in the window, else the
 * reviewers' corrections (a spot-check taken as a uniform sample, weight 1), else whichever exists.
 */
export function chooseLabelDesign(counts: Record<LabelSource, number>, minSupport: number): { design: LabelDesign; use: LabelSource | null; counts: Record<LabelSource, number> } {
  if (!(Number.isInteger(minSupport) && minSupport >= 1)) throw new RangeError(`chooseLabelDesign: minSupport must be an integer >= 1, got ${minSupport}`);
  for (const k of ['annotation', 'review'] as const) {
    if (!(Number.isInteger(counts[k]) && counts[k] >= 0)) throw new RangeError(`chooseLabelDesign: counts.${k} must be an integer >= 0, got ${counts[k]}`);
  }
  if (counts.annotation >= minSupport) return { design: 'annotation_sample', use: 'annotation', counts };
  if (counts.review > 0) return { design: 'review', use: 'review', counts };
  if (counts.annotation > 0) return { design: 'annotation_sample', use: 'annotation', counts };
  return { design: 'none', use: null, counts };
}
