// Gate results (the judgement and the approval packet of a run) and the human approvals of gates.
import { desc, eq } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { approvals, gateResults, models, runs } from './schema';

/** A run's stored gate result with its packet; undefined before the run was evaluated. */
export async function gateResultOf(db: DbOrTx, runId: string) {
  const [row] = await db.select().from(gateResults).where(eq(gateResults.runId, runId));
  return row;
}

/** The human decision on a run's gate; undefined while nobody has decided. */
export async function approvalOf(db: DbOrTx, runId: string) {
  const [row] = await db.select().from(approvals).where(eq(approvals.runId, runId));
  return row;
}

/** Runs waiting for a human at their gate, oldest first, with their model's name and gate result. */
export async function runsAwaitingApproval(db: DbOrTx) {
  const rows = await db
    .select({ run: runs, model: models.name, gate: gateResults })
    .from(runs)
    .innerJoin(models, eq(models.id, runs.modelId))
    .leftJoin(gateResults, eq(gateResults.runId, runs.id))
    .where(eq(runs.status, 'awaiting_approval'))
    .orderBy(desc(runs.startedAt));
  return rows.reverse();
}
