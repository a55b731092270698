// The webhook destination allowlist an admin keeps (analysis/webhookDestinations.ts holds the rule that
// reads it). Hosts arrive canonical (parseDestinationHost), so one destination is one row.
import { asc, eq } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { webhookDestinations } from './schema';

export type WebhookDestination = typeof webhookDestinations.$inferSelect;

export function listWebhookDestinations(db: DbOrTx): Promise<WebhookDestination[]> {
  return db.select().from(webhookDestinations).orderBy(asc(webhookDestinations.host), asc(webhookDestinations.port));
}

/** Adds an entry (a canonical host; port 0 = any); null when it is listed already. */
export async function addWebhookDestination(
  db: DbOrTx,
  entry: { host: string; port?: number | null; note?: string | null; createdBy: string },
): Promise<WebhookDestination | null> {
  const [row] = await db
    .insert(webhookDestinations)
    .values({ host: entry.host, port: entry.port ?? 0, note: entry.note ?? null, createdBy: entry.createdBy })
    .onConflictDoNothing({ target: [webhookDestinations.host, webhookDestinations.port] })
    .returning();
  return row ?? null;
}

/** Removes an entry; the removed row, or null when there was none. */
export async function removeWebhookDestination(db: DbOrTx, id: number): Promise<WebhookDestination | null> {
  const [row] = await db.delete(webhookDestinations).where(eq(webhookDestinations.id, id)).returning();
  return row ?? null;
}
