/**
 * One-dimensional optimisers: Brent's root finder and golden-section minimisation. Proven against
 * scipy.optimize.brentq and minimize_scalar(method='golden') in test/analysis/numerics.test.ts.
 *
 * Pure and deterministic (no I/O, no Node built-ins), so workflow code may import it.
 */
import { EPS } from './special';

/** Brent's root finder (zeroin) on [a, b] with f(a), f(b) of opposite signs; tolerance ~ 4 eps |x|. */
export function brentZero(f: (x: number) => number, a: number, b: number): number {
  let fa = f(a);
  let fb = f(b);
  if (Number.isNaN(fa) || Number.isNaN(fb) || (fa > 0 && fb > 0) || (fa < 0 && fb < 0)) {
    throw new RangeError(`brentZero: f(a) and f(b) must have opposite signs, got f(${a}) = ${fa}, f(${b}) = ${fb}`);
  }
  let c = a;
  let fc = fa;
  let d = b - a;
  let e = d;
  for (let iter = 0; iter < 200; iter++) {
    if ((fb > 0 && fc > 0) || (fb < 0 && fc < 0)) {
      c = a;
      fc = fa;
      d = b - a;
      e = d;
    }
    if (Math.abs(fc) < Math.abs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const tol = 2 * EPS * Math.abs(b);
    const xm = 0.5 * (c - b);
    if (Math.abs(xm) <= tol || fb === 0) return b;
    if (Math.abs(e) >= tol && Math.abs(fa) > Math.abs(fb)) {
      // Inverse quadratic interpolation (or secant when a == c).
      const s = fb / fa;
      let p: number;
      let q: number;
      if (a === c) {
        p = 2 * xm * s;
        q = 1 - s;
      } else {
        const qq = fa / fc;
        const r = fb / fc;
        p = s * (2 * xm * qq * (qq - r) - (b - a) * (r - 1));
        q = (qq - 1) * (r - 1) * (s - 1);
      }
      if (p > 0) q = -q;
      else p = -p;
      if (2 * p < Math.min(3 * xm * q - Math.abs(tol * q), Math.abs(e * q))) {
        e = d;
        d = p / q;
      } else {
        d = xm;
        e = d;
      }
    } else {
      d = xm;
      e = d;
    }
    a = b;
    fa = fb;
    b += Math.abs(d) > tol ? d : xm > 0 ? tol : -tol;
    fb = f(b);
  }
  return b;
}

/** Golden-section minimisation on [lo, hi]. */
export function goldenSection(f: (x: number) => number, lo: number, hi: number): number {
  if (!(lo < hi && Number.isFinite(lo) && Number.isFinite(hi))) throw new RangeError(`goldenSection: need finite lo < hi, got [${lo}, ${hi}]`);
  const g = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - g * (hi - lo);
  let x2 = lo + g * (hi - lo);
  let f1 = f(x1);
  let f2 = f(x2);
  for (let i = 0; i < 200 && hi - lo > 4 * EPS * Math.abs(hi); i++) {
    if (f1 < f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - g * (hi - lo);
      f1 = f(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + g * (hi - lo);
      f2 = f(x2);
    }
  }
  return 0.5 * (lo + hi);
}
