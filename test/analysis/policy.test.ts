// Gate policies fail closed: straddling intervals, missing metrics or slices, thin slices, no policy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wilsonInterval } from '../../analysis/numerics/intervals';
import {
  defaultSpamFilterPolicy,
  gatePolicySchema,
  judgePolicy,
  thresholdConstraintsKey,
  type EvidenceSlice,
  type GatePolicyInput,
  type PolicyEvidence,
} from '../../analysis/policy';

function slice(attribute: string, value: string, fp: number, negatives: number, tp: number, positives: number): EvidenceSlice {
  const support = negatives + positives;
  return {
    attribute,
    value,
    support,
    positives,
    negatives,
    metrics: {
      fpr: wilsonInterval(fp, negatives),
      recall: wilsonInterval(tp, positives),
      accuracy: wilsonInterval(tp + negatives - fp, support),
    },
  };
}

const evidence = (over: Partial<PolicyEvidence> = {}): PolicyEvidence => ({
  slices: [
    slice('overall', 'all', 10, 1000, 480, 500),
    slice('corpus_group', 'easy_ham', 2, 900, 0, 0),
    slice('corpus_group', 'hard_ham', 8, 100, 0, 0),
    slice('corpus_group', 'spam', 0, 0, 480, 500),
    slice('format', 'html', 1, 5, 20, 20),
  ],
  deltas: null,
  fairness: [],
  thresholds: [],
  ...over,
});

const policy = (input: GatePolicyInput) => gatePolicySchema.parse(input);

test('no policy is never an approval', () => {
  const j = judgePolicy(null, evidence());
  assert.equal(j.decision, 'failed');
  assert.match(j.reasons[0]!, /no gate policy/);
});

test('a bound is met only when the whole interval clears it', () => {
  // overall FPR 10/1000 = 1%, Wilson upper ~1.8%: passes max 0.02, fails max 0.015 though the point estimate is below.
  assert.equal(judgePolicy(policy({ rules: [{ kind: 'bound', metric: 'fpr', slices: 'overall', max: 0.02 }] }), evidence()).decision, 'approved');
  const straddle = judgePolicy(policy({ rules: [{ kind: 'bound', metric: 'fpr', slices: 'overall', max: 0.015 }] }), evidence());
  assert.equal(straddle.decision, 'failed');
  assert.match(straddle.rules[0]!.detail, /reaches above 0.015/);
  const ask = judgePolicy(policy({ rules: [{ kind: 'bound', metric: 'fpr', slices: 'overall', max: 0.015, onFail: 'ask' }] }), evidence());
  assert.equal(ask.decision, 'needs_approval');
});

test('a slice failing inside an aggregate that passes is caught and named', () => {
  const j = judgePolicy(
    policy({ minSliceSupport: 30, rules: [{ kind: 'bound', metric: 'fpr', slices: { attribute: 'corpus_group', value: '*' }, max: 0.05 }] }),
    evidence(),
  );
  assert.equal(j.decision, 'failed');
  const failing = j.rules[0]!.checks.filter((c) => c.outcome === 'failed').map((c) => c.slice);
  assert.deepEqual(failing, ['corpus_group=hard_ham'], 'hard ham exceeds the bound');
  assert.ok(!j.rules[0]!.checks.some((c) => c.slice === 'corpus_group=spam'), 'a wildcard skips spam: FPR cannot exist without ham');
  // Named explicitly, a slice whose metric cannot exist fails instead.
  const named = judgePolicy(policy({ rules: [{ kind: 'bound', metric: 'fpr', slices: { attribute: 'corpus_group', value: 'spam' }, max: 0.05 }] }), evidence());
  assert.equal(named.decision, 'failed');
  assert.match(named.rules[0]!.detail, /fpr is undefined: the slice has no negatives/);
});

test("minimum support counts the metric's own denominator (negatives for FPR)", () => {
  // format=html has 25 rows but only 5 ham: too few to judge its FPR at minSliceSupport 10.
  const j = judgePolicy(policy({ minSliceSupport: 10, rules: [{ kind: 'bound', metric: 'fpr', slices: { attribute: 'format', value: 'html' }, max: 0.5, onFail: 'ask' }] }), evidence());
  assert.equal(j.rules[0]!.outcome, 'insufficient');
  assert.match(j.rules[0]!.detail, /5 negatives < minimum 10/);
  const recall = judgePolicy(policy({ minSliceSupport: 10, rules: [{ kind: 'bound', metric: 'recall', slices: { attribute: 'format', value: 'html' }, min: 0.5 }] }), evidence());
  assert.equal(recall.rules[0]!.outcome, 'passed', '20 positives are enough for recall');
});

test('a slice below minimum support is insufficient, never passed', () => {
  const j = judgePolicy(policy({ minSliceSupport: 30, rules: [{ kind: 'bound', metric: 'fpr', slices: { attribute: 'format', value: 'html' }, max: 0.5 }] }), evidence());
  assert.equal(j.rules[0]!.outcome, 'insufficient');
  assert.equal(j.decision, 'failed', 'onFail block: thin evidence blocks');
  const ask = judgePolicy(policy({ minSliceSupport: 30, rules: [{ kind: 'bound', metric: 'fpr', slices: { attribute: 'format', value: 'html' }, max: 0.5, onFail: 'ask' }] }), evidence());
  assert.equal(ask.decision, 'needs_approval');
});

test('a missing slice or metric fails', () => {
  const missingSlice = judgePolicy(policy({ rules: [{ kind: 'bound', metric: 'fpr', slices: { attribute: 'charset', value: 'cjk' }, max: 0.5 }] }), evidence());
  assert.equal(missingSlice.decision, 'failed');
  assert.match(missingSlice.rules[0]!.detail, /missing evidence: slice charset=cjk/);
  const missingMetric = judgePolicy(policy({ rules: [{ kind: 'bound', metric: 'auc', slices: 'overall', min: 0.9 }] }), evidence());
  assert.equal(missingMetric.decision, 'failed');
  const emptySlices = judgePolicy(policy({ rules: [{ kind: 'bound', metric: 'fpr', slices: 'overall', max: 0.5 }] }), evidence({ slices: [] }));
  assert.equal(emptySlices.decision, 'failed');
  const missingFairness = judgePolicy(policy({ rules: [{ kind: 'fairness', attribute: 'sender_tld', metric: 'fpr_difference', max: 0.1 }] }), evidence());
  assert.equal(missingFairness.decision, 'failed');
  const missingThreshold = judgePolicy(policy({ rules: [{ kind: 'threshold', constraints: { minRecall: 0.9 } }] }), evidence());
  assert.equal(missingThreshold.decision, 'failed');
});

test('no regression is judged on the paired interval of the difference', () => {
  const rules: GatePolicyInput['rules'] = [
    { kind: 'no_regression', metric: 'accuracy', slices: 'overall', margin: 0.01 },
    { kind: 'no_regression', metric: 'fpr', slices: 'overall', margin: 0.01 },
  ];
  assert.equal(judgePolicy(policy({ rules }), evidence()).rules[0]!.detail, 'no champion to compare with');
  const deltas = (accLower: number, fprUpper: number): PolicyEvidence['deltas'] => [
    { attribute: 'overall', value: 'all', metric: 'accuracy', interval: { estimate: 0.002, lower: accLower, upper: 0.01 } },
    { attribute: 'overall', value: 'all', metric: 'fpr', interval: { estimate: 0, lower: -0.01, upper: fprUpper } },
  ];
  assert.equal(judgePolicy(policy({ rules }), evidence({ deltas: deltas(-0.005, 0.005) })).decision, 'approved');
  const worse = judgePolicy(policy({ rules }), evidence({ deltas: deltas(-0.02, 0.02) }));
  assert.equal(worse.decision, 'failed');
  assert.deepEqual(worse.rules.map((r) => r.outcome), ['failed', 'failed']);
  const noDelta = judgePolicy(policy({ rules: [{ kind: 'no_regression', metric: 'recall', slices: 'overall', margin: 0.01 }] }), evidence({ deltas: [] }));
  assert.equal(noDelta.decision, 'failed', 'a champion exists but the difference is missing: fail');
});

test('fairness and threshold rules read their analyses; human approval always asks', () => {
  const fairness = [{ attribute: 'sender_tld', metrics: { fpr_difference: { estimate: 0.04, lower: 0.01, upper: 0.12 } } }];
  const constraints = { minRecall: 0.9, maxSliceFpr: 0.1 };
  const ev = evidence({ fairness, thresholds: [{ constraintsKey: thresholdConstraintsKey(constraints), status: 'met', detail: 'threshold 0.42' }] });
  const j = judgePolicy(
    policy({
      rules: [
        { kind: 'fairness', attribute: 'sender_tld', metric: 'fpr_difference', max: 0.1, onFail: 'ask' },
        { kind: 'threshold', constraints },
        { kind: 'human_approval' },
      ],
    }),
    ev,
  );
  assert.deepEqual(j.rules.map((r) => r.outcome), ['needs_approval', 'passed', 'needs_approval']);
  assert.equal(j.decision, 'needs_approval');
});

test('min_support rules and the schema', () => {
  const j = judgePolicy(policy({ rules: [{ kind: 'min_support', slices: { attribute: 'corpus_group', value: '*' }, minNegatives: 50, onFail: 'ask' }] }), evidence());
  assert.equal(j.decision, 'needs_approval');
  assert.match(j.rules[0]!.detail, /corpus_group=spam: negatives 0 < 50/);
  assert.ok(gatePolicySchema.safeParse(defaultSpamFilterPolicy).success);
  assert.equal(gatePolicySchema.safeParse({ rules: [] }).success, false, 'a policy needs a rule');
  assert.equal(gatePolicySchema.safeParse({ rules: [{ kind: 'bound', metric: 'fpr', slices: 'overall' }] }).success, false, 'a bound needs min or max');
  assert.equal(gatePolicySchema.safeParse({ rules: [{ kind: 'bound', metric: 'fpr', slices: 'overall', max: 1.5 }] }).success, false);
  assert.equal(gatePolicySchema.safeParse({ rules: [{ kind: 'telepathy' }] }).success, false);
});
