// The bulk writers' batches (feedback ingest, prediction logging): a batch reaches its one INSERT ... SELECT
// as unnest() over one array parameter per column, so 10,000 rows cost one round trip and no per-row
// parameter parsing, on PostgreSQL and PGlite alike.
//
// COPY was measured and does not pay here (issue #17, bench/feedback and bench/predictionLog, 1M rows on
// the 2-core machine): COPY into a temporary staging table and an INSERT ... SELECT from it logged 43-44k
// events/s and 45k requests/s where these arrays logged 48k and 54k. The per-row cost is the table's
// (two indexes, two foreign keys, ON CONFLICT), the same for COPY; the staging table only adds a write
// and a read of every row. (A COPY straight into the table cannot skip replays; and postgres.js 3.4.9
// never settles a COPY whose server error arrives after end(), porsager/postgres#1173.)
import { sql, type SQL } from 'drizzle-orm';

/** A column of a batch: its name, its element type in the array parameter, and its value per row. */
export interface BatchColumn<R> {
  name: string;
  type: 'int' | 'smallint' | 'float8' | 'text';
  of: (row: R) => string | number | null;
}

/** A batch of rows as the body of a CTE whose columns are `columns`' names, in the order given. Names are written in code, never input. */
export function batchRows<R>(columns: readonly BatchColumn<R>[], rows: readonly R[]): SQL {
  const arrays = sql.join(
    columns.map((c) => sql`${sql.param(rows.map(c.of))}::${sql.raw(c.type)}[]`),
    sql`, `,
  );
  return sql`select * from unnest(${arrays}) as u(${sql.raw(columns.map((c) => c.name).join(', '))})`;
}
