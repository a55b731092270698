/**
 * Finds (installing if needed) the Temporal CLI and prints its path on stdout; progress goes to stderr.
 * Used by CI:  export TEMPORAL_CLI_PATH="$(npx tsx temporal-config/ensureCli.ts)"
 */
import { findTemporalBinary } from './devServer';
import { dataDir } from './env';

try {
  const bin = await findTemporalBinary({
    dataDir: dataDir(),
    install: true,
    log: (msg) => process.stderr.write(`${msg}\n`),
  });
  process.stdout.write(`${bin}\n`);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
