// The webhook destination allowlist: destinations an admin allows although they are not public (a
// private, loopback, link-local, unique-local or CGNAT address, or a name resolving to one). Public
// destinations need no entry. The rule itself (db/webhooks.ts) is applied by audits.create to every
// webhook URL and again by the alert activity at every delivery, so removing an entry stops deliveries
// to it from then on. Admins write; anyone who can read audits can read the list.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { parseDestinationHost } from '../../analysis/webhookDestinations';
import { webhookDestinationVerdict } from '../lookups';
import { addWebhookDestination, listWebhookDestinations, removeWebhookDestination, type WebhookDestination } from '../../db/webhooks';
import { positiveInt, timestamp } from '../schemas';
import { roleProcedure, router } from '../trpc';

const tags = ['webhooks'];

/** A host as an admin writes it: a DNS name, an IP address (IPv6 with or without brackets), or a CIDR range. */
const destinationHost = z
  .string()
  .trim()
  .min(1)
  .max(300)
  .superRefine((h, ctx) => {
    try {
      parseDestinationHost(h);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  });

const destinationOutput = z.object({
  id: z.number().int(),
  /** Canonical form: a lower-case name, an IP address, or a CIDR range. */
  host: z.string(),
  /** The one port allowed; null: any port. */
  port: z.number().int().nullable(),
  note: z.string().nullable(),
  createdBy: z.string(),
  createdAt: timestamp,
});

const toView = (d: WebhookDestination): z.infer<typeof destinationOutput> => ({
  id: d.id,
  host: d.host,
  port: d.port === 0 ? null : d.port,
  note: d.note,
  createdBy: d.createdBy,
  createdAt: d.createdAt,
});

export const webhooksRouter = router({
  destinations: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/webhooks/destinations', tags, summary: 'Non-public webhook destinations an admin allowed (public ones need no entry)' } })
    .input(z.strictObject({}).optional())
    .output(z.array(destinationOutput))
    .query(async ({ ctx }) => (await listWebhookDestinations(ctx.db)).map(toView)),

  allowDestination: roleProcedure('admin')
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks/destinations',
        tags,
        summary: 'Allow a non-public webhook destination: a host name, an IP address or a CIDR range, on one port or any (https recommended)',
      },
    })
    .input(
      z.strictObject({
        host: destinationHost,
        /** Only this port (default: any port). */
        port: z.number().int().min(1).max(65535).optional(),
        /** Why it is allowed, for the next admin. */
        note: z.string().trim().max(500).optional(),
      }),
    )
    .output(destinationOutput)
    .mutation(async ({ ctx, input }) => {
      // Stored canonical, so one destination is one row however it was spelt.
      const { host } = parseDestinationHost(input.host);
      const row = await addWebhookDestination(ctx.db, { host, port: input.port ?? 0, note: input.note ?? null, createdBy: ctx.identity.subject });
      if (!row) {
        throw new TRPCError({ code: 'CONFLICT', message: `webhook destination ${host}${input.port ? `:${input.port}` : ' (any port)'} is already allowed` });
      }
      return toView(row);
    }),

  removeDestination: roleProcedure('admin')
    .meta({ openapi: { method: 'DELETE', path: '/webhooks/destinations/{id}', tags, summary: 'Remove an allowed webhook destination (deliveries to it are refused from then on)' } })
    .input(z.strictObject({ id: positiveInt() }))
    .output(destinationOutput)
    .mutation(async ({ ctx, input }) => {
      const row = await removeWebhookDestination(ctx.db, input.id);
      if (!row) throw new TRPCError({ code: 'NOT_FOUND', message: `webhook destination ${input.id} not found` });
      return toView(row);
    }),

  check: roleProcedure('operator')
    .meta({ openapi: { method: 'GET', path: '/webhooks/check', tags, summary: 'Would a webhook URL be accepted now? Resolves its host and judges every address' } })
    .input(z.strictObject({ url: z.string().max(2000) }))
    .output(
      z.object({
        /** allowed: public or listed; refused: the reason says why; unresolved: the name has no address now (accepted by audits.create, checked again at each delivery). */
        verdict: z.enum(['allowed', 'refused', 'unresolved']),
        reason: z.string().nullable(),
        addresses: z.array(z.string()),
        listed: z.boolean(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const v = await webhookDestinationVerdict(ctx.db, input.url);
      return v.verdict === 'allowed'
        ? { verdict: v.verdict, reason: null, addresses: v.addresses.map((a) => a.address), listed: v.listed }
        : { verdict: v.verdict, reason: v.reason, addresses: [], listed: false };
    }),
});
