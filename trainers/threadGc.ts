// A training-pool thread's memory after a job. What a job leaves is garbage (its features, its parsed
// rows), yet V8 collects a thread's old generation, and frees its array buffers' memory, only once the
// heap or the external memory reaches the limit its last collection set: an idle thread kept a job's
// worth, and the next job's arrays came on top.
// At 1M rows that was some 200 MB of the worker's peak (two threads, each holding the last job's
// garbage beside the next job's data). One full collection after each job frees it: a few
// milliseconds on a thread the job has just left.
import v8 from 'node:v8';
import vm from 'node:vm';

let collect: (() => void) | undefined;

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
 * Collects this thread's heap once the current job has handed back its result: call it as the job
 * ends. The collection runs after the job's promise has settled and the pool has posted the result
 * (setImmediate runs after the microtasks that post it), so it never delays the answer.
 */
export function collectAfterJob(): void {
  collect ??= collector();
  setImmediate(collect);
}
