import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { normalQuantile } from '../../analysis/numerics/distributions';
import { wilsonInterval } from '../../analysis/numerics/intervals';

interface WilsonCase { successes: number; n: number; confidence: number; estimate: number | null; lower: number | null; upper: number | null }
const oracle = JSON.parse(readFileSync(new URL('../fixtures/metrics_oracle.json', import.meta.url), 'utf8')) as {
  wilson: WilsonCase[];
  normalQuantiles: { p: number; z: number }[];
};

const TOL = 1e-9;
function close(actual: number | null, expected: number | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null`);
    return;
  }
  assert.ok(actual !== null, `${what}: expected ${expected}, got null`);
  assert.ok(Math.abs(actual - expected) <= TOL, `${what}: expected ${expected}, got ${actual}`);
}

test('wilsonInterval matches statsmodels proportion_confint(method="wilson")', () => {
  assert.ok(oracle.wilson.length >= 40);
  const confidences = new Set(oracle.wilson.map((c) => c.confidence));
  for (const c of [0.9, 0.95, 0.99]) assert.ok(confidences.has(c), `fixture covers confidence ${c}`);
  for (const c of oracle.wilson) {
    const got = c.confidence === 0.95 ? wilsonInterval(c.successes, c.n) : wilsonInterval(c.successes, c.n, c.confidence);
    const what = `${c.successes}/${c.n} @ ${c.confidence}`;
    close(got.estimate, c.estimate, `${what} estimate`);
    close(got.lower, c.lower, `${what} lower`);
    close(got.upper, c.upper, `${what} upper`);
  }
});

test('normalQuantile matches scipy norm.ppf', () => {
  for (const { p, z } of oracle.normalQuantiles) {
    const got = normalQuantile(p);
    assert.ok(Math.abs(got - z) <= 1e-12 * Math.max(1, Math.abs(z)), `p=${p}: expected ${z}, got ${got}`);
  }
  assert.equal(normalQuantile(0), -Infinity);
  assert.equal(normalQuantile(1), Infinity);
  assert.equal(normalQuantile(0.5), 0);
  assert.throws(() => normalQuantile(1.5), RangeError);
  assert.throws(() => normalQuantile(Number.NaN), RangeError);
});

test('n = 0 gives all nulls', () => {
  assert.deepEqual(wilsonInterval(0, 0), { estimate: null, lower: null, upper: null });
  assert.deepEqual(wilsonInterval(0, 0, 0.99), { estimate: null, lower: null, upper: null });
});

test('0/n and n/n are clipped to [0, 1] exactly', () => {
  const zero = wilsonInterval(0, 25);
  assert.equal(zero.estimate, 0);
  assert.equal(zero.lower, 0);
  const all = wilsonInterval(25, 25);
  assert.equal(all.estimate, 1);
  assert.equal(all.upper, 1);
});

test('intervals widen with confidence and narrow with n', () => {
  const w = (i: ReturnType<typeof wilsonInterval>) => i.upper! - i.lower!;
  assert.ok(w(wilsonInterval(30, 100, 0.9)) < w(wilsonInterval(30, 100)));
  assert.ok(w(wilsonInterval(30, 100)) < w(wilsonInterval(30, 100, 0.99)));
  assert.ok(w(wilsonInterval(300, 1000)) < w(wilsonInterval(30, 100)));
});

test('invalid inputs throw', () => {
  assert.throws(() => wilsonInterval(-1, 10), RangeError);
  assert.throws(() => wilsonInterval(11, 10), RangeError);
  assert.throws(() => wilsonInterval(1, -1), RangeError);
  assert.throws(() => wilsonInterval(1, Number.NaN), RangeError);
  assert.throws(() => wilsonInterval(1, 10, 0), RangeError);
  assert.throws(() => wilsonInterval(1, 10, 1), RangeError);
  assert.throws(() => wilsonInterval(1, 10, 95), RangeError);
});
