// A pool thread collects its garbage once a job that left much behind ends (trainers/threadGc): what
// such a job dropped is gone by the next turn of the thread's loop, without the process having been
// started with --expose-gc; a job that left little is left to V8 (a full collection costs 8-12 ms
// even then); and no other context is left with a `gc` global.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import vm from 'node:vm';
import { COLLECT_ABOVE_BYTES, collectAfterJob } from '../../trainers/threadGc';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** What a job leaves: `bytes` of heap only a WeakRef points at once the job is over (made in its own turn, so the WeakRef does not hold it). */
async function jobGarbage(bytes: number): Promise<WeakRef<object>> {
  const features = new Array<number>(Math.ceil(bytes / 8)).fill(0.5);
  const ref = new WeakRef(features);
  await nextTurn();
  return ref;
}

test('collectAfterJob: a job that left more than the bound is collected in the next turn, not while it ends; one that left little is not', async () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'this test proves the collection without --expose-gc');
  // The first job of a thread sets where its memory stands after a collection.
  const first = await jobGarbage(1024);
  assert.equal(collectAfterJob(), true);
  await nextTurn();
  await nextTurn();
  assert.equal(first.deref(), undefined, 'the first job was not collected');

  const small = await jobGarbage(1024);
  assert.equal(collectAfterJob(), false, 'a job that left 1 KB called for a full collection');
  assert.notEqual(small.deref(), undefined);

  const big = await jobGarbage(COLLECT_ABOVE_BYTES + 16 * 2 ** 20);
  assert.equal(collectAfterJob(), true, 'a job that left more than the bound did not call for a collection');
  // The collection waits for the turn after the job's (the pool posts the result first).
  assert.notEqual(big.deref(), undefined);
  await nextTurn();
  await nextTurn();
  assert.equal(big.deref(), undefined, 'the dropped features are still in the heap: no collection ran');
  assert.equal(small.deref(), undefined, 'what the small job left went with the big one');
});

test('collectAfterJob: each big job collects, and no context is left with a gc global', async () => {
  for (let k = 0; k < 3; k++) {
    const ref = await jobGarbage(COLLECT_ABOVE_BYTES + 16 * 2 ** 20);
    assert.equal(collectAfterJob(), true, `job ${k}`);
    await nextTurn();
    await nextTurn();
    assert.equal(ref.deref(), undefined, `job ${k}: not collected`);
  }
  assert.equal(vm.runInNewContext('typeof gc'), 'undefined', 'the --expose-gc flag was left set: new contexts (the workflow sandbox) would see gc');
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
});
