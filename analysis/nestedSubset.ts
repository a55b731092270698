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
import { hash } from 'node:crypto';

/** The 32-bit sort key of one external id under one seed (sha256 of its UTF-8, as createHash's update(text) takes it). */
export function nestedKey(externalId: string, seed: number): number {
  // crypto.hash: one call and no Hash object per id, 1.1 s instead of 1.7 s for 800,000 ids.
  return hash('sha256', `${seed}\u0000${externalId}`, 'buffer').readUInt32BE(0);
}

/**
 * The nested order of these external ids under `seed`, as positions into the list: sorted by key, ties
 * by external id (UTF-16 code unit order, JavaScript's `<`), then by position. Typed arrays, no object
 * per row, so a million-row split orders in a few tens of MB.
 */
export function nestedPermutation(externalIds: readonly string[], seed: number): Uint32Array {
  const keys = new Uint32Array(externalIds.length);
  for (let i = 0; i < keys.length; i++) keys[i] = nestedKey(externalIds[i]!, seed);
  const order = new Uint32Array(keys.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => keys[a]! - keys[b]! || (externalIds[a]! < externalIds[b]! ? -1 : externalIds[a]! > externalIds[b]! ? 1 : a - b));
}

/**
 * External ids as one UTF-8 text and where each starts (offsets[i], offsets[n] is the end): a million ids
 * in two buffers a thread can take whole (transferred), not a million strings copied one by one.
 */
export interface PackedIds {
  bytes: Uint8Array;
  offsets: Int32Array;
}

/**
 * Packs ids as they come (a database read's chunks), into buffers of their own (never Node's shared pool,
 * so they can be transferred). Only well-formed text is taken: a lone surrogate has no UTF-8 and would come
 * back as U+FFFD, another id than the one given (text from the database is always well formed).
 */
export function idPacker(): { add(ids: readonly string[]): void; packed(): PackedIds } {
  let bytes = Buffer.from(new ArrayBuffer(1024));
  let offsets = new Int32Array(1024);
  let n = 0;
  let at = 0;
  return {
    add(ids) {
      if (n + ids.length + 1 > offsets.length) {
        const more = new Int32Array(Math.max(2 * offsets.length, n + ids.length + 1));
        more.set(offsets.subarray(0, n));
        offsets = more;
      }
      for (const id of ids) {
        if (!(id as string & { isWellFormed(): boolean }).isWellFormed()) throw new Error(`external id ${JSON.stringify(id)} is not well-formed UTF-16 (a lone surrogate): it has no UTF-8 to order by`);
        // At most 3 bytes of UTF-8 per UTF-16 code unit.
        if (at + 3 * id.length > bytes.length) {
          const more = Buffer.from(new ArrayBuffer(Math.max(2 * bytes.length, at + 3 * id.length)));
          bytes.copy(more, 0, 0, at);
          bytes = more;
        }
        offsets[n++] = at;
        at += bytes.write(id, at);
        if (at > 0x7fffffff) throw new Error('external ids of more than 2 GiB cannot be packed');
      }
    },
    packed() {
      offsets[n] = at;
      return { bytes: new Uint8Array(bytes.buffer, 0, at), offsets: offsets.subarray(0, n + 1) };
    },
  };
}

/** Packs a list of external ids (idPacker). */
export function packIds(ids: readonly string[]): PackedIds {
  const packer = idPacker();
  packer.add(ids);
  return packer.packed();
}

/**
 * nestedPermutation of packed ids, without a string per id: each key is sha256 of `${seed}\u0000` and the
 * id's UTF-8 bytes (the bytes nestedKey hashes), and only ids of equal keys are decoded, to be compared as
 * nestedPermutation compares them (well-formed text decodes to itself). The same order, held by tests.
 */
export function nestedPermutationOfPacked({ bytes, offsets }: PackedIds, seed: number): Uint32Array {
  const n = offsets.length - 1;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prefix = Buffer.from(`${seed}\u0000`);
  let scratch = Buffer.alloc(prefix.length + 256);
  prefix.copy(scratch);
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const from = offsets[i]!;
    const length = prefix.length + offsets[i + 1]! - from;
    if (length > scratch.length) {
      scratch = Buffer.alloc(2 * length);
      prefix.copy(scratch);
    }
    text.copy(scratch, prefix.length, from, offsets[i + 1]!);
    keys[i] = hash('sha256', scratch.subarray(0, length), 'buffer').readUInt32BE(0);
  }
  const id = (i: number) => text.toString('utf8', offsets[i]!, offsets[i + 1]!);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order.sort((a, b) => {
    if (keys[a] !== keys[b]) return keys[a]! - keys[b]!;
    const x = id(a);
    const y = id(b);
    return x < y ? -1 : x > y ? 1 : a - b;
  });
}

/** A stable per-seed order of the members; the first k of it are the nested subset of size k. */
export function nestedOrder<T extends { externalId: string }>(members: T[], seed: number): T[] {
  return Array.from(
    nestedPermutation(
      members.map((m) => m.externalId),
      seed,
    ),
    (i) => members[i]!,
  );
}

/** Rows in the subset of `fraction` of n rows: at least one, so every point of a learning curve trains on something. */
export function subsetSize(n: number, fraction: number): number {
  return Math.max(1, Math.round(fraction * n));
}
