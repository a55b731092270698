// The data plane's ordering thread (api/nestedOrderThread through api/trainerData's orderInThread): the
// order it hands back is analysis's nestedPermutation of the same ids, its buffers cross without a copy, and
// while it hashes and sorts the API's event loop keeps turning.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { nestedPermutation, packIds } from '../../analysis/nestedSubset';
import { closeOrderThread, keepMembers, orderInThread } from '../../api/trainerData';

after(() => closeOrderThread());

/** What the thread must answer: the example ids in nestedPermutation's order. */
const expected = (externalIds: string[], exampleIds: Int32Array, seed: number) => Array.from(nestedPermutation(externalIds, seed), (i) => exampleIds[i]!);

const job = (externalIds: string[], exampleIds: Int32Array, seed: number) => ({ ...packIds(externalIds), exampleIds: exampleIds.slice(), seed });

test('the thread orders as nestedPermutation does: non-ASCII, escapes, colliding keys, duplicates, none', async () => {
  const lists: string[][] = [
    [],
    ['\u{1F600}25027', '\ue00029818'],
    ['\ue00029818', '\u{1F600}25027'],
    ['\ufeff76334', 'z18446'],
    ['ex-5206', 'ex-104949', 'dup', 'dup', 'é', '键', 'p "11"/é\n', 'tab\t\\', '', 'nul\u0000in', 'x'.repeat(500)],
    Array.from({ length: 20_000 }, (_, i) => (i % 9 === 0 ? `é"${i}"\n` : i % 10 === 0 ? `\u{1F600}${i % 300}` : `ex-${i % 15_000}`)),
  ];
  for (const externalIds of lists) {
    // Example ids unlike positions, so a permutation handed back as positions would not pass.
    const exampleIds = Int32Array.from(externalIds, (_, i) => 1_000_000 + 7 * i);
    for (const seed of [1, 7, -42]) {
      const sent = job(externalIds, exampleIds, seed);
      const got = await orderInThread(sent);
      assert.ok(got instanceof Int32Array);
      assert.deepEqual(Array.from(got), expected(externalIds, exampleIds, seed), `seed ${seed}, ${externalIds.length} ids`);
      // Transferred, not copied: the buffers sent are the thread's now.
      if (externalIds.length > 0) assert.equal(sent.bytes.byteLength + sent.offsets.byteLength + sent.exampleIds.byteLength, 0);
    }
  }
});

test("the event loop keeps turning while the thread orders 300,000 ids: its longest delay is a fraction of ordering them on it", async (t) => {
  const n = 300_000;
  const externalIds = Array.from({ length: n }, (_, i) => `row-${i * 3 + 1}`);
  const exampleIds = Int32Array.from({ length: n }, (_, i) => i + 1);
  await orderInThread(job(['warm'], Int32Array.of(1), 1)); // the thread started (module loading is not the order's)
  const sent = job(externalIds, exampleIds, 3);

  // Each monitor ticks a few times first: its first tick only sets where it counts from.
  const ticks = () => new Promise((resolve) => setTimeout(resolve, 30));
  const onLoop = monitorEventLoopDelay({ resolution: 5 });
  onLoop.enable();
  await ticks();
  const startSync = performance.now();
  const inline = expected(externalIds, exampleIds, 3);
  const syncMs = performance.now() - startSync;
  await ticks();
  onLoop.disable();

  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  await ticks();
  const start = performance.now();
  const got = await orderInThread(sent);
  const threadMs = performance.now() - start;
  delay.disable();

  assert.deepEqual(Array.from(got), inline);
  const maxMs = delay.max / 1e6;
  t.diagnostic(`on the loop ${syncMs.toFixed(0)} ms (longest delay ${(onLoop.max / 1e6).toFixed(0)} ms); in the thread ${threadMs.toFixed(0)} ms, longest delay ${maxMs.toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms`);
  // The same order on the event loop held it for the whole sort (the monitor saw it), the thread's did not.
  assert.ok(onLoop.max / 1e6 >= 0.8 * syncMs, `on the loop: ${syncMs.toFixed(0)} ms of ordering, longest delay ${(onLoop.max / 1e6).toFixed(0)} ms`);
  assert.ok(maxMs < 0.25 * syncMs, `in the thread: longest event-loop delay ${maxMs.toFixed(0)} ms over ${threadMs.toFixed(0)} ms of ordering; on the loop it took ${syncMs.toFixed(0)} ms`);
});

test("a variant's order keeps the whole order's members that are in it, in the whole order's order, dense ids or sparse", () => {
  // A plain filter through a Set is the reference.
  const reference = (order: Int32Array, members: Int32Array) => {
    const set = new Set(members);
    return Array.from(order).filter((id) => set.has(id));
  };
  const shuffled = (ids: number[]) => Int32Array.from(nestedPermutation(ids.map(String), 5), (i) => ids[i]!);
  const cases: { name: string; whole: number[]; members: (id: number, i: number) => boolean }[] = [
    // Near-dense (another model's ids between them): a bit per id.
    { name: 'dense', whole: Array.from({ length: 30_000 }, (_, i) => 1_000 + i + Math.floor(i / 2)), members: (id, i) => i % 5 !== 0 && id % 7 !== 3 },
    // Spread far apart (ids up to 2^31 - 1): binary search.
    { name: 'sparse', whole: Array.from({ length: 3_000 }, (_, i) => (i === 0 ? 2 ** 31 - 1 : 1 + i * 700_001)), members: (_, i) => i % 3 !== 1 },
    { name: 'all', whole: Array.from({ length: 500 }, (_, i) => 10 + i), members: () => true },
    { name: 'none', whole: Array.from({ length: 500 }, (_, i) => 10 + i), members: () => false },
    { name: 'one', whole: [42, 7, 99], members: (id) => id === 99 },
  ];
  for (const { name, whole, members } of cases) {
    const order = shuffled(whole);
    const kept = Int32Array.from(whole.filter((id, i) => members(id, i)).sort((a, b) => a - b));
    const got = keepMembers(order, kept);
    assert.deepEqual(Array.from(got), reference(order, kept), name);
    assert.equal(got.length, kept.length, name);
  }
  // Members outside the whole order's range (not in it) are not invented.
  assert.deepEqual(Array.from(keepMembers(Int32Array.of(5, 3, 4), Int32Array.of(1, 3, 9))), [3]);
});
