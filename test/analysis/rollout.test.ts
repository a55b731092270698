import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newcombeDifference } from '../../analysis/numerics/intervals';
import { judgeCanaryWindow, nextRolloutAction, routeFor, stickyBucket, type WindowCounts } from '../../analysis/rollout';

test('sticky routing: the same key always lands on the same side, and the weight is honoured', () => {
  assert.equal(stickyBucket('req-42'), stickyBucket('req-42'));
  assert.equal(routeFor('user-7', 0), 'production');
  assert.equal(routeFor('user-7', 1), 'canary');
  let canary = 0;
  for (let i = 0; i < 20_000; i++) if (routeFor(`user-${i}`, 0.25) === 'canary') canary++;
  // Binomial(20000, 0.25): sd ~61; 5 sd either side.
  assert.ok(Math.abs(canary - 5000) < 310, `canary share ${canary / 20_000}`);
  // Raising the weight only adds keys to the canary (nobody flips back and forth between steps).
  for (let i = 0; i < 2000; i++) if (routeFor(`k${i}`, 0.05) === 'canary') assert.equal(routeFor(`k${i}`, 0.5), 'canary');
  assert.throws(() => routeFor('x', 1.5), RangeError);
});

const window = (requests: number, overrides: number, reports: number, slices?: WindowCounts['slices']): WindowCounts => ({
  requests,
  events: { override_rate: overrides, report_rate: reports },
  ...(slices ? { slices } : {}),
});

test('a canary clearly worse fails; clearly fine succeeds; in between is inconclusive', () => {
  const rules = [{ metric: 'override_rate' as const, maxIncrease: 0.01 }];
  const failed = judgeCanaryWindow(window(5000, 100, 0), window(2000, 160, 0), rules);
  assert.equal(failed.phase, 'Failed');
  const d = newcombeDifference(160, 2000, 100, 5000);
  assert.deepEqual(failed.measurements[0]!.difference, { estimate: d.estimate, lower: d.lower, upper: d.upper });
  assert.equal(judgeCanaryWindow(window(5000, 100, 0), window(5000, 95, 0), rules).phase, 'Successful');
  const unsure = judgeCanaryWindow(window(400, 8, 0), window(400, 12, 0), rules);
  assert.equal(unsure.phase, 'Inconclusive');
  assert.equal(judgeCanaryWindow(window(100, 1, 0), window(50, 1, 0), rules).phase, 'Inconclusive', 'too few requests');
});

test('a slice the canary breaks fails the window even when the overall rate passes', () => {
  const rules = [{ metric: 'override_rate' as const, maxIncrease: 0.02, minRequests: 300 }];
  const base = window(10_000, 100, 0, { 'sender_tld=country_code': { requests: 1000, events: { override_rate: 10, report_rate: 0 } }, 'sender_tld=generic': { requests: 9000, events: { override_rate: 90, report_rate: 0 } } });
  const can = window(10_000, 160, 0, { 'sender_tld=country_code': { requests: 1000, events: { override_rate: 75, report_rate: 0 } }, 'sender_tld=generic': { requests: 9000, events: { override_rate: 85, report_rate: 0 } } });
  const j = judgeCanaryWindow(base, can, rules);
  assert.equal(j.measurements.find((m) => m.slice === 'overall')!.phase, 'Successful');
  assert.equal(j.phase, 'Failed');
  assert.match(j.reasons[0]!, /sender_tld=country_code/);
});

test('analysis limits: failures roll back, inconclusive pauses, as Argo Rollouts does', () => {
  assert.equal(nextRolloutAction(['Successful', 'Successful']), 'continue');
  assert.equal(nextRolloutAction(['Successful', 'Failed']), 'rollback');
  assert.equal(nextRolloutAction(['Failed'], { failureLimit: 1 }), 'continue');
  assert.equal(nextRolloutAction(['Inconclusive']), 'pause');
  assert.equal(nextRolloutAction(['Inconclusive', 'Failed']), 'rollback', 'a failure wins over a pause');
  assert.throws(() => judgeCanaryWindow(window(1, 0, 0), window(1, 0, 0), []), RangeError);
});
