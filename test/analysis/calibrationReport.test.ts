// Calibration wired into the evaluation, the gate and the approval packet (analysis/report.ts), and
// into the evaluate-file path (api/evaluateFile.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateCalibration } from '../../analysis/calibration';
import { calibrationBinsOf, gatePolicySchema, type GatePolicyInput } from '../../analysis/policy';
import { Rng } from '../../analysis/random';
import {
  MAX_DISTINCT_SCORES_FOR_EXACT_CALIBRATION,
  buildApprovalPacket,
  defaultEvaluationSettings,
  encodeHeldOut,
  evaluateVersion,
  intersectionPairs,
  type HeldOutData,
} from '../../analysis/report';
import { evaluatePredictionsFile } from '../../api/evaluateFile';

/**
 * Labels drawn from a true probability p; the model reports `distort(p)`. Group 'b' gets
 * the distortion, group 'a' is reported honestly, so only 'b' (and, diluted, overall) is miscalibrated.
 */
function rows(n: number, distort: (p: number) => number, seed = 7) {
  const rng = new Rng(seed);
  const labels: number[] = [];
  const scores = new Float64Array(n);
  const group: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = Math.round(rng.next() * 100) / 100;
    const g = i % 2 === 0 ? 'a' : 'b';
    labels.push(rng.next() < p ? 1 : 0);
    scores[i] = g === 'b' ? distort(p) : p;
    group.push(g);
  }
  return { data: encodeHeldOut(labels, { group }), scores, labels, group };
}

const overconfident = (p: number) => (p >= 0.5 ? 0.9 + (p - 0.5) * 0.2 : p * 0.2);
const settings = { ...defaultEvaluationSettings, B: 300, seed: 3 };

function packetFor(data: HeldOutData, scores: Float64Array, input: GatePolicyInput, attributeNames: string[] = []) {
  const policy = gatePolicySchema.parse(input);
  const evaluation = evaluateVersion(data, scores, { settings, calibrationBins: calibrationBinsOf(policy), intersections: intersectionPairs(policy, attributeNames) });
  return buildApprovalPacket({
    runId: 'r',
    model: 'm',
    data,
    policy,
    policyVersion: 1,
    candidate: { versionId: 1, version: 1, reportHash: '', scores, evaluation },
    champion: null,
    traffic: [],
    settings,
  });
}

test('evaluateVersion reports the same calibration as evaluateCalibration on the same rows, always with 10 bins', () => {
  const { data, scores } = rows(1200, overconfident);
  const evaluation = evaluateVersion(data, scores, { settings, calibrationBins: [5] });
  assert.deepEqual(evaluation.calibration!.map((c) => c.bins), [5, 10]);
  for (const c of evaluation.calibration!) {
    const direct = evaluateCalibration({ labels: data.labels, scores, attributes: data.attributes, options: { bins: c.bins, B: 300, seed: 3, confidence: 0.95 } });
    assert.equal(c.roundedTo, null);
    assert.equal(c.replicates, 300);
    const strip = (i: { estimate: number | null; lower: number | null; upper: number | null }) => ({ estimate: i.estimate, lower: i.lower, upper: i.upper });
    for (const [mine, theirs] of [[c.overall, direct.overall], ...c.slices.map((s, k) => [s, direct.slices[k]!] as const)] as const) {
      assert.equal(mine.attribute, theirs.attribute);
      assert.equal(mine.value, theirs.value);
      assert.equal(mine.support, theirs.support);
      assert.deepEqual(mine.ece, { uniform: strip(theirs.ece.uniform), quantile: strip(theirs.ece.quantile) });
      assert.deepEqual(mine.mce, { uniform: strip(theirs.mce.uniform), quantile: strip(theirs.mce.quantile) });
      assert.deepEqual(mine.brier, strip(theirs.brier));
      assert.deepEqual(mine.brierNormal, theirs.brierNormal);
    }
    assert.deepEqual(c.overall.curves, direct.overall.curves);
    assert.equal(c.slices.length, 2);
  }
  // The planted miscalibration shows where it was planted.
  const ten = evaluation.calibration!.find((c) => c.bins === 10)!;
  const ece = (v: string) => ten.slices.find((s) => s.value === v)!.ece.quantile.estimate!;
  assert.ok(ece('b') > 0.15, `ECE of b ${ece('b')}`);
  assert.ok(ece('a') < 0.06, `ECE of a ${ece('a')}`);
});

test('a calibration rule passes on calibrated scores and blocks or asks on planted miscalibration, judged on the upper bound', () => {
  const honest = rows(2000, (p) => p);
  const skewed = rows(2000, overconfident);
  const rule = (extra: object) => ({ minSliceSupport: 30, rules: [{ kind: 'calibration', id: 'cal', metric: 'ece', binning: 'quantile', bins: 10, max: 0.08, ...extra }] }) as GatePolicyInput;

  const pass = packetFor(honest.data, honest.scores, rule({ slices: { attribute: 'group', value: '*' } }));
  assert.equal(pass.judgement.decision, 'approved', pass.judgement.reasons.join('; '));
  assert.equal(pass.judgement.rules[0]!.checks.length, 2);

  const blocked = packetFor(skewed.data, skewed.scores, rule({ slices: { attribute: 'group', value: '*' } }));
  assert.equal(blocked.judgement.decision, 'failed');
  const r = blocked.judgement.rules[0]!;
  assert.equal(r.kind, 'calibration');
  assert.deepEqual(
    r.checks.map((c) => [c.slice, c.outcome]),
    [
      ['group=a', 'passed'],
      ['group=b', 'failed'],
    ],
  );
  // The observed interval is the packet's own number.
  const b = blocked.candidateEvaluation.calibration!.find((c) => c.bins === 10)!.slices.find((s) => s.value === 'b')!;
  assert.deepEqual(r.checks[1]!.observed, b.ece.quantile);

  const asked = packetFor(skewed.data, skewed.scores, rule({ slices: { attribute: 'group', value: 'b' }, onFail: 'ask' }));
  assert.equal(asked.judgement.decision, 'needs_approval');

  // A Brier rule, and bins only a rule asks for (7) computed for it.
  const brierTight = packetFor(skewed.data, skewed.scores, { rules: [{ kind: 'calibration', id: 'brier', metric: 'brier', max: 0.15 }] });
  assert.equal(brierTight.judgement.decision, 'failed');
  const mce7 = packetFor(honest.data, honest.scores, { rules: [{ kind: 'calibration', id: 'mce', metric: 'mce', binning: 'uniform', bins: 7, max: 0.5 }] });
  assert.deepEqual(mce7.candidateEvaluation.calibration!.map((c) => c.bins), [7, 10]);
  assert.equal(mce7.judgement.decision, 'approved', mce7.judgement.reasons.join('; '));
});

test('with many distinct scores the always-on summary rounds scores to 3 decimals; bins a rule judges stay exact', () => {
  const n = 2 * MAX_DISTINCT_SCORES_FOR_EXACT_CALIBRATION + 10;
  const rng = new Rng(11);
  const labels: number[] = [];
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    scores[i] = rng.next();
    labels.push(rng.next() < scores[i]! ? 1 : 0);
  }
  const data = encodeHeldOut(labels, { k: labels.map((_, i) => (i % 3 === 0 ? 'x' : 'y')) });
  const s = { ...settings, B: 50 };
  const evaluation = evaluateVersion(data, scores, { settings: s, calibrationBins: [20] });
  const [twenty, ten] = [evaluation.calibration!.find((c) => c.bins === 20)!, evaluation.calibration!.find((c) => c.bins === 10)!];
  assert.equal(ten.roundedTo, 3);
  assert.equal(twenty.roundedTo, null);
  const exact = evaluateCalibration({ labels: data.labels, scores, attributes: data.attributes, options: { bins: 10, B: 50, seed: 3 } });
  // Rounding moves every score by at most 0.0005: the ECE barely moves.
  assert.ok(Math.abs(ten.overall.ece.quantile.estimate! - exact.overall.ece.quantile.estimate!) < 0.002);
  assert.ok(Math.abs(ten.overall.brier.estimate! - exact.overall.brier.estimate!) < 0.001);
  const exact20 = evaluateCalibration({ labels: data.labels, scores, attributes: data.attributes, options: { bins: 20, B: 50, seed: 3 } });
  assert.equal(twenty.overall.ece.uniform.upper, exact20.overall.ece.uniform.upper);
});

test('the evaluate-file path computes calibration and judges a calibration rule on an uploaded file', () => {
  const { labels, scores, group } = rows(1500, overconfident);
  const csv = ['label,score,group', ...labels.map((y, i) => `${y},${scores[i]},${group[i]}`)].join('\n');
  const policy = gatePolicySchema.parse({ rules: [{ kind: 'calibration', id: 'cal-b', metric: 'ece', bins: 10, slices: { attribute: 'group', value: 'b' }, max: 0.05 }] });
  const result = evaluatePredictionsFile(csv, { policy, B: 200 });
  const cal = result.packet.candidateEvaluation.calibration!;
  assert.deepEqual(cal.map((c) => c.bins), [10]);
  assert.ok(cal[0]!.overall.curves!.quantile.counts.reduce((a, b) => a + b, 0) === 1500);
  assert.equal(result.packet.judgement.decision, 'failed');
  assert.equal(result.packet.judgement.rules[0]!.checks[0]!.outcome, 'failed');
  // Without a policy the packet still carries the always-on summary.
  const plain = evaluatePredictionsFile(csv, { B: 100 });
  assert.deepEqual(plain.packet.candidateEvaluation.calibration!.map((c) => [c.bins, c.slices.length]), [[10, 2]]);
});

test('a calibration rule on an intersection is judged on the cells: the miscalibrated cell fails, the honest ones pass', () => {
  // Only the cell group=b & region=y is overconfident; each single slice mixes it with honest rows.
  const rng = new Rng(11);
  const n = 4000;
  const labels: number[] = [];
  const scores = new Float64Array(n);
  const group: string[] = [];
  const region: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = Math.round(rng.next() * 100) / 100;
    const g = i % 2 === 0 ? 'a' : 'b';
    const r = i % 4 < 2 ? 'x' : 'y';
    labels.push(rng.next() < p ? 1 : 0);
    scores[i] = g === 'b' && r === 'y' ? overconfident(p) : p;
    group.push(g);
    region.push(r);
  }
  const data = encodeHeldOut(labels, { group, region });
  const packet = packetFor(
    data,
    scores,
    { minSliceSupport: 30, rules: [{ kind: 'calibration', id: 'cell-ece', metric: 'ece', slices: { attributes: ['group', 'region'] }, max: 0.1 }] },
    ['group', 'region'],
  );
  const evaluation = packet.candidateEvaluation;
  const rule = packet.judgement.rules.find((r) => r.id === 'cell-ece')!;
  assert.equal(rule.outcome, 'failed', rule.detail);
  const outcome = (cell: string) => rule.checks.find((c) => c.slice.endsWith(cell))?.outcome;
  assert.equal(rule.checks.length, 4, JSON.stringify(rule.checks.map((c) => c.slice)));
  assert.equal(outcome('group=b&region=y'), 'failed');
  for (const honest of ['group=a&region=x', 'group=a&region=y', 'group=b&region=x']) assert.equal(outcome(honest), 'passed', honest);
  // The always-on 10-bin summary is the rule's own entry here (10 bins): the cells are listed after the slices.
  const ten = evaluation.calibration!.find((c) => c.bins === 10)!;
  assert.deepEqual(
    ten.slices.map((s) => s.attribute),
    ['group', 'group', 'region', 'region', 'group&region', 'group&region', 'group&region', 'group&region'],
  );
});
