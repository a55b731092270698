/**
 * A small seeded random number generator with exact binomial and multinomial samplers.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no Math.random. The same seed gives
 * the same stream on every platform (only 32-bit integer ops and IEEE doubles), so workflow code
 * can bootstrap and replay to identical results.
 *
 * Core generator: xoshiro128** (Blackman & Vigna), 128 bits of state, period 2^128 - 1, passes
 * BigCrush. It is the 32-bit member of the family, chosen because JavaScript has fast 32-bit
 * integer arithmetic (Math.imul, >>>) but no fast 64-bit one; the state is seeded through a
 * splitmix32-style mixer so that nearby seeds (1, 2, 3, ...) give unrelated streams.
 */

import { stirlingCorrection } from './numerics/special';

const TWO_POW_32 = 4294967296;
const TWO_POW_MINUS_53 = 1 / 9007199254740992;

/** splitmix32-style finaliser (MurmurHash3 fmix32 on a Weyl sequence): a bijection on uint32. */
function mix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * BTRD's fc(k) = ln k! - [(k + 1/2) ln(k + 1) - (k + 1) + ln(2 pi) / 2], i.e. Stirling's correction
 * at k + 1, used by the final exact acceptance test.
 */
const fc = (k: number): number => stirlingCorrection(k + 1);

/** Below this mean (n * min(p, 1-p)) binomial() uses inversion, at or above it BTRD (Hörmann's choice). */
const INVERSION_MAX_MEAN = 10;

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * @param seed any safe integer (negative values are taken modulo 2^64 in effect). Both 32-bit
   *   halves feed the state, so seeds differing only above bit 32 still give different streams.
   */
  constructor(seed = 1) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng: seed must be a safe integer, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    // Two Weyl sequences (golden-ratio increment) through the mixer, one per half of the seed.
    let a = lo;
    let b = hi ^ 0x5bd1e995;
    const next = (): number => {
      a = (a + 0x9e3779b9) | 0;
      b = (b + 0x7f4a7c15) | 0;
      return (mix32(a) ^ Math.imul(mix32(b), 0x27d4eb2d)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    // xoshiro must not start in the all-zero state (it would stay there).
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next 32 random bits as an unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const s2 = this.s2;
    const s3 = this.s3;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.s1 = s1 ^ n2;
    this.s0 = s0 ^ n3;
    this.s2 = n2 ^ t;
    this.s3 = (n3 << 11) | (n3 >>> 21);
    return result;
  }

  /**
   * Uniform double in [0, 1) with 53 random bits (two 32-bit outputs: 27 + 26 bits), so every
   * representable multiple of 2^-53 is equally likely; 32 bits alone would make the rejection
   * steps of BTRD coarser than the double arithmetic they feed.
   */
  next(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) * TWO_POW_MINUS_53;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32, without modulo bias (Lemire's method). */
  nextInt(n: number): number {
    if (!(Number.isInteger(n) && n >= 1 && n <= TWO_POW_32)) throw new RangeError(`nextInt: n must be an integer in [1, 2^32], got ${n}`);
    if (n === TWO_POW_32) return this.nextUint32();
    // Lemire's multiply-shift: the high word of x * n is uniform on [0, n) once the few x whose
    // low word falls below 2^32 mod n are rejected (at most n / 2^32 of them).
    const threshold = (TWO_POW_32 - n) % n;
    for (;;) {
      const x = this.nextUint32();
      if (lowProduct32(x, n) >= threshold) return highProduct32(x, n);
    }
  }

  /**
   * One draw from Binomial(n, p), exact in distribution for every n (up to 2^53) and p in [0, 1]
   * (exact = no approximation beyond the uniforms being multiples of 2^-53 and double rounding).
   *
   * - p > 1/2 is reduced to n - Binomial(n, 1 - p), so the work depends on min(p, 1 - p).
   * - mean n*p < 10: inversion by sequential search from 0 (Kachitvichyanukul & Schmeiser's BINV):
   *   the pmf recurrence f(k) = f(k-1) * ((n+1)/k - 1) * p/q, expected n*p + 1 steps. q^n cannot
   *   underflow here (n*p < 10 and p <= 1/2 give q^n > e^-14).
   * - otherwise: BTRD, Hörmann (1993) "The generation of binomial random variates", J. Statist.
   *   Comput. Simul. 46: transformed rejection with a decomposition; about 1.1-1.2 uniforms per
   *   draw whatever n is, and exact: the final test compares against the true pmf ratio
   *   f(k)/f(m) (directly for |k - m| <= 15, otherwise through log-factorials with the Stirling
   *   correction fc).
   */
  binomial(n: number, p: number): number {
    if (!(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`binomial: n must be a non-negative safe integer, got ${n}`);
    if (!(p >= 0 && p <= 1)) throw new RangeError(`binomial: p must be in [0, 1], got ${p}`);
    if (n === 0 || p === 0) return 0;
    if (p === 1) return n;
    if (p > 0.5) return n - this.binomialLow(n, 1 - p);
    return this.binomialLow(n, p);
  }

  /** p in (0, 1/2]. */
  private binomialLow(n: number, p: number): number {
    return n * p < INVERSION_MAX_MEAN ? this.binomialInversion(n, p) : this.binomialBtrd(n, p);
  }

  private binomialInversion(n: number, p: number): number {
    const q = 1 - p;
    const s = p / q;
    const a = (n + 1) * s;
    const f0 = Math.exp(n * Math.log1p(-p)); // q^n without the cancellation of 1 - p for tiny p
    for (;;) {
      let u = this.next();
      let f = f0;
      let x = 0;
      // Walk the cdf: subtract pmf terms from u until it falls inside one. The terms sum to 1 up
      // to rounding, so running past n can only be rounding: then start over (probability ~1e-16).
      while (u > f) {
        u -= f;
        x++;
        if (x > n) break;
        f *= a / x - s;
      }
      if (x <= n) return x;
    }
  }

  private binomialBtrd(n: number, p: number): number {
    // Setup (Hörmann 1993, algorithm BTRD; p <= 1/2 and n*p >= 10).
    const q = 1 - p;
    const m = Math.floor((n + 1) * p); // mode
    const r = p / q;
    const nr = (n + 1) * r;
    const npq = n * p * q;
    const spq = Math.sqrt(npq);
    const b = 1.15 + 2.53 * spq;
    const a = -0.0873 + 0.0248 * b + 0.01 * p;
    const c = n * p + 0.5;
    const alpha = (2.83 + 5.1 / b) * spq;
    const vr = 0.92 - 4.2 / b;
    const urvr = 0.86 * vr;
    for (;;) {
      // 1. The central box: immediate acceptance (about 86% of draws).
      let v = this.next();
      let u: number;
      if (v <= urvr) {
        u = v / vr - 0.43;
        return Math.floor(((2 * a) / (0.5 - Math.abs(u)) + b) * u + c);
      }
      // 2. Otherwise draw a point (u, v) under the hat outside the box.
      if (v >= vr) {
        u = this.next() - 0.5;
      } else {
        u = v / vr - 0.93;
        u = (u < 0 ? -0.5 : 0.5) - u;
        v = this.next() * vr;
      }
      // 3.0 Transform u to a candidate k; scale v to the hat at k.
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + c);
      if (k < 0 || k > n) continue;
      v = (v * alpha) / (a / (us * us) + b);
      const km = Math.abs(k - m);
      if (km <= 15) {
        // 3.1 Exact test by the pmf recurrence f(i)/f(i-1) = nr/i - r, from the mode to k.
        let f = 1;
        if (m < k) {
          for (let i = m + 1; i <= k; i++) f *= nr / i - r;
        } else if (m > k) {
          for (let i = k + 1; i <= m; i++) v *= nr / i - r;
        }
        if (v <= f) return k;
        continue;
      }
      // 3.2 Squeeze: quick accept/reject on log f(k)/f(m) ~ -km^2 / (2npq) +- rho.
      v = Math.log(v);
      const rho = (km / npq) * (((km / 3 + 0.625) * km + 1 / 6) / npq + 0.5);
      const t = (-km * km) / (2 * npq);
      if (v < t - rho) return k;
      if (v > t + rho) continue;
      // 3.3-3.4 Exact test: log f(k)/f(m) through Stirling's formula with its correction fc.
      const nm = n - m + 1;
      const h = (m + 0.5) * Math.log((m + 1) / (r * nm)) + fc(m) + fc(n - m);
      const nk = n - k + 1;
      if (v <= h + (n + 1) * Math.log(nm / nk) + (k + 0.5) * Math.log((nk * r) / (k + 1)) - fc(k) - fc(n - k)) {
        return k;
      }
    }
  }

  /**
   * One draw from Multinomial(n, probs / sum(probs)) into out[0 .. probs.length - 1]; returns out.
   * probs are non-negative weights and need not sum to 1 (raw counts work, and are then exact).
   * Sequential conditional binomials: X_1 ~ Bin(n, p_1), X_k | X_1..X_{k-1} ~
   * Bin(n - sum_{j<k} X_j, p_k / (1 - sum_{j<k} p_j)); the last category with positive weight gets
   * the remainder. Exact because the multinomial factorises this way; cost O(categories) binomials.
   */
  multinomial(n: number, probs: ArrayLike<number>, out: Float64Array): Float64Array {
    if (out.length < probs.length) throw new RangeError(`multinomial: out has ${out.length} slots, probs has ${probs.length}`);
    multinomialRange(this, n, probs, 0, probs.length, out, 0);
    return out;
  }
}

/** Low 32 bits of x * n for uint32 x, n (Math.imul is the exact product mod 2^32). */
function lowProduct32(x: number, n: number): number {
  return Math.imul(x, n) >>> 0;
}
/** High 32 bits of x * n for uint32 x, n (exact: split n into 16-bit halves so nothing exceeds 2^53). */
function highProduct32(x: number, n: number): number {
  const nLo = n & 0xffff;
  const nHi = Math.floor(n / 65536);
  const lo = x * nLo; // < 2^48
  const hi = x * nHi; // < 2^48
  // x*n = hi * 2^16 + lo; high word = floor((hi * 2^16 + lo) / 2^32)
  return Math.floor((hi + Math.floor(lo / 65536)) / 65536);
}

/**
 * Multinomial over weights[from .. from+count) into out[outFrom .. outFrom+count). Exposed to the
 * bootstrap code so it can draw each stratum's cells straight from a flat cell array without
 * allocating views.
 */
export function multinomialRange(
  rng: Rng,
  n: number,
  weights: ArrayLike<number>,
  from: number,
  count: number,
  out: Float64Array,
  outFrom: number,
): void {
  if (!(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`multinomial: n must be a non-negative safe integer, got ${n}`);
  let total = 0;
  let last = -1;
  for (let j = 0; j < count; j++) {
    const w = weights[from + j]!;
    if (!(w >= 0) || w === Infinity) throw new RangeError(`multinomial: weights must be finite and >= 0, got ${w} at ${from + j}`);
    total += w;
    if (w > 0) last = j;
  }
  if (n > 0 && last < 0) throw new RangeError('multinomial: all weights are zero but n > 0');
  let remaining = n;
  let mass = total;
  for (let j = 0; j < count; j++) {
    const w = weights[from + j]!;
    if (remaining === 0 || w === 0) {
      out[outFrom + j] = 0;
      continue;
    }
    if (j === last) {
      out[outFrom + j] = remaining;
      remaining = 0;
      continue;
    }
    // mass is the weight still unassigned; with integer weights (counts) it is exact. For real
    // weights rounding can push w / mass a hair above 1, hence the clamp.
    const pj = w >= mass ? 1 : w / mass;
    const x = rng.binomial(remaining, pj);
    out[outFrom + j] = x;
    remaining -= x;
    mass -= w;
  }
}
