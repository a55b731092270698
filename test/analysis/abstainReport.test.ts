// The served decision rule (analysis/serving) and the band judged before and after, with the review
// queue's SLA figures (analysis/abstainReport), on hand-counted cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abstainReport, reviewQueueSummary } from '../../analysis/abstainReport';
import { wilsonInterval } from '../../analysis/numerics/intervals';
import { abstainBand } from '../../analysis/thresholds';
import { decisionRuleFor, served } from '../../analysis/serving';

test('decisionRuleFor: [t - h, t + h) clipped to [0, 1]; no band without a half-width', () => {
  assert.deepEqual(decisionRuleFor(0.5, 0.1), { threshold: 0.5, abstain: { lower: 0.4, upper: 0.6 } });
  assert.deepEqual(decisionRuleFor(0.95, 0.1), { threshold: 0.95, abstain: { lower: 0.85, upper: 1 } });
  assert.deepEqual(decisionRuleFor(0.05, 0.1).abstain, { lower: 0, upper: 0.15000000000000002 });
  assert.deepEqual(decisionRuleFor(0.5, undefined), { threshold: 0.5, abstain: null });
  assert.throws(() => decisionRuleFor(0.5, 0), /abstainHalfWidth/);
});

test('served: lower <= s < upper abstains; outside, the threshold decides; no band decides everything', () => {
  const rule = { threshold: 0.5, abstain: { lower: 0.4, upper: 0.6 } };
  assert.equal(served(0.4, rule), 'abstain');
  assert.equal(served(0.5999, rule), 'abstain');
  assert.equal(served(0.6, rule), 1);
  assert.equal(served(0.3999, rule), 0);
  assert.equal(served(0.45, { threshold: 0.5, abstain: null }), 0);
  assert.equal(served(0.5, { threshold: 0.5, abstain: null }), 1);
});

test('abstainReport before agrees with the packet (thresholds abstainBand) overall, and counts per slice', () => {
  const labels = [0, 0, 1, 1, 0, 1, 1, 0, 1, 0];
  const scores = [0.1, 0.45, 0.55, 0.9, 0.7, 0.2, 0.65, 0.35, 0.5, 0.62];
  const fmt = ['html', 'text', 'html', 'text', 'html', 'text', 'html', 'text', 'html', 'text'];
  const rule = decisionRuleFor(0.5, 0.1);
  const heldOut = labels.map((label, i) => ({ label, score: scores[i]!, slices: { format: fmt[i]! } }));
  const [overall, html, text] = abstainReport({ rule, heldOut, served: [] });
  const packet = abstainBand({ labels, scores, threshold: 0.5, halfWidth: 0.1 });
  assert.equal(overall!.attribute, null);
  assert.equal(overall!.before!.abstained.count, packet.deferred);
  assert.equal(overall!.before!.coverage, packet.coverage);
  assert.equal(overall!.before!.errorOutside.count / overall!.before!.errorOutside.n, packet.errorRateOutside);
  // By hand: in band 0.45, 0.55, 0.5 (3); outside 7 rows; wrong outside: 0.7 (ham blocked), 0.2 (spam passed), 0.62 (ham blocked) = 3.
  assert.deepEqual([overall!.before!.abstained.count, overall!.before!.errorOutside.count, overall!.before!.errorOutside.n], [3, 3, 7]);
  assert.deepEqual(overall!.before!.errorOutside.interval, wilsonInterval(3, 7));
  // html rows: 0.1 ok, 0.55 band, 0.7 wrong, 0.65 ok, 0.5 band → 2 abstained, 1 wrong of 3.
  assert.deepEqual([html!.value, html!.before!.abstained.count, html!.before!.errorOutside.count, html!.before!.errorOutside.n], ['html', 2, 1, 3]);
  assert.deepEqual([text!.value, text!.before!.abstained.count, text!.before!.errorOutside.count, text!.before!.errorOutside.n], ['text', 1, 2, 4]);
  assert.equal(html!.after.n, 0);
  assert.equal(html!.after.coverage, null);
});

test('abstainReport after: abstained share of served, errors outside only among labelled; a slice only served has no before', () => {
  const rule = decisionRuleFor(0.5, 0.1);
  const served = [
    { score: 0.45, abstained: true, label: null, slices: { tld: 'cc' } },
    { score: 0.55, abstained: true, label: 1, slices: { tld: 'cc' } },
    { score: 0.9, abstained: false, label: 0, slices: { tld: 'cc' } },
    { score: 0.1, abstained: false, label: 0, slices: { tld: 'com' } },
    { score: 0.8, abstained: false, label: null, slices: { tld: 'com' } },
  ];
  const groups = abstainReport({ rule, heldOut: null, served });
  assert.deepEqual(groups.map((g) => [g.attribute, g.value]), [[null, null], ['tld', 'cc'], ['tld', 'com']]);
  const [all, cc, com] = groups;
  assert.equal(all!.before, null);
  assert.deepEqual([all!.after.n, all!.after.abstained.count, all!.after.errorOutside.count, all!.after.errorOutside.n], [5, 2, 1, 2]);
  assert.equal(all!.after.coverage, 3 / 5);
  assert.deepEqual(all!.after.abstained.interval, wilsonInterval(2, 5));
  assert.deepEqual([cc!.after.abstained.count, cc!.after.errorOutside.count, cc!.after.errorOutside.n], [2, 1, 1]);
  assert.deepEqual([com!.after.abstained.count, com!.after.errorOutside.count, com!.after.errorOutside.n], [0, 0, 1]);
});

test('reviewQueueSummary: pending, overdue, within SLA with Wilson, median and p90 (numpy linear) time to review', () => {
  const h = 3_600_000;
  const items = [
    { queuedAt: 0, dueAt: 4 * h, reviewedAt: 1 * h },
    { queuedAt: 0, dueAt: 4 * h, reviewedAt: 2 * h },
    { queuedAt: 0, dueAt: 4 * h, reviewedAt: 5 * h },
    { queuedAt: 0, dueAt: 4 * h, reviewedAt: 3 * h },
    { queuedAt: h, dueAt: 5 * h, reviewedAt: null },
    { queuedAt: 7 * h, dueAt: 11 * h, reviewedAt: null },
  ];
  const s = reviewQueueSummary(items, 6 * h);
  assert.deepEqual([s.items, s.pending, s.overdue, s.reviewed], [6, 2, 1, 4]);
  assert.deepEqual([s.withinSla.count, s.withinSla.n], [3, 4]);
  assert.deepEqual(s.withinSla.interval, wilsonInterval(3, 4));
  // Waits 1, 2, 3, 5 hours: median 2.5 h; p90 at index 2.7 → 3 + 0.7 * 2 = 4.4 h (numpy.quantile).
  assert.equal(s.medianSecondsToReview, 2.5 * 3600);
  assert.ok(Math.abs(s.p90SecondsToReview! - 4.4 * 3600) < 1e-6);
  assert.equal(s.oldestPendingDueAt, 5 * h);
  const none = reviewQueueSummary([], 0);
  assert.deepEqual([none.medianSecondsToReview, none.oldestPendingDueAt, none.withinSla.interval.estimate], [null, null, null]);
});
