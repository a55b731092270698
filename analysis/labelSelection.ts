/**
 * Who chose the training labels: a snapshot's label mix (each label source's and each selector's count
 * among its training members) and the gate rule that caps the share of labels the model produced or
 * selected itself (the flywheel trap: a model trained on what it chose to have labelled, or on its own
 * output, learns to agree with itself).
 *
 * Pure: plain counts in, plain objects out; no db, no I/O (the shapes mirror db/schema's
 * SnapshotLabelMix, and api/outputs holds the two equal).
 */
import { z } from 'zod';
import type { RuleResult } from './policy';

/** db/schema LABEL_SOURCES, repeated to keep analysis/ free of db/. */
export const LABEL_SOURCE_NAMES = ['import', 'annotation', 'feedback', 'model', 'review'] as const;
export type LabelSourceName = (typeof LABEL_SOURCE_NAMES)[number];
/** db/schema LABEL_SELECTORS: a sampling design, the model's own score (an abstain band), a user's choice (feedback). */
export const LABEL_SELECTOR_NAMES = ['design', 'model', 'user'] as const;
export type LabelSelectorName = (typeof LABEL_SELECTOR_NAMES)[number];

/** A snapshot's label mix as recorded (the shape of db/schema SnapshotLabelMix). */
export interface LabelMixRecord {
  bySource: Partial<Record<LabelSourceName, number>>;
  /** null key = no selection recorded (counted as design). */
  bySelector: Partial<Record<LabelSelectorName, number>>;
  train: number;
  /** Counts by (source, selector) together, so a share over 'source X or selector Y' is exact (the marginals alone cannot give it). */
  joint?: { source: LabelSourceName; by: LabelSelectorName; count: number }[];
}

/** One group of training members: its label source, its selector (null: none recorded = design) and how many. */
export interface LabelGroupCount {
  source: string;
  by: string | null;
  count: number;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const isSource = (s: string): s is LabelSourceName => (LABEL_SOURCE_NAMES as readonly string[]).includes(s);
const isSelector = (s: string): s is LabelSelectorName => (LABEL_SELECTOR_NAMES as readonly string[]).includes(s);

/**
 * The mix from grouped counts: marginals by source and by selector, and the joint. A null selector is
 * 'design' (labels from before selections were recorded: imports and annotation samples). A source or
 * selector this code does not know is a data error, not something to drop silently.
 */
export function labelMixOf(groups: LabelGroupCount[]): LabelMixRecord {
  const bySource: LabelMixRecord['bySource'] = {};
  const bySelector: LabelMixRecord['bySelector'] = {};
  const joint = new Map<string, { source: LabelSourceName; by: LabelSelectorName; count: number }>();
  let train = 0;
  for (const g of groups) {
    if (!(Number.isInteger(g.count) && g.count >= 0)) throw new RangeError(`labelMixOf: count for ${g.source}/${g.by} must be an integer >= 0, got ${g.count}`);
    const by = g.by ?? 'design';
    if (!isSource(g.source)) throw new RangeError(`labelMixOf: unknown label source '${g.source}' (known: ${LABEL_SOURCE_NAMES.join(', ')})`);
    if (!isSelector(by)) throw new RangeError(`labelMixOf: unknown label selector '${by}' (known: ${LABEL_SELECTOR_NAMES.join(', ')})`);
    if (g.count === 0) continue;
    bySource[g.source] = (bySource[g.source] ?? 0) + g.count;
    bySelector[by] = (bySelector[by] ?? 0) + g.count;
    const key = `${g.source}\u0000${by}`;
    const j = joint.get(key);
    if (j) j.count += g.count;
    else joint.set(key, { source: g.source, by, count: g.count });
    train += g.count;
  }
  // Code-unit order of (source, selector), as the database writes it (db/snapshots), so the two compare equal.
  const order = (a: { source: string; by: string }, b: { source: string; by: string }) => cmp(a.source, b.source) || cmp(a.by, b.by);
  return { bySource, bySelector, train, joint: [...joint.values()].sort(order) };
}

/**
 * Training labels whose source is 'model' (the model's own output) or whose selector is one of
 * `selectors`: exact from the joint; from the marginals only when they cannot overlap (one side is
 * zero). null: not computable from this record (the caller fails closed).
 */
export function selfSelectedCount(mix: LabelMixRecord, selectors: readonly LabelSelectorName[]): number | null {
  const wanted = new Set<string>(selectors);
  if (mix.joint) return mix.joint.filter((j) => j.source === 'model' || wanted.has(j.by)).reduce((s, j) => s + j.count, 0);
  const own = mix.bySource.model ?? 0;
  const selected = selectors.reduce((s, k) => s + (mix.bySelector[k] ?? 0), 0);
  return own === 0 ? selected : selected === 0 ? own : null;
}

/** The share of training labels self-selected (see selfSelectedCount); null without training labels or when not computable. */
export function selfSelectedShare(mix: LabelMixRecord, selectors: readonly LabelSelectorName[]): number | null {
  const n = selfSelectedCount(mix, selectors);
  return n === null || mix.train === 0 ? null : n / mix.train;
}

/**
 * A cap on the share of the snapshot's training labels the model produced (source 'model') or that were
 * selected by one of `selectors` (default ['model']: the model's score chose them, as an abstain band
 * does; add 'user' to count feedback corrections, which users chose). The snapshot is a census, so the
 * share is exact and compared as a point value; a snapshot without a recorded mix fails closed.
 */
export const selfSelectedShareRule = z.strictObject({
  kind: z.literal('self_selected_share'),
  id: z.string().min(1).optional(),
  max: z.number().min(0).max(1),
  selectors: z.array(z.enum(['model', 'user'])).min(1).default(['model']),
  onFail: z.enum(['block', 'ask']).default('block'),
});
export type SelfSelectedShareRule = z.infer<typeof selfSelectedShareRule>;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Judges a self_selected_share rule on the snapshot's recorded label mix (null: not recorded). */
export function judgeSelfSelectedShare(rule: SelfSelectedShareRule, id: string, mix: LabelMixRecord | null | undefined): RuleResult {
  const failed = rule.onFail === 'block' ? 'failed' : 'needs_approval';
  const base = { id, kind: rule.kind, onFail: rule.onFail, checks: [] };
  const what = `source 'model' or selector ${rule.selectors.map((s) => `'${s}'`).join('/')}`;
  if (!mix) return { ...base, outcome: failed, detail: "missing evidence: the snapshot records no label mix (frozen before mixes were recorded): who chose its labels is unknown" };
  if (mix.train === 0) return { ...base, outcome: failed, detail: 'missing evidence: the snapshot has no training labels' };
  const n = selfSelectedCount(mix, rule.selectors);
  if (n === null) return { ...base, outcome: failed, detail: `missing evidence: the label mix has no joint counts, and its marginals overlap on ${what}` };
  const share = n / mix.train;
  const met = share <= rule.max + 1e-12;
  return {
    ...base,
    outcome: met ? 'passed' : failed,
    detail: `${n} of ${mix.train} training labels (${pct(share)}) have ${what}; ${met ? '<=' : '>'} max ${pct(rule.max)}`,
  };
}
