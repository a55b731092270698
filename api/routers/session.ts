// Who the caller is, and what their token lets them do: what the console shows on every page and uses
// to offer only what the role may do (the server still refuses the rest).
import { z } from 'zod';
import { ROLES } from '../../db/schema';
import { gateResultOf } from '../../db/gates';
import { fourEyesRefusal, roleAllows } from '../../workflows/messages';
import { chainOf } from '../fourEyes';
import { requireRun } from '../lookups';
import { runId } from '../schemas';
import { authedProcedure, router } from '../trpc';

const role = z.enum(ROLES);

export const sessionRouter = router({
  whoami: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/session', tags: ['session'], summary: "The caller's subject and role, and every role it may act as" } })
    .input(z.strictObject({}).optional())
    .output(
      z.object({
        subject: z.string(),
        role,
        actsAs: z.array(role),
        /** Where a run's workflow can be seen in Temporal's web UI: `${temporalUiUrl}/namespaces/${namespace}/workflows/${runId}`; null when none is configured. */
        temporal: z.object({ namespace: z.string(), uiUrl: z.string().nullable() }),
      }),
    )
    .query(({ ctx }) => ({
      subject: ctx.identity.subject,
      role: ctx.identity.role,
      actsAs: ROLES.filter((r) => roleAllows(ctx.identity.role, r)),
      temporal: { namespace: ctx.namespace, uiUrl: ctx.temporalUiUrl ?? null },
    })),

  /**
   * Whether the caller may decide this run's gate now, and if not, why: the same checks gates.approve
   * makes before asking the workflow (role, four eyes, status), so a page can say why before a click.
   */
  gateEligibility: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/session/gate-eligibility/{runId}', tags: ['session'], summary: 'Whether the caller may decide a run’s gate, and why not' } })
    .input(z.strictObject({ runId }))
    .output(z.object({ allowed: z.boolean(), reason: z.string().nullable(), packetHash: z.string().nullable() }))
    .query(async ({ ctx, input }) => {
      const { run } = await requireRun(ctx.db, input.runId);
      const gate = await gateResultOf(ctx.db, input.runId);
      const packetHash = gate?.packetHash ?? null;
      if (!roleAllows(ctx.identity.role, 'approver')) {
        return { allowed: false, reason: `${ctx.identity.subject} has role '${ctx.identity.role}'; deciding a gate needs 'approver'`, packetHash };
      }
      const refusal = fourEyesRefusal(await chainOf(ctx, run.requestedByTokenId, run.requestedBy), await chainOf(ctx, ctx.identity.tokenId, ctx.identity.subject));
      if (refusal) return { allowed: false, reason: refusal, packetHash };
      if (run.status !== 'awaiting_approval') return { allowed: false, reason: `run ${input.runId} is not waiting for a gate decision (status: ${run.status})`, packetHash };
      return { allowed: true, reason: null, packetHash };
    }),
});
