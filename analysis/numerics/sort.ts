/**
 * Sorting and searching: a descending argsort of scores by LSD radix sort over order-preserving
 * integer keys, the same sort carrying a caller's payload (the ranking metrics pack labels and slice
 * codes into it), and binary search in a sorted array. Proven against numpy.argsort and
 * numpy.searchsorted in test/analysis/numerics.test.ts.
 *
 * Pure and deterministic (no I/O, no Node built-ins), so workflow code may import it.
 */

/** Below this a comparison sort beats the radix sort's fixed costs. */
const SMALL_SORT = 2048;
/** Runs of equal high words up to this long are finished by insertion sort, longer ones by radix. */
const SHORT_RUN = 48;

/**
 * Row indices ordered by descending score. Ties come out in no particular order (not stable).
 * Throws on NaN; +-Infinity sort as the extremes; -0 ties with +0.
 */
export function argsortDescending(scores: ArrayLike<number>): Uint32Array {
  const n = scores.length;
  if (n > 0xffffffff) throw new RangeError(`argsortDescending: at most 2^32 - 1 rows, got ${n}`);
  const payload = new Uint32Array(n);
  for (let i = 0; i < n; i++) payload[i] = i;
  return sortDescending(scores, payload).payload;
}

export interface SortResult {
  /** The caller's per-row payload, in descending score order. */
  payload: Uint32Array;
  /**
   * The sorted keys, for tie tests: scores at ranks r and r + 1 are tied iff both words are equal
   * (lo is all zero for 32-bit keys).
   */
  hi: Uint32Array;
  lo: Uint32Array;
}

/**
 * The sort behind every ranking metric: reorders `payload` (one uint32 per row, consumed) by
 * descending score. Scores become order-preserving unsigned integer keys (IEEE-754 bits, flipped
 * so ascending key = descending score, -0 folded into +0) and an LSD radix sort orders
 * (key, payload) pairs.
 *
 * Measured on 10M rows (2 cores): a scatter pass costs ~45 ms per array it moves with 8-bit digits
 * and ~2x that with 11-bit digits (256 write streams stay in L1, 2048 do not), so the sort uses
 * 8-bit digits and moves as few arrays as it can. A float64 key is 64 bits, i.e. 8 passes; instead
 * the rows are sorted by the high word (sign, exponent, 20 mantissa bits: 4 passes) carrying the
 * low word along, and each run of equal high words, short for real scores, is then finished on
 * the low word (insertion sort, or radix for long runs).
 *
 * The payload is the caller's choice: a row index for an argsort, or the label and slice codes
 * packed together so the ranking passes read everything sequentially instead of gathering
 * labels[order[r]] and codes[order[r]] at random (a random gather over 10M rows costs more than a
 * sort pass). The sorted keys are returned for the same reason: ties without gathering scores.
 */
export function sortDescending(scores: ArrayLike<number>, payload: Uint32Array): SortResult {
  const n = scores.length;
  if (n < SMALL_SORT) return smallSort(scores, payload);
  if (scores instanceof Float32Array) return radix32(scores, payload);
  const f64 = scores instanceof Float64Array ? scores : Float64Array.from(scores);
  return radix64(f64, payload);
}

function nanError(i: number): RangeError {
  return new RangeError(`argsortDescending: scores[${i}] is NaN`);
}

/** The two words of a float64 in a Uint32Array view; typed arrays use the platform's byte order. */
const HI_WORD = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Comparison sort for small inputs; the keys are the float64 words. */
function smallSort(scores: ArrayLike<number>, payload: Uint32Array): SortResult {
  const n = scores.length;
  const f = new Float64Array(n);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const s = scores[i]!;
    if (s !== s) throw nanError(i);
    f[i] = s + 0; // + 0 folds -0 into +0, so equal scores have equal words
    idx[i] = i;
  }
  // `|| 0` makes Infinity - Infinity a tie.
  idx.sort((a, b) => f[b]! - f[a]! || 0);
  const words = new Uint32Array(f.buffer);
  const sorted = new Uint32Array(n);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let r = 0; r < n; r++) {
    const i = idx[r]!;
    sorted[r] = payload[i]!;
    hi[r] = words[2 * i + HI_WORD]!;
    lo[r] = words[2 * i + 1 - HI_WORD]!;
  }
  return { payload: sorted, hi, lo };
}

function radix64(f: Float64Array, payload: Uint32Array): SortResult {
  const n = f.length;
  const words = new Uint32Array(f.buffer, f.byteOffset, 2 * n);
  const H = HI_WORD;
  const L = 1 - H;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  // The four digit histograms are counted while the keys are built, so each pass is one scatter.
  const hist = new Uint32Array(4 * 256);
  for (let i = 0; i < n; i++) {
    let h = words[2 * i + H]!;
    let l = words[2 * i + L]!;
    if ((h & 0x7ff00000) === 0x7ff00000 && ((h & 0xfffff) | l) !== 0) throw nanError(i);
    if (h === 0x80000000 && l === 0) h = 0; // -0 ties with +0
    if ((h & 0x80000000) === 0) {
      // Non-negative: bigger value, bigger bits; flip all but the sign so bigger sorts first
      // and every non-negative key (sign bit 0) precedes every negative one.
      h = (h ^ 0x7fffffff) >>> 0;
      l = ~l >>> 0;
    }
    // Negative: bigger magnitude (more negative) has bigger bits and sorts later: already descending.
    hi[i] = h;
    lo[i] = l;
    hist[h & 255]!++;
    hist[256 + ((h >>> 8) & 255)]!++;
    hist[512 + ((h >>> 16) & 255)]!++;
    hist[768 + (h >>> 24)]!++;
  }
  // Sort by the high word, carrying the low word along: a third array per pass is cheaper than
  // gathering lo[row] at random afterwards (measured ~0.1 s vs ~0.8 s at 10M rows).
  let k: Uint32Array = hi;
  let l: Uint32Array = lo;
  let p: Uint32Array = payload;
  let k2: Uint32Array = new Uint32Array(n);
  let l2: Uint32Array = new Uint32Array(n);
  let p2: Uint32Array = new Uint32Array(n);
  const offsets = new Uint32Array(256);
  for (let d = 0; d < 4; d++) {
    if (!digitOffsets(hist, d, n, offsets)) continue;
    const shift = d * 8;
    for (let i = 0; i < n; i++) {
      const v = k[i]!;
      const dst = offsets[(v >>> shift) & 255]!++;
      k2[dst] = v;
      l2[dst] = l[i]!;
      p2[dst] = p[i]!;
    }
    [k, k2] = [k2, k];
    [l, l2] = [l2, l];
    [p, p2] = [p2, p];
  }
  // Finish each run of equal high words on the low word, in place and sequentially: one
  // insertion-sort sweep keyed on (hi, lo) only ever moves rows within their run, and a run that
  // grows past SHORT_RUN (scores agreeing to ~6 digits en masse) is handed to a radix sort instead.
  let runStart = 0;
  for (let r = 1; r < n; r++) {
    const h = k[r]!;
    if (h !== k[r - 1]) {
      runStart = r;
      continue;
    }
    if (r - runStart >= SHORT_RUN) {
      let end = r + 1;
      while (end < n && k[end] === h) end++;
      sortRunByRadix(l, p, runStart, end, l2, p2);
      r = end - 1;
      continue;
    }
    const lv = l[r]!;
    if (lv >= l[r - 1]!) continue;
    const pv = p[r]!;
    let j = r - 1;
    do {
      l[j + 1] = l[j]!;
      p[j + 1] = p[j]!;
      j--;
    } while (j >= runStart && l[j]! > lv);
    l[j + 1] = lv;
    p[j + 1] = pv;
  }
  return { payload: p, hi: k, lo: l };
}

function radix32(f: Float32Array, payload: Uint32Array): SortResult {
  const n = f.length;
  const words = new Uint32Array(f.buffer, f.byteOffset, n);
  const key = new Uint32Array(n);
  const hist = new Uint32Array(4 * 256);
  for (let i = 0; i < n; i++) {
    let w = words[i]!;
    if ((w & 0x7f800000) === 0x7f800000 && (w & 0x7fffff) !== 0) throw nanError(i);
    if (w === 0x80000000) w = 0;
    if ((w & 0x80000000) === 0) w = (w ^ 0x7fffffff) >>> 0;
    key[i] = w;
    hist[w & 255]!++;
    hist[256 + ((w >>> 8) & 255)]!++;
    hist[512 + ((w >>> 16) & 255)]!++;
    hist[768 + (w >>> 24)]!++;
  }
  const sorted = radixPairs(key, payload, hist, new Uint32Array(n), new Uint32Array(n));
  return { payload: sorted.payload, hi: sorted.key, lo: new Uint32Array(n) };
}

/**
 * LSD radix sort of (key, payload) pairs by the 32-bit key, 8-bit digits, ping-ponging with the
 * tmp arrays; returns whichever pair of arrays holds the result. A digit on which every key agrees
 * (one bucket holds all n) is skipped, so e.g. scores that are all positive skip the sign byte.
 */
function radixPairs(
  key: Uint32Array,
  payload: Uint32Array,
  hist: Uint32Array,
  tmpKey: Uint32Array,
  tmpPayload: Uint32Array,
): { key: Uint32Array; payload: Uint32Array } {
  const n = key.length;
  let k = key;
  let p = payload;
  let k2 = tmpKey;
  let p2 = tmpPayload;
  const offsets = new Uint32Array(256);
  for (let d = 0; d < 4; d++) {
    if (!digitOffsets(hist, d, n, offsets)) continue;
    const shift = d * 8;
    for (let i = 0; i < n; i++) {
      const v = k[i]!;
      const dst = offsets[(v >>> shift) & 255]!++;
      k2[dst] = v;
      p2[dst] = p[i]!;
    }
    const tk = k;
    k = k2;
    k2 = tk;
    const tp = p;
    p = p2;
    p2 = tp;
  }
  return { key: k, payload: p };
}

/** Exclusive prefix sums of digit d's histogram into offsets; false when one bucket holds all n (skip the pass). */
function digitOffsets(hist: Uint32Array, d: number, n: number, offsets: Uint32Array): boolean {
  const base = d * 256;
  let sum = 0;
  for (let b = 0; b < 256; b++) {
    const count = hist[base + b]!;
    if (count === n) return false;
    offsets[b] = sum;
    sum += count;
  }
  return true;
}

/** A long run (many scores sharing their top 32 bits): radix-sort it by the low word, in place, using spare space. */
function sortRunByRadix(key: Uint32Array, payload: Uint32Array, start: number, end: number, spareKey: Uint32Array, spareP: Uint32Array): void {
  const k = key.subarray(start, end);
  const p = payload.subarray(start, end);
  const m = end - start;
  const hist = new Uint32Array(4 * 256);
  for (let i = 0; i < m; i++) {
    const v = k[i]!;
    hist[v & 255]!++;
    hist[256 + ((v >>> 8) & 255)]!++;
    hist[512 + ((v >>> 16) & 255)]!++;
    hist[768 + (v >>> 24)]!++;
  }
  const sorted = radixPairs(k, p, hist, spareKey.subarray(start, end), spareP.subarray(start, end));
  if (sorted.key !== k) {
    k.set(sorted.key);
    p.set(sorted.payload);
  }
}

/**
 * numpy.searchsorted(sorted, x, side): the insertion index of x in ascending `sorted`, i.e. the
 * number of entries < x ('left') or <= x ('right').
 */
export function searchSorted(sorted: ArrayLike<number>, x: number, side: 'left' | 'right' = 'left'): number {
  if (Number.isNaN(x)) throw new RangeError('searchSorted: x is NaN');
  let lo = 0;
  let hi = sorted.length;
  if (side === 'left') {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
  } else {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
  }
  return lo;
}
