/**
 * Nested subsets of a training set, as the saturation check trains on them and the data plane serves
 * them (`?fraction=F&seed=S`): one fixed order per seed, and the subset of fraction F is the first
 * subsetSize(n, F) rows of it, so a smaller fraction's subset is always inside a larger one's.
 *
 * The order is keyed by external id (sha256 of `${seed}\u0000${externalId}`, its first 4 bytes as a
 * big-endian uint32, ties by external id), so the same data gives the same subsets in any database and
 * in any language a trainer is written in. Pure: hashing is the only built-in used (node:crypto), so
 * workflows must not import this file.
 */
import { createHash } from 'node:crypto';

/** The 32-bit sort key of one external id under one seed. */
export function nestedKey(externalId: string, seed: number): number {
  return createHash('sha256').update(`${seed}\u0000${externalId}`).digest().readUInt32BE(0);
}

/**
 * A stable per-seed order of the members; the first k of it are the nested subset of size k.
 * Ties of the key are broken by external id (UTF-16 code unit order, JavaScript's `<`).
 */
export function nestedOrder<T extends { externalId: string }>(members: T[], seed: number): T[] {
  return members
    .map((m) => ({ m, k: nestedKey(m.externalId, seed) }))
    .sort((a, b) => a.k - b.k || (a.m.externalId < b.m.externalId ? -1 : a.m.externalId > b.m.externalId ? 1 : 0))
    .map((x) => x.m);
}

/** Rows in the subset of `fraction` of n rows: at least one, so every point of a learning curve trains on something. */
export function subsetSize(n: number, fraction: number): number {
  return Math.max(1, Math.round(fraction * n));
}
