// The shadow window's comparison (analysis/rollout compareShadowDecisions): counts by hand, intervals
// against analysis/numerics/intervals' Wilson (itself checked against statsmodels) and against values worked out
// by hand from the Wilson formula (z = 1.959964 at 95%), verdicts at and around their boundaries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wilsonInterval } from '../../analysis/numerics/intervals';
import { compareShadowDecisions, judgeShadowCounts, tallyShadowDecisions, type ShadowDecisionRow } from '../../analysis/rollout';

/** `n` rows with the same decisions and slices. */
const rows = (n: number, served: 0 | 1, shadow: 0 | 1, slices: Record<string, string> = {}): ShadowDecisionRow[] => Array.from({ length: n }, () => ({ served, shadow, slices }));
const close = (actual: number | null, expected: number, what: string, tol = 5e-6) => assert.ok(actual !== null && Math.abs(actual - expected) < tol, `${what}: ${actual} vs ${expected}`);

test('tally: agreement and both flip directions, overall and per attribute=value', () => {
  const counts = tallyShadowDecisions([
    { served: 0, shadow: 0, slices: { tld: 'cc', lang: 'en' } },
    { served: 0, shadow: 1, slices: { tld: 'cc', lang: 'en' } },
    { served: 1, shadow: 1, slices: { tld: 'generic', lang: 'en' } },
    { served: 1, shadow: 0, slices: { tld: 'generic' } },
    { served: 0, shadow: 1, slices: { tld: 'generic', lang: 'fr' } },
  ]);
  assert.deepEqual(counts, {
    requests: 5,
    newBlocks: 2,
    newPasses: 1,
    servedBlocks: 2,
    slices: {
      'tld=cc': { requests: 2, newBlocks: 1, newPasses: 0, servedBlocks: 0 },
      'lang=en': { requests: 3, newBlocks: 1, newPasses: 0, servedBlocks: 1 },
      'tld=generic': { requests: 3, newBlocks: 1, newPasses: 1, servedBlocks: 2 },
      'lang=fr': { requests: 1, newBlocks: 1, newPasses: 0, servedBlocks: 0 },
    },
  });
  assert.throws(() => tallyShadowDecisions([{ served: 2 as 0, shadow: 0, slices: {} }]), /rows\[0\] decisions must be 0 or 1/);
});

test('a candidate that rarely flips succeeds: agreement with its Wilson interval, flip rates over all and over the served side', () => {
  // 1000 requests: 700 passed by the champion (10 of them the candidate blocks), 300 blocked (20 it passes).
  const data = [...rows(690, 0, 0), ...rows(10, 0, 1), ...rows(280, 1, 1), ...rows(20, 1, 0)];
  const c = compareShadowDecisions(data);
  assert.equal(c.phase, 'Successful');
  assert.equal(c.requests, 1000);
  assert.equal(c.agreement.count, 970);
  assert.deepEqual({ ...c.agreement, count: undefined }, { ...wilsonInterval(970, 1000), count: undefined });
  // By hand: 970/1000 → [0.957497, 0.978906]; 10/1000 → [0.005441, 0.018309]; 20/1000 → [0.012984, 0.030690].
  close(c.agreement.estimate, 0.97, 'agreement');
  close(c.agreement.lower, 0.957497, 'agreement lower');
  close(c.agreement.upper, 0.978906, 'agreement upper');
  assert.equal(c.newBlocks.count, 10);
  close(c.newBlocks.rate.lower, 0.005441, 'new-block lower');
  close(c.newBlocks.rate.upper, 0.018309, 'new-block upper');
  assert.deepEqual(c.newBlocks.ofServed, wilsonInterval(10, 700), 'of the 700 the champion passed');
  close(c.newBlocks.ofServed.upper, 0.026095, 'new blocks of served passes, upper');
  assert.equal(c.newPasses.count, 20);
  close(c.newPasses.rate.upper, 0.03069, 'new-pass upper');
  assert.deepEqual(c.newPasses.ofServed, wilsonInterval(20, 300), 'of the 300 the champion blocked');
  assert.match(c.reasons[0]!, /overall: new blocks 10 \(1\.00%/);
  assert.deepEqual(c.rules, { maxNewBlockRate: 0.05, maxNewPassRate: 0.1, minRequests: 100, minSupport: 30, confidence: 0.95 });
});

test('exactly minRequests with no flips succeeds: 0/100 has upper bound z²/(n+z²) = 0.036993 < 5%', () => {
  const c = compareShadowDecisions([...rows(60, 0, 0), ...rows(40, 1, 1)]);
  assert.equal(c.phase, 'Successful');
  close(c.newBlocks.rate.upper, 3.841459 / 103.841459, 'closed form upper');
  close(c.agreement.lower, 100 / 103.841459, 'closed form lower of 100/100');
  assert.equal(c.agreement.upper, 1);
  // One request fewer: too little to judge, however clean.
  const few = compareShadowDecisions([...rows(59, 0, 0), ...rows(40, 1, 1)]);
  assert.equal(few.phase, 'Inconclusive');
  assert.deepEqual(few.reasons, ['only 99 shadowed requests compared; 100 needed']);
});

test('below minRequests a candidate that flips everything is inconclusive (a human looks), its failing slices named', () => {
  const c = compareShadowDecisions(rows(80, 0, 1, { tld: 'cc' }));
  assert.equal(c.phase, 'Inconclusive');
  assert.equal(c.reasons[0], 'only 80 shadowed requests compared; 100 needed');
  assert.match(c.reasons[1]!, /^\(not judged\) tld=cc: new blocks 80 \(100\.00%/);
  assert.equal(c.newBlocks.count, 80);
});

test('an interval straddling the limit is inconclusive: 4 new blocks in 200 → [0.7804%, 5.0287%] against 5%', () => {
  const c = compareShadowDecisions([...rows(136, 0, 0), ...rows(4, 0, 1), ...rows(58, 1, 1), ...rows(2, 1, 0)]);
  close(c.newBlocks.rate.lower, 0.007804, 'lower');
  close(c.newBlocks.rate.upper, 0.050287, 'upper');
  close(c.agreement.estimate, 194 / 200, 'agreement');
  assert.equal(c.phase, 'Inconclusive');
  assert.match(c.reasons[0]!, /straddles/);
  // A looser limit (6%) makes the same window Successful; the upper bound is what success needs.
  assert.equal(compareShadowDecisions([...rows(136, 0, 0), ...rows(4, 0, 1), ...rows(58, 1, 1), ...rows(2, 1, 0)], { maxNewBlockRate: 0.06 }).phase, 'Successful');
});

test('surely too many new blocks fails: 30 in 200 → lower bound 10.71% > 5%', () => {
  const c = compareShadowDecisions([...rows(150, 0, 0), ...rows(30, 0, 1), ...rows(20, 1, 1)]);
  assert.equal(c.phase, 'Failed');
  close(c.newBlocks.rate.lower, 0.107136, 'lower');
  close(c.newBlocks.rate.upper, 0.206056, 'upper');
  assert.equal(c.reasons.length, 1);
  assert.match(c.reasons[0]!, /^overall: new blocks 30 \(15\.00% \[10\.71%, 20\.61%\]\).*new blocks above the allowed 5\.00%/);
});

test('the other direction is judged too: 80 new passes in 500 → lower bound 13.05% > 10%', () => {
  const c = compareShadowDecisions([...rows(400, 0, 0), ...rows(20, 1, 1), ...rows(80, 1, 0)]);
  assert.equal(c.phase, 'Failed');
  close(c.newPasses.rate.lower, 0.130476, 'lower');
  assert.equal(c.newBlocks.count, 0);
  assert.deepEqual(c.newPasses.ofServed, wilsonInterval(80, 100));
  close(c.newPasses.ofServed.lower, 0.711171, "of the champion's blocks, lower");
  assert.match(c.reasons[0]!, /new passes above the allowed 10\.00%/);
});

test('a slice the candidate breaks fails the window though the overall rate passes; thin slices are insufficient, not judged', () => {
  // 1000 requests: every new block (20) falls on country-code senders (100 requests); 10 requests in lang=xx.
  const data = [
    ...rows(20, 0, 1, { tld: 'cc', lang: 'en' }),
    ...rows(80, 0, 0, { tld: 'cc', lang: 'en' }),
    ...rows(890, 0, 0, { tld: 'generic', lang: 'en' }),
    ...rows(10, 0, 0, { tld: 'generic', lang: 'xx' }),
  ];
  const c = compareShadowDecisions(data);
  // Overall 20/1000: upper 3.069% ≤ 5%, on its own Successful.
  close(c.newBlocks.rate.upper, 0.03069, 'overall upper');
  assert.equal(c.phase, 'Failed');
  assert.deepEqual(c.slices.map((s) => [s.slice, s.support, s.phase]), [
    ['lang=en', 990, 'Successful'],
    ['lang=xx', 10, 'insufficient'],
    ['tld=cc', 100, 'Failed'],
    ['tld=generic', 900, 'Successful'],
  ]);
  // Three slices judged: each at 1 − 0.05/3. By hand 20/100 at that level: [12.17%, 31.08%].
  const cc = c.slices.find((s) => s.slice === 'tld=cc')!;
  assert.deepEqual(cc.newBlocks.rate, wilsonInterval(20, 100, 1 - 0.05 / 3));
  close(cc.newBlocks.rate.lower, 0.121725, 'slice lower');
  close(cc.newBlocks.rate.upper, 0.310798, 'slice upper');
  close(c.slices[0]!.newBlocks.rate.upper, 0.033989, 'lang=en upper at the slice level');
  assert.deepEqual(c.reasons.length, 1);
  assert.match(c.reasons[0]!, /^tld=cc: new blocks 20 \(20\.00%/);
  assert.match(c.slices[1]!.detail, /lang=xx: 10 requests; 30 needed/);
  // With a higher minimum support the country-code slice is not judged and the window succeeds.
  assert.equal(compareShadowDecisions(data, { minSupport: 101 }).phase, 'Successful');
});

test('rows and pre-tallied counts (what the activity aggregates in SQL) give the same judgement; bad rules are refused', () => {
  const data = [...rows(300, 0, 0, { tld: 'cc' }), ...rows(12, 0, 1, { tld: 'generic' }), ...rows(90, 1, 1, { tld: 'generic' }), ...rows(3, 1, 0, { tld: 'cc' })];
  assert.deepEqual(compareShadowDecisions(data, { maxNewBlockRate: 0.02 }), judgeShadowCounts(tallyShadowDecisions(data), { maxNewBlockRate: 0.02 }));
  assert.throws(() => compareShadowDecisions(data, { maxNewBlockRate: 1.5 }), RangeError);
  assert.throws(() => compareShadowDecisions(data, { minRequests: 0 }), RangeError);
  assert.throws(() => judgeShadowCounts({ requests: 10, newBlocks: 0, newPasses: 5, servedBlocks: 2, slices: {} }), /inconsistent/);
  const none = compareShadowDecisions([]);
  assert.equal(none.phase, 'Inconclusive');
  assert.deepEqual(none.agreement, { count: 0, estimate: null, lower: null, upper: null });
});
