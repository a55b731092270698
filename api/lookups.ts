// Lookups every router needs, in one home: each turns "not there" into a NOT_FOUND that names what
// was not found and what to do.
import { TRPCError } from '@trpc/server';
import { findModelByName } from '../db/models';
import { findRunById } from '../db/runs';
import type { Db } from '../db/index';
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

/** Live state from the workflow itself while it runs; null when it has finished or cannot be reached. */
export async function liveStatus(ctx: Context, id: string): Promise<RunStatusView | null> {
  try {
    return await ctx.temporal.workflow.getHandle(id).query(statusQuery);
  } catch {
    return null;
  }
}
