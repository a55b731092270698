// Retraining runs as the database records them (the workflow is the live state; this is the record).
import { and, desc, eq } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { modelVersions, models, runs, type RunStatus } from './schema';

const runWithNames = { run: runs, model: models.name, candidateVersion: modelVersions.version };

/** A run with its model's name and its candidate's version number. */
export async function findRunById(db: DbOrTx, id: string) {
  const [row] = await db
    .select(runWithNames)
    .from(runs)
    .innerJoin(models, eq(models.id, runs.modelId))
    .leftJoin(modelVersions, eq(modelVersions.id, runs.candidateVersionId))
    .where(eq(runs.id, id))
    .limit(1);
  return row;
}

export type RunRow = NonNullable<Awaited<ReturnType<typeof findRunById>>>;

/** Runs newest first, optionally of one model or in one status. */
export function listRuns(db: DbOrTx, opts: { model?: string | undefined; status?: RunStatus | undefined; trigger?: string | undefined; limit: number }): Promise<RunRow[]> {
  const filters = [];
  if (opts.model) filters.push(eq(models.name, opts.model));
  if (opts.status) filters.push(eq(runs.status, opts.status));
  if (opts.trigger) filters.push(eq(runs.trigger, opts.trigger));
  return db
    .select(runWithNames)
    .from(runs)
    .innerJoin(models, eq(models.id, runs.modelId))
    .leftJoin(modelVersions, eq(modelVersions.id, runs.candidateVersionId))
    .where(filters.length ? and(...filters) : undefined)
    .orderBy(desc(runs.startedAt))
    .limit(opts.limit);
}

/** Records a run about to be started, queued, with the input its workflow gets. */
export async function insertQueuedRun(
  db: DbOrTx,
  run: { id: string; modelId: number; trigger: string; requestedBy: string; requestedByTokenId?: number | null; params: Record<string, unknown> },
): Promise<void> {
  await db.insert(runs).values({ ...run, status: 'running', step: 'queued' });
}

/** Marks a run failed that Temporal never accepted, so its row does not claim a run that does not exist. */
export async function markRunNotStarted(db: DbOrTx, id: string, reason: string): Promise<void> {
  await db.update(runs).set({ status: 'failed', step: 'done', finishedAt: new Date(), result: { reason } }).where(eq(runs.id, id));
}
