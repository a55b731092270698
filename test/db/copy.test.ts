// The bulk writers' batch path (db/copy): on PostgreSQL a batch travels by COPY into a staging table, on
// PGlite as unnest() arrays; either way the statement reading it sees the same rows, in order, with every
// awkward string intact (tabs, newlines, backslashes, a literal \N, empty strings beside nulls). A COPY that
// fails leaves no hung request behind and names itself.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { batchFailure, batchRows, copyField, copyIn, postgresJsTx, type BatchColumn } from '../../db/copy';
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

test('copyField writes COPY text: \\N for null, backslash, tab, newline and carriage return escaped', () => {
  assert.equal(copyField(null), '\\N');
  assert.equal(copyField(undefined), '\\N');
  assert.equal(copyField(''), '');
  assert.equal(copyField('\\N'), '\\\\N');
  assert.equal(copyField('a\tb\nc\rd\\e'), 'a\\tb\\nc\\rd\\\\e');
  assert.equal(copyField(-0.125), '-0.125');
  assert.throws(() => copyField(Number.NaN), /not a finite number/);
  assert.throws(() => copyField('a\u0000b'), /NUL/);
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
const AWKWARD = ['plain', '', null, '\\N', 'tab\there', 'line\nbreak', 'cr\rhere', 'back\\slash', '{"json": "a\\"b"}', 'ünïcødé 😀', '\\.'];

test('a batch reads back as given, in order, through the driver this database has (COPY on PostgreSQL, unnest on PGlite)', async () => {
  const rows: Row[] = AWKWARD.map((text, id) => ({ id, text, score: id / 3 }));
  const read = await opened.db.transaction(async (tx) => {
    assert.equal(postgresJsTx(tx) !== null, opened.driver === 'postgres', 'COPY is used exactly when the driver is postgres.js');
    const first = resultRows<{ id: number; text: string | null; score: number }>(
      await tx.execute(sql`with t as (${await batchRows(tx, 'copy_test_stage', COLUMNS, rows)}) select t.id::int as id, t.text, t.score::float8 as score from t`),
    );
    // A second batch in the same transaction sees only its own rows (the first's were taken out as read).
    const second = resultRows<{ n: number }>(
      await tx.execute(sql`with t as (${await batchRows(tx, 'copy_test_stage', COLUMNS, rows.slice(0, 2))}) select count(*)::int as n from t`),
    );
    return { first, second: Number(second[0]!.n) };
  });
  assert.deepEqual(
    read.first.map((r) => ({ id: Number(r.id), text: r.text, score: Number(r.score) })),
    rows,
  );
  assert.equal(read.second, 2);
});

test('a COPY that fails aborts its transaction and says so; the connection serves the next request', async (t) => {
  if (opened.driver !== 'postgres') return t.skip('COPY is PostgreSQL only');
  await assert.rejects(
    opened.db.transaction(async (tx) => {
      await batchRows(tx, 'copy_fail_stage', COLUMNS, []);
      // A row with a field too many: PostgreSQL finds it after the data is sent (postgres.js drops that error).
      await copyIn(postgresJsTx(tx)!, 'copy_fail_stage', ['id', 'text', 'score'], '1\tx\t0.5\textra\n');
      try {
        await tx.execute(sql`select count(*) from copy_fail_stage`);
      } catch (err) {
        throw batchFailure(err, 'the test batch');
      }
    }),
    /COPY of the test batch into its staging table failed; nothing was written/,
  );
  const [ok] = resultRows<{ one: number }>(await opened.db.execute(sql`select 1 as one`));
  assert.equal(Number(ok!.one), 1);
});
