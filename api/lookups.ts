// Lookups every router needs, in one home: each turns "not there" into a NOT_FOUND that names what
// was not found and what to do.
import { lookup } from 'node:dns/promises';
import { TRPCError } from '@trpc/server';
import { checkWebhookDestination, type DestinationVerdict, type Resolver } from '../analysis/webhookDestinations';
import { findModelByName } from '../db/models';
import { findRunById } from '../db/runs';
import type { Db } from '../db/index';
import { listWebhookDestinations } from '../db/webhooks';
import { statusQuery, type RunStatusView } from '../workflows/messages';
import type { Context } from './trpc';

export async function requireModel(db: Db, name: string) {
  const model = await findModelByName(db, name);
  if (!model) throw new TRPCError({ code: 'NOT_FOUND', message: `model '${name}' not found; register it with models.register` });
  return model;
}

export async function requireRun(db: Db, id: string) {
  const row = await findRunById(db, id);
  if (!row) throw new TRPCError({ code: 'NOT_FOUND', message: `run '${id}' not found` });
  return row;
}

/** How long a read waits for a workflow to answer a query: with no worker polling, Temporal holds it until the deadline. */
const LIVE_QUERY_MS = 5000;

/** Live state from the workflow itself while it runs; null when it has finished or cannot be reached in time. */
export async function liveStatus(ctx: Context, id: string): Promise<RunStatusView | null> {
  const query = () => ctx.temporal.workflow.getHandle(id).query(statusQuery);
  // The test stub has no connection; the real client bounds the call with a gRPC deadline.
  const connection = (ctx.temporal as Partial<Context['temporal']>).connection;
  try {
    return await (connection ? connection.withDeadline(Date.now() + LIVE_QUERY_MS, query) : query());
  } catch {
    return null;
  }
}

/** Every address a host name has, as the system resolver (and so a connection) sees them. */
const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** A webhook URL judged against the rule and the admin's allowlist, resolving its host now. */
export async function webhookDestinationVerdict(db: Db, url: string): Promise<DestinationVerdict> {
  return checkWebhookDestination(url, await listWebhookDestinations(db), { resolve: systemResolver });
}
