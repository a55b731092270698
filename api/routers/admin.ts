import { randomBytes } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { and, asc, desc, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/index';
import { apiTokens, auditLog, type Role } from '../../db/schema';
import { positiveInt, role, subject } from '../schemas';
import { hashToken, roleProcedure, router } from '../trpc';

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

export const adminRouter = router({
  createToken: roleProcedure('admin')
    .meta({ openapi: { method: 'POST', path: '/admin/tokens', tags: ['admin'], summary: 'Create an API token (shown once)' } })
    .input(z.strictObject({ subject, role }))
    .output(z.object({ id: z.number(), subject: z.string(), role: role, token: z.string() }))
    .mutation(({ ctx, input }) => issueToken(ctx.db, { ...input, createdBy: ctx.identity.subject })),

  listTokens: roleProcedure('admin')
    .meta({ openapi: { method: 'GET', path: '/admin/tokens', tags: ['admin'], summary: 'List active tokens (never the secrets)' } })
    .input(z.strictObject({}).optional())
    .output(z.array(z.object({ id: z.number(), subject: z.string(), role: role, createdBy: z.string(), createdAt: z.date() })))
    .query(({ ctx }) =>
      ctx.db
        .select({ id: apiTokens.id, subject: apiTokens.subject, role: apiTokens.role, createdBy: apiTokens.createdBy, createdAt: apiTokens.createdAt })
        .from(apiTokens)
        .where(isNull(apiTokens.revokedAt))
        .orderBy(asc(apiTokens.id)),
    ),

  revokeToken: roleProcedure('admin')
    .meta({ openapi: { method: 'DELETE', path: '/admin/tokens/{id}', tags: ['admin'], summary: 'Revoke a token' } })
    .input(z.strictObject({ id: positiveInt() }))
    .output(z.object({ id: z.number(), revoked: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const rows = await ctx.db
        .update(apiTokens)
        .set({ revokedAt: new Date() })
        .where(and(eq(apiTokens.id, input.id), isNull(apiTokens.revokedAt)))
        .returning({ id: apiTokens.id });
      if (rows.length === 0) throw new TRPCError({ code: 'NOT_FOUND', message: `active token ${input.id} not found` });
      return { id: input.id, revoked: true };
    }),

  auditLog: roleProcedure('admin')
    .meta({ openapi: { method: 'GET', path: '/admin/audit-log', tags: ['admin'], summary: 'Audit log, newest first' } })
    .input(
      z
        .strictObject({ target: z.string().max(200).optional(), limit: positiveInt(1000).default(100) })
        .default({ limit: 100 }),
    )
    .output(z.array(z.object({ id: z.number(), actor: z.string(), action: z.string(), target: z.string(), details: z.unknown(), createdAt: z.date() })))
    .query(({ ctx, input }) =>
      ctx.db
        .select()
        .from(auditLog)
        .where(input.target ? eq(auditLog.target, input.target) : undefined)
        .orderBy(desc(auditLog.id))
        .limit(input.limit),
    ),
});
