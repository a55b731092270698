// "Bring your own predictions": a CSV or JSONL file with a header naming `label` (0/1), `score` in
// [0, 1], and any other columns usable as slice attributes. Parsed at the edge into typed arrays;
// every error names the line and the column, so a user can fix the file without guessing.
//
// One pass over the text and no array of lines or of row objects: labels and scores go straight into
// typed arrays sized by a first count of line breaks, and each kept column is dictionary-encoded as
// it is read (a code per row in a typed array, each distinct value stored once). A 49 MB CSV now
// costs a few bytes per row beyond its own text, where csv-parse's row objects cost ~40 times the
// text. Columns nobody asked for are not kept at all.
import { parse } from 'csv-parse/sync';
import type { EncodedAttribute } from '../analysis/confusion';

export interface PredictionsTable {
  rows: number;
  labels: Uint8Array;
  scores: Float64Array;
  /** Every column besides label and score, in the file's order, kept or not. */
  columnNames: string[];
  /**
   * The kept columns, in the file's order, encoded as analysis/confusion's encodeAttribute encodes
   * them (distinct values sorted, a code per row); a missing value (JSONL) is ''.
   */
  attributes: EncodedAttribute[];
}

export class PredictionsFileError extends Error {
  constructor(
    /** What was wrong, without the line and column (the message has them). */
    readonly reason: string,
    readonly line: number | null,
    readonly column: string | null,
  ) {
    super(line === null ? reason : `line ${line}${column ? `, column ${column}` : ''}: ${reason}`);
    this.name = 'PredictionsFileError';
  }
}

export type PredictionsFormat = 'csv' | 'jsonl';

export function detectFormat(text: string, fileName?: string): PredictionsFormat {
  if (fileName?.match(/\.jsonl?$/i) || fileName?.match(/\.ndjson$/i)) return 'jsonl';
  if (fileName?.match(/\.(csv|tsv|txt)$/i)) return 'csv';
  return text.trimStart().startsWith('{') ? 'jsonl' : 'csv';
}

/** Rows a file may have (the API's 50M-character cap allows at most 12.5M: "0,0\n" is 4 characters). */
export const MAX_ROWS = 20_000_000;
/**
 * Characters a JSONL line may have. A record is a label, a score and a few attributes; a longer line
 * is refused before JSON.parse builds it (a 50M-character line could be one array of 25M numbers).
 */
export const MAX_JSONL_LINE = 1_000_000;
/** Distinct values a kept (slice) column may have: each value becomes a slice with its own evaluation. */
export const MAX_DISTINCT_VALUES = 1000;

export interface ParseOptions {
  format?: PredictionsFormat;
  fileName?: string;
  /**
   * Given the header's other columns (in order), the ones to keep; default all. It may throw (a
   * PredictionsFileError naming a column the header lacks, say) before any row is read.
   */
  keep?: (columnNames: string[]) => string[];
  /** Default MAX_ROWS. */
  maxRows?: number;
  /** Default MAX_DISTINCT_VALUES. */
  maxDistinct?: number;
}

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

/** A copy that does not keep the whole file alive (V8 may represent a substring as a view of its parent). */
const detached = (s: string): string => (s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string));

/** One kept column: a code per row (first-seen order while reading), each distinct value once. */
class DictionaryColumn {
  private readonly index = new Map<string, number>();
  private readonly seen: string[] = [];
  private codes: Uint8Array | Uint16Array;

  constructor(
    readonly name: string,
    capacity: number,
    private readonly maxDistinct: number,
  ) {
    this.codes = new Uint8Array(capacity);
  }

  set(row: number, value: string, line: number): void {
    let code = this.index.get(value);
    if (code === undefined) {
      code = this.seen.length;
      if (code >= this.maxDistinct) {
        throw new PredictionsFileError(
          `column '${this.name}' has more than ${this.maxDistinct} distinct values, too many to slice by: name the columns to slice by (slices, or --slices in the CLI)`,
          line,
          this.name,
        );
      }
      // One byte per row until the 257th value, then two (maxDistinct is at most 65,536).
      if (code === 256) this.codes = Uint16Array.from(this.codes);
      const kept = detached(value);
      this.index.set(kept, code);
      this.seen.push(kept);
    }
    this.codes[row] = code;
  }

  /** encodeAttribute's encoding: values sorted, codes re-pointed, the narrowest array that fits. */
  finish(rows: number): EncodedAttribute {
    const order = this.seen.map((_, i) => i).sort((a, b) => (this.seen[a]! < this.seen[b]! ? -1 : this.seen[a]! > this.seen[b]! ? 1 : 0));
    const values = order.map((i) => this.seen[i]!);
    const rank = new Uint32Array(order.length);
    order.forEach((i, r) => (rank[i] = r));
    const codes = values.length <= 256 ? new Uint8Array(rows) : new Uint16Array(rows);
    const from = this.codes;
    for (let i = 0; i < rows; i++) codes[i] = rank[from[i]!]!;
    return { name: this.name, codes, values };
  }
}

/** Collects rows into typed arrays; the header is checked (and the kept columns chosen) up front. */
class TableBuilder {
  readonly columnNames: string[];
  readonly labels: Uint8Array;
  readonly scores: Float64Array;
  /** Per header position: its kept column, or null. */
  readonly kept: (DictionaryColumn | null)[];
  readonly labelAt: number;
  readonly scoreAt: number;
  rows = 0;

  constructor(
    readonly header: string[],
    capacity: number,
    opts: ParseOptions,
  ) {
    for (const required of ['label', 'score']) {
      if (!header.includes(required)) {
        throw new PredictionsFileError(`the header has no '${required}' column (found: ${header.join(', ') || 'nothing'})`, 1, null);
      }
    }
    const twice = header.find((name, i) => header.indexOf(name) !== i);
    if (twice !== undefined) throw new PredictionsFileError(`the header names '${twice}' twice`, 1, twice);
    this.labelAt = header.indexOf('label');
    this.scoreAt = header.indexOf('score');
    this.columnNames = header.filter((name) => name !== 'label' && name !== 'score');
    const keep = new Set(opts.keep ? opts.keep(this.columnNames) : this.columnNames);
    const maxDistinct = Math.min(opts.maxDistinct ?? MAX_DISTINCT_VALUES, 65_536);
    this.kept = header.map((name, i) => (i !== this.labelAt && i !== this.scoreAt && keep.has(name) ? new DictionaryColumn(name, capacity, maxDistinct) : null));
    this.labels = new Uint8Array(capacity);
    this.scores = new Float64Array(capacity);
  }

  build(): PredictionsTable {
    if (this.rows === 0) throw new PredictionsFileError('the file has a header but no rows', null, null);
    const n = this.rows;
    // The arrays were sized by line breaks: a view when little room is unused (a final line break),
    // a copy when blank lines or multi-line fields left much.
    const fit = <T extends Uint8Array | Float64Array>(a: T): T => (a.length - n <= a.length / 16 ? (a.subarray(0, n) as T) : (a.slice(0, n) as T));
    return {
      rows: n,
      labels: fit(this.labels),
      scores: fit(this.scores),
      columnNames: this.columnNames,
      attributes: this.kept.flatMap((c) => (c ? [c.finish(n)] : [])),
    };
  }
}

/** Line breaks + 1: an upper bound on the rows, so the typed arrays are allocated once. */
function countLines(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

const COMMA = 44;
const QUOTE = 34;
const LF = 10;

/** What csv-parse's `trim` strips around a field: ASCII and Unicode white space (not LF, which ends the line). */
function isTrimmable(c: number): boolean {
  if (c === 32 || c === 9 || c === 13 || c === 12 || c === 11) return true;
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/**
 * CSV records one at a time (RFC 4180: comma-separated, double-quoted fields may hold commas, quotes
 * doubled and line breaks; LF or CRLF line ends; fields trimmed, blank lines skipped), with the same
 * reading as the csv-parse options this replaced. A field is a [start, end) range of the text, or,
 * when quoted, its unescaped value.
 */
class CsvRecords {
  pos = 0;
  /** The 1-based line the current record ends on. */
  line = 0;
  private nextLine = 1;
  count = 0;
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly quoted: (string | null)[] = [];

  constructor(private readonly text: string) {
    if (text.charCodeAt(0) === 0xfeff) this.pos = 1;
  }

  field(i: number): string {
    return this.quoted[i] ?? this.text.slice(this.starts[i], this.ends[i]);
  }

  /** Reads the next non-blank record; false at the end of the text. */
  next(): boolean {
    const text = this.text;
    const n = text.length;
    // Skip blank lines.
    for (;;) {
      let i = this.pos;
      while (i < n && isTrimmable(text.charCodeAt(i))) i++;
      if (i >= n) return false;
      if (text.charCodeAt(i) !== LF) break;
      this.pos = i + 1;
      this.nextLine++;
    }
    this.count = 0;
    let pos = this.pos;
    for (;;) {
      let start = pos;
      while (start < n && isTrimmable(text.charCodeAt(start))) start++;
      let end: number;
      let value: string | null = null;
      if (text.charCodeAt(start) === QUOTE) {
        let chunk = start + 1;
        value = '';
        for (;;) {
          const close = text.indexOf('"', chunk);
          if (close === -1) throw new PredictionsFileError('a quoted field is not closed (a quote is missing)', this.nextLine, null);
          value += text.slice(chunk, close);
          for (let j = text.indexOf('\n', chunk); j !== -1 && j < close; j = text.indexOf('\n', j + 1)) this.nextLine++;
          if (text.charCodeAt(close + 1) === QUOTE) {
            value += '"';
            chunk = close + 2;
            continue;
          }
          end = close + 1;
          break;
        }
        while (end < n && isTrimmable(text.charCodeAt(end))) end++;
        const c = text.charCodeAt(end);
        if (end < n && c !== COMMA && c !== LF) {
          throw new PredictionsFileError(`a quoted field is followed by ${JSON.stringify(text[end])} (after the closing quote only a comma or the line's end may come)`, this.nextLine, null);
        }
      } else {
        end = start;
        for (;;) {
          if (end >= n) break;
          const c = text.charCodeAt(end);
          if (c === COMMA || c === LF) break;
          if (c === QUOTE) {
            throw new PredictionsFileError('a quote inside an unquoted field: quote the whole field and double the quotes inside', this.nextLine, null);
          }
          end++;
        }
      }
      const k = this.count++;
      this.quoted[k] = value;
      if (value === null) {
        let e = end;
        while (e > start && isTrimmable(text.charCodeAt(e - 1))) e--;
        this.starts[k] = start;
        this.ends[k] = e;
      }
      if (end < n && text.charCodeAt(end) === COMMA) {
        pos = end + 1;
        continue;
      }
      this.line = this.nextLine;
      this.pos = end + 1;
      this.nextLine++;
      return true;
    }
  }
}

function parseCsv(text: string, opts: ParseOptions): PredictionsTable {
  const records = new CsvRecords(text);
  const header: string[] = [];
  if (records.next()) for (let i = 0; i < records.count; i++) header.push(records.field(i));
  const maxRows = opts.maxRows ?? MAX_ROWS;
  // Room for one row per line break, and no more than the rows allowed (the row past them is refused).
  const table = new TableBuilder(header, Math.min(Math.max(0, countLines(text) - 1), maxRows), opts);
  const { labels, scores, kept, labelAt, scoreAt } = table;
  const width = header.length;
  let row = 0;
  while (records.next()) {
    const line = records.line;
    if (records.count !== width) throw new PredictionsFileError(`${records.count} fields where the header has ${width}`, line, null);
    if (row >= maxRows) throw new PredictionsFileError(`more than ${maxRows} rows`, line, null);
    // The common label, one unquoted character, is read without making a string.
    const ls = records.starts[labelAt]!;
    const lc = records.quoted[labelAt] === null && records.ends[labelAt]! - ls === 1 ? text.charCodeAt(ls) : -1;
    labels[row] = lc === 48 ? 0 : lc === 49 ? 1 : parseLabel(records.field(labelAt), line);
    scores[row] = parseScore(records.field(scoreAt), line);
    for (let i = 0; i < width; i++) kept[i]?.set(row, records.field(i), line);
    row++;
  }
  table.rows = row;
  return table.build();
}

function parseJsonl(text: string, opts: ParseOptions): PredictionsTable {
  let table: TableBuilder | undefined;
  let capacity = 0;
  const maxRows = opts.maxRows ?? MAX_ROWS;
  let row = 0;
  let line = 0;
  for (let start = 0; start <= text.length; ) {
    const lf = text.indexOf('\n', start);
    const stop = lf === -1 ? text.length : lf;
    line++;
    if (stop - start > MAX_JSONL_LINE) {
      throw new PredictionsFileError(`the line has ${stop - start} characters, more than the ${MAX_JSONL_LINE} a record may have (a label, a score and attributes)`, line, null);
    }
    const raw = text.slice(start, stop);
    start = stop + 1;
    if (raw.trim() === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (err) {
      throw new PredictionsFileError(`not valid JSON (${(err as Error).message})`, line, null);
    }
    if (!record || typeof record !== 'object' || Array.isArray(record)) {
      throw new PredictionsFileError('each line must be a JSON object', line, null);
    }
    const r = record as Record<string, unknown>;
    // The first object's keys are the header, as a CSV's first line would be.
    if (!table) {
      capacity = Math.min(countLines(text), maxRows);
      table = new TableBuilder(Object.keys(r), capacity, opts);
    }
    if (row >= maxRows) throw new PredictionsFileError(`more than ${maxRows} rows`, line, null);
    table.labels[row] = parseLabel(r.label, line);
    table.scores[row] = parseScore(r.score, line);
    table.kept.forEach((column) => {
      if (!column) return;
      const v = r[column.name];
      column.set(row, v === undefined || v === null ? '' : String(v), line);
    });
    row++;
    if (lf === -1) break;
  }
  if (!table) throw new PredictionsFileError('the file is empty', null, null);
  table.rows = row;
  return table.build();
}

export function parsePredictions(text: string, opts: ParseOptions = {}): PredictionsTable {
  const format = opts.format ?? detectFormat(text, opts.fileName);
  return format === 'jsonl' ? parseJsonl(text, opts) : parseCsv(text, opts);
}

/** Checks that the columns named (for slicing, say) exist, naming the missing one and what is there. */
export function requireNames(columnNames: readonly string[], names: readonly string[], flag: string): void {
  for (const name of names) {
    if (!columnNames.includes(name)) {
      throw new PredictionsFileError(
        `${flag} names '${name}', which is not a column (columns: ${columnNames.join(', ') || 'none besides label and score'})`,
        1,
        name,
      );
    }
  }
}

/** requireNames over a parsed table's columns. */
export function requireColumns(table: PredictionsTable, names: string[], flag: string): void {
  requireNames(table.columnNames, names, flag);
}

/** A kept column's values row by row, decoded (for tests and small files; the evaluation reads the codes). */
export function columnValues(table: PredictionsTable, name: string): string[] {
  const attribute = table.attributes.find((a) => a.name === name);
  if (!attribute) throw new RangeError(`column '${name}' was not kept`);
  return Array.from(attribute.codes, (c) => attribute.values[c]!);
}

/** CSV rows as header-keyed records with the line each came from; parse errors carry line and column (labels files). */
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
