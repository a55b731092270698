// Serving's log: what a version answered (predictions), what a shadow version would have answered
// (shadow_predictions), and the requests kept as unlabelled examples for annotation. Two writers:
// models.predict (the built-in trainer, scored here) and serving.logPredictions (a team's own serving
// system, which scored them itself). Both write the same rows the same way, so every reader downstream
// (feedback attribution, rollout windows, drift, re-audits, annotation) cannot tell them apart.
import { sql } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { batchRows, type BatchColumn } from './batchRows';
import { resultRows } from './queries';
import { queueReviews } from './review';
import { examples, modelVersions, predictions, shadowPredictions } from './schema';

/** A feature value as the trainer contract carries it (trainers/contract exampleLine). */
export type FeatureValue = string | number | boolean | null;

export interface ServedPrediction {
  requestId: string;
  versionId: number;
  /** The example the request is kept as, when the caller named one. */
  externalId: string | null;
  score: number;
  /** The decision applied: the threshold's, also for an abstained request (its fallback until a person decides). */
  decision: 0 | 1;
  /** The score fell in the version's abstain band: the request is queued for review (its externalId must name an example of the batch). */
  abstained?: boolean;
  attributes: Record<string, string>;
  /** ISO time. */
  occurredAt: string;
}

export type ShadowPrediction = Omit<ServedPrediction, 'externalId' | 'abstained'>;

export interface RequestExample {
  externalId: string;
  input: Record<string, FeatureValue>;
  slices: Record<string, string>;
  occurredAt: string;
}

interface Batch {
  modelId: number;
  loggedBy: string;
  served: ServedPrediction[];
  examples: RequestExample[];
  shadow: ShadowPrediction[];
}

const CANONICAL_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
/** A time as Date.toISOString() writes it (UTC, milliseconds); one in that form already is kept as it is, without a parse and a format per row. */
const iso = (t: string) => (CANONICAL_TIME.test(t) ? t : new Date(t).toISOString());
const col = <R, T>(rows: R[], f: (r: R) => T) => sql.param(rows.map(f));

// One statement each, as feedback ingest does: the batch reaches it as unnest() arrays (db/batchRows).
// A request id the model has logged before is logged once (per shadow version for shadow rows).

const SERVED_COLUMNS: BatchColumn<ServedPrediction>[] = [
  { name: 'version_id', type: 'int', of: (r) => r.versionId },
  { name: 'request_id', type: 'text', of: (r) => r.requestId },
  { name: 'example_external_id', type: 'text', of: (r) => r.externalId },
  { name: 'score', type: 'float8', of: (r) => r.score },
  { name: 'decision', type: 'smallint', of: (r) => r.decision },
  { name: 'abstained', type: 'smallint', of: (r) => (r.abstained ? 1 : 0) },
  { name: 'attributes', type: 'text', of: (r) => JSON.stringify(r.attributes) },
  { name: 'occurred_at', type: 'text', of: (r) => iso(r.occurredAt) },
];

async function insertServed(tx: DbOrTx, batch: Batch): Promise<number> {
  const { modelId, served } = batch;
  const rows = batchRows(SERVED_COLUMNS, served);
  const [r] = resultRows<{ n: number }>(
    await tx.execute(sql`
      with t as (${rows}), inserted as (
        insert into ${predictions} (model_id, version_id, request_id, example_external_id, score, decision, abstained, attributes, occurred_at, logged_by)
        select ${modelId}, t.version_id::int, t.request_id, t.example_external_id, t.score::float8, t.decision::smallint, t.abstained::smallint,
               t.attributes::jsonb, t.occurred_at::timestamptz, ${batch.loggedBy}
        from t
        on conflict (model_id, request_id) do nothing
        returning 1
      )
      select count(*)::int as n from inserted`),
  );
  return Number(r!.n);
}

const EXAMPLE_COLUMNS: BatchColumn<RequestExample>[] = [
  { name: 'external_id', type: 'text', of: (r) => r.externalId },
  { name: 'input', type: 'text', of: (r) => JSON.stringify(r.input) },
  { name: 'slices', type: 'text', of: (r) => JSON.stringify(r.slices) },
  { name: 'observed_at', type: 'text', of: (r) => iso(r.occurredAt) },
];

async function insertRequestExamples(tx: DbOrTx, modelId: number, examplesOf: RequestExample[]): Promise<void> {
  if (examplesOf.length === 0) return;
  const rows = batchRows(EXAMPLE_COLUMNS, examplesOf);
  // Unlabelled until annotation labels them; an id already known (a labelled import, say) is left as it is.
  await tx.execute(sql`
    with t as (${rows})
    insert into ${examples} (model_id, external_id, input, label, slices, split, observed_at)
    select ${modelId}, t.external_id, t.input::jsonb, null, t.slices::jsonb, 'train', t.observed_at::timestamptz
    from t
    on conflict (model_id, external_id) do nothing`);
}

const SHADOW_COLUMNS: BatchColumn<ShadowPrediction>[] = [
  { name: 'version_id', type: 'int', of: (r) => r.versionId },
  { name: 'request_id', type: 'text', of: (r) => r.requestId },
  { name: 'score', type: 'float8', of: (r) => r.score },
  { name: 'decision', type: 'smallint', of: (r) => r.decision },
  { name: 'attributes', type: 'text', of: (r) => JSON.stringify(r.attributes) },
  { name: 'occurred_at', type: 'text', of: (r) => iso(r.occurredAt) },
];

async function insertShadow(tx: DbOrTx, modelId: number, shadow: ShadowPrediction[]): Promise<number> {
  if (shadow.length === 0) return 0;
  const rows = batchRows(SHADOW_COLUMNS, shadow);
  const [r] = resultRows<{ n: number }>(
    await tx.execute(sql`
      with t as (${rows}), inserted as (
        insert into ${shadowPredictions} (model_id, version_id, request_id, score, decision, attributes, occurred_at)
        select ${modelId}, t.version_id::int, t.request_id, t.score::float8, t.decision::smallint, t.attributes::jsonb, t.occurred_at::timestamptz
        from t
        on conflict (model_id, version_id, request_id) do nothing
        returning 1
      )
      select count(*)::int as n from inserted`),
  );
  return Number(r!.n);
}

/** Abstained requests become review items in the transaction that logs them (db/review); each names its example. */
async function queueAbstained(tx: DbOrTx, batch: Batch): Promise<number> {
  const items = batch.served.flatMap((r) => (r.abstained && r.externalId !== null ? [{ requestId: r.requestId, externalId: r.externalId, score: r.score, occurredAt: r.occurredAt }] : []));
  return queueReviews(tx, batch.modelId, items);
}

/**
 * Logs a scored batch in one transaction: every prediction (a request id the model has logged before is
 * logged once), the requests kept as unlabelled examples, the abstained ones queued for review, and the
 * shadow decisions. Returns how many predictions, review items and shadow decisions were new.
 */
export async function logPredictions(db: DbOrTx, batch: Batch): Promise<{ logged: number; shadowed: number; reviews: number }> {
  return db.transaction(async (tx) => {
    const logged = await insertServed(tx, batch);
    await insertRequestExamples(tx, batch.modelId, batch.examples);
    const reviews = await queueAbstained(tx, batch);
    const shadowed = await insertShadow(tx, batch.modelId, batch.shadow);
    return { logged, shadowed, reviews };
  });
}

/** What is logged already under a request id that a batch gives differently. */
export interface LoggedConflict {
  /** Index in the batch's served (or shadow) rows. */
  index: number;
  requestId: string;
  /** The shadow row's version when the conflict is in shadow_predictions; null for the served row. */
  shadowVersion: number | null;
  logged: { version: number; score: number; decision: number };
  given: { version: number; score: number; decision: number };
}

/** A replayed request id that says something else than what is logged: the whole batch is refused. */
export class PredictionLogConflict extends Error {
  constructor(readonly conflict: LoggedConflict) {
    super(`request '${conflict.requestId}' is logged already with other values`);
  }
}

/**
 * The rows of `rows` whose (model, request id[, shadow version]) is logged with another version, score or
 * decision. The score is compared as the column stores it (real), so a replay of the same float64 score
 * is the same. Rows this transaction inserted compare equal to themselves.
 */
async function firstConflict(tx: DbOrTx, modelId: number, rows: { versionId: number; requestId: string; score: number; decision: number }[], shadow: boolean) {
  if (rows.length === 0) return undefined;
  const table = shadow ? shadowPredictions : predictions;
  const [found] = resultRows<{ i: number; request_id: string; logged_version: number; score: number; decision: number; given_version: number }>(
    await tx.execute(sql`
      select t.i::int as i, t.request_id, lv.version as logged_version, x.score, x.decision::int as decision, gv.version as given_version
      from unnest(
        ${col(rows, (r) => r.requestId)}::text[],
        ${col(rows, (r) => r.versionId)}::int[],
        ${col(rows, (r) => r.score)}::float8[],
        ${col(rows, (r) => r.decision)}::smallint[]
      ) with ordinality as t(request_id, version_id, score, decision, i)
      join ${table} x on x.model_id = ${modelId} and x.request_id = t.request_id ${shadow ? sql`and x.version_id = t.version_id` : sql``}
      join ${modelVersions} lv on lv.id = x.version_id
      join ${modelVersions} gv on gv.id = t.version_id
      where x.version_id <> t.version_id or x.score <> t.score::real or x.decision <> t.decision
      order by t.i
      limit 1`),
  );
  if (!found) return undefined;
  const given = rows[Number(found.i) - 1]!;
  return {
    index: Number(found.i) - 1,
    requestId: found.request_id,
    logged: { version: Number(found.logged_version), score: Number(found.score), decision: Number(found.decision) },
    given: { version: Number(found.given_version), score: given.score, decision: given.decision },
  };
}

/**
 * Logs predictions a serving system outside the control plane made, in one transaction, exactly as
 * logPredictions does; a request id logged before with the same version, score and decision is a
 * duplicate (logged once), with any other a PredictionLogConflict and nothing of the batch is written.
 * The check runs after the inserts, in the same transaction: a concurrent batch with the same request id
 * has committed by then (the insert waited for it), so two racing senders cannot both think they won.
 */
export async function logServedElsewhere(db: DbOrTx, batch: Batch): Promise<{ logged: number; shadowed: number; reviews: number }> {
  return db.transaction(async (tx) => {
    const logged = await insertServed(tx, batch);
    // Rows this transaction inserted compare equal to themselves: only a batch with duplicates can conflict.
    const served = logged < batch.served.length ? await firstConflict(tx, batch.modelId, batch.served, false) : undefined;
    if (served) throw new PredictionLogConflict({ ...served, shadowVersion: null });
    await insertRequestExamples(tx, batch.modelId, batch.examples);
    const reviews = await queueAbstained(tx, batch);
    const shadowed = await insertShadow(tx, batch.modelId, batch.shadow);
    const shadow = shadowed < batch.shadow.length ? await firstConflict(tx, batch.modelId, batch.shadow, true) : undefined;
    if (shadow) throw new PredictionLogConflict({ ...shadow, shadowVersion: shadow.given.version });
    return { logged, shadowed, reviews };
  });
}

/**
 * The model's versions with these numbers, each with its status and whether it ever served: routed now
 * (production, canary or shadow), named by a deployment event, or in a status only routing gives
 * (shadow, canary, production, retired, rolled_back). Numbers the model has no version for are absent.
 */
export async function versionsServed(db: DbOrTx, modelId: number, numbers: number[]): Promise<Map<number, { versionId: number; status: string; served: boolean }>> {
  if (numbers.length === 0) return new Map();
  const rows = resultRows<{ id: number; version: number; status: string; served: boolean }>(
    await db.execute(sql`
      select v.id, v.version, v.status,
             (v.status in ('shadow', 'canary', 'production', 'retired', 'rolled_back')
              or exists (select 1 from routes r where r.model_id = v.model_id and r.version_id = v.id)
              or exists (select 1 from deployment_events d where d.model_id = v.model_id and (d.to_version_id = v.id or d.from_version_id = v.id))) as served
      from ${modelVersions} v
      where v.model_id = ${modelId} and v.version = any(${sql.param(numbers)}::int[])`),
  );
  return new Map(rows.map((r) => [Number(r.version), { versionId: Number(r.id), status: r.status, served: r.served === true || (r.served as unknown) === 't' }]));
}
