// Examples judged against a model's declared features (trainer contract: feature schema). Pure: the
// API calls it at the edge, before anything is written, so a batch with one bad value writes nothing.

/** The kinds a feature may have (trainers/contract FEATURE_KINDS; analysis/ imports no contract code). */
export type FeatureKind = 'text' | 'number' | 'category' | 'boolean';

export interface FeatureSpec {
  name: string;
  kind: FeatureKind;
  /** Whether an example may leave it out (or give null). */
  missing: boolean;
}

export type FeatureValue = string | number | boolean | null;

export interface ExampleViolation {
  /** The example's index in the batch. */
  index: number;
  externalId: string;
  field: string;
  /** What is wrong, naming the field (e.g. "field 'age' must be a finite number, got \"forty\""). */
  problem: string;
}

const shown = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : JSON.stringify(v));

const KIND_CHECKS: Record<FeatureKind, { ok: (v: FeatureValue) => boolean; wants: string }> = {
  number: { ok: (v) => typeof v === 'number' && Number.isFinite(v), wants: 'a finite number' },
  boolean: { ok: (v) => typeof v === 'boolean', wants: 'true or false' },
  category: { ok: (v) => typeof v === 'string', wants: 'a string (a category)' },
  text: { ok: (v) => typeof v === 'string', wants: 'a string (text)' },
};

/**
 * What is wrong with one example's input, or null. Without a feature schema (a model from before the
 * contract) every value must be a string: its fields are text.
 */
export function inputViolation(features: readonly FeatureSpec[] | null, input: Readonly<Record<string, FeatureValue>>): { field: string; problem: string } | null {
  if (features === null) {
    for (const [field, value] of Object.entries(input)) {
      if (typeof value !== 'string') {
        return { field, problem: `field '${field}' must be a string (this model declares no feature schema: its fields are text), got ${shown(value)}` };
      }
    }
    return null;
  }
  const byName = new Map(features.map((f) => [f.name, f]));
  for (const [field, value] of Object.entries(input)) {
    const spec = byName.get(field);
    if (!spec) {
      return { field, problem: `field '${field}' is not in the model's feature schema (its features: ${features.map((f) => f.name).join(', ')})` };
    }
    if (value === null) {
      if (!spec.missing) return { field, problem: `field '${field}' is null, but the feature schema says it may not be missing` };
      continue;
    }
    const check = KIND_CHECKS[spec.kind];
    if (!check.ok(value)) return { field, problem: `field '${field}' is a ${spec.kind} feature and must be ${check.wants}, got ${shown(value)}` };
  }
  for (const spec of features) {
    if (!spec.missing && !Object.hasOwn(input, spec.name)) {
      return { field: spec.name, problem: `field '${spec.name}' is missing, and the feature schema says it may not be` };
    }
  }
  return null;
}

/** The first example of a batch whose input breaks the feature schema, or null when every one follows it. */
export function firstExampleViolation(
  features: readonly FeatureSpec[] | null,
  examples: readonly { externalId: string; input: Readonly<Record<string, FeatureValue>> }[],
): ExampleViolation | null {
  for (let index = 0; index < examples.length; index++) {
    const e = examples[index]!;
    const found = inputViolation(features, e.input);
    if (found) return { index, externalId: e.externalId, ...found };
  }
  return null;
}

/** Feature kinds a schema uses that a trainer does not support, in the schema's order, each once. */
export function unsupportedFeatureKinds(features: readonly FeatureSpec[] | null, supported: readonly string[]): { kind: FeatureKind; features: string[] }[] {
  // A model without a schema has text fields.
  const used: [string, FeatureKind][] = features === null ? [['(text fields)', 'text']] : features.map((f) => [f.name, f.kind]);
  const out = new Map<FeatureKind, string[]>();
  for (const [name, kind] of used) {
    if (supported.includes(kind)) continue;
    out.set(kind, [...(out.get(kind) ?? []), name]);
  }
  return [...out].map(([kind, names]) => ({ kind, features: names }));
}
