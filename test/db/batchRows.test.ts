// The bulk writers' batches (db/batchRows): the statement reading a batch sees the rows as given, in order,
// with every awkward string intact (tabs, newlines, backslashes, quotes, a literal \N, empty strings beside
// nulls), on PostgreSQL and PGlite alike.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { batchRows, type BatchColumn } from '../../db/batchRows';
import type { OpenedDb } from '../../db/index';
import { resultRows } from '../../db/queries';
import { openFileDatabase } from '../fileDatabase';

let opened: OpenedDb;
before(async () => {
  opened = await openFileDatabase();
});
after(async () => {
  await opened?.close();
});

interface Row {
  id: number;
  text: string | null;
  score: number;
}
const COLUMNS: BatchColumn<Row>[] = [
  { name: 'id', type: 'int', of: (r) => r.id },
  { name: 'text', type: 'text', of: (r) => r.text },
  { name: 'score', type: 'float8', of: (r) => r.score },
];
const AWKWARD = ['plain', '', null, '\\N', 'NULL', 'tab\there', 'line\nbreak', 'cr\rhere', 'back\\slash', '{"json": "a\\"b"}', 'a,b{c}', 'ünïcødé 😀', '\\.'];

test('a batch reads back as given, in order', async () => {
  const rows: Row[] = AWKWARD.map((text, id) => ({ id, text, score: id / 3 }));
  const read = resultRows<{ id: number; text: string | null; score: number }>(
    await opened.db.execute(sql`with t as (${batchRows(COLUMNS, rows)}) select t.id::int as id, t.text, t.score::float8 as score from t`),
  );
  assert.deepEqual(
    read.map((r) => ({ id: Number(r.id), text: r.text, score: Number(r.score) })),
    rows,
  );
});
