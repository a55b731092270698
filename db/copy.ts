// PostgreSQL's COPY protocol for the bulk writers (feedback ingest, prediction logging): a batch travels
// as one COPY FROM STDIN into a temporary staging table on the transaction's own connection, and one
// INSERT ... SELECT from there does what the unnest() statements do (casts, ON CONFLICT, RETURNING).
// postgres.js only: PGlite has no COPY FROM STDIN through drizzle, so callers keep their unnest() path
// for it (postgresJsTx returns null there).
//
// postgres.js 3.4.9 never settles a COPY writable whose server error arrives after end() (porsager/
// postgres#1173: 'finish' never fires and the error is dropped). So the staging tables have text columns
// and no constraints (nothing in well-formed COPY text can fail there), completion is not awaited on the
// stream: the statement after the COPY is queued behind it on the same connection, and a COPY that did
// fail surfaces as that statement's "current transaction is aborted" (25P02), which copyIn's caller
// turns into an error naming the COPY.
import type { Writable } from 'node:stream';
import { sql, type SQL } from 'drizzle-orm';
import type { TransactionSql } from 'postgres';
import type { DbOrTx } from './index';

/** The postgres.js transaction under a drizzle transaction handle; null on PGlite, or outside a transaction. */
export function postgresJsTx(tx: DbOrTx): TransactionSql | null {
  const client = (tx as unknown as { session?: { client?: unknown } }).session?.client;
  // postgres.js's sql is a function; inside sql.begin() it also has savepoint(). PGlite's client is an object.
  if (typeof client !== 'function' || typeof (client as { savepoint?: unknown }).savepoint !== 'function') return null;
  return client as unknown as TransactionSql;
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;

/** One field of COPY's text format: \N for null, backslash, tab, newline and carriage return escaped. */
export function copyField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`COPY field: ${v} is not a finite number`);
    return String(v);
  }
  if (v.includes('\u0000')) throw new Error('COPY field: a NUL character cannot be stored'); // the API refuses these before
  return SPECIAL.test(v) ? v.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : v;
}

/**
 * Creates (once per connection) a temporary staging table of text columns, emptied at every commit.
 * `name` and `columns` are identifiers written in this code, never input.
 */
export async function stagingTable(tx: TransactionSql, name: string, columns: readonly string[]): Promise<void> {
  await tx.unsafe(`create temp table if not exists ${name} (${columns.map((c) => `${c} text`).join(', ')}) on commit delete rows`);
}

/**
 * Sends `text` (rows in COPY text format, each ending in a newline) to `copy <table> (<columns>) from stdin`
 * on the transaction's connection, and returns once the last byte is handed over; the caller's next
 * statement on `tx` runs after the COPY has finished (see the file's head: a COPY that failed aborts the
 * transaction, and that statement fails with 25P02).
 */
export async function copyIn(tx: TransactionSql, table: string, columns: readonly string[], text: string): Promise<void> {
  const stream = (await tx.unsafe(`copy ${table} (${columns.join(', ')}) from stdin`).writable()) as Writable & { _final(cb: (err?: Error | null) => void): void };
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    // Handed over when postgres.js's final() has sent CopyDone: from then on its connection takes the next statement.
    const final = stream._final;
    stream._final = (cb) => {
      final.call(stream, cb);
      resolve();
    };
    stream.end(text);
  });
  // A late error has nowhere to go (postgres.js drops it); the next statement reports the aborted transaction.
  stream.on('error', () => {});
}

/** Whether an error is PostgreSQL's "current transaction is aborted" (what a failed COPY leaves behind). */
export function abortedTransaction(err: unknown): boolean {
  // drizzle wraps the driver's error (DrizzleQueryError, the PostgresError its cause).
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '25P02') return true;
  }
  return false;
}

/** A column of a batch: its name, its type on the unnest() path, and its value per row. */
export interface BatchColumn<R> {
  name: string;
  type: 'int' | 'smallint' | 'float8' | 'text';
  of: (row: R) => string | number | null;
}

/**
 * A batch of rows as the body of a CTE whose columns are `columns`' names, for one INSERT ... SELECT to
 * read: on PostgreSQL inside a transaction, COPYed into the temporary table `stage` (text columns: the
 * statement casts each column, as it must for the typed unnest() arrays too) and deleted from there as it
 * is read (in the order copied), so a second batch in the same transaction never sees these rows; on
 * PGlite, unnest() over one array parameter per column. `stage` and the names are written in code, never input.
 */
export async function batchRows<R>(db: DbOrTx, stage: string, columns: readonly BatchColumn<R>[], rows: readonly R[]): Promise<SQL> {
  const names = columns.map((c) => c.name);
  const list = sql.raw(names.join(', '));
  const pg = postgresJsTx(db);
  if (!pg) {
    const arrays = sql.join(
      columns.map((c) => sql`${sql.param(rows.map(c.of))}::${sql.raw(c.type)}[]`),
      sql`, `,
    );
    return sql`select * from unnest(${arrays}) as u(${list})`;
  }
  await stagingTable(pg, stage, names);
  const last = columns.length - 1;
  let text = '';
  for (const r of rows) {
    for (let i = 0; i < last; i++) text += copyField(columns[i]!.of(r)) + '\t';
    text += copyField(columns[last]!.of(r)) + '\n';
  }
  await copyIn(pg, stage, names, text);
  return sql`delete from ${sql.raw(stage)} returning ${list}`;
}

/** The error to throw for a failed statement that read a batch: a COPY that failed aborted the transaction, and says so here. */
export function batchFailure(err: unknown, what: string): unknown {
  return abortedTransaction(err) ? new Error(`COPY of ${what} into its staging table failed; nothing was written`, { cause: err }) : err;
}
