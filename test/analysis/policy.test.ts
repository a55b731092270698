// Gate policies fail closed: straddling intervals, missing metrics or slices, thin slices, no policy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { evaluateCalibration } from '../../analysis/calibration';
import { encodeAttribute } from '../../analysis/confusion';
import { wilsonInterval } from '../../analysis/numerics/intervals';
import {
  calibrationBinsOf,
  defaultSpamFilterPolicy,
  gatePolicySchema,
  intersectionsOf,
  judgePolicy,
  thresholdConstraintsKey,
  type CalibrationEvidenceSlice,
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

// ---- calibration ----

const iv = (estimate: number, lower: number, upper: number) => ({ estimate, lower, upper });
function calSlice(attribute: string, value: string, support: number, eceQuantile: [number, number, number], brier: [number, number, number]): CalibrationEvidenceSlice {
  const none = { estimate: null, lower: null, upper: null };
  return { attribute, value, support, ece: { uniform: iv(0.5, 0.4, 0.6), quantile: iv(...eceQuantile) }, mce: { uniform: none, quantile: none }, brier: iv(...brier) };
}
const calibrated = (bins = 10): PolicyEvidence['calibration'] => [
  {
    bins,
    slices: [
      calSlice('overall', 'all', 1500, [0.02, 0.015, 0.035], [0.05, 0.045, 0.055]),
      calSlice('format', 'html', 300, [0.03, 0.01, 0.07], [0.06, 0.05, 0.07]),
      calSlice('format', 'plain', 1200, [0.02, 0.012, 0.04], [0.05, 0.04, 0.06]),
      calSlice('format', 'rtf', 0, [0, 0, 0], [0, 0, 0]),
      calSlice('charset', 'cjk', 12, [0.1, 0.05, 0.3], [0.1, 0.05, 0.2]),
    ],
  },
];

test('calibration rules are judged on the upper end of the interval, per slice, and fail closed', () => {
  const rule = (over: Record<string, unknown>) => policy({ rules: [{ kind: 'calibration', metric: 'ece', max: 0.05, ...over } as GatePolicyInput['rules'][number]] });
  // Defaults: quantile (adaptive) bins, 10 of them, overall.
  const parsed = rule({}).rules[0]!;
  assert.deepEqual(parsed, { kind: 'calibration', metric: 'ece', binning: 'quantile', bins: 10, slices: 'overall', max: 0.05, onFail: 'block' });
  assert.equal(judgePolicy(rule({}), evidence({ calibration: calibrated() })).decision, 'approved');
  // Estimate 0.02 below 0.03, upper 0.035 above: the interval decides.
  const straddle = judgePolicy(rule({ max: 0.03 }), evidence({ calibration: calibrated() }));
  assert.equal(straddle.decision, 'failed');
  assert.match(straddle.rules[0]!.detail, /overall: ece \(quantile bins\) 0.0200 \[0.0150, 0.0350\]: interval reaches above 0.03/);
  // Uniform bins read the other interval.
  assert.equal(judgePolicy(rule({ binning: 'uniform' }), evidence({ calibration: calibrated() })).decision, 'failed');
  // Every value of an attribute: html's upper 0.07 fails, plain passes, the empty rtf is skipped.
  const perSlice = judgePolicy(rule({ slices: { attribute: 'format', value: '*' }, onFail: 'ask' }), evidence({ calibration: calibrated() }));
  assert.equal(perSlice.decision, 'needs_approval');
  assert.deepEqual(perSlice.rules[0]!.checks.map((c) => [c.slice, c.outcome]), [['format=html', 'failed'], ['format=plain', 'passed']]);
  // A named empty slice fails; a thin one is insufficient, never passed.
  assert.equal(judgePolicy(rule({ slices: { attribute: 'format', value: 'rtf' } }), evidence({ calibration: calibrated() })).decision, 'failed');
  const thin = judgePolicy(rule({ slices: { attribute: 'charset', value: 'cjk' } }), evidence({ calibration: calibrated() }));
  assert.equal(thin.rules[0]!.outcome, 'insufficient');
  assert.equal(thin.decision, 'failed');
  // Missing evidence fails: no calibration at all, other bins, an unknown slice, an undefined interval.
  assert.match(judgePolicy(rule({}), evidence()).rules[0]!.detail, /missing evidence: no calibration evaluation with 10 bins/);
  assert.equal(judgePolicy(rule({ bins: 15 }), evidence({ calibration: calibrated() })).decision, 'failed');
  assert.equal(judgePolicy(rule({ slices: { attribute: 'lang', value: 'de' } }), evidence({ calibration: calibrated() })).decision, 'failed');
  assert.equal(judgePolicy(rule({ metric: 'mce' }), evidence({ calibration: calibrated() })).decision, 'failed');
  // The Brier score ignores bins: any calibration entry serves.
  const brier = policy({ rules: [{ kind: 'calibration', metric: 'brier', max: 0.06, bins: 20 }] });
  assert.equal(judgePolicy(brier, evidence({ calibration: calibrated(10) })).decision, 'approved');
  assert.equal(judgePolicy(brier, evidence({ calibration: null })).decision, 'failed');
  // The schema: max is a proportion, metric and binning are known, bins a positive integer.
  for (const bad of [{ max: 1.5 }, { metric: 'logloss' }, { binning: 'equal' }, { bins: 0 }, { bins: 2.5 }, { max: undefined }]) {
    assert.equal(gatePolicySchema.safeParse({ rules: [{ kind: 'calibration', metric: 'ece', max: 0.05, ...bad }] }).success, false, JSON.stringify(bad));
  }
  assert.deepEqual(calibrationBinsOf(null), []);
  assert.deepEqual(calibrationBinsOf(brier), [10]);
  assert.deepEqual(
    calibrationBinsOf(policy({ rules: [{ kind: 'calibration', metric: 'ece', max: 0.1, bins: 15 }, { kind: 'calibration', metric: 'mce', max: 0.2, binning: 'uniform' }, brier.rules[0]!] })),
    [10, 15],
  );
});

test('calibration rule on a real evaluation: an overconfident slice fails while the aggregate passes', () => {
  // The oracle's planted case: log-odds x3 in region=east, calibrated in region=west.
  const oracle = JSON.parse(readFileSync(new URL('../fixtures/calibration_oracle.json', import.meta.url), 'utf8')) as {
    datasets: { name: string; labels: number[]; scores: number[]; attributes: [string, string[]][] }[];
  };
  const ds = oracle.datasets.find((d) => d.name === 'overconfident')!;
  const ev = evaluateCalibration({ labels: ds.labels, scores: ds.scores, attributes: ds.attributes.map(([n, v]) => encodeAttribute(n, v)), options: { B: 200 } });
  const calibration = [{ bins: ev.bins, slices: [ev.overall, ...ev.slices] }];
  const j = judgePolicy(
    policy({
      rules: [
        { kind: 'calibration', id: 'overall-ece', metric: 'ece', max: 0.15 },
        { kind: 'calibration', id: 'region-ece', metric: 'ece', slices: { attribute: 'region', value: '*' }, max: 0.15 },
      ],
    }),
    evidence({ calibration }),
  );
  assert.deepEqual(j.rules.map((r) => r.outcome), ['passed', 'failed']);
  assert.deepEqual(j.rules[1]!.checks.map((c) => [c.slice, c.outcome]), [['region=east', 'failed'], ['region=west', 'passed']]);
  assert.equal(j.decision, 'failed');
});

/** Cells of format × sender_tld as the evaluation names them (analysis/confusion.ts intersect). */
const cell = (f: string, t: string, fp: number, negatives: number, tp: number, positives: number) =>
  slice('format&sender_tld', `format=${f}&sender_tld=${t}`, fp, negatives, tp, positives);

test('intersection selectors: one cell or every cell, in either order; the worst cell decides', () => {
  const cells = [
    cell('html', 'country_code', 12, 40, 38, 40), // FPR 30%: fails
    cell('html', 'generic', 1, 200, 190, 200),
    cell('plain', 'generic', 2, 600, 280, 300),
    cell('plain', 'country_code', 0, 10, 9, 10), // 10 negatives < 30: insufficient
  ];
  const ev = evidence({ slices: [...evidence().slices, ...cells] });
  const bound = (slices: unknown, max = 0.2) => policy({ rules: [{ kind: 'bound', id: 'r', metric: 'fpr', slices: slices as never, max }] });

  const one = judgePolicy(bound({ attributes: { sender_tld: 'country_code', format: 'html' } }), ev).rules[0]!;
  assert.equal(one.outcome, 'failed');
  assert.deepEqual(one.checks.map((c) => c.slice), ['format=html&sender_tld=country_code']);
  assert.match(one.detail, /^format=html&sender_tld=country_code: fpr 0\.3000 \[0\.1807, 0\.4543\]: interval reaches above 0\.2000/);

  const fine = judgePolicy(bound({ attributes: { format: 'html', sender_tld: 'generic' } }), ev).rules[0]!;
  assert.equal(fine.outcome, 'passed');

  // Every cell: the failing one decides over the thin one; the thin one is insufficient, not passed.
  const all = judgePolicy(bound({ attributes: ['sender_tld', 'format'] }), ev).rules[0]!;
  assert.equal(all.outcome, 'failed');
  assert.deepEqual(Object.fromEntries(all.checks.map((c) => [c.slice, c.outcome])), {
    'format=html&sender_tld=country_code': 'failed',
    'format=html&sender_tld=generic': 'passed',
    'format=plain&sender_tld=generic': 'passed',
    'format=plain&sender_tld=country_code': 'insufficient',
  });
  // Without the failing cell, the thin one makes the rule insufficient (and the gate fails under block).
  const thin = judgePolicy(bound({ attributes: ['format', 'sender_tld'] }), evidence({ slices: cells.slice(1) }));
  assert.equal(thin.rules[0]!.outcome, 'insufficient');
  assert.equal(thin.decision, 'failed');

  // A wildcard value: every sender_tld of html mail.
  const html = judgePolicy(bound({ attributes: { format: 'html', sender_tld: '*' } }), ev).rules[0]!;
  assert.deepEqual(html.checks.map((c) => c.slice), ['format=html&sender_tld=country_code', 'format=html&sender_tld=generic']);
  // A wildcard skips cells where the metric cannot exist (no ham: no FPR); a named cell does not.
  const spamOnly = evidence({ slices: [cell('html', 'country_code', 0, 0, 40, 40), cell('plain', 'generic', 2, 600, 280, 300)] });
  assert.deepEqual(judgePolicy(bound({ attributes: ['format', 'sender_tld'] }), spamOnly).rules[0]!.checks.map((c) => c.slice), ['format=plain&sender_tld=generic']);
  assert.equal(judgePolicy(bound({ attributes: { format: 'html', sender_tld: 'country_code' } }), spamOnly).rules[0]!.outcome, 'failed');

  // Cells evaluated in the other order (sender_tld&format) are found too.
  const reversed = evidence({ slices: [slice('sender_tld&format', 'sender_tld=generic&format=html', 1, 200, 190, 200)] });
  assert.equal(judgePolicy(bound({ attributes: { format: 'html', sender_tld: 'generic' } }), reversed).rules[0]!.outcome, 'passed');

  // min_support reads cells the same way.
  const support = policy({ rules: [{ kind: 'min_support', slices: { attributes: ['format', 'sender_tld'] }, minNegatives: 20 }] });
  assert.match(judgePolicy(support, ev).rules[0]!.detail, /format=plain&sender_tld=country_code: negatives 10 < 20/);
});

test('an intersection the evaluation lacks is missing evidence and fails closed; a bad selector is refused', () => {
  const rule = (slices: unknown, onFail: 'block' | 'ask' = 'block') => policy({ rules: [{ kind: 'bound', id: 'r', metric: 'accuracy', slices: slices as never, min: 0.5, onFail }] });
  const ev = evidence({ slices: [...evidence().slices, cell('html', 'generic', 1, 200, 190, 200)] });
  const unknown = judgePolicy(rule({ attributes: ['format', 'language'] }), ev);
  assert.equal(unknown.decision, 'failed');
  assert.match(unknown.rules[0]!.detail, /^missing evidence: intersection format × language is not in the evaluation/);
  assert.equal(judgePolicy(rule({ attributes: ['format', 'language'] }, 'ask'), ev).rules[0]!.outcome, 'needs_approval');
  const empty = judgePolicy(rule({ attributes: { format: 'plain', sender_tld: 'generic' } }), ev);
  assert.match(empty.rules[0]!.detail, /missing evidence: intersection cell format=plain&sender_tld=generic has no rows in the evaluation/);
  assert.equal(empty.decision, 'failed');
  // No intersection in the evidence at all (a stored packet judged under a newer policy): fails closed.
  assert.equal(judgePolicy(rule({ attributes: ['format', 'sender_tld'] }), evidence()).decision, 'failed');

  const issue = (slices: unknown) => {
    const r = gatePolicySchema.safeParse({ rules: [{ kind: 'bound', metric: 'accuracy', min: 0.5, slices }] });
    assert.equal(r.success, false, JSON.stringify(slices));
    return `${r.error!.issues[0]!.path.join('.')}: ${r.error!.issues[0]!.message}`;
  };
  assert.equal(issue({ attributes: ['format'] }), 'rules.0.slices.attributes: an intersection names exactly two attributes (cells of three or more get too thin to judge); got 1');
  assert.match(issue({ attributes: ['format', 'sender_tld', 'charset'] }), /exactly two attributes.*got 3/);
  assert.match(issue({ attributes: { format: 'html' } }), /exactly two attributes.*got 1/);
  assert.equal(issue({ attributes: ['format', 'format'] }), 'rules.0.slices.attributes: an intersection names an attribute twice (format, format)');
  assert.match(issue({ attributes: ['format&x', 'sender_tld'] }), /rules\.0\.slices\.attributes\.0: an attribute in an intersection cannot contain '&' or '='/);
  assert.match(issue({ attributes: { format: 'html', sender_tld: '' } }), /rules\.0\.slices\.attributes\.sender_tld: a cell's value/);
  assert.match(issue({ attributes: ['format', 'sender_tld'], value: 'x' }), /Unrecognized key: "value"/);
});

test('intersectionsOf: the pairs the policy reads, each in code-unit order, once', () => {
  assert.deepEqual(intersectionsOf(null), []);
  const p = policy({
    rules: [
      { kind: 'bound', metric: 'fpr', slices: { attributes: ['sender_tld', 'format'] }, max: 0.2 },
      { kind: 'no_regression', metric: 'accuracy', slices: { attributes: { format: 'html', sender_tld: 'generic' } }, margin: 0.01 },
      { kind: 'min_support', slices: { attributes: ['charset', 'format'] } },
      { kind: 'calibration', metric: 'brier', slices: { attributes: ['format', 'lang'] }, max: 0.1 },
      { kind: 'bound', metric: 'fpr', slices: { attribute: 'format', value: '*' }, max: 0.2 },
    ],
  });
  assert.deepEqual(intersectionsOf(p), [
    ['charset', 'format'],
    ['format', 'lang'],
    ['format', 'sender_tld'],
  ]);
});
