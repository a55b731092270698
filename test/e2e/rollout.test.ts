// Staged rollout through a real Temporal server: a canary with a planted regression (its readers
// rescue far more mail from the spam folder) is rolled back by its first analysis window; an operator
// rolls back by hand at once; an analysis window without enough traffic pauses for a human, who
// promotes early (never the requester).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { and, desc, eq } from 'drizzle-orm';
import { deploymentEvents, modelVersions, models, routes, runs } from '../../db/schema';
import { plantAnsweredTraffic, registerModelWithData, startTestEnv, waitFor, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
let model: string;
let modelId: number;
before(async () => {
  env = await startTestEnv();
  model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await waitForStatus(env, runId, ['promoted']);
  const [m] = await env.services.opened.db.select().from(models).where(eq(models.name, model));
  modelId = m!.id;
});
after(async () => {
  await env?.stop();
});

const codeOf = (e: unknown) => (e instanceof TRPCClientError ? (e.data as { code?: string }).code : undefined);

async function productionVersion() {
  const db = env.services.opened.db;
  const [r] = await db
    .select({ version: modelVersions.version })
    .from(routes)
    .innerJoin(modelVersions, eq(modelVersions.id, routes.versionId))
    .where(and(eq(routes.modelId, modelId), eq(routes.kind, 'production')));
  return r!.version;
}

/** Starts a run with a rollout plan and waits until its own candidate holds the canary route. */
async function startRollout(plan: Parameters<TestEnv['clients']['operator']['runs']['start']['mutate']>[0]['rollout']) {
  const { runId } = await env.clients.operator.runs.start.mutate({ model, rollout: plan });
  const db = env.services.opened.db;
  return waitFor('the canary route of this run', async () => {
    const [run] = await db.select().from(runs).where(eq(runs.id, runId));
    if (!run?.candidateVersionId) return null;
    const [r] = await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'canary'), eq(routes.versionId, run.candidateVersionId)));
    return r ? { runId, candidateVersionId: run.candidateVersionId } : null;
  });
}

// The analysis window opens just after the canary route is set (the workflow's next task), so
// traffic is stamped a moment later: stamped "now" it could fall before the window and go uncounted.
const WINDOW_OPENED_MS = 1500;
const traffic = (versionId: number, requests: number, overrides: number) =>
  plantAnsweredTraffic(env.services.opened.db, modelId, versionId, requests, overrides, 'test', new Date(Date.now() + WINDOW_OPENED_MS));

test('a canary with a planted regression is rolled back by its first analysis window', { timeout: 180_000 }, async () => {
  const db = env.services.opened.db;
  const [prod] = await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'production')));
  const { runId, candidateVersionId } = await startRollout({
    steps: [
      { weight: 0.5, analysisSeconds: 6 },
      { weight: 0.9, analysisSeconds: 6 },
    ],
    rules: [{ metric: 'override_rate', maxIncrease: 0.01, minRequests: 100, perSlice: false }],
  });
  await traffic(prod!.versionId, 400, 4);
  await traffic(candidateVersionId, 400, 80);
  const run = await waitForStatus(env, runId, ['rolled_back', 'promoted', 'failed'], 120_000);
  assert.equal(run.status, 'rolled_back', JSON.stringify(run.result));
  const status = await env.clients.viewer.runs.rollout.query({ runId });
  assert.equal(status.analyses.length, 1, 'rolled back at the first window');
  assert.equal(status.analyses[0]!.phase, 'Failed');
  assert.match(status.reason!, /failed its analysis/);
  const [v] = await db.select().from(modelVersions).where(eq(modelVersions.id, candidateVersionId));
  assert.equal(v!.status, 'rolled_back');
  assert.equal(await productionVersion(), 1);
  assert.equal((await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'canary')))).length, 0);
  const [event] = await db.select().from(deploymentEvents).where(eq(deploymentEvents.runId, runId)).orderBy(desc(deploymentEvents.id));
  assert.equal(event!.action, 'rollback');
  assert.equal(event!.actor, 'analysis');
});

test('a manual rollback restores at once; operators and approvers may, with a reason', { timeout: 180_000 }, async () => {
  const { runId, candidateVersionId } = await startRollout({ steps: [{ weight: 0.2, analysisSeconds: 600 }] });
  await assert.rejects(env.clients.viewer.runs.rollback.mutate({ runId, reason: 'looks wrong' }), (e) => codeOf(e) === 'FORBIDDEN');
  await assert.rejects(env.clients.operator.runs.rollback.mutate({ runId, reason: 'no' }), (e) => codeOf(e) === 'BAD_REQUEST');
  const started = Date.now();
  // Rolling back restores the approved champion: the operator who steers the rollout may (Argo Rollouts' abort).
  await env.clients.operator.runs.rollback.mutate({ runId, reason: 'complaints from the support desk' });
  const run = await waitForStatus(env, runId, ['rolled_back', 'promoted', 'failed'], 30_000);
  assert.equal(run.status, 'rolled_back');
  assert.ok(Date.now() - started < 15_000, 'not after the 600 s window');
  const [v] = await env.services.opened.db.select().from(modelVersions).where(eq(modelVersions.id, candidateVersionId));
  assert.equal(v!.status, 'rolled_back');
  assert.equal(await productionVersion(), 1);
  await assert.rejects(env.clients.approver.runs.rollback.mutate({ runId, reason: 'again please' }), (e) => codeOf(e) === 'CONFLICT');
});

test('an inconclusive window pauses for a human; promoteNow by another approver finishes it', { timeout: 180_000 }, async () => {
  // No traffic at all in the window: too few requests to judge.
  const { runId, candidateVersionId } = await startRollout({ steps: [{ weight: 0.1, analysisSeconds: 3 }] });
  const paused = await waitFor('the pause', async () => {
    const s = await env.clients.viewer.runs.rollout.query({ runId }).catch(() => null);
    return s?.phase === 'paused' ? s : null;
  });
  assert.match(paused.pausedBecause!, /inconclusive/);
  assert.equal(paused.analyses[0]!.phase, 'Inconclusive');
  await assert.rejects(env.clients.viewer.runs.promoteNow.mutate({ runId, reason: 'ship it' }), (e) => codeOf(e) === 'FORBIDDEN');
  await env.clients.approver.runs.promoteNow.mutate({ runId, reason: 'reviewed the window by hand' });
  const run = await waitForStatus(env, runId, ['promoted', 'rolled_back', 'failed'], 60_000);
  assert.equal(run.status, 'promoted');
  const [v] = await env.services.opened.db.select().from(modelVersions).where(eq(modelVersions.id, candidateVersionId));
  assert.equal(v!.status, 'production');
  assert.equal((await env.services.opened.db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'canary')))).length, 0);
});
