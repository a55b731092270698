// Who chose the training labels: the label mix's arithmetic and the self_selected_share gate rule,
// against hand-counted values. The share is a census (exact); no mix, no pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeSelfSelectedShare, labelMixOf, selfSelectedCount, selfSelectedShare, selfSelectedShareRule } from '../../analysis/labelSelection';
import { gatePolicySchema, judgePolicy, type PolicyEvidence } from '../../analysis/policy';

const groups = [
  { source: 'import', by: null, count: 60 },
  { source: 'annotation', by: 'design', count: 10 },
  { source: 'review', by: 'model', count: 12 },
  { source: 'feedback', by: 'user', count: 15 },
  { source: 'model', by: 'model', count: 2 },
  { source: 'model', by: null, count: 1 },
  { source: 'import', by: null, count: 0 },
];

test('the mix: marginals by source and selector (none recorded = design), the joint in code-unit order', () => {
  const mix = labelMixOf(groups);
  assert.deepEqual(mix.bySource, { import: 60, annotation: 10, review: 12, feedback: 15, model: 3 });
  assert.deepEqual(mix.bySelector, { design: 71, model: 14, user: 15 });
  assert.equal(mix.train, 100);
  assert.deepEqual(
    mix.joint!.map((j) => `${j.source}/${j.by}=${j.count}`),
    ['annotation/design=10', 'feedback/user=15', 'import/design=60', 'model/design=1', 'model/model=2', 'review/model=12'],
  );
  assert.throws(() => labelMixOf([{ source: 'vendor', by: null, count: 1 }]), /unknown label source 'vendor'/);
  assert.throws(() => labelMixOf([{ source: 'import', by: 'chance', count: 1 }]), /unknown label selector 'chance'/);
  assert.throws(() => labelMixOf([{ source: 'import', by: null, count: 1.5 }]), /integer/);
});

test('self-selected count: source model or a listed selector, each label once; marginals only when they cannot overlap', () => {
  const mix = labelMixOf(groups);
  assert.equal(selfSelectedCount(mix, ['model']), 12 + 2 + 1); // review/model, model/model, model/design
  assert.equal(selfSelectedCount(mix, ['user']), 15 + 3); // feedback, and the model's own 3
  assert.equal(selfSelectedCount(mix, ['model', 'user']), 30);
  assert.equal(selfSelectedShare(mix, ['model', 'user']), 0.3);
  const { joint: _joint, ...marginals } = mix;
  assert.equal(selfSelectedCount(marginals, ['model']), null, 'overlap unknown without the joint');
  assert.equal(selfSelectedCount({ ...marginals, bySource: { import: 85, feedback: 15 } }, ['user']), 15, 'no model source: the selector counts alone');
  assert.equal(selfSelectedShare({ bySource: {}, bySelector: {}, train: 0, joint: [] }, ['model']), null);
});

test('the rule: exact on the census, at the cap passes, above it asks or blocks, no mix fails closed', () => {
  const mix = labelMixOf(groups);
  const rule = (r: Record<string, unknown>) => selfSelectedShareRule.parse({ kind: 'self_selected_share', ...r });
  assert.deepEqual(rule({ max: 0.2 }).selectors, ['model'], "default: what the model selected");
  const pass = judgeSelfSelectedShare(rule({ max: 0.15 }), 'cap', mix);
  assert.equal(pass.outcome, 'passed', pass.detail);
  assert.match(pass.detail, /15 of 100 training labels \(15\.0%\)/);
  const ask = judgeSelfSelectedShare(rule({ max: 0.1, selectors: ['user'], onFail: 'ask' }), 'cap', mix);
  assert.equal(ask.outcome, 'needs_approval');
  assert.match(ask.detail, /18 of 100 .* > max 10\.0%/);
  assert.equal(judgeSelfSelectedShare(rule({ max: 0.1, selectors: ['user'] }), 'cap', mix).outcome, 'failed');
  const missing = judgeSelfSelectedShare(rule({ max: 1 }), 'cap', null);
  assert.equal(missing.outcome, 'failed');
  assert.match(missing.detail, /missing evidence/);
  assert.equal(judgeSelfSelectedShare(rule({ max: 1, onFail: 'ask' }), 'cap', { bySource: {}, bySelector: {}, train: 0, joint: [] }).outcome, 'needs_approval');
  assert.throws(() => rule({ max: 0.1, selectors: ['design'] }));
});

test('registered in gate policies: judged from the evidence the packet carries', () => {
  const policy = gatePolicySchema.parse({ rules: [{ kind: 'self_selected_share', id: 'feedback-cap', max: 0.1, selectors: ['user'], onFail: 'ask' }] });
  const evidence = (labelMix: PolicyEvidence['labelMix']): PolicyEvidence => ({ slices: [], deltas: null, fairness: [], thresholds: [], labelMix });
  assert.equal(judgePolicy(policy, evidence(labelMixOf(groups))).decision, 'needs_approval');
  assert.equal(judgePolicy(policy, evidence(labelMixOf([{ source: 'import', by: null, count: 95 }, { source: 'feedback', by: 'user', count: 5 }]))).decision, 'approved');
  assert.equal(judgePolicy(policy, evidence(undefined)).rules[0]!.outcome, 'needs_approval');
});
