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

/**
 * Long-tail quotas from the last evaluation: every slice a gate rule judged `insufficient` and every
 * segment seen in traffic but (nearly) absent from the held-out set gets a floor of `min` items, so
 * the next labels reach where the evidence is thin. Explicit floors win over derived ones.
 */
export function floorsFromEvidence(
  evidence: {
    rules?: readonly { checks: readonly { slice: string; outcome: string }[] }[];
    untested?: readonly { attribute: string; value: string }[];
  },
  min: number,
  explicit: readonly { slice: string; value: string; min: number }[] = [],
): { slice: string; value: string; min: number }[] {
  const out = new Map<string, { slice: string; value: string; min: number }>();
  const add = (slice: string, value: string) => {
    const key = JSON.stringify([slice, value]);
    if (!out.has(key)) out.set(key, { slice, value, min });
  };
  for (const rule of evidence.rules ?? []) {
    for (const check of rule.checks) {
      if (check.outcome !== 'insufficient') continue;
      // Intersections (a=b&c=d) and 'overall' have no single attribute to stratify on.
      const m = /^([^=&]+)=([^&]*)$/.exec(check.slice);
      if (m) add(m[1]!, m[2]!);
    }
  }
  for (const u of evidence.untested ?? []) add(u.attribute, u.value);
  for (const f of explicit) out.set(JSON.stringify([f.slice, f.value]), f);
  return [...out.values()].sort((a, b) => (a.slice + '\u0000' + a.value < b.slice + '\u0000' + b.value ? -1 : 1));
}

/**
 * A small signed hashed bag-of-words sketch of each input (dims values per row, L2-normalised), so
 * the sampler's diversity share can spread its draws over what the mail says. Deterministic: FNV-1a
 * of field-prefixed lowercase tokens; the sign comes from a high bit of the same hash.
 */
export function textSketch(inputs: readonly Record<string, string>[], dims = 16): { dims: number; values: Float32Array } {
  const values = new Float32Array(inputs.length * dims);
  const token = /[\p{L}\p{N}]+/gu;
  inputs.forEach((input, row) => {
    const base = row * dims;
    for (const field of Object.keys(input).sort()) {
      const text = input[field];
      if (typeof text !== 'string') continue;
      for (const m of text.toLowerCase().slice(0, 20_000).matchAll(token)) {
        let h = 0x811c9dc5;
        const s = `${field}:${m[0]}`;
        for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
        h >>>= 0;
        values[base + (h % dims)]! += h & 0x80000000 ? -1 : 1;
      }
    }
    let norm = 0;
    for (let d = 0; d < dims; d++) {
      const v = Math.sign(values[base + d]!) * Math.log1p(Math.abs(values[base + d]!));
      values[base + d] = v;
      norm += v * v;
    }
    if (norm > 0) for (let d = 0; d < dims; d++) values[base + d]! /= Math.sqrt(norm);
  });
  return { dims, values };
}
