import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newcombeDifference } from '../../analysis/numerics/intervals';
import { DRIFT_PSI_ALPHA, chooseLabelDesign, judgeDriftSignals, judgedFindings, type DriftComparison } from '../../analysis/drift';
import { populationStabilityIndex } from '../../analysis/psi';

const prelaunch = { sender_tld: { generic: 800, country_code: 200 }, month: { '2002-08': 1000 } };
const quiet = { current: { requests: 1000, overridden: 20 }, previous: { requests: 1000, overridden: 22 } };

test('judgeDriftSignals: a population shift crosses on PSI and its p-value; a like-for-like window does not', () => {
  const shifted = judgeDriftSignals({ prelaunch, traffic: { sender_tld: { generic: 100, country_code: 400 } }, attributes: ['sender_tld'], overrides: quiet });
  const psi = populationStabilityIndex(prelaunch.sender_tld, { generic: 100, country_code: 400 });
  assert.ok(psi.psi > 0.25 && psi.p! < DRIFT_PSI_ALPHA);
  assert.equal(shifted.drift, true);
  assert.equal(shifted.population[0]!.psi, psi.psi);
  assert.match(shifted.reasons[0]!, /population drift: PSI of sender_tld/);
  const same = judgeDriftSignals({ prelaunch, traffic: { sender_tld: { generic: 402, country_code: 98 } }, attributes: ['sender_tld'], overrides: quiet });
  assert.equal(same.drift, false, same.reasons.join('; '));
  // An attribute absent from the window is not judged (no traffic to compare), and not crossed.
  assert.equal(judgeDriftSignals({ prelaunch, traffic: {}, attributes: ['sender_tld'], overrides: quiet }).population[0]!.crossed, false);
});

test('judgeDriftSignals: the override rate must rise beyond the margin on the interval, with enough traffic', () => {
  const rising = { current: { requests: 1000, overridden: 90 }, previous: { requests: 1000, overridden: 20 } };
  const r = judgeDriftSignals({ prelaunch, traffic: {}, attributes: [], overrides: rising });
  assert.deepEqual(r.overrides.difference, newcombeDifference(90, 1000, 20, 1000));
  assert.equal(r.overrides.crossed, true);
  assert.equal(r.drift, true);
  // The same rates on 50 requests a side: too little traffic to call it.
  const thin = judgeDriftSignals({ prelaunch, traffic: {}, attributes: [], overrides: { current: { requests: 50, overridden: 5 }, previous: { requests: 50, overridden: 1 } } });
  assert.equal(thin.overrides.enough, false);
  assert.equal(thin.drift, false);
  // A rise whose interval reaches below the margin is not drift.
  assert.equal(judgeDriftSignals({ prelaunch, traffic: {}, attributes: [], overrides: { current: { requests: 1000, overridden: 35 }, previous: { requests: 1000, overridden: 20 } } }).drift, false);
});

test('judgedFindings keeps only the judged attributes (and overall), and its alert follows them', () => {
  const finding = (attribute: string, crossed: boolean) => ({ attribute, psi: 1, band: 'significant' as const, p: 1e-9, df: 1, statistic: 10, categories: [], crossed });
  const comparison = {
    dataDrift: [finding('month', true), finding('sender_tld', false)],
    conceptDrift: [],
    fairness: [],
    insufficient: [],
    alert: true,
    reasons: ['data drift: month'],
    policy: {} as DriftComparison['policy'],
  } as unknown as DriftComparison;
  const all = judgedFindings(comparison);
  assert.equal(all.alert, true);
  assert.equal(all.reasons.length, 1);
  const tld = judgedFindings(comparison, ['sender_tld']);
  assert.equal(tld.alert, false);
  assert.deepEqual(tld.dataDrift.map((d) => d.attribute), ['sender_tld']);
  assert.deepEqual(tld.reasons, []);
});

test('chooseLabelDesign: one design per window, the annotation sample first when it has the support', () => {
  assert.deepEqual(chooseLabelDesign({ annotation: 40, review: 500 }, 30), { design: 'annotation_sample', use: 'annotation', counts: { annotation: 40, review: 500 } });
  // Too thin an annotation sample gives way to the reviewers' spot-check rather than being pooled with it.
  assert.equal(chooseLabelDesign({ annotation: 29, review: 500 }, 30).use, 'review');
  assert.equal(chooseLabelDesign({ annotation: 12, review: 0 }, 30).use, 'annotation');
  assert.deepEqual(chooseLabelDesign({ annotation: 0, review: 0 }, 30), { design: 'none', use: null, counts: { annotation: 0, review: 0 } });
  assert.throws(() => chooseLabelDesign({ annotation: 0, review: 0 }, 0), /minSupport/);
  assert.throws(() => chooseLabelDesign({ annotation: -1, review: 0 }, 30), /counts.annotation/);
});
