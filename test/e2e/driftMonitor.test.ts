// The drift monitor through a real Temporal server: a window whose traffic looks like the production
// version's pre-launch population is quiet; a window of mail from country-code senders only (population
// drift) starts a retraining run with trigger 'drift' by itself, exactly once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { loadCorpus, type CorpusEmail } from '../../demo/corpus';
import { auditReports, feedbackEvents, predictions, runs } from '../../db/schema';
import { DRIFT_MONITOR_WORKFLOW_TYPE, type DriftMonitorInput, type DriftMonitorResult } from '../../workflows/messages';
import { promotedModel, startTestEnv, uid, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
let model: string;
let modelId: number;
let versionId: number;
before(async () => {
  env = await startTestEnv();
  ({ model, modelId, productionVersionId: versionId } = await promotedModel(env));
});
after(async () => {
  await env?.stop();
});

/** Logs the mail as answered traffic at `at`; returns the request ids. */
async function traffic(mail: CorpusEmail[], at: Date): Promise<string[]> {
  const tag = uid();
  const rows = mail.map((e) => ({ modelId, versionId, requestId: `d-${tag}-${e.externalId}`, score: 0.5, decision: e.label, attributes: { ...e.slices } as Record<string, string>, occurredAt: at, loggedBy: 'test' }));
  await env.services.opened.db.insert(predictions).values(rows);
  return rows.map((r) => r.requestId);
}

/** Users correct these requests: an override, an edit or an undo each, in turn. */
async function corrections(requestIds: string[], at: Date) {
  const kinds = [
    { kind: 'override' as const, value: { action: 'not_spam' } },
    { kind: 'edit' as const, value: {} },
    { kind: 'undo' as const, value: {} },
  ];
  await env.services.opened.db.insert(feedbackEvents).values(
    requestIds.map((requestId, i) => ({ modelId, versionId, idempotencyKey: `${requestId}:c`, requestId, ...kinds[i % 3]!, occurredAt: at, ingestedBy: 'test' })),
  );
}

async function monitor(end: Date, startRetraining: boolean, attributes = ['sender_tld', 'format']): Promise<DriftMonitorResult> {
  const input: DriftMonitorInput = {
    modelId,
    model,
    scheduleId: null,
    windowDays: 1,
    windowEnd: end.toISOString(),
    trainingTaskQueue: env.services.taskQueues.training,
    policy: { attributes, maxPsi: 0.25, startRetraining },
  };
  return env.services.client.workflow.execute(DRIFT_MONITOR_WORKFLOW_TYPE, { taskQueue: env.services.taskQueues.control, workflowId: `drift-${uid()}`, args: [input] });
}

test('quiet traffic starts nothing; a population shift starts one retraining run with trigger drift', { timeout: 240_000 }, async () => {
  const mail = loadCorpus().filter((_, i) => i % 5 === 4);
  const day = 86_400_000;
  const quietEnd = new Date(Date.now() - 10 * day);
  await traffic(mail.slice(0, 600), new Date(quietEnd.getTime() - 3_600_000));
  const quiet = await monitor(quietEnd, true);
  assert.equal(quiet.drift, false, JSON.stringify(quiet.reasons));
  assert.equal(quiet.retrainingRunId, null);

  const shiftedEnd = new Date(Date.now() - 2 * day);
  await traffic(mail.filter((e) => e.slices.sender_tld === 'country_code').slice(0, 400), new Date(shiftedEnd.getTime() - 3_600_000));
  const shifted = await monitor(shiftedEnd, true);
  assert.equal(shifted.drift, true);
  assert.match(shifted.reasons.join('; '), /population drift: PSI of sender_tld/);
  assert.ok(shifted.retrainingRunId);
  const run = await waitForStatus(env, shifted.retrainingRunId, ['promoted', 'rejected', 'failed'], 180_000);
  assert.equal(run.trigger, 'drift');
  assert.match(run.requestedBy, /^schedule:/);
  assert.notEqual(run.status, 'failed', JSON.stringify(run.result));
  const drifted = await env.services.opened.db.select().from(runs).where(and(eq(runs.modelId, modelId), eq(runs.trigger, 'drift')));
  assert.equal(drifted.length, 1);
});

test('a drift monitor scheduled through the API: backfilled over two drifting days, two reports through audits.reports and one run', { timeout: 240_000 }, async () => {
  const api = env.clients.operator;
  const id = `drift-monitor-${uid()}`;
  const created = await api.audits.create.mutate({
    model,
    id,
    kind: 'drift_monitor',
    spec: { interval: { everySeconds: 86_400 } },
    windowDays: 1,
    policy: { attributes: ['sender_tld'], maxPsi: 0.25, startRetraining: true },
    paused: true,
  });
  assert.equal(created.kind, 'drift_monitor');
  assert.equal(created.workflowType, DRIFT_MONITOR_WORKFLOW_TYPE);
  assert.deepEqual(created.policy, { attributes: ['sender_tld'], maxPsi: 0.25, startRetraining: true });
  assert.ok((await api.audits.list.query({ model, kind: 'drift_monitor' })).some((a) => a.id === id && a.kind === 'drift_monitor'));
  assert.ok(!(await api.audits.list.query({ model, kind: 'bias_reaudit' })).some((a) => a.id === id));
  // A drift policy is not a re-audit policy: the kind decides which fields are allowed.
  await assert.rejects(
    api.audits.create.mutate({ model, kind: 'drift_monitor', spec: { interval: { everySeconds: 3600 } }, policy: { maxFprIncrease: 0.1 } as never }),
    (e: Error) => /maxFprIncrease/.test(e.message),
  );

  const day = 86_400_000;
  const to = new Date(Math.floor(Date.now() / day) * day - 20 * day);
  const from = new Date(to.getTime() - 2 * day);
  const cc = loadCorpus().filter((e, i) => i % 5 === 4 && e.slices.sender_tld === 'country_code');
  await traffic(cc.slice(0, 200), new Date(from.getTime() - day / 2));
  await traffic(cc.slice(200, 400), new Date(from.getTime() + day / 2));
  const before = await env.services.opened.db.select().from(runs).where(and(eq(runs.modelId, modelId), eq(runs.trigger, 'drift')));
  // Both periods at once: the second finds the first's run under way and starts none.
  await api.audits.backfill.mutate({ id, from: from.toISOString(), to: to.toISOString(), overlap: 'allow_all' });
  let reports: Awaited<ReturnType<typeof api.audits.reports.query>> = [];
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    reports = await api.audits.reports.query({ model, auditId: id });
    if (reports.length >= 2) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(reports.length, 2, 'one report per backfilled period');
  assert.deepEqual(reports.map((r) => r.kind), ['drift_monitor', 'drift_monitor']);
  assert.ok(reports.every((r) => r.alert && r.reasons.some((x) => /PSI of sender_tld/.test(x))), JSON.stringify(reports));
  assert.ok(reports[0]!.windowTo > reports[1]!.windowTo, 'newest window first');
  const whole = await env.clients.viewer.audits.report.query({ reportId: reports[0]!.reportId });
  assert.equal(whole.model, model);
  // The body comes back whole: its output schema names every field the activity stored.
  const [stored] = await env.services.opened.db.select().from(auditReports).where(eq(auditReports.id, whole.reportId));
  assert.equal(whole.kind, 'drift_monitor');
  assert.deepEqual(whole.report, stored!.report);
  assert.ok((await api.audits.reports.query({ model, kind: 'bias_reaudit', auditId: id })).length === 0);

  const after = await env.services.opened.db.select().from(runs).where(and(eq(runs.modelId, modelId), eq(runs.trigger, 'drift')));
  assert.equal(after.length, before.length + 1, 'two drifting periods start one run');
  const started = after.find((r) => !before.some((b) => b.id === r.id))!;
  const finished = await waitForStatus(env, started.id, ['promoted', 'rejected', 'failed'], 180_000);
  assert.notEqual(finished.status, 'failed', JSON.stringify(finished.result));
  await api.audits.delete.mutate({ id });
});

test('feedback drift: the share of requests users override, edit or undo jumps against the previous window', { timeout: 120_000 }, async () => {
  const day = 86_400_000;
  const end = new Date(Date.now() - 40 * day);
  const mail = loadCorpus().filter((_, i) => i % 5 === 4);
  // The previous day: 300 requests, 6 corrected (2%). This day: 300 like them, 60 corrected (20%).
  const before = await traffic(mail.slice(0, 300), new Date(end.getTime() - 1.5 * day));
  await corrections(before.slice(0, 6), new Date(end.getTime() - 1.5 * day));
  const now = await traffic(mail.slice(300, 600), new Date(end.getTime() - 0.5 * day));
  await corrections(now.slice(0, 60), new Date(end.getTime() - 0.5 * day));
  const found = await monitor(end, false, ['sender_tld']);
  assert.equal(found.drift, true, JSON.stringify(found.reasons));
  assert.deepEqual(found.reasons.filter((r) => /^population drift/.test(r)), [], 'the population did not move');
  const feedback = found.reasons.find((r) => /^feedback drift: override\/edit rate 0\.2000? vs 0\.02/.test(r));
  assert.ok(feedback, JSON.stringify(found.reasons));
  assert.equal(found.retrainingRunId, null, 'the policy does not start runs');
  const stored = (await env.clients.viewer.audits.reports.query({ model, kind: 'drift_monitor' })).find((r) => new Date(r.windowTo).getTime() === end.getTime());
  assert.equal(stored?.alert, true);
  assert.equal(stored?.requests, 300);
});
