// The rollout's shadow window through a real Temporal server: traffic served by production through
// models.predict is scored silently by the candidate (rows in shadow_predictions), the window's
// decisions are compared and the comparison shows in the rollout status; a candidate that would block
// much of the mail production delivered is rolled back right after the window; a window without traffic
// pauses for a human, who resumes into the canary steps.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { createApiClient, type ApiClient } from '../../api/client';
import { issueToken } from '../../db/tokens';
import { compareShadowDecisions } from '../../analysis/rollout';
import { deploymentEvents, modelVersions, predictions, routes, runs, shadowPredictions } from '../../db/schema';
import { corpusSubset, promotedModel, startTestEnv, uid, waitFor, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
let model: string;
let modelId: number;
let productionVersionId: number;
let ingest: ApiClient;
before(async () => {
  env = await startTestEnv();
  const db = env.services.opened.db;
  ({ model, modelId, productionVersionId } = await promotedModel(env));
  ingest = createApiClient(env.url, (await issueToken(db, { subject: `mail-frontend-${uid()}`, role: 'ingest', createdBy: 'test' })).token);
});
after(async () => {
  await env?.stop();
});

type Plan = Parameters<TestEnv['clients']['operator']['runs']['start']['mutate']>[0]['rollout'];

/** Starts a run with a rollout; resolves once the shadow window is open (route set, its timer started, so `from` is taken). */
async function startShadow(plan: Plan) {
  const db = env.services.opened.db;
  const { runId } = await env.clients.operator.runs.start.mutate({ model, rollout: plan });
  await waitFor('the shadow route', async () => (await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'shadow'))))[0]);
  await waitFor('the shadow timer', async () => {
    const history = await env.services.client.workflow.getHandle(`rollout-${runId}`).fetchHistory();
    return (history.events ?? []).some((e) => e.timerStartedEventAttributes);
  });
  const [run] = await db.select().from(runs).where(eq(runs.id, runId));
  return { runId, candidateVersionId: run!.candidateVersionId! };
}

const rolloutStatus = (runId: string) => env.clients.viewer.runs.rollout.query({ runId });

test('predict traffic in the shadow window is scored by the candidate, logged, and compared in the rollout status', { timeout: 120_000 }, async (t) => {
  const db = env.services.opened.db;
  const { runId, candidateVersionId } = await startShadow({ shadowSeconds: 6, steps: [{ weight: 0.2, analysisSeconds: 600 }] });
  assert.notEqual(candidateVersionId, productionVersionId);
  const tag = uid();
  const emails = corpusSubset().slice(0, 150);
  const requests = emails.map((e, i) => ({ requestId: `shadow-${tag}-${i}`, input: e.input, attributes: { ...e.slices } as Record<string, string>, occurredAt: new Date().toISOString() }));
  const out = await ingest.models.predict.mutate({ name: model, requests });
  assert.equal(out.version, 1, 'production answers');
  assert.equal(out.logged, 150);
  assert.equal(out.shadowed, 150, 'the candidate scored every request silently');
  assert.equal(out.shadowSkipped, 0);
  const ids = requests.map((r) => r.requestId);
  const shadowRows = await db.select().from(shadowPredictions).where(and(eq(shadowPredictions.modelId, modelId), inArray(shadowPredictions.requestId, ids)));
  assert.equal(shadowRows.length, 150);
  assert.ok(shadowRows.every((r) => r.versionId === candidateVersionId));
  const served = await db.select().from(predictions).where(and(eq(predictions.modelId, modelId), inArray(predictions.requestId, ids)));
  assert.ok(served.every((r) => r.versionId === productionVersionId));

  // What the window should conclude, computed here from the rows predict wrote.
  const servedBy = new Map(served.map((r) => [r.requestId, r.decision as 0 | 1]));
  const expected = compareShadowDecisions(shadowRows.map((r) => ({ served: servedBy.get(r.requestId)!, shadow: r.decision as 0 | 1, slices: r.attributes })));
  const status = await waitFor('the shadow comparison', async () => {
    const s = await rolloutStatus(runId).catch(() => null);
    return s?.shadow ? s : null;
  });
  const shadow = status.shadow!;
  t.diagnostic(`shadow comparison: ${shadow.phase}; ${shadow.reasons.join('; ')}`);
  assert.equal(shadow.requests, 150);
  assert.equal(shadow.servedRequests, 150);
  assert.equal(shadow.coverage, 1);
  assert.equal(shadow.phase, expected.phase);
  assert.equal(shadow.newBlocks.count, expected.newBlocks.count);
  assert.equal(shadow.newPasses.count, expected.newPasses.count);
  assert.equal(shadow.agreement.estimate, expected.agreement.estimate);
  assert.ok(Date.parse(shadow.to) - Date.parse(shadow.from) >= 6000, 'the window spans the shadow seconds');
  // Whatever the verdict, the rollout acted on it; end it by hand unless it already ended.
  const phase = await waitFor('the rollout to act on the comparison', async () => {
    const s = await rolloutStatus(runId);
    return ['canary', 'paused', 'done'].includes(s.phase) ? s.phase : null;
  });
  assert.equal(phase, { Successful: 'canary', Inconclusive: 'paused', Failed: 'done' }[expected.phase]);
  if (phase !== 'done') await env.clients.approver.runs.rollback.mutate({ runId, reason: 'end of the shadow test' });
  await waitForStatus(env, runId, ['rolled_back'], 30_000);
});

test('a candidate that would block much of the mail production delivered is rolled back after the shadow window', { timeout: 120_000 }, async () => {
  const db = env.services.opened.db;
  const { runId, candidateVersionId } = await startShadow({ shadowSeconds: 5, steps: [{ weight: 0.5, analysisSeconds: 600 }] });
  // Planted: 200 requests production delivered, 40 of which (all from country-code senders) the candidate would block.
  const tag = uid();
  const now = new Date();
  const attrs = (i: number) => ({ sender_tld: i % 2 ? 'generic' : 'country_code' });
  await db.insert(predictions).values(
    Array.from({ length: 200 }, (_, i) => ({ modelId, versionId: productionVersionId, requestId: `flip-${tag}-${i}`, score: 0.1, decision: 0, attributes: attrs(i), occurredAt: now, loggedBy: 'test' })),
  );
  await db.insert(shadowPredictions).values(
    Array.from({ length: 200 }, (_, i) => ({ modelId, versionId: candidateVersionId, requestId: `flip-${tag}-${i}`, score: i % 2 === 0 && i < 80 ? 0.9 : 0.1, decision: i % 2 === 0 && i < 80 ? 1 : 0, attributes: attrs(i), occurredAt: now })),
  );
  const run = await waitForStatus(env, runId, ['rolled_back', 'promoted', 'failed'], 60_000);
  assert.equal(run.status, 'rolled_back', JSON.stringify(run.result));
  const status = await rolloutStatus(runId);
  assert.equal(status.shadow?.phase, 'Failed');
  assert.equal(status.shadow?.requests, 200);
  assert.equal(status.shadow?.newBlocks.count, 40);
  assert.equal(status.shadow?.agreement.estimate, 160 / 200);
  assert.deepEqual(status.shadow?.failedSlices, ['sender_tld=country_code']);
  assert.match(status.reason!, /shadow window failed its comparison with production/);
  assert.equal(status.analyses.length, 0, 'no canary step was reached');
  assert.equal(status.step, 0);
  const [v] = await db.select().from(modelVersions).where(eq(modelVersions.id, candidateVersionId));
  assert.equal(v!.status, 'rolled_back');
  const routesNow = await db.select().from(routes).where(eq(routes.modelId, modelId));
  assert.deepEqual(routesNow.map((r) => [r.kind, r.versionId]), [['production', productionVersionId]], 'shadow route removed, production untouched');
  const [event] = await db.select().from(deploymentEvents).where(eq(deploymentEvents.runId, runId)).orderBy(desc(deploymentEvents.id));
  assert.equal(event!.action, 'rollback');
  assert.equal(event!.actor, 'analysis');
});

test('a shadow window without traffic is inconclusive: paused for a human, resumed into the canary', { timeout: 120_000 }, async () => {
  const { runId } = await startShadow({ shadowSeconds: 2, steps: [{ weight: 0.1, analysisSeconds: 600 }] });
  const paused = await waitFor('the pause', async () => {
    const s = await rolloutStatus(runId).catch(() => null);
    return s?.phase === 'paused' ? s : null;
  });
  assert.match(paused.pausedBecause!, /shadow comparison inconclusive: only 0 shadowed requests compared; 100 needed/);
  assert.equal(paused.shadow?.phase, 'Inconclusive');
  assert.equal(paused.shadow?.coverage, null);
  await env.clients.operator.runs.resume.mutate({ runId, reason: 'no traffic overnight; go on to the canary' });
  const canary = await waitFor('the first canary step', async () => {
    const s = await rolloutStatus(runId);
    return s.phase === 'canary' && s.step === 1 ? s : null;
  });
  assert.equal(canary.pausedBecause, null);
  // The canary answers its share itself: the shadow route is gone, so nothing is scored silently any more.
  // The status names the step before its route activity has run, so the routes are awaited, not read once.
  const routeKinds = async () => (await env.services.opened.db.select().from(routes).where(eq(routes.modelId, modelId))).map((r) => r.kind).sort();
  const kinds = await waitFor('the canary route', async () => {
    const now = await routeKinds();
    return now.includes('canary') ? now : null;
  }, 30_000);
  assert.deepEqual(kinds, ['canary', 'production']);
  await env.clients.approver.runs.rollback.mutate({ runId, reason: 'end of the shadow test' });
  await waitForStatus(env, runId, ['rolled_back'], 30_000);
});
