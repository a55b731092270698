/**
 * The timings the unit tests used to assert, each beside a floor measured in the same process (a
 * plain pass over the same typed arrays or strings), so the ratio says how far an algorithm is from
 * the cost of merely reading its input, whatever the machine. The tests keep deterministic work
 * counters instead (uniforms per draw, candidates scanned, EM passes, replicates).
 *
 *   npx tsx bench/units.bench.ts [--rows 1000000] [--repeat 3]
 *
 * Timed here: 1e6 BTRD binomial draws (analysis/random.ts); counting and the B = 1000 fairness
 * bootstrap, stratified and not, on --rows rows in 20 groups (analysis/fairness.ts); one
 * chooseThreshold sweep on --rows rows (analysis/thresholds.ts); training the built-in hashed
 * logistic regression on the spam corpus (trainers/hashedLogReg.ts). Measured elsewhere already:
 * bootstrapCells / bootstrapAuc on 1M rows in 20 strata (bench/evaluation.bench.ts), drawSample
 * from a 1M pool (bench/sampling.bench.ts), Dawid-Skene on 1M labels (bench/dawidSkene.bench.ts).
 * Every timing is the best of --repeat after one warm-up run (bench/args.ts).
 */
import { confusionByCode } from '../analysis/confusion';
import { fairnessFromCells } from '../analysis/fairness';
import { Rng } from '../analysis/random';
import { chooseThreshold } from '../analysis/thresholds';
import { assignHeldOut, loadCorpus } from '../demo/corpus';
import { defaultTrainerParams, trainHashedLogReg, type LabelledInput } from '../trainers/hashedLogReg';
import { fairnessRows, thresholdRows } from '../test/analysis/synthetic';
import { benchArgs, best } from './args';

const { rows, repeat } = benchArgs(process.argv.slice(2), { rows: [1_000_000] });

const line = (what: string, ms: number, floorMs: number, floorWhat: string): void =>
  console.log(`${what.padEnd(58)} ${ms.toFixed(1).padStart(9)} ms   ${(ms / floorMs).toFixed(1).padStart(7)} x floor (${floorWhat}, ${floorMs.toFixed(2)} ms)`);

// --- Binomial draws: floor = the same number of uniforms, drawn and summed.
{
  const draws = 1_000_000;
  const floor = best(repeat, () => {
    const rng = new Rng(9);
    let s = 0;
    for (let i = 0; i < draws; i++) s += rng.next();
    return s;
  });
  const btrd = best(repeat, () => {
    const rng = new Rng(9);
    let s = 0;
    for (let i = 0; i < draws; i++) s += rng.binomial(50_000, 0.37);
    return s;
  });
  line('1e6 BTRD binomial(50000, 0.37) draws', btrd.ms, floor.ms, '1e6 uniforms');
}

for (const n of rows) {
  // --- Fairness: 20 groups. Floor = one pass over labels, scores and codes into per-group counts.
  const G = 20;
  const { labels, scores, codes, values } = fairnessRows(n, G);
  const floor = best(repeat, () => {
    const c = new Int32Array(4 * G);
    for (let i = 0; i < n; i++) c[4 * codes[i]! + 2 * labels[i]! + (scores[i]! >= 0.5 ? 1 : 0)]!++;
    return c;
  });
  const counting = best(repeat, () => confusionByCode(labels, scores, 0.5, codes, G));
  const cells = counting.result;
  const stratified = best(repeat, () => fairnessFromCells('g', values, cells, { B: 1000 }));
  const unstratified = best(repeat, () => fairnessFromCells('g', values, cells, { B: 1000, stratified: false }));
  const floorWhat = `one pass over ${n.toLocaleString('en')} rows`;
  line(`fairness, ${n.toLocaleString('en')} rows, 20 groups: counting`, counting.ms, floor.ms, floorWhat);
  line('  + stratified bootstrap B = 1000', stratified.ms, floor.ms, floorWhat);
  line('  + unstratified bootstrap B = 1000', unstratified.ms, floor.ms, floorWhat);

  // --- chooseThreshold: one sorted sweep. Floor = one pass over the float32 scores and labels.
  const { labels: tLabels, scores: tScores, attributes } = thresholdRows(n);
  const tFloor = best(repeat, () => {
    let s = 0;
    for (let i = 0; i < n; i++) s += tLabels[i]! ? tScores[i]! : 0;
    return s;
  });
  const sweep = best(repeat, () => chooseThreshold({ labels: tLabels, scores: tScores, attributes, constraints: { minRecall: 0.9, maxSliceFpr: 0.5 } }));
  line(`chooseThreshold, ${n.toLocaleString('en')} rows (${sweep.result.candidatesScanned} candidates)`, sweep.ms, tFloor.ms, `one pass over ${n.toLocaleString('en')} scores`);
}

// --- Training the built-in trainer on the spam corpus. Floor = one FNV-1a pass over the training text.
{
  const emails = loadCorpus();
  const split = assignHeldOut(emails);
  const train: LabelledInput[] = emails.filter((e) => split.get(e.externalId) === 'train').map((e) => ({ input: e.input, label: e.label }));
  const floor = best(repeat, () => {
    let h = 0x811c9dc5;
    for (const ex of train) {
      for (const v of Object.values(ex.input)) {
        for (let i = 0; i < v.length; i++) h = Math.imul(h ^ v.charCodeAt(i), 0x01000193);
      }
    }
    return h;
  });
  // trainHashedLogReg is async (it yields between epochs); time it end to end.
  let trainMs = Infinity;
  for (let r = 0; r <= repeat; r++) {
    const t0 = performance.now();
    await trainHashedLogReg(train, defaultTrainerParams);
    if (r > 0) trainMs = Math.min(trainMs, performance.now() - t0);
  }
  line(`hashed-logreg training, ${train.length.toLocaleString('en')} spam-corpus emails`, trainMs, floor.ms, 'one hashing pass over the text');
}
