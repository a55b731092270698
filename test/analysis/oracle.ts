// Comparison with oracle fixtures: null must match null, numbers must agree to a tolerance.
import assert from 'node:assert/strict';

export const ORACLE_TOLERANCE = 1e-9;

export function assertClose(actual: number | null, expected: number | null, what: string, tol = ORACLE_TOLERANCE): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null, got ${actual}`);
    return;
  }
  assert.ok(actual !== null, `${what}: expected ${expected}, got null`);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected}, got ${actual} (diff ${actual - expected})`);
}
