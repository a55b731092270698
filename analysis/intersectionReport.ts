/**
 * The packet's intersections: which attribute pairs an evaluation computes cells for, and the worst cells
 * of each combination on the metrics the policy's rules judge it by. Pure.
 */
import type { SliceEvaluation } from './classification';
import { LOWER_IS_BETTER, denominator, intersectionsOf, type GatePolicy, type IntervalLike, type MetricName, type PolicyJudgement, type RuleOutcome } from './policy';
import type { VersionEvaluation } from './report';
import { sliceEvidence } from './sliceEvidence';

/** One intersection cell in the packet's worst-cells list. */
export interface WorstCell {
  /** 'format=html&sender_tld=generic' */
  cell: string;
  support: number;
  positives: number;
  negatives: number;
  /** The metric's Wilson interval in this cell. */
  interval: IntervalLike;
  /** The worst outcome the policy's rules on this combination gave the cell; null when no rule judged it. */
  outcome: RuleOutcome | null;
}

export interface IntersectionReport {
  /** The two attributes, in the evaluation's order. */
  attributes: string[];
  metric: MetricName;
  /** 'upper': the highest upper bound is worst (error-like, or a rule's max); 'lower': the lowest lower bound. */
  worstBy: 'upper' | 'lower';
  /** Ids of the rules that judge this combination on this metric (none: asked for, not judged). */
  rules: string[];
  /** Cells with rows, and how many of them have fewer than minSliceSupport rows under the metric (insufficient, not ranked). */
  cells: number;
  belowMinSupport: number;
  /** The worst cells with enough support, worst first. */
  worst: WorstCell[];
}

/** Cells listed per combination in the packet. */
export const WORST_CELLS = 5;

const OUTCOME_RANK: Record<RuleOutcome, number> = { passed: 0, insufficient: 1, needs_approval: 2, failed: 3 };

/**
 * The attribute pairs an evaluation computes cells for: the policy's intersection selectors
 * (intersectionsOf) whose attributes the held-out rows carry, and `extra` (already checked by the
 * caller), each in code-unit order, distinct. A policy pair naming an unknown attribute is left
 * out, so its rule reports missing evidence instead of the evaluation throwing.
 */
export function intersectionPairs(policy: GatePolicy | null, attributeNames: readonly string[], extra: readonly (readonly [string, string])[] = []): [string, string][] {
  const known = new Set(attributeNames);
  const pairs = new Map<string, [string, string]>();
  const add = ([x, y]: readonly [string, string]) => {
    const [a, b] = x < y ? [x, y] : [y, x];
    pairs.set(`${a}&${b}`, [a, b]);
  };
  intersectionsOf(policy).filter(([a, b]) => known.has(a) && known.has(b)).forEach(add);
  extra.forEach(add);
  return [...pairs.keys()].sort().map((k) => pairs.get(k)!);
}

/**
 * For each combination the evaluation computed: the k worst cells on each metric a rule judges it by
 * (bound and no_regression rules with an intersection selector), or on accuracy when no rule does.
 * Cells whose metric denominator is below minSliceSupport are counted, not ranked (their rules call
 * them insufficient); cells where the metric is undefined are left out.
 */
export function worstIntersectionCells(
  evaluation: VersionEvaluation,
  policy: GatePolicy | null,
  judgement: PolicyJudgement,
  k = WORST_CELLS,
): IntersectionReport[] {
  const byCombination = new Map<string, SliceEvaluation[]>();
  for (const s of evaluation.classification.intersections) byCombination.set(s.attribute, [...(byCombination.get(s.attribute) ?? []), s]);
  const minSupport = policy?.minSliceSupport ?? 30;
  const out: IntersectionReport[] = [];
  for (const [combination, cells] of byCombination) {
    const attributes = combination.split('&');
    const sorted = [...attributes].sort();
    const views = new Map<string, { metric: MetricName; worstBy: 'upper' | 'lower'; rules: string[] }>();
    (policy?.rules ?? []).forEach((r, i) => {
      if ((r.kind !== 'bound' && r.kind !== 'no_regression') || r.slices === 'overall' || 'attribute' in r.slices) return;
      const names = (Array.isArray(r.slices.attributes) ? r.slices.attributes : Object.keys(r.slices.attributes)).slice().sort();
      if (names.join('&') !== sorted.join('&')) return;
      const worstBy = r.kind === 'bound' ? (r.min === undefined ? 'upper' : r.max === undefined ? 'lower' : LOWER_IS_BETTER.has(r.metric) ? 'upper' : 'lower') : LOWER_IS_BETTER.has(r.metric) ? 'upper' : 'lower';
      const key = `${r.metric}|${worstBy}`;
      const view = views.get(key) ?? { metric: r.metric, worstBy, rules: [] };
      view.rules.push(r.id ?? `${r.kind}#${i + 1}`);
      views.set(key, view);
    });
    if (views.size === 0) views.set('accuracy|lower', { metric: 'accuracy', worstBy: 'lower', rules: [] });
    for (const { metric, worstBy, rules } of views.values()) {
      const judged = judgement.rules.filter((r) => rules.includes(r.id));
      const ranked: WorstCell[] = [];
      let belowMinSupport = 0;
      for (const s of cells) {
        const e = sliceEvidence(s);
        const n = denominator(e, metric);
        if (n === 0) continue;
        if (n < minSupport) {
          belowMinSupport++;
          continue;
        }
        const interval = e.metrics[metric];
        if (!interval || interval.lower === null || interval.upper === null) continue;
        const outcomes = judged.flatMap((r) => r.checks.filter((c) => c.slice === s.value).map((c) => c.outcome));
        const outcome = outcomes.length === 0 ? null : outcomes.reduce((w, o) => (OUTCOME_RANK[o] > OUTCOME_RANK[w] ? o : w));
        ranked.push({ cell: s.value, support: e.support, positives: e.positives, negatives: e.negatives, interval, outcome });
      }
      ranked.sort((a, b) => (worstBy === 'upper' ? b.interval.upper! - a.interval.upper! : a.interval.lower! - b.interval.lower!) || (a.cell < b.cell ? -1 : 1));
      out.push({ attributes, metric, worstBy, rules, cells: cells.length, belowMinSupport, worst: ranked.slice(0, k) });
    }
  }
  return out;
}
