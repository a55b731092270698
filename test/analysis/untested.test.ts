import { test } from 'node:test';
import assert from 'node:assert/strict';
import { untestedSegments, type HeldOutSupport, type TrafficCount } from '../../analysis/untested';

const traffic: TrafficCount[] = [
  { attribute: 'lang', value: 'en', count: 6000 },
  { attribute: 'lang', value: 'de', count: 2500 },
  { attribute: 'lang', value: 'pt', count: 1000 }, // absent from held-out
  { attribute: 'lang', value: 'tr', count: 400 }, // 12 held-out rows: insufficient
  { attribute: 'lang', value: 'eo', count: 100 }, // absent
  { attribute: 'source', value: 'web', count: 700 },
  { attribute: 'source', value: 'mobile', count: 250 },
  { attribute: 'source', value: 'api', count: 50 }, // 29 rows: just below 30
  { attribute: 'source', value: 'sms', count: 0 }, // never seen in traffic: not listed
];
const heldOut: HeldOutSupport[] = [
  { attribute: 'lang', value: 'en', support: 1200, negatives: 800, positives: 400 },
  { attribute: 'lang', value: 'de', support: 300, negatives: 180, positives: 120 },
  { attribute: 'lang', value: 'tr', support: 12, negatives: 9, positives: 3 },
  { attribute: 'lang', value: 'xx', support: 3, negatives: 3, positives: 0 }, // not in traffic: ignored
  { attribute: 'source', value: 'web', support: 1000, negatives: 700, positives: 300 },
  { attribute: 'source', value: 'mobile', support: 30, negatives: 20, positives: 10 }, // exactly minSupport: tested
  { attribute: 'source', value: 'api', support: 29, negatives: 20, positives: 9 },
  { attribute: 'source', value: 'sms', support: 1, negatives: 1, positives: 0 },
];

test('untestedSegments lists absent and insufficient slices with their traffic share, largest share first', () => {
  const got = untestedSegments(traffic, heldOut, 30);
  assert.deepEqual(got, [
    { attribute: 'lang', value: 'pt', trafficCount: 1000, trafficShare: 0.1, heldOutSupport: 0, reason: 'absent' },
    { attribute: 'source', value: 'api', trafficCount: 50, trafficShare: 0.05, heldOutSupport: 29, reason: 'insufficient' },
    { attribute: 'lang', value: 'tr', trafficCount: 400, trafficShare: 0.04, heldOutSupport: 12, reason: 'insufficient' },
    { attribute: 'lang', value: 'eo', trafficCount: 100, trafficShare: 0.01, heldOutSupport: 0, reason: 'absent' },
  ]);
  for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]!.trafficShare >= got[i]!.trafficShare, 'sorted by share');
});

test('shares are per attribute and sum to 1 with the tested slices', () => {
  // With an impossible bar every trafficked slice is untested, so the shares cover all traffic.
  const all = untestedSegments(traffic, heldOut, 1e9);
  for (const attribute of ['lang', 'source']) {
    const sum = all.filter((s) => s.attribute === attribute).reduce((acc, s) => acc + s.trafficShare, 0);
    assert.ok(Math.abs(sum - 1) < 1e-12, `${attribute} shares sum to ${sum}`);
  }
  assert.equal(all.length, 8, 'the zero-traffic value is not a segment');
  assert.ok(all.every((s) => s.reason === (s.heldOutSupport === 0 ? 'absent' : 'insufficient')));
  // Ties in share: larger count first, then attribute and value order.
  const tied = untestedSegments(
    [
      { attribute: 'b', value: 'y', count: 1 },
      { attribute: 'b', value: 'x', count: 1 },
      { attribute: 'a', value: 'z', count: 2 },
      { attribute: 'a', value: 'w', count: 2 },
    ],
    [],
    1,
  );
  assert.deepEqual(
    tied.map((s) => `${s.attribute}=${s.value}`),
    ['a=w', 'a=z', 'b=x', 'b=y'],
  );
});

test('minSupport 0: only absent slices remain untested', () => {
  const got = untestedSegments(traffic, heldOut, 0);
  assert.deepEqual(
    got.map((s) => [s.value, s.reason]),
    [
      ['pt', 'absent'],
      ['eo', 'absent'],
    ],
  );
});

test('untestedSegments refuses duplicates and bad counts', () => {
  assert.throws(() => untestedSegments([...traffic, { attribute: 'lang', value: 'en', count: 1 }], heldOut, 30), /lang=en listed twice/);
  assert.throws(() => untestedSegments(traffic, [...heldOut, heldOut[0]!], 30), /lang=en listed twice/);
  assert.throws(() => untestedSegments([{ attribute: 'a', value: 'b', count: -1 }], [], 30), />= 0/);
  assert.throws(() => untestedSegments(traffic, heldOut, NaN), /minSupport/);
  assert.deepEqual(untestedSegments([], heldOut, 30), []);
});
