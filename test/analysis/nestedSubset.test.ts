// The nested order the saturation check and the data plane share, held against Python's hashlib (the
// expected orders and keys below were computed with `hashlib.sha256(f"{seed}\0{id}".encode())`, first 4
// bytes big-endian), so a trainer in another language can reproduce a subset from this definition alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idPacker, nestedKey, nestedOrder, nestedPermutation, nestedPermutationOfPacked, packIds, subsetSize } from '../../analysis/nestedSubset';

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

test("the permutation is the order the saturation check used (a stable sort by key, then external id), ties of both kept in input order", () => {
  // The saturation check's nestedOrder as it was (activities/saturation.ts), kept here as the reference.
  const reference = <T extends { externalId: string }>(members: T[], seed: number): T[] =>
    members
      .map((m) => ({ m, k: nestedKey(m.externalId, seed) }))
      .sort((a, b) => a.k - b.k || (a.m.externalId < b.m.externalId ? -1 : a.m.externalId > b.m.externalId ? 1 : 0))
      .map((x) => x.m);
  const members = [
    ...Array.from({ length: 3000 }, (_, i) => ({ externalId: i % 11 === 0 ? `😀${i}` : i % 13 === 0 ? `\ue000${i}` : `e-${i}`, i })),
    { externalId: 'ex-5206', i: -1 },
    { externalId: 'ex-104949', i: -2 },
    { externalId: 'dup', i: -3 },
    { externalId: 'dup', i: -4 },
  ];
  for (const seed of [0, 1, 7, 123456]) assert.deepEqual(nestedOrder(members, seed), reference(members, seed), `seed ${seed}`);
  const perm = nestedPermutation(
    members.map((m) => m.externalId),
    7,
  );
  assert.deepEqual(
    Array.from(perm, (i) => members[i]),
    reference(members, 7),
  );
  const dups = nestedOrder(members, 7).filter((m) => m.externalId === 'dup');
  assert.deepEqual(
    dups.map((m) => m.i),
    [-3, -4],
  );
});

// Real 32-bit key collisions under seed 7 (found by a birthday search) whose tie UTF-8 bytes would break the
// other way: UTF-16 puts a surrogate pair (D83D...) before U+E000, bytes put U+E000 (EE...) before F0...;
// and a leading byte-order mark must stay part of the id when the packed text is decoded.
const ASTRAL_TIE = ['\u{1F600}25027', '\ue00029818'] as const;
const BOM_TIE = ['\ufeff76334', 'z18446'] as const;

test('the packed ids order as nestedPermutation orders them: ties by UTF-16 code units, then position', () => {
  assert.equal(nestedKey(ASTRAL_TIE[0], 7), 3429823306);
  assert.equal(nestedKey(ASTRAL_TIE[1], 7), 3429823306);
  assert.equal(nestedKey(BOM_TIE[0], 7), 3585754866);
  assert.equal(nestedKey(BOM_TIE[1], 7), 3585754866);
  const lists: string[][] = [
    [],
    ['only'],
    [''],
    [...ASTRAL_TIE],
    [...ASTRAL_TIE].reverse(),
    [...BOM_TIE],
    [...BOM_TIE].reverse(),
    ['ex-5206', 'ex-104949', 'dup', 'dup', '', 'dup', ''],
    [
      ...IDS,
      ...ASTRAL_TIE,
      ...BOM_TIE,
      'ex-104949',
      'ex-5206',
      'p "11"/é\n',
      'tab\tand\\back',
      'nul\u0000inside',
      'ключ-7',
      '键-7',
      'x'.repeat(300) + 'é'.repeat(200),
      '\u{10FFFF}',
      '\uFFFF',
      'dup',
      'dup',
    ],
    Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? `é${i}` : i % 11 === 0 ? `\u{1F600}${i % 50}` : i % 13 === 0 ? `\ue000${i % 50}` : `e-${i % 4000}`)),
  ];
  for (const ids of lists) {
    for (const seed of [0, 7, -3, 123456789]) {
      const expected = Array.from(nestedPermutation(ids, seed));
      assert.deepEqual(Array.from(nestedPermutationOfPacked(packIds(ids), seed)), expected, `seed ${seed}, ${ids.length} ids starting ${JSON.stringify(ids.slice(0, 3))}`);
    }
  }
  // Under seed 7 the collisions' order is UTF-16's, whichever comes first.
  for (const pair of [ASTRAL_TIE, BOM_TIE]) {
    for (const ids of [[...pair], [...pair].reverse()]) {
      assert.deepEqual(
        Array.from(nestedPermutationOfPacked(packIds(ids), 7), (i) => ids[i]),
        [...pair].sort(),
      );
    }
  }
  assert.ok(ASTRAL_TIE[0] < ASTRAL_TIE[1] && BOM_TIE[1] < BOM_TIE[0]);
});

test('ids packed a chunk at a time are the ids packed at once, as UTF-8, and a lone surrogate is refused', () => {
  const ids = Array.from({ length: 3000 }, (_, i) => (i % 5 === 0 ? `é-${i}-${'w'.repeat(i % 400)}` : `e-${i}`));
  const packer = idPacker();
  for (let at = 0; at < ids.length; at += 700) packer.add(ids.slice(at, at + 700));
  const chunked = packer.packed();
  const whole = packIds(ids);
  assert.deepEqual(Buffer.from(chunked.bytes), Buffer.from(whole.bytes));
  assert.deepEqual(Array.from(chunked.offsets), Array.from(whole.offsets));
  assert.equal(chunked.offsets.length, ids.length + 1);
  assert.deepEqual(
    Array.from({ length: ids.length }, (_, i) => Buffer.from(chunked.bytes).toString('utf8', chunked.offsets[i], chunked.offsets[i + 1])),
    ids,
  );
  assert.equal(Buffer.from(chunked.bytes).toString('utf8'), ids.join(''));
  // Buffers of their own (transferable without taking Node's shared pool with them), even for a few bytes.
  assert.notEqual(packIds(['a']).bytes.buffer, Buffer.from('b').buffer);
  assert.equal(packIds([]).offsets.length, 1);
  assert.throws(() => packIds(['fine', 'lone \ud800 surrogate']), /not well-formed/);
  assert.throws(() => packIds(['\udc00']), /not well-formed/);
});

test('nestedKey is the key createHash gave, for any text, a lone surrogate included', async () => {
  const { createHash } = await import('node:crypto');
  const before = (id: string, seed: number) => createHash('sha256').update(`${seed}\u0000${id}`).digest().readUInt32BE(0);
  for (const id of [...IDS, ...ASTRAL_TIE, ...BOM_TIE, '', '\ud800', 'a\udc00b', 'x'.repeat(1000)]) {
    for (const seed of [0, 1, -1, 2 ** 31 - 1]) assert.equal(nestedKey(id, seed), before(id, seed), `${JSON.stringify(id)} seed ${seed}`);
  }
});
