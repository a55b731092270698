/**
 * How long does label aggregation take on a million crowd labels, against majority vote on the same
 * table, against the 5 s target, and against crowd-kit's DawidSkene on the same rows?
 *
 *   npx tsx bench/dawidSkene.bench.ts [--labels 1000000] [--annotators 200] [--seed 20240611]
 *                                     [--classes 2,3] [--repeat 3] [--no-python]
 *
 * Data (seeded, analysis/random.ts Rng): ceil(labels / 3) items with 3 labels each from distinct
 * annotators out of a pool of --annotators; annotator workload is skewed (weight 1 / (rank + 20),
 * so the busiest does ~10x the least busy, as in real crowds), accuracy drawn uniformly from
 * [0.6, 0.95], errors uniform over the other classes; planted class priors 0.65/0.35 (binary) or
 * 0.5/0.3/0.2 (3 classes). The table is built the production way, labelTable() over 1M
 * { item, annotator, label } string rows, and checked against the generator's codes.
 *
 * Timings are the best of --repeat after a warm-up run: labelTable, majorityVote, dawidSkene
 * (defaults: 100 iterations, tol 1e-5, as crowd-kit). Accuracy is against the planted truth, with
 * the Bayes rule under the planted parameters as the ceiling. crowd-kit (env PYTHON, else python3;
 * PYTHONPATH is passed through, e.g. PYTHONPATH=/tmp/ckit after `pip install --target /tmp/ckit
 * crowd-kit==1.4.2`) runs DawidSkene(n_iter=100, tol=1e-5).fit on the same rows written to a temp
 * CSV (bench/dawidskene_bench.py), best of --repeat unless a fit takes over 20 s; it is skipped with
 * a clear line when not importable.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { labelTable, type LabelTable } from '../analysis/agreement';
import { dawidSkene, majorityVote, type DawidSkeneResult } from '../analysis/dawidSkene';
import { Rng } from '../analysis/random';
import { benchArgs, best } from './args';

const PER_ITEM = 3;
const TARGET_MS = 5000;
const PRIORS: Record<number, number[]> = { 2: [0.65, 0.35], 3: [0.5, 0.3, 0.2] };

/**
 * Flags: this bench's own (--labels, --annotators, --seed, --classes) are parsed here; the shared
 * ones (--repeat, --no-python) go through bench/args.ts, which also rejects anything unknown.
 */
function parseFlags(argv: string[]) {
  const own = ['labels', 'annotators', 'seed', 'classes'];
  const mine: string[] = [];
  const rest: string[] = [];
  for (let j = 0; j < argv.length; j++) {
    const a = argv[j]!;
    const name = a.startsWith('--') ? a.slice(2).split('=')[0]! : '';
    if (!own.includes(name)) rest.push(a);
    else if (a.includes('=')) mine.push(a);
    else mine.push(a, argv[++j] ?? '');
  }
  const { values } = parseArgs({
    args: mine,
    strict: true,
    options: {
      labels: { type: 'string', default: '1000000' },
      annotators: { type: 'string', default: '200' },
      seed: { type: 'string', default: '20240611' },
      classes: { type: 'string', default: '2,3' },
    },
  });
  const int = (flag: string, s: string, min: number): number => {
    const v = Number(s.replace(/_/g, ''));
    if (!Number.isSafeInteger(v) || v < min) throw new Error(`--${flag}: bad value ${s} (an integer >= ${min})`);
    return v;
  };
  const labels = int('labels', values.labels, PER_ITEM);
  const annotators = int('annotators', values.annotators, PER_ITEM);
  const seed = int('seed', values.seed, 0);
  const classes = values.classes.split(',').map((s) => {
    const k = int('classes', s, 2);
    if (!PRIORS[k]) throw new Error(`--classes: ${k} not supported (2 or 3)`);
    return k;
  });
  const { repeat, python } = benchArgs(rest, { rows: [labels] });
  return { labels, annotators, seed, classes, repeat, python };
}

interface Data {
  rows: { item: string; annotator: string; label: string }[];
  /** The generator's codes, to check labelTable against. */
  item: Uint32Array;
  annotator: Uint32Array;
  label: Uint32Array;
  truth: Uint8Array;
  accuracy: Float64Array;
  priors: number[];
  nItems: number;
}

function generate(nLabels: number, A: number, K: number, seed: number): Data {
  const rng = new Rng(seed * 8 + K);
  const nItems = Math.ceil(nLabels / PER_ITEM);
  const n = nItems * PER_ITEM;
  const accuracy = new Float64Array(A);
  for (let a = 0; a < A; a++) accuracy[a] = 0.6 + 0.35 * rng.next();
  // Workload weights 1 / (rank + 20), rank = a shuffled order so busy and accurate are unrelated.
  const rank = Array.from({ length: A }, (_, a) => a);
  for (let a = A - 1; a > 0; a--) {
    const b = rng.nextInt(a + 1);
    [rank[a], rank[b]] = [rank[b]!, rank[a]!];
  }
  const cum = new Float64Array(A);
  let total = 0;
  for (let a = 0; a < A; a++) cum[a] = total += 1 / (rank[a]! + 20);
  const pick = (): number => {
    const u = rng.next() * total;
    let lo = 0;
    let hi = A - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const priors = PRIORS[K]!;
  const truth = new Uint8Array(nItems);
  const item = new Uint32Array(n);
  const annotator = new Uint32Array(n);
  const label = new Uint32Array(n);
  const seen: number[] = [];
  let r = 0;
  for (let i = 0; i < nItems; i++) {
    let u = rng.next();
    let c = 0;
    while (c < K - 1 && u >= priors[c]!) u -= priors[c++]!;
    truth[i] = c;
    seen.length = 0;
    while (seen.length < PER_ITEM) {
      const a = pick();
      if (seen.includes(a)) continue;
      seen.push(a);
      item[r] = i;
      annotator[r] = a;
      // Correct with the annotator's accuracy, else uniform over the other K - 1 classes.
      label[r] = rng.next() < accuracy[a]! ? c : (c + 1 + rng.nextInt(K - 1)) % K;
      r++;
    }
  }
  // Zero-padded ids, so their sorted (code) order is the generator's order, in JS and in pandas.
  const pad = (k: number, w: number): string => String(k).padStart(w, '0');
  const itemIds = Array.from({ length: nItems }, (_, i) => `t${pad(i, 7)}`);
  const annIds = Array.from({ length: A }, (_, a) => `w${pad(a, 4)}`);
  const catIds = Array.from({ length: K }, (_, k) => `c${k}`);
  const rows = new Array<{ item: string; annotator: string; label: string }>(n);
  for (let j = 0; j < n; j++) rows[j] = { item: itemIds[item[j]!]!, annotator: annIds[annotator[j]!]!, label: catIds[label[j]!]! };
  return { rows, item, annotator, label, truth, accuracy, priors, nItems };
}


const sameArray = (a: Uint32Array, b: Uint32Array): boolean => a.length === b.length && a.every((v, j) => v === b[j]);

function accuracyOf(labels: ArrayLike<number>, truth: Uint8Array): number {
  let ok = 0;
  for (let i = 0; i < truth.length; i++) if (labels[i] === truth[i]) ok++;
  return ok / truth.length;
}

/** The ceiling: the Bayes rule with the planted priors and accuracies (what DS would do if it knew them). */
function bayesLabels(t: LabelTable, d: Data, K: number): Uint32Array {
  const I = d.nItems;
  const logp = new Float64Array(I * K);
  for (let i = 0; i < I; i++) for (let c = 0; c < K; c++) logp[i * K + c] = Math.log(d.priors[c]!);
  for (let r = 0; r < t.item.length; r++) {
    const acc = d.accuracy[t.annotator[r]!]!;
    const l = t.label[r]!;
    for (let c = 0; c < K; c++) logp[t.item[r]! * K + c]! += Math.log(l === c ? acc : (1 - acc) / (K - 1));
  }
  const out = new Uint32Array(I);
  for (let i = 0; i < I; i++) {
    let b = 0;
    for (let c = 1; c < K; c++) if (logp[i * K + c]! > logp[i * K + b]!) b = c;
    out[i] = b;
  }
  return out;
}

/** Mean |estimated - planted| annotator accuracy, estimated = sum_c prior_c * confusion[a][c][c]. */
function skillError(ds: DawidSkeneResult, d: Data, K: number): number {
  const A = d.accuracy.length;
  let s = 0;
  for (let a = 0; a < A; a++) {
    let est = 0;
    for (let c = 0; c < K; c++) est += ds.priors[c]! * ds.confusion[(a * K + c) * K + c]!;
    s += Math.abs(est - d.accuracy[a]!);
  }
  return s / A;
}

interface CrowdKitResult {
  ms: number;
  fits: number;
  readMs: number;
  iterations: number;
  versions: Record<string, string>;
  labels: Uint8Array;
  posteriors: Float64Array;
}

function runCrowdKit(d: Data, t: LabelTable, repeat: number): CrowdKitResult | { skip: string } {
  const python = process.env.PYTHON ?? 'python3';
  const dir = mkdtempSync(join(tmpdir(), 'dsbench-'));
  try {
    const lines = new Array<string>(d.rows.length + 1);
    lines[0] = 'worker,task,label';
    for (let j = 0; j < d.rows.length; j++) {
      const row = d.rows[j]!;
      lines[j + 1] = `${row.annotator},${row.item},${row.label}`;
    }
    writeFileSync(join(dir, 'labels.csv'), lines.join('\n') + '\n');
    writeFileSync(join(dir, 'items.txt'), t.items.join('\n') + '\n');
    writeFileSync(join(dir, 'categories.txt'), t.categories.join('\n') + '\n');
    const script = new URL('./dawidskene_bench.py', import.meta.url).pathname;
    const r = spawnSync(python, [script, '--dir', dir, '--repeat', String(repeat)], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.error) return { skip: `cannot run ${python}: ${r.error.message}` };
    if (r.status !== 0) return { skip: `${python} ${script} exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
    const out = JSON.parse(r.stdout) as Omit<CrowdKitResult, 'labels' | 'posteriors'> | { skip: string };
    if ('skip' in out) return out;
    const post = readFileSync(join(dir, 'posteriors.f64'));
    return {
      ...out,
      labels: new Uint8Array(readFileSync(join(dir, 'labels.u8'))),
      posteriors: new Float64Array(post.buffer, post.byteOffset, post.byteLength / 8),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (ms: number | null): string => (ms === null ? '-' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const ratio = (a: number | null, b: number | null): string =>
  a === null || b === null ? '-' : a / b >= 10 ? (a / b).toFixed(0) + 'x' : a / b >= 0.1 ? (a / b).toFixed(2) + 'x' : (a / b).toFixed(3) + 'x';
const pct = (x: number | null): string => (x === null ? '-' : (100 * x).toFixed(2) + '%');

function printTable(table: string[][]): void {
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  for (const r of table) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
}

function main(): void {
  const { labels: nLabels, annotators: A, seed, classes, repeat, python } = parseFlags(process.argv.slice(2));
  const nItems = Math.ceil(nLabels / PER_ITEM);
  console.log(
    `Dawid-Skene bench: ${nItems.toLocaleString('en-US')} items x ${PER_ITEM} labels = ${(nItems * PER_ITEM).toLocaleString('en-US')} labels, ` +
      `${A} annotators (accuracy U[0.6, 0.95], skewed workload), seed ${seed}, best of ${repeat} (node ${process.version})`,
  );
  const timing: string[][] = [
    ['classes', 'labelTable ms', 'MV ms', 'DS ms', 'DS iters', 'converged', 'crowd-kit ms', 'DS/MV', 'DS/5s target', 'labelTable+DS/5s', 'TS/crowd-kit'],
  ];
  const quality: string[][] = [
    ['classes', 'MV acc', 'DS acc', 'Bayes ceiling', 'DS-MV', 'DS skill MAE', 'crowd-kit acc', 'DS=crowd-kit labels', 'max |post diff|'],
  ];
  const notes: string[] = [];
  for (const K of classes) {
    const d = generate(nLabels, A, K, seed);
    const tb = best(repeat, () => labelTable(d.rows));
    const t = tb.result;
    if (!sameArray(t.item, d.item) || !sameArray(t.annotator, d.annotator) || !sameArray(t.label, d.label) || t.annotators.length !== A) {
      throw new Error(`K=${K}: labelTable codes differ from the generator's`);
    }
    const mv = best(repeat, () => majorityVote(t));
    const ds = best(repeat, () => dawidSkene(t));
    const res = ds.result;
    const mvAcc = accuracyOf(mv.result.labels, d.truth);
    const dsAcc = accuracyOf(res.labels, d.truth);
    const bayesAcc = accuracyOf(bayesLabels(t, d, K), d.truth);

    let ck: CrowdKitResult | null = null;
    let agree: number | null = null;
    let maxDiff: number | null = null;
    if (python) {
      const py = runCrowdKit(d, t, repeat);
      if ('skip' in py) {
        notes.push(`K=${K}: crowd-kit skipped (${py.skip}); pip install crowd-kit for ${process.env.PYTHON ?? 'python3'} (or --target DIR and set PYTHONPATH)`);
      } else {
        ck = py;
        let same = 0;
        for (let i = 0; i < nItems; i++) if (py.labels[i] === res.labels[i]) same++;
        agree = same / nItems;
        maxDiff = 0;
        for (let j = 0; j < res.posteriors.length; j++) maxDiff = Math.max(maxDiff, Math.abs(res.posteriors[j]! - py.posteriors[j]!));
        notes.push(
          `K=${K}: crowd-kit fit ${fmt(py.ms)} ms (best of ${py.fits}${py.fits < repeat ? ', stopped repeating after a fit over 20 s' : ''}; + ${fmt(py.readMs)} ms pandas.read_csv, not counted), ${py.iterations} iterations vs TS ${res.iterations} ` +
            `(crowd-kit ${py.versions['crowd-kit']}, pandas ${py.versions.pandas}, numpy ${py.versions.numpy}, python ${py.versions.python})`,
        );
      }
    }
    timing.push([
      String(K),
      fmt(tb.ms),
      fmt(mv.ms),
      fmt(ds.ms),
      String(res.iterations),
      String(res.converged),
      fmt(ck ? ck.ms : null),
      ratio(ds.ms, mv.ms),
      ratio(ds.ms, TARGET_MS),
      ratio(tb.ms + ds.ms, TARGET_MS),
      ratio(ds.ms, ck ? ck.ms : null),
    ]);
    quality.push([
      String(K),
      pct(mvAcc),
      pct(dsAcc),
      pct(bayesAcc),
      ((dsAcc - mvAcc) * 100).toFixed(2) + ' pt',
      skillError(res, d, K).toFixed(4),
      pct(ck ? accuracyOf(ck.labels, d.truth) : null),
      pct(agree),
      maxDiff === null ? '-' : maxDiff.toExponential(1),
    ]);
  }
  printTable(timing);
  console.log('');
  printTable(quality);
  console.log(`DS = dawidSkene (max 100 iterations, tol 1e-5); MV = majorityVote; target = DS on ${nLabels.toLocaleString('en-US')} labels under ${TARGET_MS} ms (ratio < 1 meets it).`);
  console.log('acc = share of items whose label equals the planted truth; Bayes ceiling = posterior argmax under the planted priors and accuracies;');
  console.log('DS skill MAE = mean |DS-estimated - planted| annotator accuracy; TS/crowd-kit = dawidSkene ms / crowd-kit DawidSkene.fit ms.');
  for (const note of notes) console.log(note);
}

main();
