// A pool thread collects its garbage once a job ends (trainers/threadGc): what a job dropped is gone
// by the next turn of the thread's loop, without the process having been started with --expose-gc, and
// no other context is left with a `gc` global.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import vm from 'node:vm';
import { collectAfterJob } from '../../trainers/threadGc';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** What a job leaves: an object only a WeakRef points at once the job is over (made in its own turn, so the WeakRef does not hold it). */
async function jobGarbage(): Promise<WeakRef<object>> {
  const features = { rows: Array.from({ length: 1000 }, (_, i) => ({ i })) };
  const ref = new WeakRef(features);
  await nextTurn();
  return ref;
}

test('collectAfterJob: what the job dropped is collected in the next turn, not while the job ends', async () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'this test proves the collection without --expose-gc');
  const ref = await jobGarbage();
  collectAfterJob();
  // The collection waits for the turn after the job's (the pool posts the result first).
  assert.notEqual(ref.deref(), undefined);
  await nextTurn();
  await nextTurn();
  assert.equal(ref.deref(), undefined, 'the dropped object is still in the heap: no collection ran');
});

test('collectAfterJob: repeated jobs each collect, and no context is left with a gc global', async () => {
  for (let k = 0; k < 3; k++) {
    const ref = await jobGarbage();
    collectAfterJob();
    await nextTurn();
    await nextTurn();
    assert.equal(ref.deref(), undefined, `job ${k}: not collected`);
  }
  assert.equal(vm.runInNewContext('typeof gc'), 'undefined', 'the --expose-gc flag was left set: new contexts (the workflow sandbox) would see gc');
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
});
