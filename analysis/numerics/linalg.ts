/**
 * Linear algebra: the inverse Gram matrix (J'J)^-1 of a tall matrix by Householder QR, without
 * forming J'J (which would square the condition number). Proven against numpy.linalg in
 * test/analysis/numerics.test.ts.
 *
 * Pure and deterministic (no I/O, no Node built-ins), so workflow code may import it.
 */
import { EPS } from './special';

/**
 * (J'J)^-1 for J given by its p columns, each of length m >= p. The columns are consumed
 * (overwritten by the QR factors). Householder QR of the column-equilibrated J: scaling each column
 * to unit norm first and unscaling the result keeps badly scaled columns (1 beside b ln(n) n^-c in
 * the learning-curve fit) accurate. Null when J is numerically rank-deficient (a diagonal entry of R
 * below eps m max|R_jj|) or a column is zero or not finite.
 */
export function inverseGram(J: Float64Array[]): number[][] | null {
  const p = J.length;
  const m = p > 0 ? J[0]!.length : 0;
  if (p === 0 || m < p || J.some((col) => col.length !== m)) {
    throw new RangeError(`inverseGram: need p >= 1 columns of one length m >= p, got column lengths [${J.map((c) => c.length).join(', ')}]`);
  }
  const scale = J.map((col) => {
    let s = 0;
    for (const v of col) s = Math.hypot(s, v);
    return s;
  });
  if (scale.some((s) => !(s > 0 && Number.isFinite(s)))) return null;
  J.forEach((col, j) => {
    for (let i = 0; i < m; i++) col[i]! /= scale[j]!;
  });
  // Householder QR, R overwrites the top of J.
  const R = J.map(() => new Array<number>(p).fill(0));
  for (let k = 0; k < p; k++) {
    const col = J[k]!;
    let norm = 0;
    for (let i = k; i < m; i++) norm = Math.hypot(norm, col[i]!);
    const alpha = col[k]! > 0 ? -norm : norm;
    const v = new Float64Array(m);
    for (let i = k; i < m; i++) v[i] = col[i]!;
    v[k]! -= alpha;
    let vv = 0;
    for (let i = k; i < m; i++) vv += v[i]! * v[i]!;
    R[k]![k] = alpha;
    if (vv === 0) continue;
    for (let j = k + 1; j < p; j++) {
      const cj = J[j]!;
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i]! * cj[i]!;
      const f = (2 * dot) / vv;
      for (let i = k; i < m; i++) cj[i]! -= f * v[i]!;
      R[k]![j] = cj[k]!;
    }
  }
  let diagMax = 0;
  for (let k = 0; k < p; k++) diagMax = Math.max(diagMax, Math.abs(R[k]![k]!));
  for (let k = 0; k < p; k++) if (!(Math.abs(R[k]![k]!) > EPS * m * diagMax)) return null;
  // Rinv (upper triangular), then (R'R)^-1 = Rinv Rinv'.
  const Ri = J.map(() => new Array<number>(p).fill(0));
  for (let j = 0; j < p; j++) {
    Ri[j]![j] = 1 / R[j]![j]!;
    for (let i = j - 1; i >= 0; i--) {
      let s = 0;
      for (let k = i + 1; k <= j; k++) s += R[i]![k]! * Ri[k]![j]!;
      Ri[i]![j] = -s / R[i]![i]!;
    }
  }
  const inv: number[][] = J.map(() => []);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < p; j++) {
      let s = 0;
      for (let k = Math.max(i, j); k < p; k++) s += Ri[i]![k]! * Ri[j]![k]!;
      inv[i]![j] = s / (scale[i]! * scale[j]!);
    }
  }
  return inv;
}
