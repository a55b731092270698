// Feedback ingest throughput: events through the API's batch path (feedback.ingest), against COPY of the
// same rows on the same machine and database: PostgreSQL with DATABASE_URL (`psql \copy`, psql on PATH),
// else PGlite in a folder (its own COPY FROM '/dev/blob').
//   [DATABASE_URL=postgres://...] npx tsx bench/feedback.bench.ts [--rows 1000000]
import { csvJson, ingestVsCopy } from './ingestVsCopy';

const occurredAt = '2026-11-20T10:00:00.000Z';
const event = (i: number) => ({
  kind: 'override' as const,
  action: 'not_spam' as const,
  idempotencyKey: `e-${i}`,
  version: 1,
  requestId: `req-${i}`,
  surface: 'inbox',
  position: i % 50,
  attributes: { sender_tld: i % 3 === 0 ? 'country_code' : 'generic' },
  occurredAt,
});

await ingestVsCopy({
  what: 'feedback ingest',
  unit: 'events',
  tag: 'bench-feedback',
  async send(client, model, start, count) {
    const events = Array.from({ length: count }, (_, k) => event(start + k));
    return (await client.feedback.ingest.mutate({ model, events })).inserted;
  },
  copyInto: 'feedback_events (model_id, version_id, idempotency_key, request_id, kind, value, surface, position, attributes, occurred_at, ingested_by)',
  csvLine(i, t) {
    const e = event(i);
    return `${t.modelId},${t.versionId},${e.idempotencyKey},${e.requestId},${e.kind},${csvJson({ action: e.action })},${e.surface},${e.position},${csvJson(e.attributes)},${occurredAt},bench-feedback-ingest`;
  },
});
