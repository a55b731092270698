// Prediction logging throughput: requests a team's own serving system answered, through the API's batch
// path (POST /models/{name}/predictions, serving.logPredictions), against COPY of the same rows into
// predictions on the same machine and database: PostgreSQL with DATABASE_URL (`psql \copy`, psql on PATH),
// else PGlite in a folder (its own COPY FROM '/dev/blob').
//   [DATABASE_URL=postgres://...] npx tsx bench/predictionLog.bench.ts [--rows 1000000]
import { ingestVsCopy } from './ingestVsCopy';

await ingestVsCopy('predictionLog');
