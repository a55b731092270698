import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultSimpleGatePolicy,
  evaluateSimpleGate,
  simpleGatePolicySchema,
  type GateEvaluation,
  type SimpleGatePolicy,
} from '../../analysis/gatePolicy';
import { metricSetFromCounts, type ConfusionCounts, type EvaluationSummary } from '../../analysis/metrics';

/** Builds an EvaluationSummary from per-slice counts of one attribute; overall = sum of slices. */
function summary(slices: Record<string, ConfusionCounts>, attribute = 'lang'): EvaluationSummary {
  const overall: ConfusionCounts = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (const c of Object.values(slices)) {
    overall.tp += c.tp;
    overall.fp += c.fp;
    overall.tn += c.tn;
    overall.fn += c.fn;
  }
  return {
    threshold: 0.5,
    overall: metricSetFromCounts(overall),
    slices: Object.keys(slices)
      .sort()
      .map((value) => ({ attribute, value, metrics: metricSetFromCounts(slices[value]!) })),
  };
}

// Clean: overall FPR 2/400 (upper bound ~0.018), worst slice 1/200 = 0.005, accuracy 0.9825.
const clean = summary({
  en: { tp: 95, fp: 1, tn: 199, fn: 5 },
  de: { tp: 98, fp: 1, tn: 199, fn: 2 },
});
const rule = (e: GateEvaluation, name: string) => {
  const r = e.rules.find((x) => x.rule === name);
  assert.ok(r, `rule ${name} present`);
  return r;
};
const policy = (over: Partial<SimpleGatePolicy>): SimpleGatePolicy => ({ ...defaultSimpleGatePolicy, ...over });

test('default policy values', () => {
  assert.deepEqual(
    { ...defaultSimpleGatePolicy },
    {
      maxOverallFpr: 0.05,
      maxSliceFpr: 0.1,
      minSliceSupport: 20,
      maxAccuracyRegression: 0.01,
      requireHumanApproval: 'always',
      sliceFprWarnMargin: 0.02,
    },
  );
  assert.deepEqual(simpleGatePolicySchema.parse(defaultSimpleGatePolicy), defaultSimpleGatePolicy);
});

test('clean candidate: needs_approval under always, passed under never and on_warning', () => {
  const always = evaluateSimpleGate(defaultSimpleGatePolicy, clean, null);
  assert.equal(always.decision, 'needs_approval');
  assert.deepEqual(always.rules.map((r) => [r.rule, r.outcome]), [
    ['overall_fpr', 'passed'],
    ['worst_slice_fpr', 'passed'],
    ['slice_support', 'passed'],
    ['no_regression_vs_champion', 'passed'],
  ]);
  assert.deepEqual(always.reasons, ['policy requires human approval']);
  assert.equal(rule(always, 'no_regression_vs_champion').detail, 'no champion');
  assert.equal(rule(always, 'no_regression_vs_champion').observed, null);
  assert.equal(rule(always, 'overall_fpr').observed, clean.overall.fpr.upper);

  const never = evaluateSimpleGate(policy({ requireHumanApproval: 'never' }), clean, null);
  assert.equal(never.decision, 'passed');
  assert.deepEqual(never.reasons, []);

  const onWarning = evaluateSimpleGate(policy({ requireHumanApproval: 'on_warning' }), clean, clean);
  assert.equal(onWarning.decision, 'passed');
  assert.equal(rule(onWarning, 'no_regression_vs_champion').observed, 0);
});

test('high overall FPR fails (judged on the upper Wilson bound)', () => {
  // Point estimate 16/400 = 0.04 is under 0.05, but the upper bound (~0.064) is not.
  const c = summary({
    en: { tp: 95, fp: 8, tn: 192, fn: 5 },
    de: { tp: 95, fp: 8, tn: 192, fn: 5 },
  });
  const e = evaluateSimpleGate(policy({ maxSliceFpr: 0.2 }), c, null);
  assert.equal(e.decision, 'failed');
  const r = rule(e, 'overall_fpr');
  assert.equal(r.outcome, 'failed');
  assert.ok(r.observed! > 0.05);
  assert.equal(c.overall.fpr.estimate, 0.04);
  assert.ok(e.reasons.some((x) => x.startsWith('overall_fpr failed')));
  assert.ok(!e.reasons.includes('policy requires human approval'));
});

test('a slice above the bound fails, naming the slice', () => {
  // Overall FPR upper bound stays under 0.05; slice fr has 3/25 = 0.12 > 0.10.
  const c = summary({
    en: { tp: 300, fp: 2, tn: 598, fn: 10 },
    fr: { tp: 10, fp: 3, tn: 22, fn: 1 },
  });
  const e = evaluateSimpleGate(defaultSimpleGatePolicy, c, null);
  assert.equal(rule(e, 'overall_fpr').outcome, 'passed');
  const r = rule(e, 'worst_slice_fpr');
  assert.equal(r.outcome, 'failed');
  assert.equal(r.observed, 0.12);
  assert.equal(r.bound, 0.1);
  assert.match(r.detail, /lang=fr/);
  assert.equal(e.decision, 'failed');
  assert.ok(e.reasons.some((x) => x.includes('lang=fr')));
});

test('a worst slice just under the bound warns; on_warning asks a human', () => {
  const c = summary({
    en: { tp: 300, fp: 2, tn: 598, fn: 10 },
    fr: { tp: 10, fp: 2, tn: 23, fn: 1 }, // 0.08, within 0.02 of 0.10
  });
  const e = evaluateSimpleGate(policy({ requireHumanApproval: 'on_warning' }), c, null);
  const r = rule(e, 'worst_slice_fpr');
  assert.equal(r.outcome, 'warning');
  assert.match(r.detail, /lang=fr/);
  assert.equal(e.decision, 'needs_approval');
  assert.equal(e.reasons.length, 1);
  assert.equal(evaluateSimpleGate(policy({ requireHumanApproval: 'never' }), c, null).decision, 'passed');
});

test('a small slice is insufficient, excluded from the slice FPR rule, and never passed silently', () => {
  // zh has only 5 negatives, and an FPR of 0.4 that must not fail the slice rule but must be reported.
  const c = summary({
    en: { tp: 300, fp: 2, tn: 598, fn: 10 },
    de: { tp: 100, fp: 1, tn: 199, fn: 2 },
    zh: { tp: 3, fp: 2, tn: 3, fn: 0 },
  });
  const e = evaluateSimpleGate(policy({ requireHumanApproval: 'on_warning' }), c, null);
  const support = rule(e, 'slice_support');
  assert.equal(support.outcome, 'insufficient');
  assert.equal(support.observed, 5);
  assert.equal(support.bound, 20);
  assert.match(support.detail, /lang=zh \(5 negatives\)/);
  const worst = rule(e, 'worst_slice_fpr');
  assert.equal(worst.outcome, 'passed');
  assert.doesNotMatch(worst.detail, /zh/);
  assert.equal(e.decision, 'needs_approval');
  assert.ok(e.reasons.some((x) => x.startsWith('slice_support insufficient') && x.includes('lang=zh')));
});

test('no slice with enough negatives makes the slice FPR rule insufficient', () => {
  const c = summary({ en: { tp: 5, fp: 0, tn: 10, fn: 0 } });
  // (With 10 negatives the overall FPR upper bound is ~0.28, so relax that rule here.)
  const e = evaluateSimpleGate(policy({ requireHumanApproval: 'on_warning', maxOverallFpr: 0.5 }), c, null);
  assert.equal(rule(e, 'overall_fpr').outcome, 'passed');
  assert.equal(rule(e, 'worst_slice_fpr').outcome, 'insufficient');
  assert.equal(rule(e, 'worst_slice_fpr').observed, null);
  assert.equal(e.decision, 'needs_approval');
  const noSlices = evaluateSimpleGate(policy({ maxOverallFpr: 0.5 }), { ...c, slices: [] }, null);
  assert.equal(rule(noSlices, 'worst_slice_fpr').outcome, 'insufficient');
  assert.match(rule(noSlices, 'worst_slice_fpr').detail, /no slices/);
  assert.equal(rule(noSlices, 'slice_support').outcome, 'passed');
});

test('an empty evaluation set is insufficient, not passed', () => {
  const empty = summary({});
  const e = evaluateSimpleGate(policy({ requireHumanApproval: 'on_warning' }), empty, clean);
  assert.equal(rule(e, 'overall_fpr').outcome, 'insufficient');
  assert.equal(rule(e, 'overall_fpr').observed, null);
  assert.equal(rule(e, 'no_regression_vs_champion').outcome, 'insufficient');
  assert.equal(e.decision, 'needs_approval');
});

test('accuracy regression vs champion beyond the margin fails; within it passes', () => {
  const champion = summary({ en: { tp: 480, fp: 5, tn: 495, fn: 20 } }); // accuracy 0.975
  const worse = summary({ en: { tp: 465, fp: 5, tn: 495, fn: 35 } }); // 0.96: drop 0.015
  const e = evaluateSimpleGate(policy({ requireHumanApproval: 'never' }), worse, champion);
  const r = rule(e, 'no_regression_vs_champion');
  assert.equal(r.outcome, 'failed');
  assert.ok(Math.abs(r.observed! - 0.015) < 1e-12);
  assert.equal(e.decision, 'failed');
  assert.ok(e.reasons.some((x) => x.startsWith('no_regression_vs_champion failed')));

  const exactlyAtMargin = summary({ en: { tp: 470, fp: 5, tn: 495, fn: 30 } }); // 0.965: drop 0.01
  const ok = evaluateSimpleGate(policy({ requireHumanApproval: 'never' }), exactlyAtMargin, champion);
  assert.equal(rule(ok, 'no_regression_vs_champion').outcome, 'passed');
  assert.equal(ok.decision, 'passed');
});

test('schema rejects bad policies', () => {
  const bad: unknown[] = [
    {},
    { ...defaultSimpleGatePolicy, maxOverallFpr: 1.5 },
    { ...defaultSimpleGatePolicy, maxSliceFpr: -0.1 },
    { ...defaultSimpleGatePolicy, minSliceSupport: 2.5 },
    { ...defaultSimpleGatePolicy, minSliceSupport: 0 },
    { ...defaultSimpleGatePolicy, maxAccuracyRegression: '0.01' },
    { ...defaultSimpleGatePolicy, requireHumanApproval: 'sometimes' },
    { ...defaultSimpleGatePolicy, sliceFprWarnMargin: Number.NaN },
    { ...defaultSimpleGatePolicy, extra: true },
    { maxOverallFpr: 0.05 },
  ];
  for (const p of bad) assert.equal(simpleGatePolicySchema.safeParse(p).success, false, JSON.stringify(p));
  const good = { ...defaultSimpleGatePolicy, requireHumanApproval: 'on_warning' };
  assert.deepEqual(simpleGatePolicySchema.parse(good), good);
});
