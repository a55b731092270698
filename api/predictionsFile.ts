// "Bring your own predictions": a CSV or JSONL file with a header naming `label` (0/1), `score` in
// [0, 1], and any other columns usable as slice attributes. Parsed at the edge into typed arrays;
// every error names the line and the column, so a user can fix the file without guessing.
import { parse } from 'csv-parse/sync';

export interface PredictionsTable {
  rows: number;
  labels: Uint8Array;
  scores: Float64Array;
  /** Every other column, as strings (missing values become ''). */
  columns: Record<string, string[]>;
}

export class PredictionsFileError extends Error {
  constructor(
    message: string,
    readonly line: number | null,
    readonly column: string | null,
  ) {
    super(line === null ? message : `line ${line}${column ? `, column ${column}` : ''}: ${message}`);
    this.name = 'PredictionsFileError';
  }
}

export type PredictionsFormat = 'csv' | 'jsonl';

export function detectFormat(text: string, fileName?: string): PredictionsFormat {
  if (fileName?.match(/\.jsonl?$/i) || fileName?.match(/\.ndjson$/i)) return 'jsonl';
  if (fileName?.match(/\.(csv|tsv|txt)$/i)) return 'csv';
  return text.trimStart().startsWith('{') ? 'jsonl' : 'csv';
}

const MAX_ROWS = 20_000_000;

function parseLabel(raw: unknown, line: number): 0 | 1 {
  if (raw === 0 || raw === 1) return raw;
  if (raw === '0' || raw === '1') return raw === '1' ? 1 : 0;
  if (raw === true || raw === false) return raw ? 1 : 0;
  throw new PredictionsFileError(`label must be 0 or 1, got ${JSON.stringify(raw)}`, line, 'label');
}

function parseScore(raw: unknown, line: number): number {
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new PredictionsFileError(`score must be a number in [0, 1], got ${JSON.stringify(raw)}`, line, 'score');
  }
  return value;
}

class TableBuilder {
  labels: number[] = [];
  scores: number[] = [];
  columns: Record<string, string[]> = {};

  constructor(readonly header: string[]) {
    for (const required of ['label', 'score']) {
      if (!header.includes(required)) {
        throw new PredictionsFileError(`the header has no '${required}' column (found: ${header.join(', ') || 'nothing'})`, 1, null);
      }
    }
    for (const name of header) if (name !== 'label' && name !== 'score') this.columns[name] = [];
  }

  add(record: Record<string, unknown>, line: number) {
    if (this.labels.length >= MAX_ROWS) throw new PredictionsFileError(`more than ${MAX_ROWS} rows`, line, null);
    this.labels.push(parseLabel(record.label, line));
    this.scores.push(parseScore(record.score, line));
    for (const [name, values] of Object.entries(this.columns)) {
      const v = record[name];
      values.push(v === undefined || v === null ? '' : String(v));
    }
  }

  build(): PredictionsTable {
    if (this.labels.length === 0) throw new PredictionsFileError('the file has a header but no rows', null, null);
    return {
      rows: this.labels.length,
      labels: Uint8Array.from(this.labels),
      scores: Float64Array.from(this.scores),
      columns: this.columns,
    };
  }
}

/** CSV rows as header-keyed records with the line each came from; parse errors carry line and column. */
export function csvRecords(text: string): { header: string[]; records: { record: Record<string, string>; line: number }[] } {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, { columns: true, info: true, skip_empty_lines: true, trim: true, bom: true }) as typeof records;
  } catch (err) {
    const e = err as Error & { code?: string; lines?: number; column?: string | number; record?: unknown[]; header?: unknown };
    if (e.code === 'CSV_RECORD_INCONSISTENT_COLUMNS' || e.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH') {
      throw new PredictionsFileError(`${e.record?.length ?? 'a different number of'} fields where the header has ${text.split('\n', 1)[0]?.split(',').length}`, e.lines ?? null, null);
    }
    throw new PredictionsFileError(e.message.replace(/ at line \d+/, ''), e.lines ?? null, e.column === undefined ? null : String(e.column));
  }
  const firstLine = text.split('\n', 1)[0] ?? '';
  const header = (parse(firstLine, { trim: true, bom: true })[0] as string[] | undefined) ?? [];
  return { header, records: records.map(({ record, info }) => ({ record, line: info.lines })) };
}

function parseCsv(text: string): PredictionsTable {
  const { header, records } = csvRecords(text);
  const builder = new TableBuilder(header);
  for (const { record, line } of records) builder.add(record, line);
  return builder.build();
}

function parseJsonl(text: string): PredictionsTable {
  const lines = text.split(/\r?\n/);
  let builder: TableBuilder | undefined;
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (err) {
      throw new PredictionsFileError(`not valid JSON (${(err as Error).message})`, i + 1, null);
    }
    if (!record || typeof record !== 'object' || Array.isArray(record)) {
      throw new PredictionsFileError('each line must be a JSON object', i + 1, null);
    }
    // The first object's keys are the header, as a CSV's first line would be.
    builder ??= new TableBuilder(Object.keys(record));
    builder.add(record as Record<string, unknown>, i + 1);
  });
  if (!builder) throw new PredictionsFileError('the file is empty', null, null);
  return builder.build();
}

export function parsePredictions(text: string, opts: { format?: PredictionsFormat; fileName?: string } = {}): PredictionsTable {
  const format = opts.format ?? detectFormat(text, opts.fileName);
  return format === 'jsonl' ? parseJsonl(text) : parseCsv(text);
}

/** Checks that the columns named for slicing exist, naming the missing one and what is there. */
export function requireColumns(table: PredictionsTable, names: string[], flag: string): void {
  for (const name of names) {
    if (!(name in table.columns)) {
      throw new PredictionsFileError(
        `${flag} names '${name}', which is not a column (columns: ${Object.keys(table.columns).join(', ') || 'none besides label and score'})`,
        1,
        name,
      );
    }
  }
}
