// The drift monitor through a real Temporal server: a window whose traffic looks like the production
// version's pre-launch population is quiet; a window of mail from country-code senders only (population
// drift) starts a retraining run with trigger 'drift' by itself, exactly once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { loadCorpus, type CorpusEmail } from '../../demo/corpus';
import { models, predictions, routes, runs } from '../../db/schema';
import { DRIFT_MONITOR_WORKFLOW_TYPE, type DriftMonitorInput, type DriftMonitorResult } from '../../workflows/messages';
import { registerModelWithData, startTestEnv, uid, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
let model: string;
let modelId: number;
let versionId: number;
before(async () => {
  env = await startTestEnv();
  model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await waitForStatus(env, runId, ['promoted']);
  const db = env.services.opened.db;
  const [m] = await db.select().from(models).where(eq(models.name, model));
  modelId = m!.id;
  const [route] = await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'production')));
  versionId = route!.versionId;
});
after(async () => {
  await env?.stop();
});

async function traffic(mail: CorpusEmail[], at: Date) {
  const tag = uid();
  await env.services.opened.db.insert(predictions).values(
    mail.map((e) => ({ modelId, versionId, requestId: `d-${tag}-${e.externalId}`, score: 0.5, decision: e.label, attributes: { ...e.slices } as Record<string, string>, occurredAt: at, loggedBy: 'test' })),
  );
}

async function monitor(end: Date, startRetraining: boolean): Promise<DriftMonitorResult> {
  const input: DriftMonitorInput = {
    modelId,
    model,
    scheduleId: null,
    windowDays: 1,
    windowEnd: end.toISOString(),
    trainingTaskQueue: env.services.taskQueues.training,
    policy: { attributes: ['sender_tld', 'format'], maxPsi: 0.25, startRetraining },
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
