import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ADULT_FEATURES, adultRows, assignAdultHeldOut, loadAdult, type AdultRow } from '../../demo/adult';

// The wheel is fetched once per machine into a shared cache (as the demo's data dir would keep it).
const dataDir = process.env.RETRAIN_TEST_ADULT_DIR ?? path.join(os.tmpdir(), 'retrain-test-adult');
let rows: AdultRow[] = [];

test('loads the 30,162 rows of UCI Adult from the fairness wheel', { timeout: 300_000 }, async () => {
  rows = await loadAdult(dataDir);
  assert.equal(rows.length, 30_162);
  assert.equal(new Set(rows.map((r) => r.externalId)).size, 30_162);
  // The first CSV line, as published.
  assert.deepEqual(rows[0], {
    externalId: 'adult-1',
    input: {
      age: 39, 'education-num': 13, 'capital-gain': 2174, 'capital-loss': 0, 'hours-per-week': 40,
      workclass: 'State-gov', education: 'Bachelors', 'marital-status': 'Never-married', occupation: 'Adm-clerical',
      relationship: 'Not-in-family', race: 'White', sex: 'Male', 'native-country': 'United-States',
    },
    label: 0,
    slices: { sex: 'Male', race: 'White', 'native-country': 'United-States' },
    split: rows[0]!.split,
  });
});

test('label rate is the known 24.9% above 50K; slices have their real values', () => {
  const positives = rows.filter((r) => r.label === 1).length;
  assert.equal(positives, 7_508);
  assert.ok(Math.abs(positives / rows.length - 0.249) < 0.001);
  const countries = new Set(rows.map((r) => r.slices['native-country']));
  assert.equal(countries.size, 41);
  assert.deepEqual([...new Set(rows.map((r) => r.slices.sex))].sort(), ['Female', 'Male']);
  assert.deepEqual([...new Set(rows.map((r) => r.slices.race))].sort(), ['Amer-Indian-Eskimo', 'Asian-Pac-Islander', 'Black', 'Other', 'White']);
});

test('every input matches the feature schema, whose names fit the contract', () => {
  const contractName = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
  for (const f of ADULT_FEATURES) assert.match(f.name, contractName);
  assert.equal(ADULT_FEATURES.length, 13);
  for (const r of rows) {
    assert.deepEqual(Object.keys(r.input).sort(), ADULT_FEATURES.map((f) => f.name).sort());
    for (const f of ADULT_FEATURES) assert.equal(typeof r.input[f.name], f.kind === 'number' ? 'number' : 'string', `${r.externalId} ${f.name}`);
  }
});

test('the held-out split is a stratified quarter, stable across loads and row order', async () => {
  const held = rows.filter((r) => r.split === 'heldout');
  assert.equal(held.length, Math.round(0.25 * 7_508) + Math.round(0.25 * 22_654));
  assert.equal(held.filter((r) => r.label === 1).length, Math.round(0.25 * 7_508));
  const csv = await readFile(path.join(dataDir, 'adult', 'adult_original.csv'), 'utf8');
  const again = new Map(adultRows(csv).map((r) => [r.externalId, r.split]));
  for (const r of rows) assert.equal(again.get(r.externalId), r.split);
  // The same rows in reverse order: the same rows are held out (the split ranks by a keyed hash, not by position).
  const reversed = assignAdultHeldOut(rows.slice().reverse());
  for (const r of rows) assert.equal(reversed.get(r.externalId), r.split);
  // Another seed holds out another quarter.
  const other = assignAdultHeldOut(rows, { seed: 8 });
  assert.ok(held.filter((r) => other.get(r.externalId) === 'heldout').length < held.length * 0.5);
});

test('a tampered cache is refused, naming the file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'adult-bad-'));
  try {
    await mkdir(path.join(dir, 'adult'));
    await writeFile(path.join(dir, 'adult', 'adult_original.csv'), 'age,sex\n1,Male\n');
    await assert.rejects(loadAdult(dir), /adult_original\.csv has sha256 [0-9a-f]{64}, expected/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
