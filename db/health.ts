// What readiness asks of the database: that it answers, and which migrations drizzle has applied.
import { sql } from 'drizzle-orm';
import type { Db } from './index';
import { resultRows } from './queries';

/** A trivial round trip: throws when the database does not answer. */
export async function pingDatabase(db: Db): Promise<void> {
  await db.execute(sql`select 1`);
}

/** Migrations drizzle recorded in drizzle.__drizzle_migrations: how many, and the newest one's journal `when`. */
export async function appliedMigrations(db: Db): Promise<{ count: number; lastWhen: number | null }> {
  const result = await db.execute(sql`select count(*)::int as n, max(created_at)::text as last from drizzle.__drizzle_migrations`);
  const row = resultRows<{ n: number; last: string | null }>(result)[0];
  return { count: Number(row?.n ?? 0), lastWhen: row?.last == null ? null : Number(row.last) };
}
