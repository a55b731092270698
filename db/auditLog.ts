// The audit log: append-only (the database refuses updates and deletes), one row per mutation.
import { desc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { prepared } from './prepared';
import { auditLog } from './schema';

/** A JSON value, as jsonb stores it. */
export type { Json } from './schema';
import type { Json } from './schema';

export interface AuditEntry {
  actor: string;
  action: string;
  target: string;
  details?: Record<string, unknown>;
}

export async function writeAudit(db: DbOrTx, entry: AuditEntry): Promise<void> {
  const query = prepared(db, 'writeAudit', () =>
    db
      .insert(auditLog)
      .values({ actor: sql.placeholder('actor'), action: sql.placeholder('action'), target: sql.placeholder('target'), details: sql.placeholder('details') })
      .prepare('writeAudit'),
  );
  await query.execute({ actor: entry.actor, action: entry.action, target: entry.target, details: entry.details ?? {} });
}

/** Entries newest first, optionally only those about one target. */
export async function listAuditLog(db: DbOrTx, opts: { target?: string | undefined; limit: number }) {
  const rows = await db
    .select()
    .from(auditLog)
    .where(opts.target ? eq(auditLog.target, opts.target) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(opts.limit);
  // writeAudit stores an object, and jsonb holds only JSON; the column's type cannot say so.
  return rows.map((r) => ({ ...r, details: r.details as Record<string, Json> }));
}
