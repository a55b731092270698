// Files into the API in batches: examples (models import), predictions (predictions log), feedback
// events (feedback ingest). A batch the server refuses for one row loses that row (reported with its
// line) and is sent again without it, so one bad row never hides the others.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { TRPCClientError } from '@trpc/client';
import { EXIT, api, exampleOf, note, output, positiveIntFlag, readRecords, refusedIndex, withClient, type ClientOpts, type FileRecord } from '../cli';

export interface BadRow {
  line: number;
  error: string;
}

export interface IngestSummary {
  file: string;
  rows: number;
  sent: number;
  bad: BadRow[];
  totals: Record<string, number>;
}

/**
 * Sends `items` in batches through `send`, `parallel` batches in flight at once, dropping rows the server
 * names as bad; totals add the answers' counts, bad rows are reported in line order.
 */
export async function sendInBatches(
  file: string,
  items: { line: number; value: unknown }[],
  batchSize: number,
  field: string,
  send: (batch: unknown[]) => Promise<Record<string, number>>,
  parallel = 1,
): Promise<IngestSummary> {
  const summary: IngestSummary = { file, rows: items.length, sent: 0, bad: [], totals: {} };
  const bar = process.stderr.isTTY ? new SingleBar({ format: `${file} [{bar}] {value}/{total} rows`, stream: process.stderr }, Presets.shades_classic) : null;
  bar?.start(items.length, 0);
  let done = 0;
  let next = 0;
  const sendOne = async (start: number) => {
    let batch = items.slice(start, start + batchSize);
    const size = batch.length;
    while (batch.length > 0) {
      try {
        const answer = await send(batch.map((b) => b.value));
        for (const [k, v] of Object.entries(answer)) if (typeof v === 'number') summary.totals[k] = (summary.totals[k] ?? 0) + v;
        summary.sent += batch.length;
        break;
      } catch (err) {
        const index = err instanceof TRPCClientError && (err.data as { code?: string } | undefined)?.code === 'BAD_REQUEST' ? refusedIndex(err, field) : null;
        if (index === null || index >= batch.length) throw err;
        summary.bad.push({ line: batch[index]!.line, error: err instanceof Error ? err.message : String(err) });
        batch = batch.filter((_, j) => j !== index);
      }
    }
    done += size;
    if (bar) bar.update(done);
    else note(`${file}: ${done}/${items.length} rows`);
  };
  // Each sender takes the next batch when its last one is answered; after an error none takes another.
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.max(1, parallel) }, async () => {
      for (let start = next; start < items.length && !failed; start = next) {
        next += batchSize;
        await sendOne(start).catch((err: unknown) => {
          failed = true;
          throw err;
        });
      }
    }),
  );
  bar?.stop();
  summary.bad.sort((a, b) => a.line - b.line);
  return summary;
}

function finish(o: { json?: boolean }, s: IngestSummary): void {
  for (const b of s.bad) note(`${s.file}:${b.line}: refused: ${b.error}`);
  output(o, s, () =>
    [
      `${s.file}: ${s.rows} rows, ${s.sent} accepted, ${s.bad.length} refused`,
      ...Object.entries(s.totals).map(([k, v]) => `  ${k}: ${v}`),
    ].join('\n'),
  );
  if (s.bad.length > 0) process.exitCode = EXIT.other;
}

const records = (file: string): FileRecord[] => readRecords(readFileSync(file, 'utf8'), file);
const isCsv = (file: string) => /\.csv$/i.test(file);

/** JSONL records as written; a CSV row's columns, with `attributes.<k>` and `shadow` (JSON) taken apart and numbers typed. */
export function eventOf(record: Record<string, unknown>, csv: boolean, numeric: readonly string[]): Record<string, unknown> {
  if (!csv) return record;
  const out: Record<string, unknown> = {};
  const attributes: Record<string, string> = {};
  for (const [k, raw] of Object.entries(record)) {
    const v = String(raw);
    if (v === '') continue;
    if (k.startsWith('attributes.')) attributes[k.slice('attributes.'.length)] = v;
    else if (numeric.includes(k)) out[k] = Number(v);
    else if (v === 'true' || v === 'false') out[k] = v === 'true';
    else if (k === 'shadow' || k === 'input' || k === 'reasonCodes') out[k] = JSON.parse(v);
    else out[k] = v;
  }
  return { ...out, attributes };
}

export function registerModelImport(models: Command): void {
  withClient(models.command('import').argument('<name>').argument('<file>'))
    .description('import labelled examples from CSV (externalId,label,split,observedAt, slice.<name> columns, the rest input fields) or JSONL (one exampleInput a line)')
    // 2,000 a request (the API's most, MAX_IMPORT_BATCH) and two at once, as bench/millionRun sends them:
    // while the database stores one batch the API reads the next.
    .option('--batch <n>', 'rows per request (at most 2000)', '2000')
    .option('--parallel <n>', 'requests in flight at once', '2')
    .action(async (name: string, file: string, o: ClientOpts & { batch: string; parallel: string }) => {
      const client = api(o);
      const csv = isCsv(file);
      const batch = positiveIntFlag('--batch', o.batch);
      const parallel = positiveIntFlag('--parallel', o.parallel);
      const features = csv ? (await client.models.get.query({ name })).features : null;
      const items = records(file).map((r) => ({ line: r.line, value: exampleOf(r.record, csv, features) }));
      const s = await sendInBatches(file, items, batch, 'examples', (examples) => client.models.importExamples.mutate({ name, examples: examples as never }), parallel);
      finish(o, s);
    });
}

export function registerPredictionsLog(program: Command): void {
  const predictions = program.command('predictions').description('predictions your own serving system made');
  withClient(predictions.command('log').argument('<model>').argument('<file>'))
    .description('log predictions from JSONL or CSV (requestId, version, score, decision, occurredAt, externalId, attributes.<k>, shadow as JSON)')
    .option('--batch <n>', 'rows per request', '500')
    .action(async (model: string, file: string, o: ClientOpts & { batch: string }) => {
      const client = api(o);
      const items = records(file).map((r) => ({ line: r.line, value: eventOf(r.record, isCsv(file), ['version', 'score']) }));
      const s = await sendInBatches(file, items, positiveIntFlag('--batch', o.batch), 'requests', (requests) =>
        client.serving.logPredictions.mutate({ name: model, requests: requests as never }),
      );
      finish(o, s);
    });
}

export function registerFeedbackIngest(feedback: Command): void {
  withClient(feedback.command('ingest').argument('<model>').argument('<file>'))
    .description('ingest feedback events from JSONL or CSV (idempotencyKey, kind, version, occurredAt, the kind\'s fields, attributes.<k>)')
    .option('--batch <n>', 'rows per request', '500')
    .action(async (model: string, file: string, o: ClientOpts & { batch: string }) => {
      const client = api(o);
      const items = records(file).map((r) => ({ line: r.line, value: eventOf(r.record, isCsv(file), ['version', 'rating', 'position', 'ms', 'correctedLabel']) }));
      const s = await sendInBatches(file, items, positiveIntFlag('--batch', o.batch), 'events', (events) =>
        client.feedback.ingest.mutate({ model, events: events as never }),
      );
      finish(o, s);
    });
}
