/**
 * What does evaluating an uploaded predictions file cost, in time and memory, against the floor?
 *
 *   npx tsx bench/evaluateFile.bench.ts [--sizes 20000000,49000000] [--sensitive group] [--thread]
 *
 * Per size, a seeded CSV (label, score with 6 decimals, group of 3, lang of 10, source of 5: ~20
 * characters a row) is generated in a child process of its own, so each row's peak RSS is that
 * size's alone. Reported: the floor (one plain pass over the same text counting lines, as any parser
 * must at least read it), parsePredictions, the whole evaluatePredictionsFile (parse, evaluation,
 * packet; fairness on --sensitive), the ratios to the floor, and peak RSS (process.resourceUsage's
 * maxRSS) against the text's own size. `--thread` evaluates through the API's worker thread
 * (api/evaluateFileWorker) instead, as reports.evaluateFile does. `--worst` makes the shortest rows,
 * "y,s\n" (4 characters): 5M rows in 20M characters (the API's row cap), 12.5M in 50M (the CLI's).
 * Timings are one run each after a small warm-up; on a shared machine they move with its load.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { evaluatePredictionsFile } from '../api/evaluateFile';
import { closeEvaluateFilePool, evaluateFileInThread } from '../api/evaluateFileWorker';
import { parsePredictions } from '../api/predictionsFile';

const GROUPS = ['a', 'b', 'c'];
const LANGS = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt', 'pl', 'sv', 'ja'];
const SOURCES = ['web', 'app', 'api', 'email', 'sms'];

/** A seeded CSV of at most `characters` characters (whole rows); `worst`: the shortest rows, "y,s\n". */
function generate(characters: number, worst: boolean): string {
  let s = 20240611;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  // Written into one buffer and decoded once, so generating costs the text and its bytes, no more.
  const buf = Buffer.allocUnsafe(characters);
  let at = buf.write(worst ? 'label,score\n' : 'label,score,group,lang,source\n', 0, 'latin1');
  for (;;) {
    const y = rnd() < 0.3 ? 1 : 0;
    const row = worst
      ? `${y},${rnd() < (y ? 0.7 : 0.3) ? 1 : 0}\n`
      : `${y},${Math.min(1, Math.max(0, (y ? 0.65 : 0.35) + (rnd() - 0.5) * 0.8)).toFixed(6)},${GROUPS[Math.floor(rnd() * 3)]},${LANGS[Math.floor(rnd() * 10)]},${SOURCES[Math.floor(rnd() * 5)]}\n`;
    if (at + row.length > characters) break;
    at += buf.write(row, at, 'latin1');
  }
  return buf.toString('latin1', 0, at);
}

function floorPass(text: string): number {
  let lines = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
  return lines;
}

interface CaseResult {
  characters: number;
  rows: number;
  floorMs: number;
  /** null through the thread (the parse is not timed apart there). */
  parseMs: number | null;
  totalMs: number;
  rssBeforeMb: number;
  peakRssMb: number;
}

/** One size, in this (child) process. */
async function runCase(characters: number, opts: { sensitive: string[]; thread: boolean; worst: boolean }): Promise<CaseResult> {
  const evaluate = (text: string) =>
    opts.thread ? evaluateFileInThread(text, { sensitive: opts.sensitive }) : Promise.resolve(evaluatePredictionsFile(text, { sensitive: opts.sensitive }));
  // Warm-up on a small file: JIT, and the thread's module loading.
  await evaluate(generate(200_000, opts.worst));
  const text = generate(characters, opts.worst);
  const rssBeforeMb = process.resourceUsage().maxRSS / 1024;
  let t0 = performance.now();
  const lines = floorPass(text);
  const floorMs = performance.now() - t0;
  let parseMs: number | null = null;
  if (!opts.thread) {
    t0 = performance.now();
    parsePredictions(text, { keep: () => opts.sensitive });
    parseMs = performance.now() - t0;
  }
  t0 = performance.now();
  const result = await evaluate(text);
  const totalMs = performance.now() - t0;
  if (result.rows !== lines - 1) throw new Error(`parsed ${result.rows} rows, the floor counted ${lines - 1}`);
  await closeEvaluateFilePool();
  return { characters: text.length, rows: result.rows, floorMs, parseMs, totalMs, rssBeforeMb, peakRssMb: process.resourceUsage().maxRSS / 1024 };
}

async function main() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      sizes: { type: 'string' },
      sensitive: { type: 'string', default: 'group' },
      thread: { type: 'boolean', default: false },
      worst: { type: 'boolean', default: false },
      child: { type: 'string' },
    },
  });
  const sensitive = values.worst ? [] : values.sensitive.split(',').filter(Boolean);
  if (values.child) {
    const result = await runCase(Number(values.child), { sensitive, thread: values.thread, worst: values.worst });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const sizes = (values.sizes ?? (values.worst ? '20000000,50000000' : '20000000,49000000')).split(',').map((s) => Number(s.replace(/_/g, '')));
  for (const s of sizes) if (!Number.isInteger(s) || s < 1000) throw new Error(`--sizes: bad size ${s}`);
  const mode = values.thread ? 'through the worker thread (api/evaluateFileWorker)' : 'in-process (evaluatePredictionsFile)';
  console.log(`evaluateFile bench: ${values.worst ? '"y,s" rows (the most rows the cap admits)' : `CSV label,score,group,lang,source; fairness on ${sensitive.join(',') || 'nothing'}`}; ${mode} (node ${process.version})`);
  const table = [['characters', 'rows', 'floor ms', 'parse ms', 'total ms', 'parse/floor', 'total/floor', 'peak RSS MB', 'RSS/text', 'RSS before MB']];
  for (const size of sizes) {
    const args = [...process.execArgv, import.meta.filename, '--child', String(size), '--sensitive', sensitive.join(','), ...(values.thread ? ['--thread'] : []), ...(values.worst ? ['--worst'] : [])];
    const child = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (child.status !== 0) throw new Error(`size ${size} failed:\n${child.stderr}`);
    const r = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as CaseResult;
    const f = (x: number | null, d = 0) => (x !== null && Number.isFinite(x) ? x.toFixed(d) : '-');
    table.push([
      String(r.characters),
      String(r.rows),
      f(r.floorMs),
      f(r.parseMs),
      f(r.totalMs),
      f(r.parseMs === null ? null : r.parseMs / r.floorMs, 1),
      f(r.totalMs / r.floorMs, 1),
      f(r.peakRssMb),
      f(r.peakRssMb / (r.characters / 1e6), 1),
      f(r.rssBeforeMb),
    ]);
  }
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) console.log(row.map((cell, c) => cell.padStart(widths[c]!)).join('  '));
  console.log('floor = one pass over the text counting line breaks; parse = parsePredictions keeping the sensitive columns;');
  console.log('total = evaluatePredictionsFile (every column sliced); RSS/text = peak RSS in MB per million characters of text;');
  console.log('RSS before = peak RSS with the text generated, before parsing (the text is 1 byte a character, plus its bytes while generated).');
}

await main();
