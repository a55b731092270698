/**
 * The rules of an annotation batch, as pure functions: when an item has reached quorum, how many gold
 * items a batch gets, which annotators an item needs. No I/O, no clock: usable from workflows, the API
 * and activities alike, and testable on their own.
 */

export type TaskVerdict = { status: 'open' } | { status: 'done'; label: number } | { status: 'adjudication' };

/**
 * An item is settled when an adjudicator labelled it, or when it holds `overlap` labels of which at
 * least `quorum` (a share, e.g. 1 = all must agree, 2/3) agree on one category. With `overlap` labels
 * but no such agreement it goes to adjudication.
 */
export function taskVerdict(labels: readonly number[], adjudicated: number | null, overlap: number, quorum: number): TaskVerdict {
  if (adjudicated !== null) return { status: 'done', label: adjudicated };
  if (labels.length < overlap) return { status: 'open' };
  const counts = new Map<number, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  let best = -1;
  let bestCount = 0;
  for (const [l, c] of counts) {
    if (c > bestCount || (c === bestCount && l < best)) {
      best = l;
      bestCount = c;
    }
  }
  // A tiny tolerance so quorum 2/3 with 2 of 3 labels is met despite floating point.
  return bestCount / labels.length >= quorum - 1e-9 ? { status: 'done', label: best } : { status: 'adjudication' };
}

/** Gold items so that they are `goldShare` of the whole batch (sampled + gold); at least 1 when share > 0. */
export function goldCount(sampled: number, goldShare: number): number {
  if (!(goldShare > 0) || sampled === 0) return 0;
  if (goldShare >= 1) throw new RangeError(`goldShare must be below 1, got ${goldShare}`);
  return Math.max(1, Math.round((goldShare * sampled) / (1 - goldShare)));
}

export interface AssignmentRule {
  slice: string;
  value: string;
  requires: Record<string, string>;
}

/** The pool attributes an item needs: the union of every matching rule's requirements (first rule wins a key). */
export function requiredAttributes(slices: Record<string, string>, rules: readonly AssignmentRule[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rules) {
    if (slices[r.slice] !== r.value) continue;
    for (const [k, v] of Object.entries(r.requires)) if (!(k in out)) out[k] = v;
  }
  return out;
}

/** Whether an item's spec change `affects` (slice → values; empty = everything) covers these slices. */
export function specAffects(affects: Record<string, readonly string[]>, slices: Record<string, string>): boolean {
  const keys = Object.keys(affects);
  if (keys.length === 0) return true;
  return keys.some((k) => slices[k] !== undefined && affects[k]!.includes(slices[k]!));
}
