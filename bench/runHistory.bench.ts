// How big is a retraining run's Temporal history, and does it grow with the data? (Issue #13's target:
// under 1 MB at a million examples.) The trainer contract sends data by reference (snapshot ids, data
// plane URLs, artifact hashes), never in payloads, so the history should be the same size at 10,000
// rows as at 1,000,000; this measures it.
//
//   DATABASE_URL=postgres://... TEMPORAL_TEST_ADDRESS=127.0.0.1:7400 npx tsx bench/runHistory.bench.ts
//       [--rows 1e4,1e5,1e6] [--saturation] [--seeds 2]
//
// Services as test/helpers.ts startTestEnv starts them (API + workers in this process, task queues of
// their own, the built-in trainer on the training queue reading NDJSON from this process's data plane),
// on DATABASE_URL itself: use a scratch database. Per size: a model registered through the API
// (operator) with a gate that passes without sign-off, `rows` labelled examples inserted with one SQL
// statement (short texts with a learnable signal and 10% label noise, two slice attributes, about 20%
// held out), one bootstrap run with trainerParams { epochs: 1, dimsLog2: 16 }, awaited. Then the run's
// history (and with --saturation the saturation-<run> child's, `seeds` seeds x the default fractions:
// slow at a million rows) is measured: events; bytes as the server counts them (historySizeBytes), as
// protobuf and as the JSON that Temporal's tools write (historyToJSON); the payloads' bytes summed and
// the largest one; and the time per step, from the recordRunStep activities in the history (each step
// lasts until the next one is recorded), with the activities that took the longest. The model's
// examples and snapshot members are deleted afterwards (the small records stay).
import { parseArgs } from 'node:util';
import { eq, sql } from 'drizzle-orm';
import { evalReports, runs } from '../db/schema';
import { startTestEnv, uid, waitForStatus, type TestEnv } from '../test/helpers';
import { GATE_POLICY, kb, measureHistory, table, type HistoryMeasure } from './runMeasure';

const url = process.env.DATABASE_URL;
if (!url) {
  console.log('run history bench skipped: set DATABASE_URL to a PostgreSQL database (a million rows is not a PGlite job)');
  process.exit(0);
}

function flags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rows: { type: 'string', default: '1e4,1e5,1e6' },
      saturation: { type: 'boolean', default: false },
      seeds: { type: 'string', default: '2' },
    },
  });
  const rows = values.rows.split(',').map((s) => {
    const n = Number(s.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 100) throw new Error(`--rows: bad row count ${s} (an integer of at least 100, e.g. 1e6)`);
    return n;
  });
  const seeds = Number(values.seeds);
  if (!Number.isInteger(seeds) || seeds < 2 || seeds > 10) throw new Error(`--seeds: bad value ${values.seeds} (an integer in 2..10, as runs.start takes it)`);
  return { rows, saturation: values.saturation, seeds };
}

/**
 * `n` labelled examples in one statement. A multiplicative hash of i decides the label (40% spam), a
 * 10% label noise (the text says the other class) and the held-out fifth, independently; the texts are
 * two filler tokens and one class word.
 */
async function insertExamples(env: TestEnv, modelId: number, n: number): Promise<void> {
  await env.services.opened.db.execute(sql`
    insert into examples (model_id, external_id, input, label, slices, split)
    select ${modelId}, 'row-' || i,
      jsonb_build_object('text', 'w' || (i % 97) || ' w' || (i * 31 % 89) || ' ' ||
        case when (h % 100 < 40) <> ((h / 100) % 10 = 0) then (array['free','offer','win','cash'])[1 + i % 4]
             else (array['meeting','notes','lunch','report'])[1 + i % 4] end),
      (h % 100 < 40)::int,
      jsonb_build_object('sender_tld', (array['generic','country_code','edu'])[1 + i % 3], 'lang', (array['en','de','fr','es'])[1 + (i / 3) % 4]),
      case when (h / 1000) % 5 = 0 then 'heldout' else 'train' end
    from (select i, (i::bigint * 2654435761) % 4294967296 as h from generate_series(1, ${n}) i) g`);
  await env.services.opened.db.execute(sql`analyze examples`);
}

interface SizeResult {
  rows: number;
  runId: string;
  status: string;
  /** The candidate's held-out accuracy: the trainer learned the signal (10% label noise caps it at 0.90). */
  accuracy: number | null;
  insertSeconds: number;
  run: HistoryMeasure;
  saturation: HistoryMeasure | null;
}

async function oneSize(env: TestEnv, n: number, opts: { saturation: boolean; seeds: number }): Promise<SizeResult> {
  const db = env.services.opened.db;
  const name = `history-${n}-${uid()}`;
  const { id: modelId } = await env.clients.operator.models.register.mutate({ name, description: 'run history bench', gatePolicy: GATE_POLICY });
  const t0 = performance.now();
  await insertExamples(env, modelId, n);
  const insertSeconds = (performance.now() - t0) / 1000;
  console.log(`${n.toLocaleString('en-US')} examples inserted in ${insertSeconds.toFixed(1)} s; running ${name}${opts.saturation ? ` with a saturation check (${opts.seeds} seeds)` : ''}`);
  const { runId } = await env.clients.operator.runs.start.mutate({
    model: name,
    trigger: 'bootstrap',
    trainerParams: { epochs: 1, dimsLog2: 16 },
    ...(opts.saturation ? { saturation: { seeds: opts.seeds } } : {}),
  });
  // Progress on stderr, so a long size shows where it is.
  let lastStep = '';
  const progress = setInterval(() => {
    void db
      .select({ step: runs.step })
      .from(runs)
      .where(eq(runs.id, runId))
      .then(([r]) => {
        if (r && r.step !== lastStep) process.stderr.write(`  ${new Date().toISOString().slice(11, 19)} ${runId}: ${(lastStep = r.step)}\n`);
      });
  }, 1000);
  let row;
  try {
    row = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed', 'cancelled'], 3 * 60 * 60_000);
  } finally {
    clearInterval(progress);
  }
  const run = await measureHistory(env.services.client, runId);
  const saturation = opts.saturation ? await measureHistory(env.services.client, `saturation-${runId}`) : null;
  const [report] = await db
    .select({ accuracy: sql<number | null>`(${evalReports.summary}->'classification'->'overall'->'rates'->'accuracy'->>'estimate')::float8` })
    .from(evalReports)
    .where(eq(evalReports.runId, runId));
  // The heavy rows go; the run's records stay for inspection.
  await db.execute(sql`delete from dataset_snapshot_members where snapshot_id in (select id from dataset_snapshots where model_id = ${modelId})`);
  await db.execute(sql`delete from examples where model_id = ${modelId}`);
  return { rows: n, runId, status: row.status, accuracy: report?.accuracy ?? null, insertSeconds, run, saturation };
}

async function main(): Promise<void> {
  const opts = flags(process.argv.slice(2));
  const env = await startTestEnv({ db: { url: url! } });
  const results: SizeResult[] = [];
  try {
    for (const n of opts.rows) results.push(await oneSize(env, n, opts));
  } finally {
    await env.stop();
  }

  const stepNames = ['snapshot', ...(opts.saturation ? ['saturation'] : []), 'training', 'evaluating', 'gate', 'promoting'];
  const stepOf = (m: HistoryMeasure, s: string) => m.steps.filter((x) => x.step === s).reduce((a, x) => a + x.seconds, 0);
  console.log(`\nretraining run history by data size (trainerParams epochs 1, dimsLog2 16; target: history < 1 MB at 1,000,000 examples)`);
  const rowsOf = (r: SizeResult, which: 'run' | 'saturation', m: HistoryMeasure) => [
    `${r.rows.toLocaleString('en-US')}${which === 'saturation' ? ' (saturation child)' : ''}`,
    which === 'run' ? r.status : '',
    which === 'run' && r.accuracy !== null ? r.accuracy.toFixed(3) : '',
    String(m.events),
    kb(m.serverBytes),
    kb(m.protoBytes),
    kb(m.jsonBytes),
    `${m.payloads} / ${kb(m.payloadBytes)}`,
    `${kb(m.largest.bytes)} (${m.largest.where})`,
    ...(which === 'run' ? stepNames.map((s) => stepOf(m, s).toFixed(1)) : stepNames.map(() => '')),
    m.seconds.toFixed(1),
  ];
  table(
    ['examples', 'outcome', 'accuracy', 'events', 'history (server)', 'protobuf', 'JSON', 'payloads / bytes', 'largest payload', ...stepNames.map((s) => `${s} s`), 'workflow s'],
    results.flatMap((r) => [rowsOf(r, 'run', r.run), ...(r.saturation ? [rowsOf(r, 'saturation', r.saturation)] : [])]),
  );
  console.log(
    "  history (server) = describe().historySizeBytes, what Temporal's size limits count; protobuf = History.encode(fetchHistory()); " +
      'JSON = historyToJSON (as `temporal workflow show --output json` writes it); payloads = every Payload in the events (data + metadata); ' +
      'accuracy = the candidate\'s on the held-out split (eval report); step seconds from the recordRunStep activities in the history; the example insert is not part of the workflow.',
  );
  for (const r of results) {
    console.log(`\n${r.rows.toLocaleString('en-US')} examples (inserted in ${r.insertSeconds.toFixed(1)} s), run ${r.runId}: activities, longest first (count, queue wait s, execution s)`);
    for (const [label, m] of [['run', r.run], ['saturation child', r.saturation]] as const) {
      if (!m) continue;
      const acts = [...m.activities.entries()].sort((a, b) => b[1].execSeconds - a[1].execSeconds);
      console.log(`  ${label}: ${acts.map(([name, a]) => `${name} ${a.count}x ${a.waitSeconds.toFixed(1)}/${a.execSeconds.toFixed(1)}`).join(', ')}`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
