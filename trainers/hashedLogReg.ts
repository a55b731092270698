/**
 * The built-in trainer: logistic regression over hashed word n-grams.
 *
 * Why this shape: it needs no vocabulary (the hashing trick keeps the artifact a fixed size and
 * lets any `Record<string, string>` input be scored), trains in seconds on one core, and is
 * fully deterministic — same examples + params give a byte-identical artifact, so an artifact
 * hash identifies a model version.
 */
import { createHash } from 'node:crypto';

export interface TrainerParams {
  /** log2 of the number of hash buckets. */
  dimsLog2: number;
  epochs: number;
  /** Initial SGD step size (examples are L2-normalised, so ~0.1..1 is sensible). */
  learningRate: number;
  /** L2 penalty per example step (lambda in lambda/2 * ||w||^2). */
  l2: number;
  /** Seeds the per-epoch shuffle; the only source of randomness. */
  seed: number;
  ngramMax: 1 | 2;
}

export const defaultTrainerParams: TrainerParams = Object.freeze({
  dimsLog2: 18,
  epochs: 8,
  learningRate: 1,
  l2: 1e-6,
  seed: 1,
  ngramMax: 2,
}) as TrainerParams;

export interface LabelledInput {
  input: Record<string, string>;
  label: 0 | 1;
  /** Sample weight (absent: 1): the row's log-loss gradient is scaled by it (a recency half-life's weight). */
  weight?: number;
}

export interface HashedLogRegArtifact {
  kind: 'hashed-logreg';
  formatVersion: 1;
  params: TrainerParams;
  /** Field names seen in training (sorted); informational — any field is scored at predict time. */
  fields: string[];
  bias: number;
  weights: Float32Array;
  trainedOn: number;
}

// ---------------------------------------------------------------------------------------------
// Featurisation

const MAX_TOKEN_LENGTH = 30;
const MAX_TOKENS_PER_FIELD = 2000;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
// Unicode-aware so non-English text still yields tokens; the input is generic.
const TOKEN_RE = /[\p{L}\p{N}]+/gu;

/** FNV-1a over UTF-16 code units, continuing from state `h` (lets n-grams hash incrementally). */
function fnvUpdate(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** murmur3 finaliser: FNV's low bits are weak, so mix before taking bucket/sign bits. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function tokenize(text: string): string[] {
  const out: string[] = [];
  TOKEN_RE.lastIndex = 0;
  const lower = text.toLowerCase();
  let m: RegExpExecArray | null;
  while (out.length < MAX_TOKENS_PER_FIELD && (m = TOKEN_RE.exec(lower)) !== null) {
    const t = m[0];
    if (t.length <= MAX_TOKEN_LENGTH) out.push(t);
  }
  return out;
}

export interface SparseVector {
  index: Int32Array;
  value: Float32Array;
}

/**
 * Turns one input into a sorted, L2-normalised sparse vector. Features are field-prefixed
 * unigrams (and bigrams), counted, weighted log(1+count), then hashed into signed buckets.
 * Fields are visited in sorted order so float summation (and so the result) does not depend
 * on the object's key order.
 */
function featurize(input: Record<string, string>, mask: number, ngramMax: 1 | 2): SparseVector {
  const counts = new Map<number, number>(); // full 32-bit feature hash -> count
  const bump = (h: number): void => {
    counts.set(h, (counts.get(h) ?? 0) + 1);
  };
  for (const field of Object.keys(input).sort()) {
    const text = input[field];
    if (typeof text !== 'string' || text.length === 0) continue;
    const tokens = tokenize(text);
    const uniPrefix = fnvUpdate(FNV_OFFSET, field + ':');
    // A distinct prefix keeps "a b" bigrams from colliding with a unigram spelled "a b".
    const biPrefix = fnvUpdate(FNV_OFFSET, field + '::');
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      bump(fnvUpdate(uniPrefix, t));
      if (ngramMax === 2 && i + 1 < tokens.length) {
        bump(fnvUpdate(fnvUpdate(fnvUpdate(biPrefix, t), ' '), tokens[i + 1]!));
      }
    }
  }
  const buckets = new Map<number, number>();
  for (const [h, c] of counts) {
    const mixed = fmix32(h);
    const idx = mixed & mask;
    // Sign from an independent mix so bucket collisions cancel in expectation.
    const sign = fmix32(h ^ 0x9e3779b9) & 1 ? 1 : -1;
    buckets.set(idx, (buckets.get(idx) ?? 0) + sign * Math.log1p(c));
  }
  const idx = Array.from(buckets.keys()).sort((a, b) => a - b);
  const index = new Int32Array(idx.length);
  const value = new Float32Array(idx.length);
  let norm = 0;
  for (const i of idx) {
    const v = buckets.get(i)!;
    norm += v * v;
  }
  norm = Math.sqrt(norm);
  for (let k = 0; k < idx.length; k++) {
    index[k] = idx[k]!;
    value[k] = norm > 0 ? buckets.get(idx[k]!)! / norm : 0;
  }
  return { index, value };
}

// ---------------------------------------------------------------------------------------------
// Training

/** mulberry32: tiny, fast, good enough for shuffling, and reproducible from a 32-bit seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sigmoid(z: number): number {
  // Two branches avoid overflow in exp for large |z|.
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

function resolveParams(p?: Partial<TrainerParams>): TrainerParams {
  const params: TrainerParams = { ...defaultTrainerParams, ...(p ?? {}) };
  const { dimsLog2, epochs, learningRate, l2, seed, ngramMax } = params;
  if (!Number.isInteger(dimsLog2) || dimsLog2 < 4 || dimsLog2 > 26) {
    throw new Error(`trainer: dimsLog2 must be an integer in 4..26, got ${dimsLog2}`);
  }
  if (!Number.isInteger(epochs) || epochs < 1 || epochs > 1000) {
    throw new Error(`trainer: epochs must be an integer in 1..1000, got ${epochs}`);
  }
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) {
    throw new Error(`trainer: learningRate must be a positive number, got ${learningRate}`);
  }
  if (!(l2 >= 0) || !Number.isFinite(l2)) throw new Error(`trainer: l2 must be >= 0, got ${l2}`);
  if (!Number.isInteger(seed)) throw new Error(`trainer: seed must be an integer, got ${seed}`);
  if (ngramMax !== 1 && ngramMax !== 2) throw new Error(`trainer: ngramMax must be 1 or 2, got ${String(ngramMax)}`);
  // Canonical key order, so the serialised header is byte-stable whatever the caller passed.
  return { dimsLog2, epochs, learningRate, l2, seed, ngramMax };
}

/**
 * A training set featurised as it arrives, one row at a time, in compressed sparse rows: every row's
 * bucket indexes and values end to end in two typed arrays, with its start in a third. A row costs its
 * features' 8 bytes each and 9 bytes besides (17 with weights), wherever the rows come from (a stream, an array), and
 * nothing of its input is kept.
 */
export interface FeaturisedRows {
  n: number;
  /** Row i's features are index/value[offsets[i], offsets[i + 1]). */
  offsets: Float64Array;
  index: Int32Array;
  value: Float32Array;
  labels: Uint8Array;
  /** Sample weights, when some row had one (others weigh 1); null when none did. */
  weights: Float64Array | null;
  /** Field names seen (sorted). */
  fields: string[];
}

export interface FeatureBuilder {
  readonly rows: number;
  /** Featurises one row; throws (naming the row by its position) on a label other than 0/1 or a bad weight. */
  add(input: Record<string, string>, label: 0 | 1, weight?: number): void;
  finish(): FeaturisedRows;
}

/** A builder for `params`' buckets and n-grams; `expectedRows` sizes it (more rows still fit). */
export function featureBuilder(params: Partial<TrainerParams> | undefined, expectedRows = 1024): FeatureBuilder {
  const p = resolveParams(params);
  const mask = 2 ** p.dimsLog2 - 1;
  let cap = Math.max(16, expectedRows);
  let offsets = new Float64Array(cap + 1);
  let labels = new Uint8Array(cap);
  let weights: Float64Array | null = null;
  // Room for the features of the first rows; then sized from their mean for the rows expected.
  let nnzCap = Math.min(cap, 4096) * 8;
  let index = new Int32Array(nnzCap);
  let value = new Float32Array(nnzCap);
  let n = 0;
  let nnz = 0;
  const fieldSet = new Set<string>();
  const grow = <T extends Float64Array | Uint8Array | Int32Array | Float32Array>(a: T, size: number): T => {
    const b = new (a.constructor as new (n: number) => T)(size);
    b.set(a);
    return b;
  };
  return {
    get rows() {
      return n;
    },
    add(input, label, weight) {
      if (label !== 0 && label !== 1) throw new Error(`trainer: example ${n} has label ${String(label)}, expected 0 or 1`);
      if (weight !== undefined && (!(weight >= 0) || !Number.isFinite(weight))) throw new Error(`trainer: example ${n} has weight ${weight}, expected a finite number >= 0`);
      if (n === cap) {
        cap *= 2;
        offsets = grow(offsets, cap + 1);
        labels = grow(labels, cap);
        if (weights) weights = grow(weights, cap);
      }
      for (const f of Object.keys(input)) fieldSet.add(f);
      const x = featurize(input, mask, p.ngramMax);
      if (nnz + x.index.length > nnzCap) {
        const projected = n >= 1024 ? Math.ceil((nnz / n) * Math.max(cap, expectedRows) * 1.05) : 0;
        nnzCap = Math.max(projected, nnzCap * 2, nnz + x.index.length);
        index = grow(index, nnzCap);
        value = grow(value, nnzCap);
      }
      index.set(x.index, nnz);
      value.set(x.value, nnz);
      nnz += x.index.length;
      labels[n] = label;
      if (weight !== undefined) {
        if (!weights) weights = new Float64Array(cap).fill(1);
        weights[n] = weight;
      } else if (weights) {
        weights[n] = 1;
      }
      n++;
      offsets[n] = nnz;
    },
    finish() {
      return {
        n,
        offsets: offsets.subarray(0, n + 1),
        index: index.subarray(0, nnz),
        value: value.subarray(0, nnz),
        labels: labels.subarray(0, n),
        weights: weights ? weights.subarray(0, n) : null,
        fields: Array.from(fieldSet).sort(),
      };
    },
  };
}

/**
 * Plain SGD on log loss with a decaying step (eta_t = eta0 / sqrt(1 + t/n), i.e. ~1/sqrt(epoch)).
 * L2 is applied lazily with Bottou's trick: w = scale * v, and decay just shrinks `scale`,
 * so each step costs O(nonzeros) rather than O(dims).
 */
export async function trainHashedLogReg(
  examples: LabelledInput[],
  params?: Partial<TrainerParams>,
  onEpoch?: (epoch: number, epochs: number, meanLoss: number) => void | Promise<void>,
): Promise<HashedLogRegArtifact> {
  resolveParams(params);
  if (examples.length === 0) throw new Error('trainer: no examples');
  const builder = featureBuilder(params, examples.length);
  // Sample weights only when some row has one: unweighted training stays byte-identical.
  for (const ex of examples) builder.add(ex.input, ex.label, ex.weight);
  return trainOnFeatures(builder.finish(), params, onEpoch);
}

/** trainHashedLogReg on rows already featurised (by a featureBuilder with the same params). */
export async function trainOnFeatures(
  rows: FeaturisedRows,
  params?: Partial<TrainerParams>,
  onEpoch?: (epoch: number, epochs: number, meanLoss: number) => void | Promise<void>,
): Promise<HashedLogRegArtifact> {
  const p = resolveParams(params);
  const { n, offsets, index, value, labels: ys, weights: ws } = rows;
  if (n === 0) throw new Error('trainer: no examples');
  const dims = 2 ** p.dimsLog2;

  const v = new Float64Array(dims); // true weights are scale * v
  let scale = 1;
  let bias = 0; // not regularised
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rand = mulberry32(p.seed);
  let t = 0;

  for (let epoch = 1; epoch <= p.epochs; epoch++) {
    // Fisher-Yates with the seeded PRNG: the shuffle sequence is a pure function of the seed.
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
    }
    let lossSum = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      const from = offsets[i]!;
      const to = offsets[i + 1]!;
      const y = ys[i]!;
      const eta = p.learningRate / Math.sqrt(1 + t / n);
      t++;

      let dot = 0;
      for (let q = from; q < to; q++) dot += v[index[q]!]! * value[q]!;
      const z = scale * dot + bias;
      const prob = sigmoid(z);
      // Clamp only for the reported loss, not the gradient.
      lossSum -= y === 1 ? Math.log(Math.max(prob, 1e-15)) : Math.log(Math.max(1 - prob, 1e-15));

      if (p.l2 > 0) {
        scale *= 1 - Math.min(eta * p.l2, 0.5);
        if (scale < 1e-9) {
          // Fold the scale back in before it underflows precision.
          for (let d = 0; d < dims; d++) v[d]! *= scale;
          scale = 1;
        }
      }
      const g = ws ? (prob - y) * ws[i]! : prob - y; // d(weighted logloss)/dz
      const step = (eta * g) / scale;
      for (let q = from; q < to; q++) v[index[q]!]! -= step * value[q]!;
      bias -= eta * g;
    }
    if (onEpoch) await onEpoch(epoch, p.epochs, lossSum / n);
  }

  const weights = new Float32Array(dims);
  for (let d = 0; d < dims; d++) weights[d] = v[d]! * scale;
  return {
    kind: 'hashed-logreg',
    formatVersion: 1,
    params: p,
    fields: rows.fields,
    bias: Math.fround(bias), // float32 like the weights, so nothing depends on JSON float printing
    weights,
    trainedOn: n,
  };
}

// ---------------------------------------------------------------------------------------------
// Prediction

export function predictProbability(artifact: HashedLogRegArtifact, input: Record<string, string>): number {
  return predictFromFeatures(artifact, featuresFor(artifact, input));
}

/** The input's features as this artifact hashes them; the same for every artifact of equal featureKey. */
export function featuresFor(artifact: HashedLogRegArtifact, input: Record<string, string>): SparseVector {
  return featurize(input, artifact.weights.length - 1, artifact.params.ngramMax);
}

/** Artifacts with the same key featurise an input identically (buckets and n-grams), so features can be shared. */
export function featureKey(artifact: HashedLogRegArtifact): string {
  return `${artifact.weights.length}/${artifact.params.ngramMax}`;
}

export function predictFromFeatures(artifact: HashedLogRegArtifact, { index, value }: SparseVector): number {
  let z = artifact.bias;
  for (let q = 0; q < index.length; q++) z += artifact.weights[index[q]!]! * value[q]!;
  return sigmoid(z);
}

export function predictBatch(artifact: HashedLogRegArtifact, inputs: Record<string, string>[]): Float64Array {
  const out = new Float64Array(inputs.length);
  for (let i = 0; i < inputs.length; i++) out[i] = predictProbability(artifact, inputs[i]!);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Serialisation
//
// Layout: "HLR1" magic | uint32 LE header byte length | UTF-8 JSON header | zero padding to a
// 4-byte boundary | dims x float32 LE weights. JSON keeps the header readable and extensible;
// raw floats keep a 2^18 model at 1 MiB instead of ~5 MiB of JSON.

const MAGIC = Buffer.from('HLR1', 'ascii');

interface Header {
  kind: 'hashed-logreg';
  formatVersion: 1;
  params: TrainerParams;
  fields: string[];
  bias: number;
  trainedOn: number;
  dims: number;
}

export function serializeArtifact(a: HashedLogRegArtifact): Buffer {
  const header: Header = {
    kind: a.kind,
    formatVersion: a.formatVersion,
    params: resolveParams(a.params),
    fields: a.fields,
    bias: a.bias,
    trainedOn: a.trainedOn,
    dims: a.weights.length,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headerEnd = 8 + json.length;
  const weightsStart = Math.ceil(headerEnd / 4) * 4;
  const buf = Buffer.alloc(weightsStart + a.weights.length * 4); // zero-filled padding
  MAGIC.copy(buf, 0);
  buf.writeUInt32LE(json.length, 4);
  json.copy(buf, 8);
  // Explicit little-endian so the bytes (and the hash) don't depend on the host.
  for (let i = 0; i < a.weights.length; i++) buf.writeFloatLE(a.weights[i]!, weightsStart + i * 4);
  return buf;
}

function bad(msg: string): never {
  throw new Error(`hashed-logreg artifact: ${msg}`);
}

export function deserializeArtifact(buf: Buffer | Uint8Array): HashedLogRegArtifact {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8 || !b.subarray(0, 4).equals(MAGIC)) bad('bad magic (not a hashed-logreg artifact)');
  const headerLen = b.readUInt32LE(4);
  if (8 + headerLen > b.length) bad('truncated header');
  let header: Header;
  try {
    header = JSON.parse(b.subarray(8, 8 + headerLen).toString('utf8')) as Header;
  } catch {
    return bad('header is not valid JSON');
  }
  if (header === null || typeof header !== 'object') bad('header is not an object');
  if (header.kind !== 'hashed-logreg') bad(`unknown kind ${JSON.stringify(header.kind)}`);
  if (header.formatVersion !== 1) bad(`unsupported formatVersion ${JSON.stringify(header.formatVersion)}`);
  let params: TrainerParams;
  try {
    params = resolveParams(header.params);
  } catch (e) {
    return bad(`invalid params: ${(e as Error).message}`);
  }
  const dims = 2 ** params.dimsLog2;
  if (header.dims !== dims) bad(`dims ${String(header.dims)} does not match dimsLog2 ${params.dimsLog2}`);
  if (typeof header.bias !== 'number' || !Number.isFinite(header.bias)) bad('bias is not a finite number');
  if (!Array.isArray(header.fields) || !header.fields.every((f) => typeof f === 'string')) bad('fields is not a string array');
  if (!Number.isInteger(header.trainedOn) || header.trainedOn < 0) bad('trainedOn is not a non-negative integer');
  const weightsStart = Math.ceil((8 + headerLen) / 4) * 4;
  if (b.length !== weightsStart + dims * 4) {
    bad(`expected ${weightsStart + dims * 4} bytes for ${dims} weights, got ${b.length}`);
  }
  const weights = new Float32Array(dims);
  for (let i = 0; i < dims; i++) weights[i] = b.readFloatLE(weightsStart + i * 4);
  return {
    kind: 'hashed-logreg',
    formatVersion: 1,
    params,
    fields: header.fields,
    bias: header.bias,
    weights,
    trainedOn: header.trainedOn,
  };
}

export function artifactHash(buf: Buffer | Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(buf).digest('hex');
}
