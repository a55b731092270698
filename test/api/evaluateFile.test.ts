// Bring your own predictions: the file path gives Fairlearn's numbers under Fairlearn's names, judges a
// policy, and the CLI prints the same document; a bad file is refused with its line and column.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { gatePolicySchema } from '../../analysis/policy';
import { evaluatePredictionsFile } from '../../api/evaluateFile';
import { closeEvaluateFilePool, evaluateFileInThread } from '../../api/evaluateFileWorker';
import { PredictionsFileError } from '../../api/predictionsFile';

interface OracleDataset {
  name: string;
  threshold: number;
  labels: number[];
  scores: number[];
  group: string[];
  fairlearn: Record<string, number> & { by_group: Record<string, { count: number; selection_rate: number; tpr: number; fpr: number }> };
}
const oracle = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'fairness_oracle.json'), 'utf8')) as { datasets: OracleDataset[] };

/** A rate over `denominator` rows: null exactly when there are none (Fairlearn says 0.0 there), else Fairlearn's value. */
function assertRate(got: number | null | undefined, fairlearn: number, denominator: number, what: string) {
  if (denominator === 0) assert.equal(got, null, `${what}: no rows to divide by, so no rate`);
  else assert.ok(got !== null && got !== undefined && Math.abs(got - fairlearn) < 1e-9, `${what}: ${got} vs Fairlearn ${fairlearn}`);
}

const toCsv = (d: OracleDataset) => ['label,score,group', ...d.labels.map((y, i) => `${y},${d.scores[i]},${d.group[i]}`)].join('\n');

for (const d of oracle.datasets) {
  test(`${d.name}: the file path reproduces Fairlearn's metrics under Fairlearn's names`, () => {
    const result = evaluatePredictionsFile(toCsv(d), { sensitive: ['group'], threshold: d.threshold, B: 200 });
    const f = result.fairness.group!;
    for (const key of ['demographic_parity_difference', 'demographic_parity_ratio', 'equal_opportunity_difference', 'equalized_odds_difference'] as const) {
      assert.ok(Math.abs(f[key]! - d.fairlearn[key]!) < 1e-9, `${key}: ${f[key]} vs Fairlearn ${d.fairlearn[key]}`);
    }
    for (const [g, expected] of Object.entries(d.fairlearn.by_group)) {
      const got = f.by_group[g]!;
      assert.equal(got.count, expected.count);
      assert.ok(Math.abs(got.selection_rate! - expected.selection_rate) < 1e-9, `${g} selection_rate`);
      // Fairlearn reports 0.0 for a rate with no denominator; we report null there, and only there.
      const positives = d.labels.filter((y, i) => y === 1 && d.group[i] === g).length;
      const negatives = d.labels.filter((y, i) => y === 0 && d.group[i] === g).length;
      assertRate(got.tpr, expected.tpr, positives, `${g} tpr`);
      assertRate(got.fpr, expected.fpr, negatives, `${g} fpr`);
    }
  });
}

test('a policy is judged on the file, failing closed on a straddling bound', () => {
  const d = oracle.datasets.find((x) => x.name === 'fpr_3x_2000')!;
  const policy = gatePolicySchema.parse({
    rules: [
      { kind: 'fairness', attribute: 'group', metric: 'fpr_difference', max: 0.05 },
      { kind: 'bound', metric: 'fpr', slices: { attribute: 'group', value: '*' }, max: 0.5 },
    ],
  });
  const result = evaluatePredictionsFile(toCsv(d), { sensitive: ['group'], policy, B: 300 });
  assert.equal(result.packet.judgement.decision, 'failed');
  assert.equal(result.packet.judgement.rules[0]!.outcome, 'failed', `the planted FPR gap ${d.fairlearn.fpr_difference} is caught`);
  assert.equal(result.packet.judgement.rules[1]!.outcome, 'passed');
});

test('the CLI prints the same document with --json, and names the line of a bad row', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'retrain-eval-'));
  const d = oracle.datasets[0]!;
  const file = path.join(dir, 'preds.csv');
  writeFileSync(file, toCsv(d));
  const cli = path.join(import.meta.dirname, '..', '..', 'bin', 'retrain.ts');
  const out = execFileSync(process.execPath, ['--import', 'tsx', cli, 'eval', file, '--sensitive', 'group', '--json', '--bootstrap', '100'], { encoding: 'utf8' });
  const doc = JSON.parse(out) as { rows: number; fairness: { group: { equalized_odds_difference: number } } };
  assert.equal(doc.rows, d.labels.length);
  assert.ok(Math.abs(doc.fairness.group.equalized_odds_difference - d.fairlearn.equalized_odds_difference!) < 1e-9);

  writeFileSync(file, 'label,score,group\n1,0.9,a\n0,high,b\n');
  const bad = spawnSync(process.execPath, ['--import', 'tsx', cli, 'eval', file], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /line 3, column score: score must be a number in \[0, 1\], got "high"/);
});

test('in the worker thread (as reports.evaluateFile runs it): the same document, and a bad file still names its line and column', async (t) => {
  t.after(() => closeEvaluateFilePool());
  const d = oracle.datasets[0]!;
  const opts = { sensitive: ['group'], threshold: d.threshold, B: 200 };
  // Characters beyond one byte arrive intact, a surrogate pair too where the thread's 1M-character slices would split it.
  const head = `label,score,group\n${'0,0.5,ä\n'.repeat(100_000)}`;
  const pairAt = (1 << 20) - 1;
  const wide = `${head}1,0.5,${'x'.repeat(pairAt - head.length - 6)}😀\n${'1,0.5,ä\n'.repeat(100_000)}`;
  assert.equal(wide.charCodeAt(pairAt), '😀'.charCodeAt(0));
  for (const text of [toCsv(d), wide]) assert.deepEqual(await evaluateFileInThread(text, opts), evaluatePredictionsFile(text, opts));
  await assert.rejects(evaluateFileInThread('label,score\n1,0.9\n0,high\n', {}), (err) => err instanceof PredictionsFileError && err.line === 3 && err.column === 'score');
});
