// What the benchmarks share: argument parsing (node's util.parseArgs, with errors that name the flag)
// and best-of-N timing.
import { parseArgs } from 'node:util';

export interface BenchArgs {
  rows: number[];
  repeat: number;
  budget: number;
  python: boolean;
}

export function benchArgs(argv: string[], defaults: { rows: number[]; budget?: number }): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rows: { type: 'string' },
      repeat: { type: 'string', default: '3' },
      budget: { type: 'string', default: String(defaults.budget ?? 1000) },
      'no-python': { type: 'boolean', default: false },
    },
  });
  const rows = values.rows ? values.rows.split(',').map((s) => Number(s.replace(/_/g, ''))) : defaults.rows;
  const repeat = Number(values.repeat);
  const budget = Number(values.budget);
  for (const r of rows) if (!Number.isInteger(r) || r < 1) throw new Error(`--rows: bad row count ${r}`);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat: bad count ${values.repeat}`);
  if (!Number.isInteger(budget) || budget < 1) throw new Error(`--budget: bad size ${values.budget}`);
  return { rows, repeat, budget, python: !values['no-python'] };
}

/** Best of `repeat` timed runs after one untimed warm-up (JIT); the last result is returned too. */
export function best<T>(repeat: number, f: () => T): { ms: number; result: T } {
  let result = f();
  let ms = Infinity;
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    result = f();
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms, result };
}
