// Stored audit reports (bias re-audits, drift monitors) and the alerts they raised, as the API reads
// them; the schedules themselves live in Temporal (api/routers/audits).
import { and, desc, eq } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { alerts, auditReports, models, modelVersions, type AlertKind, type AlertStatus, type AuditKind } from './schema';

const reportColumns = { report: auditReports, version: modelVersions.version };

/** A model's audit reports with their version numbers, latest window first. */
export async function auditReportsOf(db: DbOrTx, modelId: number, filter: { kind?: AuditKind; auditId?: string; alertsOnly: boolean; limit: number }) {
  return db
    .select(reportColumns)
    .from(auditReports)
    .leftJoin(modelVersions, eq(modelVersions.id, auditReports.versionId))
    .where(
      and(
        eq(auditReports.modelId, modelId),
        filter.kind ? eq(auditReports.kind, filter.kind) : undefined,
        filter.auditId ? eq(auditReports.scheduleId, filter.auditId) : undefined,
        filter.alertsOnly ? eq(auditReports.alert, 1) : undefined,
      ),
    )
    .orderBy(desc(auditReports.windowTo), desc(auditReports.id))
    .limit(filter.limit);
}

/** One audit report with its model's name and its version number. */
export async function auditReportById(db: DbOrTx, reportId: number) {
  const [row] = await db
    .select({ ...reportColumns, model: models.name })
    .from(auditReports)
    .innerJoin(models, eq(models.id, auditReports.modelId))
    .leftJoin(modelVersions, eq(modelVersions.id, auditReports.versionId))
    .where(eq(auditReports.id, reportId));
  return row;
}

/** A model's recorded alerts, newest first. */
export async function alertsOf(db: DbOrTx, modelId: number, filter: { kind?: AlertKind; status?: AlertStatus; limit: number }) {
  return db
    .select()
    .from(alerts)
    .where(and(eq(alerts.modelId, modelId), filter.kind ? eq(alerts.kind, filter.kind) : undefined, filter.status ? eq(alerts.status, filter.status) : undefined))
    .orderBy(desc(alerts.createdAt), desc(alerts.id))
    .limit(filter.limit);
}
