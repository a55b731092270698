// Seeded synthetic rows shared by the unit tests and bench/units.bench.ts, so the bench times the
// same data the tests check at a smaller size.
import type { EncodedAttribute } from '../../analysis/confusion';
import { Rng } from '../../analysis/random';

/** Rows in 20 groups with group-dependent TPR and FPR; scores are 0.9 or 0.1 (threshold 0.5). */
export function fairnessRows(n: number, G = 20): { labels: Uint8Array; scores: Float64Array; codes: Uint8Array; values: string[] } {
  const rng = new Rng(31);
  const labels = new Uint8Array(n);
  const scores = new Float64Array(n);
  const codes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const g = rng.nextInt(G);
    const y = rng.next() < 0.3 ? 1 : 0;
    codes[i] = g;
    labels[i] = y;
    scores[i] = rng.next() < (y ? 0.7 + 0.01 * g : 0.1 + 0.005 * g) ? 0.9 : 0.1;
  }
  const values = Array.from({ length: G }, (_, g) => `g${String(g).padStart(2, '0')}`);
  return { labels, scores, codes, values };
}

/** Deterministic LCG rows: 30% positives, float32 scores on a 1e-5 grid, 37 language slices. */
export function thresholdRows(n: number): { labels: Uint8Array; scores: Float32Array; attributes: EncodedAttribute[] } {
  const labels = new Uint8Array(n);
  const scores = new Float32Array(n);
  const lang = new Uint8Array(n);
  let x = 42;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const u = x / 2147483648;
    labels[i] = u < 0.3 ? 1 : 0;
    x = (x * 1103515245 + 12345) % 2147483648;
    scores[i] = Math.round(((x / 2147483648) * 0.7 + labels[i]! * 0.3) * 1e5) / 1e5;
    lang[i] = i % 37;
  }
  return { labels, scores, attributes: [{ name: 'lang', values: Array.from({ length: 37 }, (_, i) => `l${i}`), codes: lang }] };
}
