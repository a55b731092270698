import assert from 'node:assert/strict';
import { test } from 'node:test';
import { floorsFromEvidence, goldCount, requiredAttributes, specAffects, taskVerdict, textSketch, type AssignmentRule } from '../../analysis/annotationTasks';

test('taskVerdict: open until k labels, done on quorum, adjudication without it, adjudicator decides', () => {
  assert.deepEqual(taskVerdict([1], null, 3, 1), { status: 'open' });
  assert.deepEqual(taskVerdict([1, 1, 1], null, 3, 1), { status: 'done', label: 1 });
  assert.deepEqual(taskVerdict([1, 0, 1], null, 3, 1), { status: 'adjudication' });
  assert.deepEqual(taskVerdict([1, 0, 1], null, 3, 2 / 3), { status: 'done', label: 1 });
  assert.deepEqual(taskVerdict([1, 0], null, 2, 0.5), { status: 'done', label: 0 }, 'a tie goes to the lower code');
  assert.deepEqual(taskVerdict([1, 0, 1], 0, 3, 1), { status: 'done', label: 0 });
});

test('goldCount makes gold the stated share of the whole batch', () => {
  assert.equal(goldCount(400, 0.1), 44);
  assert.equal(goldCount(12, 0.2), 3);
  assert.equal(goldCount(5, 0.01), 1);
  assert.equal(goldCount(100, 0), 0);
  assert.throws(() => goldCount(10, 1), RangeError);
});

test('requiredAttributes and specAffects', () => {
  const rules: AssignmentRule[] = [
    { slice: 'charset', value: 'cjk', requires: { language: 'zh' } },
    { slice: 'charset', value: 'cjk', requires: { language: 'ja', tier: 'senior' } },
  ];
  assert.deepEqual(requiredAttributes({ charset: 'cjk' }, rules), { language: 'zh', tier: 'senior' });
  assert.deepEqual(requiredAttributes({ charset: 'ascii' }, rules), {});
  assert.equal(specAffects({}, { format: 'html' }), true);
  assert.equal(specAffects({ format: ['html'] }, { format: 'html' }), true);
  assert.equal(specAffects({ format: ['html'] }, { format: 'plain' }), false);
  assert.equal(specAffects({ format: ['html'] }, {}), false);
});

test('floorsFromEvidence: insufficient slices and untested segments become floors; explicit floors win', () => {
  const floors = floorsFromEvidence(
    {
      rules: [
        { checks: [{ slice: 'corpus_group=hard_ham', outcome: 'insufficient' }, { slice: 'overall', outcome: 'insufficient' }, { slice: 'format=html', outcome: 'passed' }] },
        { checks: [{ slice: 'a=b&c=d', outcome: 'insufficient' }] },
      ],
      untested: [{ attribute: 'charset', value: 'cjk' }, { attribute: 'corpus_group', value: 'hard_ham' }],
    },
    20,
    [{ slice: 'charset', value: 'cjk', min: 50 }],
  );
  assert.deepEqual(floors, [
    { slice: 'charset', value: 'cjk', min: 50 },
    { slice: 'corpus_group', value: 'hard_ham', min: 20 },
  ]);
});

test('textSketch is deterministic, unit length, and tells different mail apart', () => {
  const inputs: Record<string, string>[] = [{ subject: 'cheap meds now', body: 'buy cheap meds' }, { subject: 'cheap meds now', body: 'buy cheap meds' }, { subject: 'meeting notes', body: 'agenda for monday' }, { subject: '' }];
  const { dims, values } = textSketch(inputs, 8);
  assert.equal(values.length, 4 * dims);
  const row = (i: number) => Array.from(values.subarray(i * dims, (i + 1) * dims));
  assert.deepEqual(row(0), row(1));
  assert.ok(Math.abs(row(0).reduce((a, v) => a + v * v, 0) - 1) < 1e-6);
  assert.notDeepEqual(row(0), row(2));
  assert.deepEqual(row(3), new Array(8).fill(0), 'empty input: zero vector, no NaN');
});

test('goldAccuracyDrift flags a significant fall in the latest batch, not noise or thin gold', async () => {
  const { goldAccuracyDrift } = await import('../../analysis/labelQuality');
  const { fisherExactTwoSided } = await import('../../analysis/numerics/tests');
  const fell = goldAccuracyDrift([
    { batchId: 'b1', at: '2026-01-01', gold: 40, correct: 38 },
    { batchId: 'b2', at: '2026-01-08', gold: 40, correct: 39 },
    { batchId: 'b3', at: '2026-01-15', gold: 30, correct: 18 },
  ]);
  assert.equal(fell.drifted, true);
  assert.equal(fell.p, fisherExactTwoSided(18, 12, 77, 3));
  assert.ok(fell.latest!.estimate! < fell.baseline!.estimate!);
  assert.equal(fell.series.length, 3);
  const steady = goldAccuracyDrift([
    { batchId: 'b1', at: '2026-01-01', gold: 40, correct: 36 },
    { batchId: 'b2', at: '2026-01-08', gold: 40, correct: 35 },
  ]);
  assert.equal(steady.drifted, false);
  assert.ok(steady.p! > 0.5);
  const thin = goldAccuracyDrift([
    { batchId: 'b1', at: '2026-01-01', gold: 40, correct: 40 },
    { batchId: 'b2', at: '2026-01-08', gold: 5, correct: 0 },
  ]);
  assert.equal(thin.drifted, false, 'five gold labels are too few to call drift');
  assert.equal(thin.p, null);
  assert.equal(goldAccuracyDrift([]).drifted, false);
});
