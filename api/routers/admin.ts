import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { listAuditLog } from '../../db/auditLog';
import { issueToken, listActiveTokens, revokeToken } from '../../db/tokens';
import { jsonObject, positiveInt, role, subject, timestamp } from '../schemas';
import { roleProcedure, router } from '../trpc';

/** What an entry records differs by action (a procedure's redacted input, a route change's versions): JSON, keyed. */
const auditDetailsOutput = jsonObject;

export const adminRouter = router({
  createToken: roleProcedure('admin')
    .meta({ openapi: { method: 'POST', path: '/admin/tokens', tags: ['admin'], summary: 'Create an API token (shown once)' } })
    .input(z.strictObject({ subject, role }))
    .output(z.object({ id: z.number().int(), subject: z.string(), role: role, token: z.string(), issuedByTokenId: z.number().int() }))
    // The subject is stored canonical (lower case: 'Operator1' is 'operator1'), and the token records the
    // token that issued it: four eyes follows these chains (workflows/messages fourEyesRefusal).
    .mutation(async ({ ctx, input }) => ({
      ...(await issueToken(ctx.db, { ...input, createdBy: ctx.identity.subject, issuedByTokenId: ctx.identity.tokenId })),
      issuedByTokenId: ctx.identity.tokenId,
    })),

  listTokens: roleProcedure('admin')
    .meta({ openapi: { method: 'GET', path: '/admin/tokens', tags: ['admin'], summary: 'List active tokens (never the secrets)' } })
    .input(z.strictObject({}).optional())
    .output(z.array(z.object({ id: z.number().int(), subject: z.string(), role: role, createdBy: z.string(), issuedByTokenId: z.number().int().nullable(), createdAt: timestamp })))
    .query(({ ctx }) => listActiveTokens(ctx.db)),

  revokeToken: roleProcedure('admin')
    .meta({ openapi: { method: 'DELETE', path: '/admin/tokens/{id}', tags: ['admin'], summary: 'Revoke a token' } })
    .input(z.strictObject({ id: positiveInt() }))
    .output(z.object({ id: z.number().int(), revoked: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      // Revoking the token the request is made with would lock its admin out mid-session (a fuzzer that read
      // the id from listTokens did): another admin's token does it.
      if (input.id === ctx.identity.tokenId) throw new TRPCError({ code: 'CONFLICT', message: `token ${input.id} is the one this request is made with: revoke it with another admin token` });
      if (!(await revokeToken(ctx.db, input.id))) throw new TRPCError({ code: 'NOT_FOUND', message: `active token ${input.id} not found` });
      return { id: input.id, revoked: true };
    }),

  auditLog: roleProcedure('admin')
    .meta({ openapi: { method: 'GET', path: '/admin/audit-log', tags: ['admin'], summary: 'Audit log, newest first' } })
    .input(
      z
        .strictObject({ target: z.string().max(200).optional(), limit: positiveInt(1000).default(100) })
        .default({ limit: 100 }),
    )
    .output(z.array(z.object({ id: z.number().int(), actor: z.string(), action: z.string(), target: z.string(), details: auditDetailsOutput, createdAt: timestamp })))
    .query(({ ctx, input }) => listAuditLog(ctx.db, input)),
});
