// Prediction logging throughput: requests a team's own serving system answered, through the API's batch
// path (POST /models/{name}/predictions, serving.logPredictions), against COPY of the same rows into
// predictions on the same machine and database: PostgreSQL with DATABASE_URL (`psql \copy`, psql on PATH),
// else PGlite in a folder (its own COPY FROM '/dev/blob').
//   [DATABASE_URL=postgres://...] npx tsx bench/predictionLog.bench.ts [--rows 1000000]
import { csvJson, ingestVsCopy } from './ingestVsCopy';

const occurredAt = '2026-11-20T10:00:00.000Z';
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

await ingestVsCopy({
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
});
