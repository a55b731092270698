// API tokens: only a token's SHA-256 is stored; the token itself is shown once, when it is issued.
import { createHash, randomBytes } from 'node:crypto';
import { and, asc, eq, isNull, ne, sql } from 'drizzle-orm';
import { writeAudit } from './auditLog';
import type { Db, DbOrTx } from './index';
import { prepared } from './prepared';
import { apiTokens, type Role } from './schema';

/**
 * The one form a subject is stored and compared in: Unicode NFKC, lower case, trimmed ('Operator1' and
 * 'operator1' are one identity). The same function as workflows/messages canonicalSubject (db/ imports
 * nothing; test/api/fourEyes.test.ts holds the two equal).
 */
export function canonicalSubject(subject: string): string {
  return subject.normalize('NFKC').toLowerCase().normalize('NFKC').trim();
}

/** Refuses a subject that is empty or carries control or format characters once canonical; returns the canonical form. */
export function requireCanonicalSubject(subject: string): string {
  const canonical = canonicalSubject(subject);
  if (canonical.length === 0) throw new Error('a token subject may not be empty');
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(canonical)) throw new Error(`token subject ${JSON.stringify(subject)} contains control or format characters`);
  return canonical;
}

/** Issuers that are roots of trust: tokens made with database access (the first admin token, `retrain tokens create`). */
export const ROOT_ISSUERS: readonly string[] = ['bootstrap', 'cli'];

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Creates a token and stores only its hash; the token itself is returned once. Used by the API and the CLI. */
export async function issueToken(db: Db, input: { subject: string; role: Role; createdBy: string; issuedByTokenId?: number | null }) {
  const subject = requireCanonicalSubject(input.subject);
  const token = `rt_${randomBytes(24).toString('base64url')}`;
  const [row] = await db
    .insert(apiTokens)
    .values({ subject, role: input.role, tokenHash: hashToken(token), createdBy: input.createdBy, issuedByTokenId: input.issuedByTokenId ?? null })
    .returning({ id: apiTokens.id });
  if (!row) throw new Error('token insert returned nothing');
  return { id: row.id, subject, role: input.role, token };
}

/**
 * Who controls a token (workflows/messages IssuanceChain): its subject, the subjects of the tokens that
 * issued it through the API (revoked ones too: revoking does not undo who minted what), and the root of
 * trust above them. A token from before issuers were recorded names its creator's subject as its root.
 * Null when there is no token with that id.
 */
export async function issuanceChainOf(db: DbOrTx, tokenId: number): Promise<{ subject: string; issuers: string[]; root: string | null } | null> {
  const load = async (id: number) => {
    const [row] = await db
      .select({ id: apiTokens.id, subject: apiTokens.subject, createdBy: apiTokens.createdBy, issuedByTokenId: apiTokens.issuedByTokenId })
      .from(apiTokens)
      .where(eq(apiTokens.id, id));
    return row;
  };
  const token = await load(tokenId);
  if (!token) return null;
  const subject = canonicalSubject(token.subject);
  const issuers: string[] = [];
  let current = token;
  const seen = new Set([token.id]);
  while (current.issuedByTokenId !== null) {
    if (seen.has(current.issuedByTokenId)) throw new Error(`api token ${tokenId}: issuance chain has a cycle`);
    seen.add(current.issuedByTokenId);
    const issuer = await load(current.issuedByTokenId);
    // Unreachable while the foreign key holds: an issuer is never deleted.
    if (!issuer) throw new Error(`api token ${tokenId}: issuing token ${current.issuedByTokenId} not found`);
    if (issuer.issuedByTokenId === null) return { subject, issuers, root: canonicalSubject(issuer.subject) };
    issuers.push(canonicalSubject(issuer.subject));
    current = issuer;
  }
  // The token is a root itself, or was issued before issuers were recorded (then its creator is above it).
  const creator = canonicalSubject(token.createdBy);
  return { subject, issuers, root: ROOT_ISSUERS.includes(token.createdBy) || creator === subject ? null : creator };
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

/** The active (not revoked) token with this secret, or undefined. Asked of the database on every call (every API request): a revocation holds from the next request on. */
export async function activeTokenBySecret(db: DbOrTx, token: string) {
  const query = prepared(db, 'activeTokenBySecret', () =>
    db
      .select()
      .from(apiTokens)
      .where(and(eq(apiTokens.tokenHash, sql.placeholder('hash')), isNull(apiTokens.revokedAt)))
      .limit(1)
      .prepare('activeTokenBySecret'),
  );
  const [row] = await query.execute({ hash: hashToken(token) });
  return row;
}

export function listActiveTokens(db: Db) {
  return db
    .select({ id: apiTokens.id, subject: apiTokens.subject, role: apiTokens.role, createdBy: apiTokens.createdBy, issuedByTokenId: apiTokens.issuedByTokenId, createdAt: apiTokens.createdAt })
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

/**
 * RETRAIN_ADMIN_TOKEN: makes sure an active admin token with exactly this secret exists for subject
 * 'admin' (issued with only its hash stored when absent). Never returns or logs the secret. Throws when
 * the secret belongs to a revoked token or to another subject or role (a configured secret is not
 * silently given other powers, nor a revoked one brought back).
 */
export async function ensureConfiguredAdminToken(db: Db, token: string): Promise<'present' | 'issued'> {
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.tokenHash, hashToken(token))).limit(1);
  if (row) {
    if (row.revokedAt !== null) throw new Error('RETRAIN_ADMIN_TOKEN is a revoked token: set a new secret (revoked tokens are never restored)');
    if (row.role !== 'admin' || canonicalSubject(row.subject) !== 'admin') {
      throw new Error(`RETRAIN_ADMIN_TOKEN is already the token of subject '${row.subject}' with role ${row.role}: set a new secret for the admin`);
    }
    return 'present';
  }
  await db.insert(apiTokens).values({ subject: 'admin', role: 'admin', tokenHash: hashToken(token), createdBy: 'bootstrap', issuedByTokenId: null });
  await writeAudit(db, { actor: 'bootstrap', action: 'tokens.adminFromEnvironment', target: 'token:admin', details: { source: 'RETRAIN_ADMIN_TOKEN' } });
  return 'issued';
}

/**
 * `retrain tokens recover-admin`: a new admin token for subject 'admin', written with database access
 * (a root of trust, like `tokens create`), recorded in the audit log; with revokeOthers, every other
 * active admin token is revoked. Returns the new token (the only secret this ever shows) and the ids revoked.
 */
export async function recoverAdminToken(db: Db, opts: { revokeOthers: boolean; actor: string }) {
  return db.transaction(async (tx) => {
    const subject = 'admin';
    const token = `rt_${randomBytes(24).toString('base64url')}`;
    const [row] = await tx
      .insert(apiTokens)
      .values({ subject, role: 'admin', tokenHash: hashToken(token), createdBy: 'cli', issuedByTokenId: null })
      .returning({ id: apiTokens.id });
    if (!row) throw new Error('token insert returned nothing');
    const revoked = opts.revokeOthers
      ? (
          await tx
            .update(apiTokens)
            .set({ revokedAt: new Date() })
            .where(and(eq(apiTokens.role, 'admin'), isNull(apiTokens.revokedAt), ne(apiTokens.id, row.id)))
            .returning({ id: apiTokens.id })
        ).map((r) => r.id)
      : [];
    await writeAudit(tx, { actor: opts.actor, action: 'tokens.recoverAdmin', target: `token:${row.id}`, details: { subject, revokedTokenIds: revoked } });
    return { id: row.id, subject, token, revoked };
  });
}
