// Recency weighting by a half-life, in both trainers: an example set where old and new data disagree
// (the word "alpha" meant spam a year ago and means ham this week), trained without and with
// `recencyHalfLifeDays`. Without it the model follows the old majority; with it, the new data. The
// built-in trainer's SGD takes the weights directly; the reference Python trainer (sklearn/tabular)
// passes them to scikit-learn as sample_weight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { recencyWeight } from '../../analysis/heldOutDesign';
import { builtinDescription } from '../../trainers/builtin';
import { predictProbability, trainHashedLogReg, type LabelledInput } from '../../trainers/hashedLogReg';
import { ensurePythonTrainer, pythonTrainerDir } from '../../temporal-config/pythonTrainer';

/** 300 old rows (a year old) where alpha is spam and beta ham, 60 new rows (a day old) the other way round. */
function disagreeing(): { input: Record<string, string>; label: 0 | 1; ageDays: number }[] {
  const rows: { input: Record<string, string>; label: 0 | 1; ageDays: number }[] = [];
  for (let i = 0; i < 150; i++) {
    rows.push({ input: { body: `alpha offer ${i % 7}` }, label: 1, ageDays: 365 + (i % 30) });
    rows.push({ input: { body: `beta notes ${i % 7}` }, label: 0, ageDays: 365 + (i % 30) });
  }
  for (let i = 0; i < 30; i++) {
    rows.push({ input: { body: `alpha notes ${i % 7}` }, label: 0, ageDays: 1 + (i % 5) });
    rows.push({ input: { body: `beta offer ${i % 7}` }, label: 1, ageDays: 1 + (i % 5) });
  }
  return rows;
}

test('recencyWeight: 0.5^(age / half-life), 1 without a half-life or an age, never above 1', () => {
  assert.equal(recencyWeight(30, 30), 0.5);
  assert.equal(recencyWeight(90, 30), 0.125);
  assert.equal(recencyWeight(0, 30), 1);
  assert.equal(recencyWeight(-5, 30), 1);
  assert.equal(recencyWeight(undefined, 30), 1);
  assert.equal(recencyWeight(400, null), 1);
});

test('the built-in trainer declares recencyHalfLifeDays and, with it, follows the new data where old and new disagree', async () => {
  const props = (builtinDescription.paramsSchema as { properties: Record<string, { type?: string; exclusiveMinimum?: number }> }).properties;
  assert.equal(props.recencyHalfLifeDays?.type, 'number');
  assert.equal(props.recencyHalfLifeDays?.exclusiveMinimum, 0);
  const rows = disagreeing();
  const params = { dimsLog2: 12, epochs: 10, seed: 3 };
  // What trainer.train does with a line's ageDays under a half-life (builtin.ts): weight = recencyWeight(ageDays, h).
  const unweighted = await trainHashedLogReg(rows.map((r): LabelledInput => ({ input: r.input, label: r.label })), params);
  const weighted = await trainHashedLogReg(rows.map((r): LabelledInput => ({ input: r.input, label: r.label, weight: recencyWeight(r.ageDays, 30) })), params);
  const alpha = { body: 'alpha' };
  const beta = { body: 'beta' };
  const p = { unweighted: [predictProbability(unweighted, alpha), predictProbability(unweighted, beta)], halfLife30: [predictProbability(weighted, alpha), predictProbability(weighted, beta)] };
  process.stderr.write(`builtin P(spam | alpha, beta): unweighted ${p.unweighted.map((x) => x.toFixed(3))}, half-life 30 d ${p.halfLife30.map((x) => x.toFixed(3))}\n`);
  assert.ok(p.unweighted[0]! > 0.5 && p.unweighted[1]! < 0.5, 'unweighted, the old majority wins: alpha is spam');
  assert.ok(p.halfLife30[0]! < 0.5 && p.halfLife30[1]! > 0.5, 'with a 30-day half-life, the new data wins: alpha is ham');
  // Weights of 1 train the very same model as no weights.
  const ones = await trainHashedLogReg(rows.map((r): LabelledInput => ({ input: r.input, label: r.label, weight: 1 })), params);
  assert.deepEqual(Array.from(ones.weights), Array.from(unweighted.weights));
});

test('the reference Python trainer declares recencyHalfLifeDays and passes the weights to scikit-learn (sample_weight)', { timeout: 600_000 }, async () => {
  const cacheDir = process.env.RETRAIN_TEST_PYTHON_DIR ?? path.join(os.tmpdir(), 'retrain-test-python');
  const { python } = await ensurePythonTrainer({ dataDir: cacheDir, log: () => {} });
  const script = `
import json, sys
from retrain_trainer.contract import Table
from retrain_trainer.model import MODEL, PARAMS_SCHEMA, recency_weights
rows = json.load(sys.stdin)
table = Table(features=[{"name": "body", "kind": "text", "missing": False}])
for i, r in enumerate(rows):
    table.ids.append(i)
    table.columns.setdefault("body", []).append(r["input"]["body"])
    table.labels.append(r["label"])
table.ages = [r["ageDays"] for r in rows]
probe = Table(features=table.features, ids=[0, 1], columns={"body": ["alpha", "beta"]})
defaults = {k: v["default"] for k, v in PARAMS_SCHEMA["properties"].items() if "default" in v}
out = {"schema": PARAMS_SCHEMA["properties"]["recencyHalfLifeDays"]}
for name, extra in (("unweighted", {}), ("halfLife30", {"recencyHalfLifeDays": 30})):
    fitted, _ = MODEL.fit(table, {**defaults, **extra}, 3, lambda: False)
    out[name] = [float(x) for x in MODEL.predict(fitted, probe)]
w = recency_weights(table, 30)
out["weights"] = [float(w[0]), float(w[-1])]
print(json.dumps(out))
`;
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(python, ['-c', script], { cwd: pythonTrainerDir, env: { ...process.env, PYTHONPATH: pythonTrainerDir }, timeout: 300_000 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
    );
    child.stdin!.end(JSON.stringify(disagreeing()));
  });
  const out = JSON.parse(stdout) as { schema: { type: string }; unweighted: number[]; halfLife30: number[]; weights: number[] };
  process.stderr.write(`sklearn P(spam | alpha, beta): unweighted ${out.unweighted.map((x) => x.toFixed(3))}, half-life 30 d ${out.halfLife30.map((x) => x.toFixed(3))}\n`);
  assert.equal(out.schema.type, 'number');
  const rows = disagreeing();
  assert.ok(Math.abs(out.weights[0]! - recencyWeight(rows[0]!.ageDays, 30)) < 1e-12, 'the same weight as the TypeScript side');
  assert.ok(Math.abs(out.weights[1]! - recencyWeight(rows[rows.length - 1]!.ageDays, 30)) < 1e-12);
  assert.ok(out.unweighted[0]! > 0.5 && out.unweighted[1]! < 0.5, 'unweighted, the old majority wins: alpha is spam');
  assert.ok(out.halfLife30[0]! < 0.5 && out.halfLife30[1]! > 0.5, 'with a 30-day half-life, the new data wins: alpha is ham');
});
