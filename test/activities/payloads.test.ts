// What activities hand a workflow is bounded whatever the data: thousands of slice values give the same
// few kilobytes, the items a reader needs (failed before insufficient before passed) come first, and
// what was left out is counted. The 50k-example run in test/e2e/historySize.test.ts proves it end to end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RuleResult } from '../../analysis/policy';
import { judgeCanaryWindow, judgeShadowCounts, type ShadowCell, type WindowCounts } from '../../analysis/rollout';
import { boundedList, boundedReasons, boundedText, MAX_PAYLOAD_ITEMS, MAX_PAYLOAD_TEXT } from '../../activities/payloads';
import { boundedRule } from '../../activities/retraining';
import { boundedShadowComparison, boundedWindowJudgement } from '../../activities/rollout';

const size = (x: unknown) => Buffer.byteLength(JSON.stringify(x));

test('texts, lists and reasons are cut with a note of what was left out, and left alone when short', () => {
  assert.equal(boundedText('short'), 'short');
  const long = boundedText('x'.repeat(5000));
  assert.equal(long.length, MAX_PAYLOAD_TEXT);
  assert.match(long, /… \(\d+ more characters\)$/);
  assert.deepEqual(boundedList([1, 2, 3], 2), { kept: [1, 2], omitted: 1 });
  assert.deepEqual(boundedList([1, 2], 2), { kept: [1, 2], omitted: 0 });
  const few = ['a', 'b'];
  assert.deepEqual(boundedReasons(few, 'somewhere'), few);
  const many = boundedReasons(Array.from({ length: 500 }, (_, i) => `reason ${i}`), 'gate_results of run r');
  assert.equal(many.length, MAX_PAYLOAD_ITEMS);
  assert.equal(many.at(-1), `… and ${500 - (MAX_PAYLOAD_ITEMS - 1)} more (gate_results of run r)`);
});

test('a wildcard rule over thousands of slices keeps its worst checks first, counts the rest, and stays small', () => {
  const checks: RuleResult['checks'] = Array.from({ length: 3000 }, (_, i) => ({
    slice: `sender_domain=d${i}.example`,
    outcome: i === 2500 ? 'failed' : i % 2 ? 'insufficient' : 'passed',
    observed: i % 2 ? null : { estimate: 0.01, lower: 0, upper: 0.05 },
    detail: i % 2 ? `${i % 7} negatives < minimum 10` : `0.0100 [0.0000, 0.0500] within bounds`,
  }));
  const rule: RuleResult = { id: 'domain-fpr', kind: 'bound', outcome: 'needs_approval', onFail: 'ask', detail: checks.map((c) => `${c.slice}: ${c.detail}`).join('; '), checks };
  const bounded = boundedRule(rule);
  assert.equal(bounded.checks.length, MAX_PAYLOAD_ITEMS);
  assert.equal(bounded.checksOmitted, 3000 - MAX_PAYLOAD_ITEMS);
  assert.equal(bounded.checks[0]!.slice, 'sender_domain=d2500.example', 'the failed check comes first');
  assert.ok(bounded.checks.slice(1).every((c) => c.outcome === 'insufficient'), 'then the insufficient ones, before any that passed');
  assert.ok(bounded.detail.length <= MAX_PAYLOAD_TEXT);
  assert.ok(size(bounded) < 8 * 1024, `${size(bounded)} bytes`);
  // A rule with a few checks is handed over as judged.
  const small: RuleResult = { ...rule, detail: 'two checks', checks: checks.slice(0, 2) };
  assert.deepEqual(boundedRule(small), small);
});

test('a shadow window over thousands of slice values keeps the slices that did not pass and counts them all', () => {
  const slices: Record<string, ShadowCell> = {};
  for (let i = 0; i < 3000; i++) slices[`sender_domain=d${i}`] = { requests: 2, newBlocks: 0, newPasses: 0, servedBlocks: 1 };
  slices['format=html'] = { requests: 400, newBlocks: 120, newPasses: 0, servedBlocks: 100 };
  slices['format=plain'] = { requests: 5600, newBlocks: 0, newPasses: 0, servedBlocks: 2900 };
  const judged = judgeShadowCounts({ requests: 6000, newBlocks: 120, newPasses: 0, servedBlocks: 3000, slices });
  assert.equal(judged.phase, 'Failed');
  const full = { ...judged, servedRequests: 6000, coverage: 1 };
  const bounded = boundedShadowComparison(full);
  assert.ok(size(full) > 256 * 1024, `the unbounded comparison is ${size(full)} bytes`);
  assert.ok(size(bounded) < 8 * 1024, `${size(bounded)} bytes`);
  assert.deepEqual(bounded.slices.map((s) => [s.slice, s.phase]), [['format=html', 'Failed']], 'what the workflow reads (failed slices) is kept');
  assert.equal(bounded.slicesCompared, 3002);
  assert.equal(bounded.slicesOmitted, 3001);
  assert.deepEqual([bounded.phase, bounded.requests, bounded.newBlocks, bounded.agreement], [judged.phase, judged.requests, judged.newBlocks, judged.agreement]);
});

test('a canary window keeps its overall measurements and the worst slices', () => {
  const cell = (requests: number, overrides: number): WindowCounts => ({ requests, events: { override_rate: overrides, report_rate: 0 } });
  const side = (overridesInFirst: number): WindowCounts => ({
    ...cell(100_000, overridesInFirst),
    slices: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`sender_domain=d${i}`, cell(250, i === 0 ? overridesInFirst : 0)])),
  });
  const judged = judgeCanaryWindow(side(0), side(200), [{ metric: 'override_rate', maxIncrease: 0.01 }]);
  const bounded = boundedWindowJudgement(judged);
  assert.equal(bounded.phase, judged.phase);
  assert.ok(bounded.measurements.length <= MAX_PAYLOAD_ITEMS + 1);
  assert.equal(bounded.measurements[0]!.slice, 'overall');
  assert.equal(bounded.measurementsOmitted, judged.measurements.length - bounded.measurements.length);
  assert.ok(bounded.reasons.length <= MAX_PAYLOAD_ITEMS);
  assert.ok(size(bounded) < 16 * 1024, `${size(bounded)} bytes`);
});
