// Flywheel health maths: Wilson intervals, the coverage rule, the label mix and self-label alert,
// the weighted slope and the staleness z-test, checked against hand-computed values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  flywheelHealth,
  type BucketCounts,
  type FlywheelInput,
} from '../../analysis/flywheel';
import { wilsonInterval } from '../../analysis/numerics/intervals';

const close = (actual: number | null | undefined, expected: number, tol: number, what: string) => {
  assert.ok(typeof actual === 'number', `${what}: expected ${expected}, got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: expected ${expected}, got ${actual}`);
};

const noLabels: FlywheelInput['labels'] = { overall: [], latestSnapshot: null };
const flat = (n: number, traffic: number, corrections: number): BucketCounts[] =>
  Array.from({ length: n }, (_, i) => ({ start: `2026-10-${String(i + 1).padStart(2, '0')}T00:00:00.000Z`, traffic, corrections }));
const input = (over: Partial<FlywheelInput>): FlywheelInput => ({
  explicit: { requests: 0, withExplicit: 0 },
  slices: [],
  buckets: flat(7, 1000, 50),
  labels: noLabels,
  ...over,
});

test('explicit rate: Wilson interval by hand and equal to analysis/numerics/intervals', () => {
  const h = flywheelHealth(input({ explicit: { requests: 200, withExplicit: 30 } }));
  assert.equal(h.explicitRate.rate, 0.15);
  // center = (q + z^2/2n)/(1 + z^2/n), half = z sqrt(q(1-q)/n + z^2/4n^2)/(1 + z^2/n), z = 1.959963984540054
  close(h.explicitRate.ci95.lower, 0.10713593562241996, 1e-12, 'lower');
  close(h.explicitRate.ci95.upper, 0.20605579284166659, 1e-12, 'upper');
  const w = wilsonInterval(30, 200);
  assert.deepEqual(h.explicitRate.ci95, { lower: w.lower, upper: w.upper });
  assert.deepEqual(h.explicitRate.kinds, ['rating', 'thumbs', 'report', 'correction']);
  const none = flywheelHealth(input({ explicit: { requests: 0, withExplicit: 0 } }));
  assert.deepEqual(none.explicitRate.ci95, { lower: null, upper: null });
  assert.equal(none.explicitRate.rate, null);
  assert.throws(() => flywheelHealth(input({ explicit: { requests: 10, withExplicit: 11 } })), RangeError);
});

test('coverage: under needs the interval, not just the point ratio; small slices are insufficient', () => {
  const h = flywheelHealth(
    input({
      slices: [
        {
          attribute: 'lang',
          traffic: 1050,
          feedback: 200,
          values: [
            { value: 'en', traffic: 600, feedback: 175 },
            { value: 'de', traffic: 315, feedback: 15 },
            { value: 'fr', traffic: 105, feedback: 10 },
            { value: 'xx', traffic: 30, feedback: 0 },
          ],
        },
        { attribute: 'channel', traffic: 1000, feedback: 0, values: [{ value: 'web', traffic: 1000, feedback: 0 }] },
      ],
    }),
  );
  const lang = h.coverage.attributes.find((a) => a.attribute === 'lang')!;
  const by = Object.fromEntries(lang.values.map((v) => [v.value, v]));
  // de: traffic share 0.3, feedback share 0.075, Wilson upper of 15/200 = 0.12004361023629455 -> ratio upper 0.4001 < 0.5
  close(by.de!.trafficShare, 0.3, 1e-12, 'de traffic share');
  close(by.de!.feedbackShare, 0.075, 1e-12, 'de feedback share');
  close(by.de!.ratio, 0.25, 1e-12, 'de ratio');
  close(by.de!.feedbackShareCi95.upper, 0.12004361023629455, 1e-12, 'de upper');
  close(by.de!.ratioUpper, 0.40014536745431517, 1e-12, 'de ratio upper');
  assert.equal(by.de!.status, 'under');
  // fr: point ratio 0.5 but the upper bound 0.0896/0.1 = 0.896: not shown to be under-covered.
  close(by.fr!.ratioUpper, 0.8957814813877599, 1e-12, 'fr ratio upper');
  assert.equal(by.fr!.status, 'ok');
  assert.equal(by.en!.status, 'ok');
  assert.equal(by.xx!.status, 'insufficient', '30 requests < minSliceSupport 100');
  assert.deepEqual(
    lang.values.map((v) => v.value),
    ['en', 'de', 'fr', 'xx'],
    'largest traffic first',
  );
  const channel = h.coverage.attributes.find((a) => a.attribute === 'channel')!;
  assert.equal(channel.values[0]!.status, 'insufficient', 'no feedback at all for the attribute: nothing to compare');
  assert.deepEqual(
    h.coverage.under.map((u) => `${u.attribute}=${u.value}`),
    ['lang=de'],
  );
  assert.ok(h.alerts.some((a) => a.startsWith('coverage: lang=de')));
  // A stricter support makes fr insufficient, a looser ratio makes de ok.
  const strict = flywheelHealth(input({ slices: [{ attribute: 'lang', traffic: 1050, feedback: 200, values: [{ value: 'fr', traffic: 105, feedback: 10 }, { value: 'de', traffic: 315, feedback: 15 }] }], settings: { minSliceSupport: 200, underRatio: 0.4 } }));
  assert.deepEqual(
    strict.coverage.attributes[0]!.values.map((v) => [v.value, v.status]),
    [
      ['de', 'ok'],
      ['fr', 'insufficient'],
    ],
  );
});

test('label sources: mix overall and in the latest snapshot; self-label share alerts above the limit', () => {
  const labels: FlywheelInput['labels'] = {
    overall: [
      { source: 'import', count: 100 },
      { source: 'annotation', count: 40 },
      { source: 'model', count: 60 },
    ],
    latestSnapshot: {
      id: 7,
      createdAt: '2026-10-20T00:00:00.000Z',
      train: [
        { source: 'import', count: 50 },
        { source: 'annotation', count: 15 },
        { source: 'feedback', count: 10 },
        { source: 'model', count: 25 },
      ],
    },
  };
  const h = flywheelHealth(input({ labels }));
  assert.deepEqual(h.labelSources.overall, {
    total: 200,
    mix: [
      { source: 'import', count: 100, share: 0.5 },
      { source: 'annotation', count: 40, share: 0.2 },
      { source: 'feedback', count: 0, share: 0 },
      { source: 'model', count: 60, share: 0.3 },
      { source: 'review', count: 0, share: 0 },
    ],
  });
  assert.equal(h.labelSources.latestSnapshot?.snapshotId, 7);
  assert.equal(h.labelSources.latestSnapshot?.total, 100);
  assert.equal(h.labelSources.selfLabelShare, 0.25);
  assert.equal(h.labelSources.selfLabelAlert, true);
  assert.ok(h.alerts.some((a) => a.startsWith('self-labelling: 25.0%')));
  // At the limit is not above it; a higher limit silences it; no snapshot, no share.
  const at = flywheelHealth(input({ labels: { ...labels, latestSnapshot: { ...labels.latestSnapshot!, train: [{ source: 'import', count: 80 }, { source: 'model', count: 20 }] } } }));
  assert.equal(at.labelSources.selfLabelShare, 0.2);
  assert.equal(at.labelSources.selfLabelAlert, false);
  assert.equal(flywheelHealth(input({ labels, settings: { selfLabelLimit: 0.3 } })).labelSources.selfLabelAlert, false);
  const none = flywheelHealth(input({ labels: { overall: [], latestSnapshot: null } }));
  assert.equal(none.labelSources.selfLabelShare, null);
  assert.equal(none.labelSources.selfLabelAlert, false);
  assert.equal(none.labelSources.overall.mix[0]!.share, null);
  // Unknown sources are kept, after the known ones.
  const odd = flywheelHealth(input({ labels: { overall: [{ source: 'vendor-x', count: 5 }], latestSnapshot: null } }));
  assert.deepEqual(
    odd.labelSources.overall.mix.map((m) => m.source),
    ['import', 'annotation', 'feedback', 'model', 'review', 'vendor-x'],
  );
  // Without a selector mix the self-label share counts source 'model' only, and the user share is unknown.
  assert.equal(h.labelSources.latestSnapshot?.bySelector, null);
  assert.equal(h.labelSources.userSelectedShare, null);
});

test('selectors: labels the model selected (reviewed abstentions) count as self-labelled; feedback counts as user-selected', () => {
  // 100 training labels: 50 imported (no selection = design), 20 reviewed from the abstain band (selected by
  // the model), 25 feedback corrections (selected by users), 5 of the model's own output selected by the model.
  const joint = [
    { source: 'import', by: null, count: 50 },
    { source: 'review', by: 'model', count: 20 },
    { source: 'feedback', by: 'user', count: 25 },
    { source: 'model', by: 'model', count: 5 },
  ];
  const train = [
    { source: 'import', count: 50 },
    { source: 'review', count: 20 },
    { source: 'feedback', count: 25 },
    { source: 'model', count: 5 },
  ];
  const h = flywheelHealth(input({ labels: { overall: train, latestSnapshot: { id: 9, createdAt: '2026-10-20T00:00:00.000Z', train, joint } } }));
  // Source 'model' or selector 'model': 20 + 5, the 5 counted once.
  assert.equal(h.labelSources.selfLabelShare, 0.25);
  assert.equal(h.labelSources.userSelectedShare, 0.25);
  assert.equal(h.labelSources.selfLabelAlert, true);
  assert.deepEqual(h.labelSources.latestSnapshot?.bySelector, {
    total: 100,
    mix: [
      { selector: 'design', count: 50, share: 0.5 },
      { selector: 'model', count: 25, share: 0.25 },
      { selector: 'user', count: 25, share: 0.25 },
    ],
  });
  // Feedback alone is user-selected, not self-labelled: no alert.
  const fb = [{ source: 'import', by: null, count: 70 }, { source: 'feedback', by: 'user', count: 30 }];
  const only = flywheelHealth(input({ labels: { overall: [], latestSnapshot: { id: 10, createdAt: '2026-10-21T00:00:00.000Z', train: [{ source: 'import', count: 70 }, { source: 'feedback', count: 30 }], joint: fb } } }));
  assert.deepEqual([only.labelSources.selfLabelShare, only.labelSources.userSelectedShare, only.labelSources.selfLabelAlert], [0, 0.3, false]);
  // A joint that disagrees with the source counts is refused.
  assert.throws(() => flywheelHealth(input({ labels: { overall: [], latestSnapshot: { id: 11, createdAt: '2026-10-21T00:00:00.000Z', train: [{ source: 'import', count: 1 }], joint: fb } } })), /joint counts 100/);
});

test('a planted rise in corrections raises the staleness alert', () => {
  const buckets = [...flat(6, 1000, 50), { start: '2026-10-07T00:00:00.000Z', traffic: 1000, corrections: 90 }];
  const h = flywheelHealth(input({ buckets }));
  const s = h.overrideTrend.staleness;
  assert.equal(s.status, 'alert');
  assert.equal(s.alert, true);
  close(s.z, 5.105656622541898, 1e-12, 'z');
  close(s.p, 1.6482390942664534e-7, 1e-12, 'p');
  close(s.latestRate, 0.09, 1e-15, 'latest');
  close(s.baselineRate, 0.05, 1e-15, 'baseline');
  close(s.relativeRise, 0.8, 1e-12, 'relative rise');
  assert.match(s.rule, /p < 0\.01/);
  assert.match(s.rule, /1\.25 x the baseline/);
  assert.ok(h.alerts.some((a) => a.startsWith('staleness:')));
  // Per-bucket rates with their Wilson intervals.
  const last = h.overrideTrend.buckets[6]!;
  const w = wilsonInterval(90, 1000);
  assert.deepEqual(last, { start: '2026-10-07T00:00:00.000Z', traffic: 1000, corrections: 90, rate: 0.09, ci95: { lower: w.lower, upper: w.upper } });
  // Equal weights: the WLS slope is the OLS slope of (0..6, [.05 x6, .09]) = 0.04 * (6 - 3) / 28.
  close(h.overrideTrend.slope, (0.04 * 3) / 28, 1e-12, 'slope');
});

test('a flat series does not alert; a significant but small rise does not either', () => {
  const flatSeries = flywheelHealth(input({ buckets: [...flat(6, 1000, 50), { start: 'x', traffic: 1000, corrections: 55 }] }));
  assert.equal(flatSeries.overrideTrend.staleness.status, 'ok');
  assert.equal(flatSeries.overrideTrend.staleness.alert, false);
  close(flatSeries.overrideTrend.staleness.p, 0.2523335070327131, 1e-12, 'flat p');
  assert.deepEqual(flatSeries.alerts, []);
  // +10% on a huge sample: p ~ 1e-11 < 0.01, but below the +25% relative threshold.
  const small = flywheelHealth(input({ buckets: [...flat(6, 100_000, 5000), { start: 'x', traffic: 100_000, corrections: 5500 }] }));
  close(small.overrideTrend.staleness.p, 1.264752532572574e-11, 1e-12, 'small-rise p');
  assert.equal(small.overrideTrend.staleness.alert, false);
  assert.match(small.overrideTrend.staleness.detail, /significant but below/);
  // A falling rate has a negative slope and no alert.
  const falling = flywheelHealth(input({ buckets: [100, 90, 80, 70, 60, 50, 40].map((c, i) => ({ start: String(i), traffic: 1000, corrections: c })) }));
  close(falling.overrideTrend.slope, -0.01, 1e-12, 'falling slope');
  assert.equal(falling.overrideTrend.staleness.alert, false);
});

test('staleness with too little traffic is insufficient, never ok or alert', () => {
  const thin = flywheelHealth(input({ buckets: [...flat(6, 1000, 50), { start: 'x', traffic: 50, corrections: 40 }] }));
  assert.equal(thin.overrideTrend.staleness.status, 'insufficient');
  assert.equal(thin.overrideTrend.staleness.alert, false);
  assert.equal(thin.overrideTrend.staleness.z, null);
  assert.match(thin.overrideTrend.staleness.detail, /latest bucket has 50 requests/);
  const one = flywheelHealth(input({ buckets: flat(1, 1000, 50) }));
  assert.equal(one.overrideTrend.staleness.status, 'insufficient');
  assert.equal(one.overrideTrend.slope, null);
  // The support floor is a setting.
  const lowered = flywheelHealth(input({ buckets: [...flat(6, 1000, 50), { start: 'x', traffic: 50, corrections: 40 }], settings: { minBucketSupport: 20 } }));
  assert.equal(lowered.overrideTrend.staleness.status, 'alert');
  // A zero baseline: any significant rise alerts (relative rise undefined).
  const fromZero = flywheelHealth(input({ buckets: [...flat(6, 1000, 0), { start: 'x', traffic: 1000, corrections: 10 }] }));
  assert.equal(fromZero.overrideTrend.staleness.relativeRise, null);
  assert.equal(fromZero.overrideTrend.staleness.alert, true);
  assert.throws(() => flywheelHealth(input({ buckets: [{ start: 'x', traffic: 5, corrections: 6 }] })), RangeError);
});

