// A training split's nested order (analysis/nestedSubset) at 800,000 ids, as the data plane computes it for
// a seed's first subset read, three ways: on the event loop with createHash per id (main before issue #17's
// ordering thread), on the event loop with crypto.hash (nestedPermutation now), and as the data plane does it
// now (ids packed a 100,000-id chunk at a time as the database read hands them over, then hashed and sorted
// in the ordering thread, api/trainerData orderInThread). For each: the order's wall time, and the event
// loop's delay meanwhile (perf_hooks monitorEventLoopDelay, 5 ms resolution): how long every other request
// of the API waited. No database; the ids are the nested subset bench's ('row-' and a number).
//   flock /work/wt/bench.lock npx tsx bench/nestedOrder.bench.ts [--rows 800000]
import { createHash } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { idPacker, nestedPermutation } from '../analysis/nestedSubset';
import { closeOrderThread, orderInThread } from '../api/trainerData';
import { benchArgs } from './args';

const n = benchArgs(process.argv.slice(2), { rows: [800_000] }).rows[0]!;
const externalIds = Array.from({ length: n }, (_, i) => `row-${i + 1}`);
const exampleIds = Int32Array.from({ length: n }, (_, i) => 1000 + i);
const seed = 1;

/** main's nestedPermutation before crypto.hash: one Hash object per id. */
function createHashPermutation(ids: readonly string[], s: number): Uint32Array {
  const keys = new Uint32Array(ids.length);
  for (let i = 0; i < keys.length; i++) keys[i] = createHash('sha256').update(`${s}\u0000${ids[i]}`).digest().readUInt32BE(0);
  const order = new Uint32Array(keys.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => keys[a]! - keys[b]! || (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : a - b));
}

const ticks = () => new Promise((resolve) => setTimeout(resolve, 30));

async function measure(name: string, order: () => Promise<Int32Array>): Promise<Int32Array> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  await ticks(); // the monitor's first tick only sets where it counts from
  const start = performance.now();
  const got = await order();
  const ms = performance.now() - start;
  await ticks();
  delay.disable();
  const f = (ns: number) => (ns / 1e6).toFixed(0).padStart(7);
  console.log(`  ${name.padEnd(58)} ${(ms / 1000).toFixed(2).padStart(7)} ${f(delay.percentile(50))} ${f(delay.percentile(99))} ${f(delay.max)}`);
  return got;
}

async function inThread(): Promise<Int32Array> {
  const packer = idPacker();
  for (let at = 0; at < n; at += 100_000) {
    packer.add(externalIds.slice(at, at + 100_000));
    await new Promise((resolve) => setImmediate(resolve)); // the next chunk's query
  }
  return orderInThread({ ...packer.packed(), exampleIds: exampleIds.slice(), seed });
}

console.log(`nested order of ${n.toLocaleString('en-US')} external ids, seed ${seed}; event-loop delay while ordering (ms)`);
console.log(`  ${'how'.padEnd(58)} ${'wall s'.padStart(7)} ${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'max'.padStart(7)}`);
const before = await measure('on the event loop, createHash per id (before)', async () => Int32Array.from(createHashPermutation(externalIds, seed), (i) => exampleIds[i]!));
const onLoop = await measure('on the event loop, crypto.hash (nestedPermutation)', async () => Int32Array.from(nestedPermutation(externalIds, seed), (i) => exampleIds[i]!));
const cold = await measure('packed, in the ordering thread (thread started with it)', inThread);
const warm = await measure('packed, in the ordering thread (thread running)', inThread);
await closeOrderThread();
for (const [name, got] of [
  ['crypto.hash', onLoop],
  ['thread (cold)', cold],
  ['thread (warm)', warm],
] as const) {
  if (got.length !== before.length || got.some((id, i) => id !== before[i])) throw new Error(`${name}: another order than createHash's`);
}
console.log('  (every way gave the same order)');
