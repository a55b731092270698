// Three runs of one model at once, through the real Temporal server: what concurrent runs of one model
// mean (db/models.ts). Each run trains its own candidate under its own version number (no duplicate
// key, no retry needed); each evaluates against the production version of the moment it evaluates;
// promotions are serialised, the last to commit is production, and every deployment event names the
// version it actually replaced. A run whose champion was replaced after it evaluated is still promoted
// as approved: its packet names the champion it was compared with, the deployment event what it replaced.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { deploymentEvents, evalReports, modelVersions, models, routes, runs } from '../../db/schema';
import { approveAsRead, registerModelWithData, startTestEnv, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
let model: string;
let modelId: number;

before(async () => {
  env = await startTestEnv();
  // Human sign-off on every run, so the test decides when each one promotes.
  model = await registerModelWithData(env, { requireHumanApproval: 'always' });
  const [m] = await env.services.opened.db.select({ id: models.id }).from(models).where(eq(models.name, model));
  modelId = m!.id;
});
after(async () => {
  await env?.stop();
});

const approve = async (runId: string, reason: string) => {
  await approveAsRead(env.clients.approver, runId, reason);
  return waitForStatus(env, runId, ['promoted', 'rejected', 'failed', 'cancelled']);
};

test('three runs of one model at once: three distinct versions, each run settled, promotions in sequence', { timeout: 300_000 }, async () => {
  const db = env.services.opened.db;
  const { runId: bootstrap } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await waitForStatus(env, bootstrap, ['awaiting_approval']);
  assert.equal((await approve(bootstrap, 'baseline reviewed')).status, 'promoted');
  const [v1] = await db.select().from(modelVersions).where(eq(modelVersions.runId, bootstrap));
  assert.equal(v1!.version, 1);

  // Three runs started together train and evaluate side by side.
  const started = await Promise.all([0, 1, 2].map(() => env.clients.operator.runs.start.mutate({ model })));
  const runIds = started.map((s) => s.runId);
  const waiting = await Promise.all(runIds.map((id) => waitForStatus(env, id, ['awaiting_approval', 'promoted', 'rejected', 'failed'], 240_000)));
  assert.deepEqual(
    waiting.map((r) => r.status),
    ['awaiting_approval', 'awaiting_approval', 'awaiting_approval'],
    JSON.stringify(waiting.map((r) => r.result)),
  );
  const candidates = await db.select().from(modelVersions).where(inArray(modelVersions.runId, runIds));
  assert.deepEqual(candidates.map((c) => c.version).sort(), [2, 3, 4], 'one version each, consecutive, after v1');
  // Each was compared with the production version of its evaluation: v1, for all three.
  const champions = await db
    .select({ runId: evalReports.runId, versionId: evalReports.versionId })
    .from(evalReports)
    .where(and(inArray(evalReports.runId, runIds), eq(evalReports.role, 'champion')));
  assert.deepEqual(
    champions.map((c) => c.versionId),
    [v1!.id, v1!.id, v1!.id],
  );

  // The first approved is promoted over v1; the other two, approved together afterwards, were never
  // compared with it: both are promoted, one after the other, each replacing the production of its moment.
  const [first, ...rest] = runIds as [string, string, string];
  assert.equal((await approve(first, 'first of three')).status, 'promoted');
  const settled = await Promise.all(rest.map((id) => approve(id, 'approved together')));
  assert.deepEqual(
    settled.map((r) => r.status),
    ['promoted', 'promoted'],
  );

  const events = await db.select().from(deploymentEvents).where(eq(deploymentEvents.modelId, modelId)).orderBy(asc(deploymentEvents.id));
  assert.equal(events.length, 4, 'bootstrap and three promotions');
  assert.equal(events[0]!.fromVersionId, null);
  for (let i = 1; i < events.length; i++) assert.equal(events[i]!.fromVersionId, events[i - 1]!.toVersionId, 'each promotion replaced the production of its moment');
  const versionOf = (runId: string) => candidates.find((c) => c.runId === runId)!.id;
  assert.equal(events[1]!.toVersionId, versionOf(first));
  assert.deepEqual(new Set(events.slice(2).map((e) => e.toVersionId)), new Set(rest.map(versionOf)));

  const [route] = await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'production')));
  assert.equal(route!.versionId, events[3]!.toVersionId, 'the last promotion to commit serves');
  const statuses = await db.select({ status: modelVersions.status }).from(modelVersions).where(eq(modelVersions.modelId, modelId));
  assert.deepEqual(statuses.map((s) => s.status).sort(), ['production', 'retired', 'retired', 'retired']);
  const finished = await db.select({ status: runs.status }).from(runs).where(inArray(runs.id, runIds));
  assert.ok(finished.every((r) => r.status === 'promoted'));
});
