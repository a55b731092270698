// A training-pool thread's memory after a job. What a job leaves is garbage (its features, its parsed
// rows), yet V8 collects a thread's old generation, and frees its array buffers' memory, only once the
// heap or the external memory reaches the limit its last collection set: an idle thread kept a job's
// worth, and the next job's arrays came on top. At 1M rows that was some 200 MB of the worker's peak
// (two threads, each holding the last job's garbage beside the next job's data). A full collection
// after a job that left much behind frees it. Small jobs leave little, yet a full collection costs
// 8-12 ms even on a thread's small heap: after each of a fleet run's five jobs that would be some 50 ms
// of CPU a run (a fleet's worker spends 0.6-0.8 s a run here) for nothing, so those are left to V8.
import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Growth of this thread's heap and external memory since its last collection that calls for one. A
 * fleet's 300-example jobs leave little (a fleet of 20 measured the same worker CPU a run as without
 * any collection), a 1M run's every job far more. At 64 MB the 1M run's scoring and evaluation jobs
 * went uncollected and the worker peaked at 0.82 GiB; at 16 MB it peaked at 0.74, as with a collection
 * after every job.
 */
export const COLLECT_ABOVE_BYTES = 16 * 2 ** 20;

let collect: (() => void) | undefined;
/** This thread's heap and external memory right after its last collection (null: none yet). */
let afterLast: number | null = null;

/** In a worker thread, heapUsed and external are the thread's own (rss is the process's). */
const inUse = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

/**
 * V8's collector as a function. Node exposes it only with --expose-gc; without that flag it is taken
 * from a fresh context made while the flag is set, and the flag is set back, so no other context (the
 * workflows' sandbox, for one) sees a `gc` global. As jest's leak detector does.
 */
function collector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  v8.setFlagsFromString('--expose-gc');
  try {
    return vm.runInNewContext('gc') as () => void;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/**
 * Call as a job ends: when the thread's heap and external memory have grown by COLLECT_ABOVE_BYTES since
 * its last collection (or it has had none), collects once the job has handed back its result. The
 * collection runs after the job's promise has settled and the pool has posted the result (setImmediate
 * runs after the microtasks that post it), so it never delays the answer. Says whether it will collect.
 */
export function collectAfterJob(): boolean {
  if (afterLast !== null && inUse() - afterLast < COLLECT_ABOVE_BYTES) return false;
  collect ??= collector();
  const gc = collect;
  setImmediate(() => {
    gc();
    afterLast = inUse();
  });
  return true;
}
