/**
 * Untested segments: slice values seen in production traffic that are absent or insufficient
 * (support < minSupport) in the held-out set, listed with their share of traffic, so a report can
 * say "12% of German traffic comes from a segment the evaluation never saw".
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 */

export interface TrafficCount {
  attribute: string;
  value: string;
  /** Requests (or an estimate of them, so not necessarily an integer); >= 0. */
  count: number;
}

export interface HeldOutSupport {
  attribute: string;
  value: string;
  support: number;
  negatives: number;
  positives: number;
}

export interface UntestedSegment {
  attribute: string;
  value: string;
  trafficCount: number;
  /** Share of that attribute's traffic: count / sum of the attribute's counts. */
  trafficShare: number;
  heldOutSupport: number;
  /** absent: no held-out rows at all; insufficient: 0 < support < minSupport. */
  reason: 'absent' | 'insufficient';
}

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
// JSON of the pair, so no separator character inside a value can make two pairs collide.
const sliceKey = (attribute: string, value: string): string => JSON.stringify([attribute, value]);

/**
 * Every (attribute, value) with traffic count > 0 whose held-out support is below `minSupport`
 * (missing from `heldOut` counts as support 0, reason 'absent'; an absent value is listed even
 * when minSupport is 0, since nothing about it was tested). Sorted by trafficShare
 * descending; ties by trafficCount descending, then attribute, then value (code-unit order).
 * Held-out values never seen in traffic are ignored. A pair listed twice in either input throws:
 * both inputs are meant to be aggregates, and a duplicate means a double count upstream.
 */
export function untestedSegments(traffic: TrafficCount[], heldOut: HeldOutSupport[], minSupport: number): UntestedSegment[] {
  if (!(Number.isFinite(minSupport) && minSupport >= 0)) {
    throw new RangeError(`untestedSegments: minSupport must be a finite number >= 0, got ${minSupport}`);
  }
  const support = new Map<string, number>();
  for (const h of heldOut) {
    const key = sliceKey(h.attribute, h.value);
    if (support.has(key)) throw new RangeError(`untestedSegments: held-out support for ${h.attribute}=${h.value} listed twice`);
    if (!(Number.isFinite(h.support) && h.support >= 0)) {
      throw new RangeError(`untestedSegments: held-out support for ${h.attribute}=${h.value} must be >= 0, got ${h.support}`);
    }
    support.set(key, h.support);
  }

  const attributeTotal = new Map<string, number>();
  const seen = new Set<string>();
  for (const t of traffic) {
    const key = sliceKey(t.attribute, t.value);
    if (seen.has(key)) throw new RangeError(`untestedSegments: traffic for ${t.attribute}=${t.value} listed twice`);
    seen.add(key);
    if (!(Number.isFinite(t.count) && t.count >= 0)) {
      throw new RangeError(`untestedSegments: traffic count for ${t.attribute}=${t.value} must be >= 0, got ${t.count}`);
    }
    attributeTotal.set(t.attribute, (attributeTotal.get(t.attribute) ?? 0) + t.count);
  }

  const out: UntestedSegment[] = [];
  for (const t of traffic) {
    if (t.count === 0) continue; // not seen in production
    const s = support.get(sliceKey(t.attribute, t.value)) ?? 0;
    if (s >= minSupport && s > 0) continue;
    out.push({
      attribute: t.attribute,
      value: t.value,
      trafficCount: t.count,
      trafficShare: t.count / attributeTotal.get(t.attribute)!,
      heldOutSupport: s,
      reason: s === 0 ? 'absent' : 'insufficient',
    });
  }
  out.sort(
    (a, b) =>
      b.trafficShare - a.trafficShare ||
      b.trafficCount - a.trafficCount ||
      compareStrings(a.attribute, b.attribute) ||
      compareStrings(a.value, b.value),
  );
  return out;
}
