// Serving's log: what a version answered (predictions), what a shadow version would have answered
// (shadow_predictions), and the requests kept as unlabelled examples for annotation.
import { sql } from 'drizzle-orm';
import type { Db } from './index';
import { resultRows } from './queries';
import { examples, predictions, shadowPredictions } from './schema';

export interface ServedPrediction {
  requestId: string;
  versionId: number;
  /** The example the request is kept as, when the caller named one. */
  externalId: string | null;
  score: number;
  decision: 0 | 1;
  attributes: Record<string, string>;
  /** ISO time. */
  occurredAt: string;
}

export type ShadowPrediction = Omit<ServedPrediction, 'externalId'>;

export interface RequestExample {
  externalId: string;
  input: Record<string, string>;
  slices: Record<string, string>;
  occurredAt: string;
}

const iso = (t: string) => new Date(t).toISOString();

/**
 * Logs a scored batch in one transaction: every prediction (a request id the model has logged
 * before is logged once), the requests kept as unlabelled examples, and the shadow decisions.
 * Returns how many predictions and shadow decisions were new.
 */
export async function logPredictions(
  db: Db,
  batch: { modelId: number; loggedBy: string; served: ServedPrediction[]; examples: RequestExample[]; shadow: ShadowPrediction[] },
): Promise<{ logged: number; shadowed: number }> {
  const { modelId, served, shadow } = batch;
  const col = <R, T>(rows: R[], f: (r: R) => T) => sql.param(rows.map(f));
  return db.transaction(async (tx) => {
    // One statement each, as feedback ingest does: every column one array parameter, unnest() makes rows.
    const result = await tx.execute(sql`
      insert into ${predictions} (model_id, version_id, request_id, example_external_id, score, decision, attributes, occurred_at, logged_by)
      select ${modelId}, t.version_id, t.request_id, t.example_external_id, t.score, t.decision, t.attributes::jsonb,
             t.occurred_at::timestamptz, ${batch.loggedBy}
      from unnest(
        ${col(served, (r) => r.versionId)}::int[],
        ${col(served, (r) => r.requestId)}::text[],
        ${col(served, (r) => r.externalId)}::text[],
        ${col(served, (r) => r.score)}::float8[],
        ${col(served, (r) => r.decision)}::smallint[],
        ${col(served, (r) => JSON.stringify(r.attributes))}::text[],
        ${col(served, (r) => iso(r.occurredAt))}::text[]
      ) as t(version_id, request_id, example_external_id, score, decision, attributes, occurred_at)
      on conflict (model_id, request_id) do nothing
      returning 1`);
    if (batch.examples.length > 0) {
      // Unlabelled until annotation labels them; an id already known (a labelled import, say) is left as it is.
      await tx.execute(sql`
        insert into ${examples} (model_id, external_id, input, label, slices, split, observed_at)
        select ${modelId}, t.external_id, t.input::jsonb, null, t.slices::jsonb, 'train', t.observed_at::timestamptz
        from unnest(
          ${col(batch.examples, (r) => r.externalId)}::text[],
          ${col(batch.examples, (r) => JSON.stringify(r.input))}::text[],
          ${col(batch.examples, (r) => JSON.stringify(r.slices))}::text[],
          ${col(batch.examples, (r) => iso(r.occurredAt))}::text[]
        ) as t(external_id, input, slices, observed_at)
        on conflict (model_id, external_id) do nothing`);
    }
    let shadowed = 0;
    if (shadow.length > 0) {
      // One statement too; a replayed request id is logged once per shadow version.
      const shadowResult = await tx.execute(sql`
        insert into ${shadowPredictions} (model_id, version_id, request_id, score, decision, attributes, occurred_at)
        select ${modelId}, t.version_id, t.request_id, t.score, t.decision, t.attributes::jsonb, t.occurred_at::timestamptz
        from unnest(
          ${col(shadow, (r) => r.versionId)}::int[],
          ${col(shadow, (r) => r.requestId)}::text[],
          ${col(shadow, (r) => r.score)}::float8[],
          ${col(shadow, (r) => r.decision)}::smallint[],
          ${col(shadow, (r) => JSON.stringify(r.attributes))}::text[],
          ${col(shadow, (r) => iso(r.occurredAt))}::text[]
        ) as t(version_id, request_id, score, decision, attributes, occurred_at)
        on conflict (model_id, version_id, request_id) do nothing
        returning 1`);
      shadowed = resultRows(shadowResult).length;
    }
    return { logged: resultRows(result).length, shadowed };
  });
}
