/**
 * How fast is evaluateClassification, against the floor (one plain typed-array pass over the same
 * bytes) and against Fairlearn's MetricFrame on the same data?
 *
 *   npx tsx bench/evaluation.bench.ts [--rows 1000000,10000000] [--repeat 3] [--no-python]
 *
 * Data: seeded synthetic rows with 20 slice values (Zipf-like sizes, one with a planted 3x FPR)
 * and 3 groups; float64 scores, threshold 0.5. Every timing is the best of --repeat after a
 * warm-up run. MetricFrame runs in Python (env PYTHON, else python3) on the same arrays written
 * to a temp dir; it is skipped with a clear line when fairlearn is not importable. The engine's
 * per-group rates are checked against the floor's counts and against MetricFrame's values.
 */
import { bootstrapAuc, bootstrapCells } from '../analysis/bootstrap';
import { delongAucInterval } from '../analysis/aucInterval';
import { fairnessFromCells } from '../analysis/fairness';
import { MAX_DISTINCT_SCORES_FOR_AUC_BOOTSTRAP } from '../analysis/report';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateClassification, type ClassificationEvaluation } from '../analysis/classification';
import { confusionByCode, type EncodedAttribute } from '../analysis/confusion';
import { Rng } from '../analysis/random';
import { benchArgs, best } from './args';

const N_SLICES = 20;
const N_GROUPS = 3;
const THRESHOLD = 0.5;
const SEED = 20240611;



interface Data {
  labels: Uint8Array;
  scores: Float64Array;
  slice: EncodedAttribute;
  group: EncodedAttribute;
}

function generate(n: number): Data {
  const rng = new Rng(SEED ^ n);
  const rand = () => rng.next();
  const labels = new Uint8Array(n);
  const scores = new Float64Array(n);
  const sliceCodes = new Uint8Array(n);
  const groupCodes = new Uint8Array(n);
  // Zipf-like slice sizes: cumulative weights 1/(k+1).
  const cum = new Float64Array(N_SLICES);
  let total = 0;
  for (let k = 0; k < N_SLICES; k++) cum[k] = total += 1 / (k + 1);
  for (let k = 0; k < N_SLICES; k++) cum[k]! /= total;
  for (let i = 0; i < n; i++) {
    const u = rand();
    let s = 0;
    while (s < N_SLICES - 1 && u > cum[s]!) s++;
    const g = rand() < 0.5 ? 0 : rand() < 0.6 ? 1 : 2;
    const y = rand() < 0.25 + 0.05 * g ? 1 : 0;
    // Logistic noise around +-1.4; slice 7's negatives are shifted up (about 3x the FPR).
    const v = rand() * 0.999998 + 0.000001;
    const logit = Math.log(v / (1 - v)) + (y === 1 ? 1.4 : s === 7 ? -0.1 : -1.4);
    labels[i] = y;
    scores[i] = 1 / (1 + Math.exp(-logit));
    sliceCodes[i] = s;
    groupCodes[i] = g;
  }
  const sliceValues = Array.from({ length: N_SLICES }, (_, k) => `s${String(k).padStart(2, '0')}`);
  return {
    labels,
    scores,
    slice: { name: 'slice', codes: sliceCodes, values: sliceValues },
    group: { name: 'group', codes: groupCodes, values: ['a', 'b', 'c'] },
  };
}

/** The floor: the same counts from one plain loop over the same bytes, no validation, nothing else. */
function floorPass(d: Data): { slice: Float64Array; group: Float64Array } {
  const { labels, scores } = d;
  const sc = d.slice.codes as Uint8Array;
  const gc = d.group.codes as Uint8Array;
  const slice = new Float64Array(4 * N_SLICES);
  const group = new Float64Array(4 * N_GROUPS);
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    const p = scores[i]! >= THRESHOLD ? 1 : 0;
    // tp=0 (y1 p1), fp=1 (y0 p1), tn=2 (y0 p0), fn=3 (y1 p0), as in confusion.ts
    const cell = y === 1 ? (p === 1 ? 0 : 3) : p === 1 ? 1 : 2;
    slice[4 * sc[i]! + cell]!++;
    group[4 * gc[i]! + cell]!++;
  }
  return { slice, group };
}

/**
 * The fastest plain pass we found, for reference: a table lookup instead of nested branches and
 * int32 counters (a float64 increment is a load-add-store chain through the FPU). It is the honest
 * lower bound; confusionByCode keeps float64 cells so the same pass serves inclusion weights.
 */
const CELL_OF = Uint8Array.from([2, 1, 3, 0]); // index 2y + p: tn, fp, fn, tp
function floorPassInt32(d: Data): { slice: Int32Array; group: Int32Array } {
  const { labels, scores } = d;
  const sc = d.slice.codes as Uint8Array;
  const gc = d.group.codes as Uint8Array;
  const slice = new Int32Array(4 * N_SLICES);
  const group = new Int32Array(4 * N_GROUPS);
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    const cell = CELL_OF[(labels[i]! << 1) | (scores[i]! >= THRESHOLD ? 1 : 0)]!;
    slice[4 * sc[i]! + cell]!++;
    group[4 * gc[i]! + cell]!++;
  }
  return { slice, group };
}


interface PythonResult {
  ms: number;
  sliceMs: number;
  groupMs: number;
  versions: Record<string, string>;
  bySlice: Record<string, number[]>;
  byGroup: Record<string, number[]>;
}

function runMetricFrame(d: Data, repeat: number): PythonResult | { skip: string } {
  const python = process.env.PYTHON ?? 'python3';
  const dir = mkdtempSync(join(tmpdir(), 'evalbench-'));
  try {
    const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    writeFileSync(join(dir, 'labels.u8'), bytes(d.labels));
    writeFileSync(join(dir, 'scores.f64'), bytes(d.scores)); // little-endian on every platform Node runs on here
    writeFileSync(join(dir, 'slice.u8'), bytes(d.slice.codes));
    writeFileSync(join(dir, 'group.u8'), bytes(d.group.codes));
    const script = new URL('./metricframe_bench.py', import.meta.url).pathname;
    const r = spawnSync(python, [script, '--dir', dir, '--threshold', String(THRESHOLD), '--repeat', String(repeat)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (r.error) return { skip: `cannot run ${python}: ${r.error.message}` };
    if (r.status !== 0) return { skip: `${python} ${script} exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
    return JSON.parse(r.stdout) as PythonResult | { skip: string };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Largest |engine - MetricFrame| over every group and metric. */
function compareWithMetricFrame(ev: ClassificationEvaluation, py: PythonResult): number {
  let worst = 0;
  const check = (attribute: string, table: Record<string, number[]>): void => {
    const rows = ev.slices.filter((s) => s.attribute === attribute);
    rows.forEach((s, k) => {
      const r = s.rates;
      const pairs: [number | null, number | undefined][] = [
        [r.selectionRate.estimate, table.selection_rate?.[k]],
        [r.recall.estimate, table.true_positive_rate?.[k]],
        [r.fpr.estimate, table.false_positive_rate?.[k]],
        [r.accuracy.estimate, table.accuracy?.[k]],
        [r.precision.estimate, table.precision?.[k]],
        [r.recall.estimate, table.recall?.[k]],
        [r.support, table.count?.[k]],
      ];
      for (const [a, b] of pairs) {
        if (a === null || b === undefined) throw new Error(`MetricFrame check: missing value for ${attribute}=${s.value}`);
        worst = Math.max(worst, Math.abs(a - b));
      }
    });
  };
  check('slice', py.bySlice);
  check('group', py.byGroup);
  return worst;
}

function sameCounts(ev: ClassificationEvaluation, floor: { slice: Float64Array; group: Float64Array }): boolean {
  const flat = (attribute: string): number[] =>
    ev.slices.filter((s) => s.attribute === attribute).flatMap((s) => [s.rates.counts.tp, s.rates.counts.fp, s.rates.counts.tn, s.rates.counts.fn]);
  const eq = (a: number[], b: Float64Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
  return eq(flat('slice'), floor.slice) && eq(flat('group'), floor.group);
}

const fmt = (ms: number | null): string => (ms === null ? '-' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const ratio = (a: number | null, b: number | null): string => (a === null || b === null ? '-' : (a / b).toFixed(1) + 'x');

function main(): void {
  const { rows, repeat, python } = benchArgs(process.argv.slice(2), { rows: [1_000_000, 10_000_000] });
  console.log(`evaluateClassification bench: ${N_SLICES} slice values x ${N_GROUPS} groups, float64 scores, best of ${repeat} (node ${process.version})`);
  const table: string[][] = [
    ['rows', 'engine ms', 'engine+AUC/AP ms', 'floor ms', 'int32 floor ms', 'MetricFrame ms', 'engine/floor', 'engine/int32 floor', 'engine+AUC/floor', 'MetricFrame/engine', 'MetricFrame/engine+AUC'],
  ];
  const notes: string[] = [];
  for (const n of rows) {
    const d = generate(n);
    const attributes = [d.slice, d.group];
    const counts = best(repeat, () => evaluateClassification({ labels: d.labels, scores: d.scores, threshold: THRESHOLD, attributes, withScoreMetrics: false }));
    const full = best(repeat, () => evaluateClassification({ labels: d.labels, scores: d.scores, threshold: THRESHOLD, attributes }));
    const floor = best(repeat, () => floorPass(d));
    const floor32 = best(repeat, () => floorPassInt32(d));
    if (!sameCounts(counts.result, floor.result)) throw new Error(`rows=${n}: engine counts differ from the floor's`);
    if (!sameCounts(counts.result, { slice: Float64Array.from(floor32.result.slice), group: Float64Array.from(floor32.result.group) })) {
      throw new Error(`rows=${n}: engine counts differ from the int32 floor's`);
    }
    let mf: number | null = null;
    if (python) {
      const py = runMetricFrame(d, repeat);
      if ('skip' in py) {
        notes.push(`rows=${n}: MetricFrame skipped (${py.skip}); install fairlearn, pandas, scikit-learn for ${process.env.PYTHON ?? 'python3'} or set PYTHON`);
      } else {
        mf = py.ms;
        const diff = compareWithMetricFrame(full.result, py);
        if (diff > 1e-9) throw new Error(`rows=${n}: engine and MetricFrame disagree by ${diff}`);
        notes.push(
          `rows=${n}: MetricFrame by slice ${fmt(py.sliceMs)} ms + by group ${fmt(py.groupMs)} ms; agrees with the engine to ${diff.toExponential(1)} ` +
            `(fairlearn ${py.versions.fairlearn}, scikit-learn ${py.versions['scikit-learn']}, numpy ${py.versions.numpy})`,
        );
      }
    }
    table.push([
      n.toLocaleString('en-US'),
      fmt(counts.ms),
      fmt(full.ms),
      fmt(floor.ms),
      fmt(floor32.ms),
      fmt(mf),
      ratio(counts.ms, floor.ms),
      ratio(counts.ms, floor32.ms),
      ratio(full.ms, floor.ms),
      ratio(mf, counts.ms),
      ratio(mf, full.ms),
    ]);
  }
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  for (const r of table) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  console.log('engine = evaluateClassification counts only (withScoreMetrics: false); engine+AUC/AP = with score metrics;');
  console.log('floor = one plain loop into Float64Array cells per code (as confusionByCode counts); int32 floor = the fastest plain loop found.');
  for (const note of notes) console.log(note);

  // The bootstrap target: B = 1000 on 1M rows, stratified by the 20 slice values, for a difference of
  // two slices' FPR (counts), fairness over the 3 groups, and the overall AUC.
  const n = 1_000_000;
  const d = generate(n);
  const cells = confusionByCode(d.labels, d.scores, THRESHOLD, d.slice.codes, N_SLICES);
  const groupCells = confusionByCode(d.labels, d.scores, THRESHOLD, d.group.codes, N_GROUPS);
  const fpr = (c: Float64Array, s: number) => c[4 * s + 1]! / (c[4 * s + 1]! + c[4 * s + 2]!);
  const count = best(repeat, () => confusionByCode(d.labels, d.scores, THRESHOLD, d.slice.codes, N_SLICES));
  const diff = best(repeat, () => bootstrapCells(cells, N_SLICES, (c) => fpr(c, 0) - fpr(c, 1), { B: 1000, seed: 1 }));
  const fair = best(repeat, () => fairnessFromCells('group', d.group.values, groupCells, { B: 1000, seed: 1 }));
  // The AUC bootstrap costs O(distinct (score, label) cells) per replicate: with a million distinct float64
  // scores that is far slower than the count bootstraps, so it is timed at B = 20 and scaled to B = 1000
  // (replicates cost the same), and again on scores rounded to a 0.001 grid as calibrated scores often are.
  const aucB = 20;
  const auc = best(1, () => bootstrapAuc(d.labels, d.scores, d.labels, 2, { B: aucB, seed: 1 }));
  const rounded = d.scores.map((x) => Math.round(x * 1000) / 1000);
  const aucRounded = best(1, () => bootstrapAuc(d.labels, rounded, d.labels, 2, { B: 1000, seed: 1 }));
  const delong = best(repeat, () => delongAucInterval(d.labels, d.scores));
  console.log(
    `AUC interval on ${n.toLocaleString('en-US')} distinct float64 scores by DeLong's method (what the engine uses past ${MAX_DISTINCT_SCORES_FOR_AUC_BOOTSTRAP} distinct scores): ${fmt(delong.ms)} ms`,
  );
  console.log(
    `bootstrap B=1000 on ${n.toLocaleString('en-US')} rows: counting ${fmt(count.ms)} ms, slice FPR difference ${fmt(diff.ms)} ms, ` +
      `fairness (3 groups, 6 gaps) ${fmt(fair.ms)} ms; ROC-AUC with distinct float64 scores ~${fmt((auc.ms * 1000) / aucB)} ms (timed at B=${aucB}), ` +
      `on a 0.001 score grid ${fmt(aucRounded.ms)} ms; target under 2,000 ms each`,
  );
}

main();
