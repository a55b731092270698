// Stored reports of a run: evaluation reports (one per version it evaluated) and the saturation report.
import { asc, eq } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { evalReports, modelVersions, saturationReports } from './schema';

/** A run's evaluation reports (candidate, champion) with the version each evaluated, in the order stored; summaries left out. */
export function evalReportsOfRun(db: DbOrTx, runId: string) {
  return db
    .select({
      reportId: evalReports.id,
      role: evalReports.role,
      version: modelVersions.version,
      contentHash: evalReports.contentHash,
      snapshotId: evalReports.snapshotId,
      createdAt: evalReports.createdAt,
    })
    .from(evalReports)
    .innerJoin(modelVersions, eq(modelVersions.id, evalReports.versionId))
    .where(eq(evalReports.runId, runId))
    .orderBy(asc(evalReports.id));
}

/** A run's saturation report; undefined when it ran without a check or has not reached it. */
export async function saturationReportOf(db: DbOrTx, runId: string) {
  const [row] = await db.select().from(saturationReports).where(eq(saturationReports.runId, runId));
  return row;
}
