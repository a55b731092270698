/**
 * The trainer contract, version 1: the TypeScript side. A trainer is three activities on its own
 * Temporal task queue (`trainer.describe`, `trainer.train`, `trainer.score`), in any language. Data
 * goes by reference: a trainer reads examples as NDJSON from the control plane's data plane and puts
 * its scores back the same way; its artifact stays where it keeps it (a URI with sha256 and size), or
 * in the control plane's store when small. The zod schemas here are the source of truth; the JSON
 * Schemas under trainers/contract/v1/ are generated from them (`npm run contract:schemas`, checked by
 * test/trainers/contract.test.ts) and the document trainers/contract/README.md explains them.
 */
import { z } from 'zod';

export const CONTRACT_VERSION = 1 as const;

/** Activity type names, the same in every language. */
export const TRAINER_ACTIVITIES = {
  describe: 'trainer.describe',
  train: 'trainer.train',
  score: 'trainer.score',
} as const;

/** ApplicationFailure types a trainer raises (non-retryable): the run fails with the trainer's message. */
export const TRAINER_ERRORS = {
  /** Params the trainer refuses (outside its params schema, or values it cannot use). */
  badParams: 'TrainerBadParams',
  /** Data the trainer cannot train on (one class only, a feature kind it does not support). */
  badData: 'TrainerBadData',
  /** An input whose contractVersion the trainer does not speak. */
  unsupportedContract: 'TrainerUnsupportedContract',
  /** The data plane refused a request (4xx: a bad token, a bad line): retrying would not help. */
  dataPlane: 'TrainerDataPlane',
  /** An artifact whose bytes do not hash to the reference's sha256. */
  artifactMismatch: 'TrainerArtifactMismatch',
} as const;

export const FEATURE_KINDS = ['text', 'number', 'category', 'boolean'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

const name = z.string().min(1).max(64).regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'a feature name starts with a letter or _ and holds letters, digits, _ . -');

export const featureSpec = z.strictObject({
  name,
  kind: z.enum(FEATURE_KINDS),
  /** Whether an example may leave it out (or give null). */
  missing: z.boolean().default(false),
});
export type FeatureSpec = z.infer<typeof featureSpec>;

/** A model's features. Absent on a model registered before the contract: any text fields. */
export const featureSchema = z.array(featureSpec).min(1).max(500);

/** The label set is part of the contract so multi-class can come later; version 1 knows binary. */
export const labelSet = z.strictObject({
  kind: z.literal('binary'),
  /** Labels as integers; 1 is the positive class (the one a score is the probability of). */
  labels: z.tuple([z.literal(0), z.literal(1)]),
});
export type LabelSet = z.infer<typeof labelSet>;
export const BINARY_LABELS: LabelSet = { kind: 'binary', labels: [0, 1] };

const sha256 = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 lowercase hex digits>');

/** What a trainer says about itself. */
export const trainerDescription = z.strictObject({
  contractVersion: z.literal(CONTRACT_VERSION),
  /** e.g. builtin/hashed-logreg, sklearn/tabular. */
  name: z.string().min(1).max(100),
  version: z.string().min(1).max(100),
  /** A digest of the trainer's code as it reports it: what lineage records. */
  codeDigest: sha256,
  /** JSON Schema (draft 2020-12) of its params; the control plane validates params against it at the edge. */
  paramsSchema: z.record(z.string(), z.unknown()),
  labelSets: z.array(z.enum(['binary'])).min(1),
  featureKinds: z.array(z.enum(FEATURE_KINDS)).min(1),
});
export type TrainerDescription = z.infer<typeof trainerDescription>;

/** An NDJSON stream of examples on the control plane's data plane (GET with the trainer's bearer token). */
export const dataRef = z.strictObject({
  url: z.url(),
  /** Rows the stream holds: a trainer can check it read them all (fewer or more is retryable: read again). */
  rows: z.number().int().nonnegative(),
  /** Whether the rows carry labels (training data) or not (rows to score). */
  labelled: z.boolean().optional(),
});
export type DataRef = z.infer<typeof dataRef>;

/** One line of a data stream. `label` is present on training data only. */
export const exampleLine = z.strictObject({
  exampleId: z.number().int(),
  externalId: z.string(),
  input: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  label: z.union([z.literal(0), z.literal(1)]).optional(),
  weight: z.number().optional(),
  /**
   * Training data only, when the example has an observedAt: its age in days at the snapshot's asOf (the
   * time split's cut, else the newest example). A trainer with a recency half-life h weights the row by
   * 0.5^(ageDays / h); rows without it weigh 1.
   */
  ageDays: z.number().optional(),
});
export type ExampleLine = z.infer<typeof exampleLine>;

/** One line of a score upload. */
export const scoreLine = z.strictObject({
  exampleId: z.number().int(),
  /** Probability of the positive class, in [0, 1]. */
  score: z.number().min(0).max(1),
});
export type ScoreLine = z.infer<typeof scoreLine>;

export const artifactRef = z.strictObject({
  /** `retrain-store:sha256:<hex>` in the control plane's store, or wherever the trainer keeps it (file:, s3:, ...). */
  uri: z.string().min(1).max(2000),
  sha256,
  size: z.number().int().nonnegative(),
});
export type ArtifactRef = z.infer<typeof artifactRef>;

const modelRef = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  /** Null for a model that declared none: its inputs are text fields. */
  features: featureSchema.nullable(),
  labelSet,
});

export const trainInput = z.strictObject({
  contractVersion: z.literal(CONTRACT_VERSION),
  /** The idempotency key: a retried train for the same key records one artifact. */
  jobKey: z.string().min(1).max(300),
  model: modelRef,
  /** Validated against the trainer's params schema before the job was scheduled. */
  params: z.record(z.string(), z.unknown()),
  /** The only source of randomness the trainer may use; in [0, 2^31 - 1]. */
  seed: z.number().int().min(0).max(2 ** 31 - 1),
  data: z.strictObject({ train: dataRef }),
  /** Where a small artifact may be PUT (the control plane's store); a trainer may keep its own instead. */
  artifactStore: z.strictObject({ url: z.url() }),
});
export type TrainInput = z.infer<typeof trainInput>;

export const trainOutput = z.strictObject({
  contractVersion: z.literal(CONTRACT_VERSION),
  jobKey: z.string(),
  artifact: artifactRef,
  /** Rows it trained on. */
  trainedOn: z.number().int().nonnegative(),
  trainer: z.strictObject({ name: z.string(), version: z.string(), codeDigest: sha256 }),
  /** Anything the trainer measured (training loss, seconds); recorded, not judged. */
  metrics: z.record(z.string(), z.number()).optional(),
});
export type TrainOutput = z.infer<typeof trainOutput>;

export const scoreInput = z.strictObject({
  contractVersion: z.literal(CONTRACT_VERSION),
  /** The score set's key: a retried score for the same key records one score set. */
  jobKey: z.string().min(1).max(300),
  model: modelRef,
  artifact: artifactRef,
  data: z.strictObject({ examples: dataRef }),
  /** PUT the scores here as NDJSON (scoreLine per example, every example once). */
  scores: z.strictObject({ url: z.url() }),
  /** The control plane's store, where a `retrain-store:` artifact is read from (GET <url>/sha256:<hex>). */
  artifactStore: z.strictObject({ url: z.url() }).optional(),
});
export type ScoreInput = z.infer<typeof scoreInput>;

export const scoreOutput = z.strictObject({
  contractVersion: z.literal(CONTRACT_VERSION),
  jobKey: z.string(),
  /** Rows scored (what the control plane stored). */
  scored: z.number().int().nonnegative(),
  /** The stored score set's content hash, as the control plane answered the PUT. */
  sha256,
});
export type ScoreOutput = z.infer<typeof scoreOutput>;

/** The activities a trainer serves, as a workflow proxies them. */
export interface TrainerActivities {
  'trainer.describe'(): Promise<TrainerDescription>;
  'trainer.train'(input: TrainInput): Promise<TrainOutput>;
  'trainer.score'(input: ScoreInput): Promise<ScoreOutput>;
}

/** Every schema of the contract, by the file name its JSON Schema is written to. */
export const CONTRACT_SCHEMAS = {
  'describe.output': trainerDescription,
  'train.input': trainInput,
  'train.output': trainOutput,
  'score.input': scoreInput,
  'score.output': scoreOutput,
  'data.example-line': exampleLine,
  'data.score-line': scoreLine,
  'model.feature-schema': featureSchema,
} as const;

/** The URI of an artifact kept in the control plane's store. */
export function storeUri(sha: string): string {
  return `retrain-store:${sha}`;
}
