// The output schemas validate what the database holds: a packet after its JSON round trip (NaN and
// Infinity become null there) parses, and parsing drops nothing the API used to return.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gatePolicySchema } from '../../analysis/policy';
import { Rng } from '../../analysis/random';
import { buildApprovalPacket, defaultEvaluationSettings, encodeHeldOut, evaluateVersion } from '../../analysis/report';
import { approvalPacketOutput } from '../../api/outputs';

const policy = gatePolicySchema.parse({
  costs: { falsePositiveCost: 5, falseNegativeCost: 1, sliceMultipliers: [{ attribute: 'lang', value: 'de', falsePositive: 2 }] },
  abstainHalfWidth: 0.05,
  minSliceSupport: 5,
  rules: [
    { kind: 'bound', metric: 'recall', slices: 'overall', min: 0.5 },
    { kind: 'no_regression', metric: 'fpr', slices: { attribute: 'lang', value: 'de' }, margin: 0.02 },
    { kind: 'fairness', attribute: 'lang', metric: 'equalized_odds_difference', max: 0.2 },
    { kind: 'threshold', constraints: { minRecall: 0.6, maxSliceFpr: 0.1 } },
    { kind: 'saturation' },
  ],
});

/** A packet built from `rows` labelled rows, as activities/retraining stores it (JSON). */
function storedPacket(rows: number, label: (rng: Rng) => number, withChampion: boolean, seed: number) {
  const rng = new Rng(seed);
  const labels = Array.from({ length: rows }, () => label(rng));
  const langs = ['en', 'de', 'fr'];
  const data = encodeHeldOut(labels, { lang: labels.map(() => langs[rng.nextInt(3)]!), tld: labels.map((_, i) => (i % 7 === 0 ? 'rare' : 'com')) });
  const scoresFor = () => Float64Array.from(labels, (y) => Math.min(1, Math.max(0, 0.35 * y + 0.65 * rng.next())));
  const settings = { ...defaultEvaluationSettings, B: 50 };
  const version = (versionId: number) => {
    const scores = scoresFor();
    return { versionId, version: versionId, reportHash: `sha256:${versionId}`, scores, evaluation: evaluateVersion(data, scores, { settings, sensitive: ['lang'], minGroupSupport: 2 }) };
  };
  const packet = buildApprovalPacket({
    runId: 'run-test-0001',
    model: 'spam-filter',
    data,
    policy,
    policyVersion: 3,
    candidate: version(2),
    champion: withChampion ? version(1) : null,
    traffic: [
      { attribute: 'lang', value: 'ja', count: 40 },
      { attribute: 'lang', value: 'en', count: 60 },
    ],
    settings,
    saturation: { verdict: 'plateau', reasons: ['the fitted curve gains little'], recommendation: 'change the model', reportHash: 'sha256:s' },
  });
  return JSON.parse(JSON.stringify(packet)) as unknown;
}

test('the packet schema takes stored packets whole: ordinary, one class only, and a handful of rows', () => {
  const cases = [
    storedPacket(400, (rng) => (rng.next() < 0.3 ? 1 : 0), true, 1),
    storedPacket(120, () => 0, true, 2),
    storedPacket(120, () => 1, false, 3),
    storedPacket(3, (rng) => (rng.next() < 0.5 ? 1 : 0), true, 4),
  ];
  for (const stored of cases) assert.deepEqual(approvalPacketOutput.parse(stored), stored);
});
