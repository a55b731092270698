// A readable, structural diff of two gate policy documents: which fields were added, removed or changed,
// each named by its path. Rules are matched by their id where they have one (a reordered rule is not a
// change), by position otherwise. Pure: no DOM, no API.

export interface PolicyChange {
  /** Where, e.g. `rules[overall-fpr].max` or `minSliceSupport`. */
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const idOf = (v: unknown): string | null => (isObject(v) && typeof v.id === 'string' ? v.id : null);

/** Array items keyed: by id when every item has a distinct one, else by position. */
function keyed(items: unknown[]): Map<string, unknown> | null {
  const ids = items.map(idOf);
  if (items.length === 0 || ids.some((id) => id === null) || new Set(ids).size !== ids.length) return null;
  return new Map(items.map((item, i) => [ids[i]!, item]));
}

function walk(before: unknown, after: unknown, path: string, out: PolicyChange[]): void {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    for (const k of keys) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in after) || after[k] === undefined) {
        if (before[k] !== undefined) out.push({ path: p, kind: 'removed', before: before[k] });
      } else if (!(k in before) || before[k] === undefined) out.push({ path: p, kind: 'added', after: after[k] });
      else walk(before[k], after[k], p, out);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const a = keyed(before);
    const b = keyed(after);
    if (a && b) {
      for (const [id, item] of a) {
        if (b.has(id)) walk(item, b.get(id), `${path}[${id}]`, out);
        else out.push({ path: `${path}[${id}]`, kind: 'removed', before: item });
      }
      for (const [id, item] of b) if (!a.has(id)) out.push({ path: `${path}[${id}]`, kind: 'added', after: item });
      return;
    }
    for (let i = 0; i < Math.max(before.length, after.length); i++) {
      const p = `${path}[${i}]`;
      if (i >= after.length) out.push({ path: p, kind: 'removed', before: before[i] });
      else if (i >= before.length) out.push({ path: p, kind: 'added', after: after[i] });
      else walk(before[i], after[i], p, out);
    }
    return;
  }
  if (!Object.is(before, after)) out.push({ path: path || '(document)', kind: 'changed', before, after });
}

/** The changes that turn `before` into `after`, in document order; [] when they are the same. */
export function policyDiff(before: unknown, after: unknown): PolicyChange[] {
  const out: PolicyChange[] = [];
  walk(before, after, '', out);
  return out;
}

/** A value as one short line (objects as compact JSON). */
export function showValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v as Json) ?? String(v);
}

/** One change as a sentence: `changed rules[overall-fpr].max: 0.08 → 0.1`. */
export function describeChange(c: PolicyChange): string {
  if (c.kind === 'added') return `added ${c.path}: ${showValue(c.after)}`;
  if (c.kind === 'removed') return `removed ${c.path} (was ${showValue(c.before)})`;
  return `changed ${c.path}: ${showValue(c.before)} → ${showValue(c.after)}`;
}
