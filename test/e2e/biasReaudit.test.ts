// The bias re-audit through a real Temporal server: the production version is measured on a window of
// labelled traffic and compared with its pre-launch audit. A window in which ham from country-code
// domains is blocked far more often is detected, recorded and alerted (a local webhook receiver checks
// the HMAC signature); a clean window is recorded and not alerted.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { loadCorpus } from '../../demo/corpus';
import { startAlertReceiver } from '../../demo/secondAct';
import { alerts, auditReports, feedbackEvents, predictions, prelaunchAudits } from '../../db/schema';
import { BIAS_REAUDIT_WORKFLOW_TYPE, type BiasReauditInput, type BiasReauditResult } from '../../workflows/messages';
import { promotedModel, startTestEnv, uid, type TestEnv } from '../helpers';

const SECRET = `s-${uid()}`;
const SECRET_ENV = 'RETRAIN_WEBHOOK_SECRET_TEST_REAUDIT';
process.env[SECRET_ENV] = SECRET;

let env: TestEnv;
let model: string;
let modelId: number;
let versionId: number;
let receiver: Awaited<ReturnType<typeof startAlertReceiver>>;

before(async () => {
  env = await startTestEnv();
  ({ model, modelId, productionVersionId: versionId } = await promotedModel(env));
  // The team's webhook: it accepts only what carries a valid signature, and keeps everything it is sent.
  receiver = await startAlertReceiver(SECRET);
  // It listens on loopback, which alerts may reach only where an admin allowed it.
  await env.clients.admin.webhooks.allowDestination.mutate({ host: '127.0.0.1', port: Number(new URL(receiver.url).port), note: 'the test receiver' });
});
after(async () => {
  await receiver?.close();
  await env?.stop();
});

/**
 * Labelled traffic for a window ending at `end`: real mail (outside the training subset) with its slices,
 * every request labelled by an explicit correction; the served decision is the truth except that ham
 * from country-code senders is blocked with probability `ccHamBlocked`.
 */
async function window(end: Date, ccHamBlocked: number) {
  const db = env.services.opened.db;
  const tag = uid();
  const mail = loadCorpus().filter((_, i) => i % 5 === 3).slice(0, 900);
  let k = 0;
  const rows = mail.map((e) => {
    const cc = e.slices.sender_tld === 'country_code';
    const blockedHam = e.label === 0 && cc && (k++ % 100) / 100 < ccHamBlocked;
    return {
      modelId,
      versionId,
      requestId: `w-${tag}-${e.externalId}`,
      score: 0.5,
      decision: blockedHam ? 1 : e.label,
      attributes: { ...e.slices } as Record<string, string>,
      occurredAt: new Date(end.getTime() - 3_600_000),
      loggedBy: 'test',
    };
  });
  await db.insert(predictions).values(rows);
  await db.insert(feedbackEvents).values(
    rows.map((r, i) => ({ modelId, versionId, idempotencyKey: `${r.requestId}:c`, requestId: r.requestId, kind: 'correction' as const, value: { correctedLabel: mail[i]!.label }, occurredAt: r.occurredAt, ingestedBy: 'test' })),
  );
}

async function reaudit(end: Date, proposeRollback = false): Promise<BiasReauditResult> {
  const input: BiasReauditInput = {
    modelId,
    model,
    scheduleId: null,
    windowDays: 1,
    windowEnd: end.toISOString(),
    policy: { maxFprIncrease: 0.05, maxFairnessGap: 0.15, minSupport: 30, attributes: ['sender_tld'], proposeRollback, webhook: { url: receiver.url, secretEnv: SECRET_ENV } },
  };
  return env.services.client.workflow.execute(BIAS_REAUDIT_WORKFLOW_TYPE, {
    taskQueue: env.services.taskQueues.control,
    workflowId: `reaudit-${uid()}`,
    args: [input],
  });
}

test('a clean window is recorded and not alerted; a country-code disparity is detected, recorded and alerted', { timeout: 240_000 }, async () => {
  const db = env.services.opened.db;
  // The pre-launch audit was stored when v1 was promoted.
  const [pre] = await db.select().from(prelaunchAudits).where(eq(prelaunchAudits.versionId, versionId));
  assert.ok(pre, 'pre-launch audit stored at promotion');

  const cleanEnd = new Date(Date.now() - 5 * 86_400_000);
  await window(cleanEnd, 0);
  const clean = await reaudit(cleanEnd);
  assert.equal(clean.alert, false, JSON.stringify(clean.reasons));
  assert.ok(clean.labelledRequests >= 800);
  assert.equal(receiver.received.length, 0);

  const badEnd = new Date(Date.now() - 86_400_000);
  await window(badEnd, 0.6);
  const bad = await reaudit(badEnd, true);
  assert.equal(bad.alert, true);
  assert.ok(bad.reasons.some((r) => /country_code/.test(r)), JSON.stringify(bad.reasons));
  assert.equal(receiver.received.length, 1);
  assert.equal(receiver.received[0]!.verified, true, 'the alert is signed with the shared secret');
  const body = receiver.received[0]!;
  assert.equal(body.kind, 'bias_reaudit');
  assert.equal(body.payload.reportId, bad.reportId);

  const reports = await db.select().from(auditReports).where(eq(auditReports.modelId, modelId));
  assert.equal(reports.length, 2);
  assert.deepEqual(reports.map((r) => r.alert).sort(), [0, 1]);
  // Each report comes back whole through the API: its output schema names every field the activity stored.
  for (const r of reports) assert.deepEqual((await env.clients.viewer.audits.report.query({ reportId: r.id })).report, r.report);
  const [alertRow] = await db.select().from(alerts).where(eq(alerts.modelId, modelId));
  assert.equal(alertRow!.status, 'delivered');
  // The alert, its delivery and the rollback it proposes are readable through the API.
  const listed = await env.clients.viewer.audits.alerts.query({ model });
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.status, 'delivered');
  assert.equal(listed[0]!.kind, 'bias_reaudit');
  assert.equal(listed[0]!.reportId, bad.reportId);
  assert.match(listed[0]!.proposal ?? '', /roll back .* previous production version/);
  assert.equal(bad.proposal, listed[0]!.proposal);
  assert.equal((await env.clients.viewer.audits.alerts.query({ model, status: 'failed' })).length, 0);
  // And the reports, newest window first.
  const viaApi = await env.clients.viewer.audits.reports.query({ model, kind: 'bias_reaudit' });
  assert.deepEqual(viaApi.map((r) => r.alert), [true, false]);
  assert.deepEqual((await env.clients.viewer.audits.reports.query({ model, alertsOnly: 'true' })).map((r) => r.reportId), [bad.reportId]);
  // Concept drift and data drift are reported apart.
  const stored = reports.find((r) => r.alert === 1)!.report as { comparison: { conceptDrift: { slice: string; crossed: boolean }[]; dataDrift: unknown[] } };
  assert.ok(stored.comparison.conceptDrift.some((c) => c.crossed && c.slice === 'sender_tld=country_code'));
  assert.ok(Array.isArray(stored.comparison.dataDrift));
  // Measured on the reviewers' corrections alone (no annotation sample in the window).
  assert.deepEqual((stored as unknown as { labelDesign: string; labelCounts: object }).labelDesign, 'review');
});

test('a scheduled audit backfilled over three past days leaves one report per day', { timeout: 240_000 }, async () => {
  const db = env.services.opened.db;
  const id = `bias-reaudit-backfill-${uid()}`;
  await env.clients.operator.audits.create.mutate({
    model,
    id,
    spec: { interval: { everySeconds: 86_400 } },
    windowDays: 1,
    policy: { maxFprIncrease: 0.05, maxFairnessGap: 0.15, minSupport: 30, attributes: ['sender_tld'] },
    paused: true,
  });
  const to = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000);
  const from = new Date(to.getTime() - 3 * 86_400_000);
  // Every period runs, even while another is still running (the audit's own policy is 'skip').
  await env.clients.operator.audits.backfill.mutate({ id, from: from.toISOString(), to: to.toISOString(), overlap: 'allow_all' });
  const deadline = Date.now() + 180_000;
  let reports: (typeof auditReports.$inferSelect)[] = [];
  while (Date.now() < deadline) {
    reports = await db.select().from(auditReports).where(eq(auditReports.scheduleId, id));
    if (reports.length >= 3) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(reports.length, 3, 'one report per backfilled period');
  const windows = reports.map((r) => r.windowTo.getTime()).sort((a, b) => a - b);
  assert.deepEqual(
    windows.map((w, i) => (i ? w - windows[i - 1]! : 0)),
    [0, 86_400_000, 86_400_000],
    'consecutive one-day windows ending at each nominal time',
  );
  await env.clients.operator.audits.delete.mutate({ id });
});

test('a schedule fires on its own: a cron audit starts the re-audit at its next time and its report is stored', { timeout: 180_000 }, async () => {
  const db = env.services.opened.db;
  const id = `bias-reaudit-cron-${uid()}`;
  // Once a minute at a second a few seconds from now (the seven-field form starts with seconds), so the
  // test waits seconds for Temporal to fire it, not up to a minute.
  const second = Math.floor(Date.now() / 1000 + 8) % 60;
  const created = await env.clients.operator.audits.create.mutate({
    model,
    id,
    spec: { cron: `${second} * * * * * *` },
    windowDays: 1,
    policy: { maxFprIncrease: 0.05, maxFairnessGap: 0.15, minSupport: 30, attributes: ['sender_tld'] },
  });
  const next = new Date(created.nextActionTimes[0]!);
  assert.equal(next.getUTCSeconds(), second, 'the cron fires at its second');
  try {
    let reports: (typeof auditReports.$inferSelect)[] = [];
    const deadline = Date.now() + 150_000;
    while (Date.now() < deadline && reports.length === 0) {
      await new Promise((r) => setTimeout(r, 1000));
      reports = await db.select().from(auditReports).where(eq(auditReports.scheduleId, id));
    }
    assert.ok(reports.length >= 1, 'the scheduled run stored a report');
    const first = reports.sort((a, b) => a.windowTo.getTime() - b.windowTo.getTime())[0]!;
    // The window ends at the schedule's nominal time (its second, at or after creation), not at when the worker ran.
    assert.equal(first.windowTo.getTime() % 60_000, second * 1000);
    assert.ok(first.windowTo.getTime() >= next.getTime() - 60_000 && first.windowTo.getTime() <= next.getTime() + 60_000, `${first.windowTo.toISOString()} vs ${next.toISOString()}`);
    assert.equal(first.kind, 'bias_reaudit');
    const described = await env.clients.viewer.audits.describe.query({ id });
    assert.ok(described.actionsTaken >= 1);
  } finally {
    await env.clients.operator.audits.delete.mutate({ id });
  }
});
