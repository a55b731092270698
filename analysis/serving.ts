/**
 * Which version answers a request, and which versions carry the champion and challenger aliases,
 * from a model's routes. Pure, so the API's serving procedures only load routes and shape answers.
 */
import { routeFor } from './rollout';

export interface RoutedVersion {
  kind: 'production' | 'canary' | 'shadow';
  version: number;
  /** The canary's share of request keys (0..1); production and shadow routes carry 1. */
  weight: number;
}

/**
 * The route that answers a request key: the canary for its share of keys (sticky: the same key, a
 * user or a mailbox, always lands on the same side), production for the rest; the canary alone
 * when there is no production route. Null when neither route exists: nothing serves.
 */
export function answeringRoute<T extends { weight: number }>(
  production: T | undefined,
  canary: T | undefined,
  requestKey: string,
): { route: 'production' | 'canary'; version: T } | null {
  if (canary && (!production || routeFor(requestKey, canary.weight) === 'canary')) return { route: 'canary', version: canary };
  return production ? { route: 'production', version: production } : null;
}

/** champion: the production version; challenger: the one being rolled out (canary, else shadow, else the newest candidate). */
export function modelAliases(
  routes: readonly RoutedVersion[],
  versions: readonly { version: number; status: string }[],
): { champion: number | null; challenger: number | null } {
  const on = (kind: RoutedVersion['kind']) => routes.find((r) => r.kind === kind)?.version;
  return {
    champion: on('production') ?? null,
    challenger: on('canary') ?? on('shadow') ?? versions.filter((v) => v.status === 'candidate').at(-1)?.version ?? null,
  };
}

/** What a version serves: its threshold and abstain band (db/schema DecisionRule, restated here so analysis/ imports no db). */
export interface ServedRule {
  threshold: number;
  /** Scores s with lower <= s < upper abstain; null: every request is decided. */
  abstain: { lower: number; upper: number } | null;
}

export type ServedDecision = 0 | 1 | 'abstain';

/**
 * A version's decision rule, frozen when its candidate is evaluated: the evaluated threshold and the band
 * [threshold - h, threshold + h) clipped to [0, 1] where h is the gate policy's abstainHalfWidth; no band
 * without one (or when the clipped band is empty).
 */
export function decisionRuleFor(threshold: number, abstainHalfWidth: number | undefined | null): ServedRule {
  if (!Number.isFinite(threshold)) throw new RangeError(`decisionRuleFor: threshold must be finite, got ${threshold}`);
  if (abstainHalfWidth === undefined || abstainHalfWidth === null) return { threshold, abstain: null };
  if (!(Number.isFinite(abstainHalfWidth) && abstainHalfWidth > 0)) throw new RangeError(`decisionRuleFor: abstainHalfWidth must be > 0, got ${abstainHalfWidth}`);
  const lower = Math.max(0, threshold - abstainHalfWidth);
  const upper = Math.min(1, threshold + abstainHalfWidth);
  return { threshold, abstain: lower < upper ? { lower, upper } : null };
}

/** The threshold's decision: what serving does for an abstained request until a person decides (the fallback). */
export function thresholdDecision(score: number, rule: Pick<ServedRule, 'threshold'>): 0 | 1 {
  return score >= rule.threshold ? 1 : 0;
}

/** Whether a score falls in the rule's abstain band (lower <= s < upper). */
export function inBand(score: number, rule: Pick<ServedRule, 'abstain'>): boolean {
  return rule.abstain !== null && score >= rule.abstain.lower && score < rule.abstain.upper;
}

/** What a version answers for a score: 'abstain' inside its band, else the threshold's decision. */
export function served(score: number, rule: ServedRule): ServedDecision {
  return inBand(score, rule) ? 'abstain' : thresholdDecision(score, rule);
}
