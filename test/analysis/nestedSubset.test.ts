// The nested order the saturation check and the data plane share, held against Python's hashlib (the
// expected orders and keys below were computed with `hashlib.sha256(f"{seed}\0{id}".encode())`, first 4
// bytes big-endian), so a trainer in another language can reproduce a subset from this definition alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nestedKey, nestedOrder, subsetSize } from '../../analysis/nestedSubset';

const IDS = ['a', 'b', 'email-0017', 'é', '😀', '\ue000', 'x'.repeat(40), 'ham/42'];

test('the order and keys match hashlib for text, accents, astral characters and private-use characters', () => {
  const expected: Record<number, { order: string[]; keys: number[] }> = {
    0: {
      order: ['😀', 'email-0017', 'a', 'é', 'x'.repeat(40), 'ham/42', '\ue000', 'b'],
      keys: [806420405, 1192501262, 1595580616, 2028993716, 2109936433, 2269619341, 2526905630, 2832508741],
    },
    1: {
      order: ['a', 'é', '😀', 'ham/42', 'b', 'email-0017', 'x'.repeat(40), '\ue000'],
      keys: [61430623, 325695474, 415535327, 1049367722, 1757305969, 2107364738, 3722105101, 3747966771],
    },
    42: {
      order: ['ham/42', 'x'.repeat(40), 'email-0017', 'é', 'b', '😀', '\ue000', 'a'],
      keys: [130974495, 1190276578, 1656071040, 1788884105, 2580978054, 3066538643, 3121910110, 3627527943],
    },
  };
  const members = IDS.map((externalId, i) => ({ externalId, exampleId: i + 1 }));
  for (const [seed, { order, keys }] of Object.entries(expected)) {
    const got = nestedOrder(members, Number(seed));
    assert.deepEqual(
      got.map((m) => m.externalId),
      order,
      `seed ${seed}`,
    );
    assert.deepEqual(
      got.map((m) => nestedKey(m.externalId, Number(seed))),
      keys,
      `seed ${seed} keys`,
    );
  }
});

test('a real 32-bit key collision is broken by external id, whatever order the members come in', () => {
  // Under seed 7, ex-5206 and ex-104949 share the key 2692150476 (found by a birthday search in Python).
  assert.equal(nestedKey('ex-5206', 7), 2692150476);
  assert.equal(nestedKey('ex-104949', 7), 2692150476);
  const pair = [{ externalId: 'ex-5206' }, { externalId: 'ex-104949' }];
  assert.deepEqual(
    nestedOrder(pair, 7).map((m) => m.externalId),
    ['ex-104949', 'ex-5206'],
  );
  assert.deepEqual(
    nestedOrder([...pair].reverse(), 7).map((m) => m.externalId),
    ['ex-104949', 'ex-5206'],
  );
});

test('the order depends on the members, not on the order they are given in, and leaves its input alone', () => {
  const members = Array.from({ length: 500 }, (_, i) => ({ externalId: `e-${i}`, exampleId: i }));
  const shuffled = [...members].reverse();
  const before = shuffled.map((m) => m.externalId);
  assert.deepEqual(nestedOrder(members, 3), nestedOrder(shuffled, 3));
  assert.deepEqual(
    shuffled.map((m) => m.externalId),
    before,
  );
  assert.notDeepEqual(
    nestedOrder(members, 3).map((m) => m.exampleId),
    nestedOrder(members, 4).map((m) => m.exampleId),
    'another seed, another order',
  );
});

test('subsets are nested across fractions, and a subset of the whole set minus some rows keeps the survivors in order', () => {
  const members = Array.from({ length: 1000 }, (_, i) => ({ externalId: `e-${i}` }));
  const order = nestedOrder(members, 11);
  let previous = new Set<string>();
  for (const f of [0.05, 0.1, 0.25, 0.5, 0.75, 1]) {
    const subset = order.slice(0, subsetSize(members.length, f));
    const ids = new Set(subset.map((m) => m.externalId));
    for (const id of previous) assert.ok(ids.has(id), `fraction ${f} holds every row of the smaller fraction`);
    previous = ids;
  }
  assert.equal(previous.size, 1000);
  // Removing rows (a batch left out) does not reorder the rest: the order is per row, not per set.
  const kept = members.filter((_, i) => i % 3 !== 0);
  assert.deepEqual(
    nestedOrder(kept, 11),
    order.filter((m) => kept.includes(m)),
  );
});

test('subsetSize rounds to the nearest row and never goes below one', () => {
  assert.equal(subsetSize(1000, 0.25), 250);
  assert.equal(subsetSize(10, 0.25), 3); // 2.5 rounds up
  assert.equal(subsetSize(10, 0.01), 1);
  assert.equal(subsetSize(7, 1), 7);
  assert.equal(subsetSize(3, 0.5), 2);
});
