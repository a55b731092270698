// A held-out set from the future: where a time split cuts. The same definition the database applies
// when it freezes a time-split snapshot (db/snapshots freezeLabelledExamples), as a pure function over
// observation times, for analyses that compare a time split with a random one.

const DURATION = /^([1-9][0-9]{0,5})([hdw])$/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A held-out window such as '30d', '12h' or '2w' in milliseconds; throws on anything else. */
export function windowMs(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new Error(`held-out window '${text}' is not a duration such as 30d, 12h or 2w`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/**
 * The cut of a time split over dated examples (ms since the epoch; NaN for undated, which are left out):
 * for a duration, the newest time minus the window; for a fraction f of the n dated examples, the time
 * of the k-th newest, k = max(1, round(f x n)). Held out iff time >= cut. Null when nothing is dated.
 */
export function timeSplitCut(timesMs: ArrayLike<number>, newest: string | number): number | null {
  const dated: number[] = [];
  for (let i = 0; i < timesMs.length; i++) if (Number.isFinite(timesMs[i]!)) dated.push(timesMs[i]!);
  if (dated.length === 0) return null;
  if (typeof newest === 'string') return Math.max(...dated) - windowMs(newest);
  if (!(newest > 0 && newest < 1)) throw new Error(`held-out fraction must be in (0, 1), got ${newest}`);
  dated.sort((a, b) => b - a);
  const k = Math.max(1, Math.round(newest * dated.length));
  return dated[k - 1]!;
}

/** Each example's side of a time split: 'train' before the cut, 'heldout' from it, null when undated. */
export function timeSplit(timesMs: ArrayLike<number>, newest: string | number): { cut: number | null; sides: ('train' | 'heldout' | null)[] } {
  const cut = timeSplitCut(timesMs, newest);
  const sides = Array.from(timesMs, (t) => (cut === null || !Number.isFinite(t) ? null : t >= cut ? 'heldout' : 'train'));
  return { cut, sides };
}

/** A training row's recency weight under a half-life (days): 0.5^(max(0, age) / halfLife); 1 without one. */
export function recencyWeight(ageDays: number | undefined, halfLifeDays: number | null | undefined): number {
  if (halfLifeDays == null || ageDays === undefined) return 1;
  return 0.5 ** (Math.max(0, ageDays) / halfLifeDays);
}
