// PROVISIONAL (h-dataplane replaces it): the saturation check's nested subsets.
import { createHash } from 'node:crypto';

export function nestedOrder<T extends { externalId: string }>(members: T[], seed: number): T[] {
  const key = (id: string) => createHash('sha256').update(`${seed}\u0000${id}`).digest().readUInt32BE(0);
  return members
    .map((m) => ({ m, k: key(m.externalId) }))
    .sort((a, b) => a.k - b.k || (a.m.externalId < b.m.externalId ? -1 : a.m.externalId > b.m.externalId ? 1 : 0))
    .map((x) => x.m);
}

export function subsetSize(n: number, fraction: number): number {
  return Math.max(1, Math.round(fraction * n));
}
