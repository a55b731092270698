// The ingest benchmarks' rows and how each is sent and copied (bench/ingestVsCopy measures them): no
// top-level work, so the senders' thread can load them too.
import type { IngestBench } from './ingestVsCopy';

const occurredAt = '2026-11-20T10:00:00.000Z';

/** A JSON value as one CSV field. */
const csvJson = (v: unknown) => `"${JSON.stringify(v).replace(/"/g, '""')}"`;

/** What a serving system logs per request: its id, the version that answered, the score and decision, the slices. */
const request = (i: number) => {
  const score = ((i * 7919) % 10_000) / 10_000;
  return {
    requestId: `req-${i}`,
    version: 1,
    score,
    decision: (score >= 0.5 ? 1 : 0) as 0 | 1,
    attributes: { sender_tld: i % 3 === 0 ? 'country_code' : 'generic' },
    occurredAt,
  };
};

const predictionLog: IngestBench = {
  what: 'prediction logging',
  unit: 'requests',
  tag: 'bench-log',
  async send(client, name, start, count) {
    const requests = Array.from({ length: count }, (_, k) => request(start + k));
    return (await client.serving.logPredictions.mutate({ name, requests })).logged;
  },
  copyInto: 'predictions (model_id, version_id, request_id, example_external_id, score, decision, abstained, attributes, occurred_at, logged_by)',
  csvLine(i, t) {
    const r = request(i);
    return `${t.modelId},${t.versionId},${r.requestId},,${r.score},${r.decision},0,${csvJson(r.attributes)},${occurredAt},bench-log-ingest`;
  },
};

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

const feedback: IngestBench = {
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
};

export const INGEST_BENCHES = { predictionLog, feedback };
export type IngestBenchName = keyof typeof INGEST_BENCHES;
