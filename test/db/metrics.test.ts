// The domain's metric families (db/metrics.ts) on planted rows in an in-memory PGlite: each family's values
// are the counts and quantiles of what was planted, with labels only from bounded sets.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { openDb, type OpenedDb } from '../../db/index';
import { registerDomainMetrics } from '../../db/metrics';
import { alerts, annotationBatches, annotationTasks, approvals, auditReports, gateResults, labels, models, runs } from '../../db/schema';

let opened: OpenedDb;
before(async () => {
  opened = await openDb({ pgliteDir: 'memory://' });
});
after(async () => {
  await opened?.close();
});

const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('the domain families count runs, gate decisions, the annotation backlog, label latency, alerts and audit findings', async () => {
  const { db } = opened;
  const registry = new Registry();
  registerDomainMetrics(registry, db);
  const empty = await registry.metrics();
  assert.equal(sample(empty, 'retrain_annotation_backlog_tasks{status="open"}'), 0);
  assert.equal(sample(empty, 'retrain_alerts{status="failed"}'), 0);
  assert.equal(sample(empty, 'retrain_annotation_labels_last_day'), 0);
  assert.doesNotMatch(empty, /^retrain_annotation_label_latency_seconds\{/m, 'no quantiles without labels');

  const [m] = await db.insert(models).values({ name: 'metrics-m', createdBy: 'test' }).returning();
  const modelId = m!.id;
  await db.insert(runs).values([
    { id: 'r1', modelId, trigger: 'manual', requestedBy: 't', status: 'promoted' },
    { id: 'r2', modelId, trigger: 'manual', requestedBy: 't', status: 'promoted' },
    { id: 'r3', modelId, trigger: 'drift', requestedBy: 't', status: 'awaiting_approval' },
    { id: 'r4', modelId, trigger: 'schedule', requestedBy: 't', status: 'failed' },
  ]);
  await db.insert(gateResults).values([
    { runId: 'r1', decision: 'approved', rules: [], reasons: [] },
    { runId: 'r2', decision: 'needs_approval', rules: [], reasons: [] },
    { runId: 'r3', decision: 'needs_approval', rules: [], reasons: [] },
    { runId: 'r4', decision: 'failed', rules: [], reasons: [] },
  ]);
  await db.insert(approvals).values({ runId: 'r2', decision: 'approved', approver: 'a', reason: 'fine' });
  await db.insert(annotationBatches).values({ id: 'b1', modelId, specVersion: 1, overlap: 1, goldShare: 0, deadline: new Date(), createdBy: 'test' });
  const tasks = await db
    .insert(annotationTasks)
    .values(
      (['open', 'open', 'open', 'adjudication', 'done', 'done', 'done', 'done', 'done', 'done'] as const).map((status, i) => ({
        batchId: 'b1',
        exampleId: i + 1,
        stratum: 's',
        inclusionProbability: 1,
        status,
      })),
    )
    .returning({ id: annotationTasks.id });
  // Five labels today (10..50 s: median 30, p90 46) and one two days ago that the window leaves out.
  await db.insert(labels).values([
    ...[10, 20, 30, 40, 50].map((s, i) => ({ taskId: tasks[4 + i]!.id, annotator: 'ann', label: 1, specVersion: 1, secondsToLabel: s })),
    { taskId: tasks[9]!.id, annotator: 'ann', label: 0, specVersion: 1, secondsToLabel: 5000, createdAt: new Date(Date.now() - 2 * 86_400_000) },
  ]);
  await db.insert(alerts).values([
    { alertKey: 'k1', modelId, kind: 'drift', severity: 'warn', summary: 's', status: 'delivered' },
    { alertKey: 'k2', modelId, kind: 'drift', severity: 'warn', summary: 's', status: 'delivered' },
    { alertKey: 'k3', modelId, kind: 'bias_reaudit', severity: 'warn', summary: 's', status: 'failed' },
  ]);
  const report = (workflowId: string, kind: 'bias_reaudit' | 'drift_monitor', alert: number) => ({
    workflowId,
    kind,
    modelId,
    versionId: 1,
    windowFrom: new Date(),
    windowTo: new Date(),
    alert,
    report: {},
    contentHash: workflowId,
  });
  await db.insert(auditReports).values([report('w1', 'bias_reaudit', 1), report('w2', 'bias_reaudit', 0), report('w3', 'bias_reaudit', 0), report('w4', 'drift_monitor', 1)]);

  const text = await registry.metrics();
  assert.equal(sample(text, 'retrain_runs{status="promoted",trigger="manual"}'), 2);
  assert.equal(sample(text, 'retrain_runs{status="awaiting_approval",trigger="drift"}'), 1);
  assert.equal(sample(text, 'retrain_runs{status="failed",trigger="schedule"}'), 1);
  assert.equal(sample(text, 'retrain_gate_decisions{stage="gate",outcome="needs_approval"}'), 2);
  assert.equal(sample(text, 'retrain_gate_decisions{stage="gate",outcome="approved"}'), 1);
  assert.equal(sample(text, 'retrain_gate_decisions{stage="gate",outcome="failed"}'), 1);
  assert.equal(sample(text, 'retrain_gate_decisions{stage="approval",outcome="approved"}'), 1);
  assert.equal(sample(text, 'retrain_annotation_backlog_tasks{status="open"}'), 3);
  assert.equal(sample(text, 'retrain_annotation_backlog_tasks{status="adjudication"}'), 1);
  assert.equal(sample(text, 'retrain_annotation_label_latency_seconds{quantile="0.5"}'), 30);
  assert.equal(sample(text, 'retrain_annotation_label_latency_seconds{quantile="0.9"}'), 46);
  assert.equal(sample(text, 'retrain_annotation_labels_last_day'), 5);
  assert.equal(sample(text, 'retrain_alerts{status="delivered"}'), 2);
  assert.equal(sample(text, 'retrain_alerts{status="failed"}'), 1);
  assert.equal(sample(text, 'retrain_alerts{status="pending"}'), 0);
  assert.equal(sample(text, 'retrain_audit_reports{kind="bias_reaudit",outcome="alerted"}'), 1);
  assert.equal(sample(text, 'retrain_audit_reports{kind="bias_reaudit",outcome="quiet"}'), 2);
  assert.equal(sample(text, 'retrain_audit_reports{kind="drift_monitor",outcome="alerted"}'), 1);
});
