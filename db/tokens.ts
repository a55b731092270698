// API tokens: only a token's SHA-256 is stored; the token itself is shown once, when it is issued.
import { createHash, randomBytes } from 'node:crypto';
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Db } from './index';
import { apiTokens, type Role } from './schema';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Creates a token and stores only its hash; the token itself is returned once. Used by the API and the CLI. */
export async function issueToken(db: Db, input: { subject: string; role: Role; createdBy: string }) {
  const token = `rt_${randomBytes(24).toString('base64url')}`;
  const [row] = await db
    .insert(apiTokens)
    .values({ subject: input.subject, role: input.role, tokenHash: hashToken(token), createdBy: input.createdBy })
    .returning({ id: apiTokens.id });
  if (!row) throw new Error('token insert returned nothing');
  return { id: row.id, subject: input.subject, role: input.role, token };
}

/** A fresh deployment has no tokens: issue the first admin token, once. Returns null when one exists. */
export async function ensureAdminToken(db: Db): Promise<string | null> {
  const [existing] = await db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(and(eq(apiTokens.role, 'admin'), isNull(apiTokens.revokedAt)))
    .limit(1);
  if (existing) return null;
  return (await issueToken(db, { subject: 'admin', role: 'admin', createdBy: 'bootstrap' })).token;
}

/** The active (not revoked) token with this secret, or undefined. */
export async function activeTokenBySecret(db: Db, token: string) {
  const [row] = await db
    .select()
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, hashToken(token)), isNull(apiTokens.revokedAt)))
    .limit(1);
  return row;
}

export function listActiveTokens(db: Db) {
  return db
    .select({ id: apiTokens.id, subject: apiTokens.subject, role: apiTokens.role, createdBy: apiTokens.createdBy, createdAt: apiTokens.createdAt })
    .from(apiTokens)
    .where(isNull(apiTokens.revokedAt))
    .orderBy(asc(apiTokens.id));
}

/** Revokes an active token; false when no active token has that id. */
export async function revokeToken(db: Db, id: number): Promise<boolean> {
  const rows = await db
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.id });
  return rows.length > 0;
}
