// Four eyes as the API checks it before asking a workflow (whose validator checks again): the issuance
// chains of the requesting and the deciding tokens, under workflows/messages fourEyesRefusal.
import { TRPCError } from '@trpc/server';
import { issuanceChainOf } from '../db/tokens';
import { bareChain, fourEyesRefusal, type IssuanceChain } from '../workflows/messages';
import type { Context } from './trpc';

/**
 * The issuance chain of a token (db/tokens issuanceChainOf); the subject alone for a run recorded before
 * its token was (or an identity with no token row, as only tests make). A failed lookup fails the call.
 */
export async function chainOf(ctx: Context, tokenId: number | null, subject: string): Promise<IssuanceChain> {
  return (tokenId === null ? null : await issuanceChainOf(ctx.db, tokenId)) ?? bareChain(subject);
}

/** Throws FORBIDDEN, saying why, when the caller may not decide on (or promote) this run; returns the caller's chain. */
export async function requireFourEyes(
  ctx: Context & { identity: NonNullable<Context['identity']> },
  run: { id: string; requestedBy: string; requestedByTokenId: number | null },
): Promise<IssuanceChain> {
  const caller = await chainOf(ctx, ctx.identity.tokenId, ctx.identity.subject);
  const refusal = fourEyesRefusal(await chainOf(ctx, run.requestedByTokenId, run.requestedBy), caller);
  if (refusal) throw new TRPCError({ code: 'FORBIDDEN', message: `run ${run.id}: ${refusal}` });
  return caller;
}
