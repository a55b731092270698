/**
 * The one pass everything else is built on: confusion counts per code (a slice value, a group, an
 * intersection cell) from typed arrays. Pure; safe in workflow code.
 *
 * Layout: four cells per code, in the order CELL.tp, CELL.fp, CELL.tn, CELL.fn, so code c's counts
 * are out[4c .. 4c+3]. Float64 so the same pass serves weighted counts (inclusion weights).
 */
export const CELL = { tp: 0, fp: 1, tn: 2, fn: 3 } as const;

export interface EncodedAttribute {
  name: string;
  /** Code per row, 0 .. values.length - 1. */
  codes: Uint8Array | Uint16Array | Uint32Array | Int32Array;
  /** The value each code stands for. */
  values: string[];
}

/** Predicts 1 when score >= threshold. Counts per code; codes may be null (everything in code 0). */
export function confusionByCode(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
  codes: ArrayLike<number> | null,
  nCodes: number,
  weights?: ArrayLike<number>,
): Float64Array {
  const n = labels.length;
  if (scores.length !== n) throw new RangeError(`scores has ${scores.length} rows, labels has ${n}`);
  if (codes && codes.length !== n) throw new RangeError(`codes has ${codes.length} rows, labels has ${n}`);
  if (weights && weights.length !== n) throw new RangeError(`weights has ${weights.length} rows, labels has ${n}`);
  const out = new Float64Array(4 * nCodes);
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    const p = scores[i]! >= threshold ? 1 : 0;
    // tp=0 (y1 p1), fp=1 (y0 p1), tn=2 (y0 p0), fn=3 (y1 p0)
    const cell = y === 1 ? (p === 1 ? 0 : 3) : p === 1 ? 1 : 2;
    const c = codes ? codes[i]! : 0;
    out[4 * c + cell]! += weights ? weights[i]! : 1;
  }
  return out;
}

/** Encodes string values to codes (sorted value order, so codes are stable across runs). */
export function encodeAttribute(name: string, values: ArrayLike<string>): EncodedAttribute {
  const distinct = [...new Set(Array.from(values))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const index = new Map(distinct.map((v, i) => [v, i]));
  const codes = distinct.length <= 256 ? new Uint8Array(values.length) : distinct.length <= 65536 ? new Uint16Array(values.length) : new Uint32Array(values.length);
  for (let i = 0; i < values.length; i++) codes[i] = index.get(values[i]!)!;
  return { name, codes, values: distinct };
}

/** The cross of two attributes as one attribute, code = a * |b| + b; values 'a=x&b=y'. */
export function intersect(a: EncodedAttribute, b: EncodedAttribute): EncodedAttribute {
  const nb = b.values.length;
  const size = a.values.length * nb;
  const codes = size <= 256 ? new Uint8Array(a.codes.length) : size <= 65536 ? new Uint16Array(a.codes.length) : new Uint32Array(a.codes.length);
  for (let i = 0; i < codes.length; i++) codes[i] = a.codes[i]! * nb + b.codes[i]!;
  const values: string[] = [];
  for (const va of a.values) for (const vb of b.values) values.push(`${a.name}=${va}&${b.name}=${vb}`);
  return { name: `${a.name}&${b.name}`, codes, values };
}
