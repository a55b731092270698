// Runs in the data plane's ordering thread (api/trainerData nestedOrderIds): a training split's nested
// order for one seed, off the API's event loop. Hashing 800,000 external ids and sorting them is seconds of
// CPU; on the event loop that stalled every other request of the API (and, in one process, the worker's
// activities) for as long. The ids come packed and go back as example ids, both in transferred buffers.
import { move } from 'piscina';
import { nestedPermutationOfPacked, type PackedIds } from '../analysis/nestedSubset';

export interface NestedOrderJob extends PackedIds {
  /** The members' example ids, in the packed ids' order. */
  exampleIds: Int32Array;
  seed: number;
}

/**
 * The members' example ids in the seed's nested order (analysis/nestedSubset): an Int32Array, wrapped by
 * piscina's move so it is transferred, and unwrapped by piscina on the way back (orderInThread).
 */
export default function nestedOrder(job: NestedOrderJob): ReturnType<typeof move> {
  const perm = nestedPermutationOfPacked(job, job.seed);
  const ordered = new Int32Array(perm.length);
  for (let i = 0; i < perm.length; i++) ordered[i] = job.exampleIds[perm[i]!]!;
  return move(ordered);
}
