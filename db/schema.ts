// One schema for PGlite and PostgreSQL. snake_case columns, camelCase keys, timestamps with time zone.

import {
  type AnyPgColumn,
  bigint,
  bigserial,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  serial,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

// bytea: PGlite hands back Uint8Array, postgres.js a Buffer; both are Uint8Array.
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
});

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const VERSION_STATUSES = [
  'candidate',
  'rejected',
  'shadow',
  'canary',
  'production',
  'retired',
  'rolled_back',
] as const;
export type VersionStatus = (typeof VERSION_STATUSES)[number];

export const RUN_STATUSES = ['running', 'awaiting_approval', 'promoted', 'rejected', 'failed', 'cancelled', 'rolled_back'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Any JSON value, as jsonb columns hold it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export const ROLES = ['viewer', 'operator', 'approver', 'annotator', 'ingest', 'trainer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * import: brought by the team (corpus, imported file); annotation: aggregated from annotators;
 * feedback: an explicit correction or override by the user; model: the model's own output taken as
 * a label (implicit acceptance), the source a flywheel must keep small.
 */
export const LABEL_SOURCES = ['import', 'annotation', 'feedback', 'model', 'review'] as const;
export type LabelSource = (typeof LABEL_SOURCES)[number];

/**
 * Who chose that an example gets labelled, which decides what its label may be used for.
 * design: a sampling design with a known inclusion probability (an import, an annotation batch's sample);
 * model: the model's own score chose it (an abstained request sent to review: inclusion probability 1 inside
 * the band, 0 outside); user: a user chose to correct or report it (a feedback correction; probability unknown).
 */
export const LABEL_SELECTORS = ['design', 'model', 'user'] as const;
export type LabelSelector = (typeof LABEL_SELECTORS)[number];

/** How an example came to be labelled (examples.label_selection); null on labels from before it was recorded (imports, annotation). */
export interface LabelSelection {
  by: LabelSelector;
  /** What selected it, e.g. 'abstain-band', 'feedback:correction', 'feedback:override', 'batch:<id>'. */
  how: string;
  /** P(this example is labelled) under the selection, when known: 1 inside an abstain band; null for user-chosen feedback. */
  inclusionProbability: number | null;
  /** The request (predictions.request_id) and the version that answered it, for labels that came from serving. */
  requestId?: string;
  version?: number;
  /** When the event that set a feedback label occurred: a later event on the same example wins only if it occurred later. */
  occurredAt?: string;
}

/**
 * What a version serves (frozen when its candidate is evaluated, so a later policy change never alters a
 * served version): the threshold, and the abstain band whose scores go to a person instead of being decided.
 */
export interface DecisionRule {
  threshold: number;
  /** Scores s with lower <= s < upper are abstained and sent to review; null: every request is decided. */
  abstain: { lower: number; upper: number } | null;
  /** The gate policy version the band came from (its abstainHalfWidth). */
  policyVersion: number | null;
}

/** A model's opt-in to feedback labels (models.feedback_labels); null: feedback never becomes a label. */
export interface FeedbackLabelSettings {
  /** The feedback kinds that become labels: 'correction' (correctedLabel) and 'override' (action spam = 1, not_spam = 0). */
  kinds: ('correction' | 'override')[];
}

/** Each label source's and each selector's count among a snapshot's training members (dataset_snapshots.label_mix). */
export interface SnapshotLabelMix {
  bySource: Partial<Record<LabelSource, number>>;
  /** null key = no selection recorded (counted as design). */
  bySelector: Partial<Record<LabelSelector, number>>;
  train: number;
  /** Counts by (source, selector) together, so a share over 'source X or selector Y' is exact (the marginals alone cannot give it). */
  joint?: { source: LabelSource; by: LabelSelector; count: number }[];
}

/** The control plane's own trainer (trainers/builtin.ts says the same name of itself; test/trainers/contract.test.ts holds them equal). */
export const BUILTIN_TRAINER_NAME = 'builtin/hashed-logreg';

/** How long a model's trainer jobs may wait for a worker before its run fails, unless the model says otherwise. */
export const DEFAULT_TRAINER_TIME_TO_START_SECONDS = 600;

export const models = pgTable('models', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  description: text('description').notNull().default(''),
  /** The trainer that trains its versions (trainers.name) and the params it is given (trainer contract). */
  trainerName: text('trainer_name').notNull().default(BUILTIN_TRAINER_NAME),
  /** The trainer's task queue; null: the control plane's own training queue (the built-in trainer). */
  trainerQueue: text('trainer_queue'),
  trainerParams: jsonb('trainer_params').$type<Record<string, Json>>().notNull().default({}),
  /** How long a trainer job may wait for a worker before the run fails (Temporal's schedule-to-start). */
  trainerTimeToStartSeconds: integer('trainer_time_to_start_seconds').notNull().default(DEFAULT_TRAINER_TIME_TO_START_SECONDS),
  /** Declared features (trainers/contract featureSchema); null: text fields, as before the contract. */
  featureSchema: jsonb('feature_schema').$type<{ name: string; kind: 'text' | 'number' | 'category' | 'boolean'; missing: boolean }[]>(),
  /** Opt-in: which feedback kinds become training labels (source 'feedback'); null: none ever does. */
  feedbackLabels: jsonb('feedback_labels').$type<FeedbackLabelSettings>(),
  /** How long an abstained request may wait for its review (annotation_tasks.due_at); the review queue's SLA. */
  reviewSlaSeconds: integer('review_sla_seconds').notNull().default(14_400),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
});

/** Trainers the control plane knows, by name: what each said of itself (trainer.describe) when registered. */
export const trainers = pgTable('trainers', {
  name: text('name').primaryKey(),
  version: text('version').notNull(),
  codeDigest: text('code_digest').notNull(),
  taskQueue: text('task_queue').notNull(),
  /** The whole trainer.describe answer (params schema, label sets, feature kinds). */
  description: jsonb('description').$type<Record<string, unknown>>().notNull(),
  registeredBy: text('registered_by').notNull(),
  registeredAt: timestamp('registered_at', { withTimezone: true }).notNull().defaultNow(),
});

/** The control plane's own artifact store, for artifacts small enough to keep in the database. */
export const artifacts = pgTable('artifacts', {
  sha256: text('sha256').primaryKey(),
  bytes: bytea('bytes').notNull(),
  size: integer('size').notNull(),
  createdAt: createdAt(),
});

/**
 * Scores a trainer put back for one job (trainer.score): one row per job key, pending until the PUT,
 * then the scores as float64 (little-endian) in the data stream's row order, with their content hash.
 */
export const scoreSets = pgTable('score_sets', {
  id: serial('id').primaryKey(),
  jobKey: text('job_key').notNull().unique(),
  snapshotId: integer('snapshot_id').notNull(),
  split: text('split').$type<'train' | 'heldout'>().notNull(),
  artifactSha256: text('artifact_sha256').notNull(),
  versionId: integer('version_id'),
  expectedRows: integer('expected_rows').notNull(),
  status: text('status').$type<'pending' | 'complete'>().notNull().default('pending'),
  scores: bytea('scores'),
  contentHash: text('content_hash'),
  createdAt: createdAt(),
  completedAt: timestamp('completed_at', { withTimezone: true }),
});

export const runs = pgTable(
  'runs',
  {
    /** The Temporal workflow id. */
    id: text('id').primaryKey(),
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id),
    trigger: text('trigger').notNull(),
    /** Canonical subject of the identity that started the run (workflows/messages canonicalSubject). */
    requestedBy: text('requested_by').notNull(),
    /** The token that started the run: four eyes follows its issuance chain. Null for runs recorded before it was kept. */
    requestedByTokenId: integer('requested_by_token_id').references((): AnyPgColumn => apiTokens.id),
    status: text('status').$type<RunStatus>().notNull().default('running'),
    step: text('step').notNull().default('started'),
    params: jsonb('params').notNull().default({}),
    candidateVersionId: integer('candidate_version_id'),
    gateDecision: text('gate_decision'),
    result: jsonb('result'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('runs_model_idx').on(t.modelId, t.startedAt)],
);

export const examples = pgTable(
  'examples',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id),
    externalId: text('external_id').notNull(),
    input: jsonb('input').$type<Record<string, string>>().notNull(),
    /** 1 = positive class (spam); null = not yet labelled. */
    label: smallint('label'),
    slices: jsonb('slices').$type<Record<string, string>>().notNull().default({}),
    /** Fixed held-out assignment, recorded once so every run evaluates on the same set. */
    split: text('split').$type<'train' | 'heldout'>().notNull(),
    /** Where the label came from; the flywheel reports the mix and the share the model gave itself. */
    labelSource: text('label_source').$type<LabelSource>().notNull().default('import'),
    /** Who chose this example to be labelled and with what probability; null: a design (import, annotation sample). */
    labelSelection: jsonb('label_selection').$type<LabelSelection>(),
    observedAt: timestamp('observed_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('examples_model_external_uq').on(t.modelId, t.externalId)],
);

/**
 * How a snapshot's held-out set was chosen. `split`: each example's recorded split column (random at
 * import, fixed since). `time`: the newest window held out (`newest`: a duration such as '30d', or a
 * fraction of the dated examples), everything observed before `cutAt` trains; examples without an
 * observedAt cannot be placed in time and are left out of both sides (`undated`).
 */
export type HeldOutDesign =
  | { kind: 'split'; trainCount: number; heldoutCount: number; selectedLeftOut?: number }
  | {
      kind: 'time';
      newest: string | number;
      /** ISO time: held out iff observedAt >= cutAt (placed among the designed labels). */
      cutAt: string;
      trainCount: number;
      heldoutCount: number;
      undated: number;
      /**
       * Labels the model or a user selected (review, feedback) that fell on the held-out side, left out of the
       * snapshot: the held-out set is a design's sample, never a selection. Absent on older snapshots.
       */
      selectedLeftOut?: number;
      /** Observed range of each side (ISO). */
      trainFrom: string;
      trainTo: string;
      heldOutFrom: string;
      heldOutTo: string;
    };

export const datasetSnapshots = pgTable('dataset_snapshots', {
  id: serial('id').primaryKey(),
  modelId: integer('model_id')
    .notNull()
    .references(() => models.id),
  /** One snapshot per run: the idempotency key of the freeze step. */
  runId: text('run_id').notNull().unique(),
  contentHash: text('content_hash').notNull(),
  trainCount: integer('train_count').notNull(),
  heldoutCount: integer('heldout_count').notNull(),
  /**
   * How the held-out set was chosen (analysis/heldOutDesign HeldOutDesign): the examples' recorded split
   * column, or a time split (the cut, the option it came from, counts on each side, undated rows left out).
   * Null on snapshots frozen before designs were recorded (the split column).
   */
  heldOutDesign: jsonb('held_out_design').$type<HeldOutDesign>(),
  /** The time examples' ages are measured from (the time split's cut, else the newest observedAt); null when no example is dated. */
  asOf: timestamp('as_of', { withTimezone: true }),
  /** Each label source's and selector's count among the training members; null on snapshots frozen before it was recorded. */
  labelMix: jsonb('label_mix').$type<SnapshotLabelMix>(),
  createdAt: createdAt(),
});

export const datasetSnapshotMembers = pgTable(
  'dataset_snapshot_members',
  {
    snapshotId: integer('snapshot_id')
      .notNull()
      .references(() => datasetSnapshots.id),
    exampleId: integer('example_id').notNull(),
    split: text('split').$type<'train' | 'heldout'>().notNull(),
    label: smallint('label').notNull(),
    weight: real('weight').notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.snapshotId, t.exampleId] })],
);

export const modelVersions = pgTable(
  'model_versions',
  {
    id: serial('id').primaryKey(),
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id),
    version: integer('version').notNull(),
    status: text('status').$type<VersionStatus>().notNull().default('candidate'),
    trainer: text('trainer').notNull(),
    params: jsonb('params').notNull(),
    /** The bytes, for versions trained before the trainer contract; since, the artifact is by reference. */
    artifact: bytea('artifact'),
    artifactHash: text('artifact_hash').notNull(),
    /** Where the artifact is: retrain-store:<sha256> (the artifacts table) or the trainer's own URI. */
    artifactUri: text('artifact_uri'),
    artifactSize: integer('artifact_size'),
    /** Lineage: the trainer's version and code digest as it reported them, the queue it ran on, the label sources in its snapshot. */
    trainerVersion: text('trainer_version'),
    codeDigest: text('code_digest'),
    trainerQueue: text('trainer_queue'),
    labelSources: jsonb('label_sources').$type<Record<string, number>>(),
    /** What it serves: threshold and abstain band, frozen at evaluation; null on versions evaluated before (threshold only). */
    decisionRule: jsonb('decision_rule').$type<DecisionRule>(),
    snapshotId: integer('snapshot_id').references(() => datasetSnapshots.id),
    parentVersionId: integer('parent_version_id'),
    /** The run that trained it: one candidate per run, so a retried train step writes nothing twice. */
    runId: text('run_id').unique(),
    createdAt: createdAt(),
    statusChangedAt: timestamp('status_changed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('model_versions_model_version_uq').on(t.modelId, t.version)],
);

export const routes = pgTable(
  'routes',
  {
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id),
    kind: text('kind').$type<'production' | 'canary' | 'shadow'>().notNull(),
    versionId: integer('version_id')
      .notNull()
      .references(() => modelVersions.id),
    weight: real('weight').notNull().default(1),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.modelId, t.kind] })],
);

export const deploymentEvents = pgTable('deployment_events', {
  id: serial('id').primaryKey(),
  modelId: integer('model_id')
    .notNull()
    .references(() => models.id),
  action: text('action').$type<'promote' | 'rollback'>().notNull(),
  fromVersionId: integer('from_version_id'),
  toVersionId: integer('to_version_id').notNull(),
  runId: text('run_id'),
  actor: text('actor').notNull(),
  reason: text('reason').notNull().default(''),
  /** (run id, step) for workflow-driven changes; a retried promote finds its key and does nothing. */
  idempotencyKey: text('idempotency_key').notNull().unique(),
  createdAt: createdAt(),
});

export const evalReports = pgTable(
  'eval_reports',
  {
    id: serial('id').primaryKey(),
    runId: text('run_id').notNull(),
    versionId: integer('version_id')
      .notNull()
      .references(() => modelVersions.id),
    snapshotId: integer('snapshot_id')
      .notNull()
      .references(() => datasetSnapshots.id),
    role: text('role').$type<'candidate' | 'champion'>().notNull(),
    summary: jsonb('summary').notNull(),
    contentHash: text('content_hash').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('eval_reports_run_version_uq').on(t.runId, t.versionId)],
);

/** Versioned gate policies (analysis/policy); the highest version of a model is in force. */
export const gatePolicies = pgTable(
  'gate_policies',
  {
    id: serial('id').primaryKey(),
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id),
    version: integer('version').notNull(),
    document: jsonb('document').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('gate_policies_model_version_uq').on(t.modelId, t.version)],
);

export const gateResults = pgTable('gate_results', {
  id: serial('id').primaryKey(),
  runId: text('run_id').notNull().unique(),
  policy: jsonb('policy'),
  /** Null when the model had no policy (then nothing is approved). */
  policyVersion: integer('policy_version'),
  decision: text('decision').$type<'approved' | 'failed' | 'needs_approval'>().notNull(),
  rules: jsonb('rules').notNull(),
  reasons: jsonb('reasons').$type<string[]>().notNull(),
  candidateReportId: integer('candidate_report_id').references(() => evalReports.id),
  championReportId: integer('champion_report_id').references(() => evalReports.id),
  /** The approval packet: everything an approver reads, immutable; approvals record its hash. */
  packet: jsonb('packet'),
  packetHash: text('packet_hash'),
  createdAt: createdAt(),
});

export const approvals = pgTable('approvals', {
  id: serial('id').primaryKey(),
  /** One human decision per gate. */
  runId: text('run_id').notNull().unique(),
  decision: text('decision').$type<'approved' | 'rejected'>().notNull(),
  approver: text('approver').notNull(),
  reason: text('reason').notNull(),
  /** Content hash of the approval packet the approver signed. */
  reportHash: text('report_hash'),
  createdAt: createdAt(),
});

export const apiTokens = pgTable('api_tokens', {
  id: serial('id').primaryKey(),
  /** The identity the token speaks for, canonical (db/tokens canonicalSubject); four-eyes checks compare these. */
  subject: text('subject').notNull(),
  role: text('role').$type<Role>().notNull(),
  /** sha256 of the token; the token itself is shown once and never stored. */
  tokenHash: text('token_hash').notNull().unique(),
  /** Subject of the issuer ('bootstrap' and 'cli' for tokens made with database access). */
  createdBy: text('created_by').notNull(),
  /** The token that issued this one through the API; null for roots of trust (bootstrap, the CLI with database access). */
  issuedByTokenId: integer('issued_by_token_id').references((): AnyPgColumn => apiTokens.id),
  createdAt: createdAt(),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
});

export const FEEDBACK_KINDS = ['rating', 'thumbs', 'report', 'correction', 'override', 'retry', 'abandon', 'undo', 'edit', 'dwell'] as const;
export type FeedbackKind = (typeof FEEDBACK_KINDS)[number];

/** Production feedback, explicit and implicit, tagged with the version that answered. */
export const feedbackEvents = pgTable(
  'feedback_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id),
    versionId: integer('version_id')
      .notNull()
      .references(() => modelVersions.id),
    /** The sender's key: a replayed event finds it and writes nothing. */
    idempotencyKey: text('idempotency_key').notNull(),
    requestId: text('request_id'),
    exampleExternalId: text('example_external_id'),
    kind: text('kind').$type<FeedbackKind>().notNull(),
    /** Kind-specific payload: a rating and reason codes, a corrected label, an override action, dwell time. */
    value: jsonb('value').notNull().default({}),
    surface: text('surface'),
    position: integer('position'),
    attributes: jsonb('attributes').$type<Record<string, string>>().notNull().default({}),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    ingestedBy: text('ingested_by').notNull(),
  },
  (t) => [
    uniqueIndex('feedback_events_model_key_uq').on(t.modelId, t.idempotencyKey),
    index('feedback_events_model_time_idx').on(t.modelId, t.occurredAt),
  ],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    target: text('target').notNull(),
    details: jsonb('details').notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [index('audit_log_target_idx').on(t.target)],
);


/** Production traffic: what a version answered for a request, the candidate pool for annotation. */
export const predictions = pgTable(
  'predictions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id),
    versionId: integer('version_id')
      .notNull()
      .references(() => modelVersions.id),
    /** The caller's request id: a replayed request is scored again but logged once. */
    requestId: text('request_id').notNull(),
    /** The example the request became (examples.external_id), so labels can reach it. */
    exampleExternalId: text('example_external_id'),
    score: real('score').notNull(),
    /** 1 = blocked (score >= the version's threshold). For an abstained request, the fallback applied until a person decides. */
    decision: smallint('decision').notNull(),
    /** 1 = the score fell in the version's abstain band: answered 'abstain' and sent to review. */
    abstained: smallint('abstained').notNull().default(0),
    attributes: jsonb('attributes').$type<Record<string, string>>().notNull().default({}),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    loggedBy: text('logged_by').notNull(),
  },
  (t) => [
    uniqueIndex('predictions_model_request_uq').on(t.modelId, t.requestId),
    index('predictions_model_time_idx').on(t.modelId, t.occurredAt),
  ],
);

/**
 * What a shadow version would have decided on served traffic (models.predict scores every request with
 * each shadow route too); it answered nobody. Compared with predictions on (model_id, request_id) by the
 * rollout's shadow analysis. A replayed request id is logged once per shadow version.
 */
export const shadowPredictions = pgTable(
  'shadow_predictions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id),
    versionId: integer('version_id')
      .notNull()
      .references(() => modelVersions.id),
    requestId: text('request_id').notNull(),
    score: real('score').notNull(),
    /** 1 = would have blocked (score >= the shadow version's own threshold). */
    decision: smallint('decision').notNull(),
    attributes: jsonb('attributes').$type<Record<string, string>>().notNull().default({}),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex('shadow_predictions_model_version_request_uq').on(t.modelId, t.versionId, t.requestId),
    index('shadow_predictions_version_time_idx').on(t.versionId, t.occurredAt),
  ],
);

/** Annotation guidelines, versioned per model; a new version can mark older labels for relabelling. */
export const annotationSpecs = pgTable(
  'annotation_specs',
  {
    id: serial('id').primaryKey(),
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id),
    version: integer('version').notNull(),
    guidelines: text('guidelines').notNull(),
    /** The label set, index = label code (0 = ham, 1 = spam for a spam filter). */
    labels: jsonb('labels').$type<string[]>().notNull(),
    /** Which items the change affects: slice attribute → values; empty = every item. */
    affects: jsonb('affects').$type<Record<string, string[]>>().notNull().default({}),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('annotation_specs_model_version_uq').on(t.modelId, t.version)],
);

/** The annotator pool: identity is the token subject; attributes drive assignment (e.g. language). */
export const annotators = pgTable('annotators', {
  subject: text('subject').primaryKey(),
  attributes: jsonb('attributes').$type<Record<string, string>>().notNull().default({}),
  /** May resolve items that reached no quorum. */
  adjudicator: smallint('adjudicator').notNull().default(0),
  active: smallint('active').notNull().default(1),
  createdAt: createdAt(),
});

export const BATCH_STATUSES = ['open', 'complete', 'deadline', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** One annotationBatch workflow: id = its workflow id. */
export const annotationBatches = pgTable('annotation_batches', {
  id: text('id').primaryKey(),
  runId: text('run_id'),
  modelId: integer('model_id')
    .notNull()
    .references(() => models.id),
  specVersion: integer('spec_version').notNull(),
  /** sample: a designed sample (annotationBatch workflow); review: the model's review queue of abstained requests. */
  kind: text('kind').$type<'sample' | 'review'>().notNull().default('sample'),
  /** Annotators per item. */
  overlap: integer('overlap').notNull(),
  goldShare: real('gold_share').notNull(),
  /** The sampling design (strata, allocation, seed), so estimates can be reproduced. */
  design: jsonb('design').notNull().default({}),
  status: text('status').$type<BatchStatus>().notNull().default('open'),
  deadline: timestamp('deadline', { withTimezone: true }).notNull(),
  /** SLA figures when it closed: time to label, backlog, reassignments. */
  sla: jsonb('sla'),
  /** Production accuracy estimated from the labelled sample (Horvitz-Thompson, with interval). */
  estimate: jsonb('estimate'),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
  closedAt: timestamp('closed_at', { withTimezone: true }),
});

export const TASK_STATUSES = ['open', 'adjudication', 'done', 'unresolved'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** One item of a batch. Gold items carry a known label and test the annotators. */
export const annotationTasks = pgTable(
  'annotation_tasks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    batchId: text('batch_id')
      .notNull()
      .references(() => annotationBatches.id),
    exampleId: integer('example_id').notNull(),
    stratum: text('stratum').notNull(),
    /** P(item sampled) under the design; 1 for gold items (chosen, not sampled). */
    inclusionProbability: real('inclusion_probability').notNull(),
    isGold: smallint('is_gold').notNull().default(0),
    goldLabel: smallint('gold_label'),
    /** Pool attributes an annotator must have (e.g. {"language": "de"}). */
    requires: jsonb('requires').$type<Record<string, string>>().notNull().default({}),
    status: text('status').$type<TaskStatus>().notNull().default('open'),
    /** Model score when sampled: what the item looked like to the model (shown to nobody). */
    score: real('score'),
    /** A review item: the abstained request it reviews, and when its review is due (the review SLA). */
    requestId: text('request_id'),
    dueAt: timestamp('due_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).defaultNow(),
  },
  (t) => [uniqueIndex('annotation_tasks_batch_example_uq').on(t.batchId, t.exampleId), index('annotation_tasks_status_idx').on(t.batchId, t.status)],
);

/** Who holds which task until when; an expired assignment frees its slot for someone else. */
export const annotationAssignments = pgTable(
  'annotation_assignments',
  {
    taskId: bigint('task_id', { mode: 'number' })
      .notNull()
      .references(() => annotationTasks.id),
    annotator: text('annotator').notNull(),
    assignedAt: timestamp('assigned_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    status: text('status').$type<'assigned' | 'labelled' | 'skipped' | 'expired'>().notNull().default('assigned'),
    /** Adjudication assignments resolve an item without quorum. */
    adjudication: smallint('adjudication').notNull().default(0),
    /** Times this assignment ran out and the task went back to the pool (the SLA's reassignments). */
    lapses: smallint('lapses').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.annotator] })],
);

/** One annotator's label on one task, under the spec version they were shown. */
export const labels = pgTable(
  'labels',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    taskId: bigint('task_id', { mode: 'number' })
      .notNull()
      .references(() => annotationTasks.id),
    annotator: text('annotator').notNull(),
    label: smallint('label').notNull(),
    specVersion: integer('spec_version').notNull(),
    adjudication: smallint('adjudication').notNull().default(0),
    /** Seconds from assignment to label. */
    secondsToLabel: real('seconds_to_label'),
    /** Set when a newer spec affects the item: the label no longer counts and the item is relabelled. */
    supersededBySpec: integer('superseded_by_spec'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('labels_task_annotator_uq').on(t.taskId, t.annotator)],
);

/** A batch's labels aggregated per item: Dawid-Skene beside majority vote. */
export const aggregatedLabels = pgTable(
  'aggregated_labels',
  {
    taskId: bigint('task_id', { mode: 'number' })
      .primaryKey()
      .references(() => annotationTasks.id),
    batchId: text('batch_id').notNull(),
    exampleId: integer('example_id').notNull(),
    label: smallint('label').notNull(),
    posterior: real('posterior').notNull(),
    majorityLabel: smallint('majority_label'),
    /** Dawid-Skene's label even where an adjudicator decided, so the two aggregations can be compared. */
    dawidSkeneLabel: smallint('dawid_skene_label'),
    method: text('method').$type<'dawid_skene' | 'adjudication' | 'gold' | 'review'>().notNull(),
    labelCount: integer('label_count').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('aggregated_labels_batch_idx').on(t.batchId)],
);

/**
 * One training of the saturation check: a nested subset (fraction, seed) of a run's training snapshot,
 * or the same full set without the newest labelled batch, evaluated on the frozen held-out set.
 * Unique per (run, variant, fraction, seed): a retried or resumed fan-out never retrains a stored point.
 */
export const saturationPoints = pgTable(
  'saturation_points',
  {
    id: serial('id').primaryKey(),
    runId: text('run_id').notNull(),
    variant: text('variant').$type<'curve' | 'without_newest' | 'newest_half' | 'oldest_half'>().notNull(),
    fraction: real('fraction').notNull(),
    seed: integer('seed').notNull(),
    trainSize: integer('train_size').notNull(),
    /** Held-out error rate (1 - accuracy at the evaluation threshold) and its Wilson interval. */
    error: jsonb('error').$type<{ estimate: number; lower: number; upper: number }>().notNull(),
    /** Errors per slice value (attribute=value → errors, n), for naming the slices a batch hurts. */
    sliceErrors: jsonb('slice_errors').$type<Record<string, { errors: number; n: number; lower?: number; upper?: number }>>().notNull(),
    /** Held-out rows (index in example order) this model got wrong: the row-level pairing of the ablation. */
    wrongRows: jsonb('wrong_rows').$type<number[]>().notNull(),
    heldOut: integer('held_out').notNull(),
    seconds: real('seconds').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('saturation_points_uq').on(t.runId, t.variant, t.fraction, t.seed)],
);

/** The saturation check's report for a run: points, fit, ablation, verdict. Immutable, content-hashed. */
export const saturationReports = pgTable('saturation_reports', {
  id: serial('id').primaryKey(),
  runId: text('run_id').notNull().unique(),
  modelId: integer('model_id')
    .notNull()
    .references(() => models.id),
  snapshotId: integer('snapshot_id').notNull(),
  verdict: text('verdict').$type<'improving' | 'plateau' | 'degrading'>().notNull(),
  report: jsonb('report').notNull(),
  contentHash: text('content_hash').notNull(),
  createdAt: createdAt(),
});

export const ALERT_KINDS = ['bias_reaudit', 'drift', 'rollout', 'test'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export const ALERT_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/**
 * Alerts sent to a configured webhook (HMAC-signed). One row per alert key (the caller's
 * `${workflowId}:${step}`): a retried activity or a replay finds it and never sends twice once delivered.
 * Every delivery attempt is counted; the retry schedule itself is the calling workflow's retry policy.
 */
export const alerts = pgTable('alerts', {
  id: serial('id').primaryKey(),
  alertKey: text('alert_key').notNull().unique(),
  modelId: integer('model_id')
    .notNull()
    .references(() => models.id),
  kind: text('kind').$type<AlertKind>().notNull(),
  severity: text('severity').notNull(),
  summary: text('summary').notNull(),
  payload: jsonb('payload').notNull().default({}),
  /** The webhook URL at the time of the alert; null when none was configured. */
  targetUrl: text('target_url'),
  status: text('status').$type<AlertStatus>().notNull().default('pending'),
  attempts: integer('attempts').notNull().default(0),
  lastError: text('last_error'),
  /** HTTP status of the last attempt; null when it never got a response. */
  lastStatus: integer('last_status'),
  deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  createdAt: createdAt(),
});

/** A version's audit at promotion (its candidate evaluation, per slice), the baseline every re-audit compares with. */
export const prelaunchAudits = pgTable('prelaunch_audits', {
  versionId: integer('version_id')
    .primaryKey()
    .references(() => modelVersions.id),
  modelId: integer('model_id')
    .notNull()
    .references(() => models.id),
  evalReportId: integer('eval_report_id'),
  audit: jsonb('audit').notNull(),
  createdAt: createdAt(),
});

/** One re-audit of the production version on a window of labelled traffic (one per schedule and window end). */
export const AUDIT_KINDS = ['bias_reaudit', 'drift_monitor'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export const auditReports = pgTable(
  'audit_reports',
  {
    id: serial('id').primaryKey(),
    /** The workflow that made it: a retried or replayed re-audit stores nothing twice. */
    workflowId: text('workflow_id').notNull().unique(),
    scheduleId: text('schedule_id'),
    /** bias_reaudit (against the pre-launch audit) or drift_monitor (population and feedback drift). */
    kind: text('kind', { enum: AUDIT_KINDS }).notNull().default('bias_reaudit'),
    modelId: integer('model_id')
      .notNull()
      .references(() => models.id),
    versionId: integer('version_id').notNull(),
    windowFrom: timestamp('window_from', { withTimezone: true }).notNull(),
    windowTo: timestamp('window_to', { withTimezone: true }).notNull(),
    alert: smallint('alert').notNull(),
    report: jsonb('report').notNull(),
    contentHash: text('content_hash').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('audit_reports_model_idx').on(t.modelId, t.windowTo)],
);

/**
 * Webhook destinations an admin allows although they are not public: a private, loopback, link-local,
 * unique-local or CGNAT address, or a name resolving to one (public destinations need no entry). host is
 * a DNS name (matched exactly), an IP address or a CIDR range, stored in canonical form; port 0 means
 * any port. db/webhooks.ts holds the rule; audits.create and every alert delivery apply it.
 */
export const webhookDestinations = pgTable(
  'webhook_destinations',
  {
    id: serial('id').primaryKey(),
    host: text('host').notNull(),
    port: integer('port').notNull().default(0),
    note: text('note'),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('webhook_destinations_host_port_uq').on(t.host, t.port)],
);
