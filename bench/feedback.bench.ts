// Feedback ingest throughput: events through the API's batch path (feedback.ingest), against COPY of the
// same rows on the same machine and database: PostgreSQL with DATABASE_URL (`psql \copy`, psql on PATH),
// else PGlite in a folder (its own COPY FROM '/dev/blob').
//   [DATABASE_URL=postgres://...] npx tsx bench/feedback.bench.ts [--rows 1000000]
import { ingestVsCopy } from './ingestVsCopy';

await ingestVsCopy('feedback');
