/**
 * How long does drawSample take to pick an annotation sample from a large candidate pool?
 *
 *   npx tsx bench/sampling.bench.ts [--rows 1000000,5000000] [--budget 1000] [--repeat 3]
 *
 * Data: seeded synthetic pool, 3 slice attributes (8, 5 and 3 values), a 32-dim Float32 sketch,
 * threshold 0.5, two slice floors. Timings are the best of --repeat after a warm-up, for the full
 * drawSample (strata + allocation + draw), with and without the sketch (the sketch adds the
 * random projection and the argsort that systematic sampling needs).
 */
import { drawSample, type CandidatePool, type SamplingPlan } from '../analysis/sampling';
import { Rng } from '../analysis/random';
import { benchArgs, best } from './args';

const DIMS = 32;
const SEED = 20240611;


function makePool(n: number): CandidatePool {
  const rng = new Rng(SEED);
  const scores = new Float64Array(n);
  const country = new Uint32Array(n);
  const lang = new Uint32Array(n);
  const device = new Uint32Array(n);
  const values = new Float32Array(n * DIMS);
  for (let i = 0; i < n; i++) {
    scores[i] = rng.next() < 0.85 ? rng.next() ** 3 * 0.7 : 0.4 + 0.6 * rng.next();
    const u = rng.nextUint32();
    country[i] = Math.min(7, Math.floor(Math.log2((u % 255) + 1))); // Zipf-ish sizes
    lang[i] = (u >>> 8) % 5;
    device[i] = (u >>> 16) % 3;
    for (let d = 0, o = i * DIMS; d < DIMS; d++) values[o + d] = (rng.nextUint32() >>> 8) / 16777216 - 0.5;
  }
  return {
    n,
    scores,
    features: { dims: DIMS, values },
    slices: [
      { name: 'country', codes: country, values: ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'] },
      { name: 'lang', codes: lang, values: ['en', 'de', 'fr', 'pt', 'ja'] },
      { name: 'device', codes: device, values: ['web', 'ios', 'android'] },
    ],
  };
}


const { rows, budget, repeat } = benchArgs(process.argv.slice(2), { rows: [1_000_000, 5_000_000], budget: 1000 });
for (const n of rows) {
  const pool = makePool(n);
  const plan: SamplingPlan = {
    budget,
    seed: 7,
    threshold: 0.5,
    sliceFloors: [
      { slice: 'country', value: 'c0', min: 50 },
      { slice: 'lang', value: 'ja', min: 50 },
    ],
  };
  const withSketch = best(repeat, () => void drawSample(pool, plan)).ms;
  const { features: _sketch, ...bare } = pool;
  const withoutSketch = best(repeat, () => void drawSample(bare, plan)).ms;
  console.log(
    `drawSample ${budget.toLocaleString('en')} of ${n.toLocaleString('en')} (3 slices): ` +
      `with ${DIMS}-dim sketch ${withSketch.toFixed(0)} ms, without sketch ${withoutSketch.toFixed(0)} ms (best of ${repeat})`,
  );
}
