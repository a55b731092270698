// The registry and serving contract: aliases, a version's full lineage, and models.resolve (sticky
// canary by weight, shadow versions listed) as a serving system calls it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { createApiClient } from '../../api/client';
import { issueToken } from '../../db/tokens';
import { and, eq } from 'drizzle-orm';
import { datasetSnapshots, modelVersions, models, predictions, routes } from '../../db/schema';
import { registerModelWithData, startTestEnv, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
/** The model of the first test, with v1 in production, v2 as a 30% canary and v3 in shadow. */
let routedModel = '';
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.stop();
});

test('resolve routes by sticky weight, lists shadows; lineage and aliases tell where a version came from', { timeout: 180_000 }, async () => {
  const db = env.services.opened.db;
  const model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  routedModel = model;
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await waitForStatus(env, runId, ['promoted']);
  const [m] = await db.select().from(models).where(eq(models.name, model));
  const [v1] = await db.select().from(modelVersions).where(and(eq(modelVersions.modelId, m!.id), eq(modelVersions.version, 1)));

  // Only production: everyone gets v1.
  const only = await env.clients.viewer.models.resolve.query({ name: model, requestKey: 'mailbox-1' });
  assert.deepEqual(only, { version: 1, versionId: v1!.id, route: 'production', canaryWeight: 0, shadow: [] });

  // A canary at 30% and a shadow (as a rollout would set them).
  const copy = (version: number, status: 'canary' | 'shadow') => ({ ...v1!, id: undefined, version, status, runId: null, parentVersionId: v1!.id });
  const [v2] = await db.insert(modelVersions).values(copy(2, 'canary')).returning();
  const [v3] = await db.insert(modelVersions).values(copy(3, 'shadow')).returning();
  await db.insert(routes).values([
    { modelId: m!.id, kind: 'canary', versionId: v2!.id, weight: 0.3 },
    { modelId: m!.id, kind: 'shadow', versionId: v3!.id, weight: 1 },
  ]);
  let canary = 0;
  for (let i = 0; i < 400; i++) {
    const r = await env.clients.viewer.models.resolve.query({ name: model, requestKey: `mailbox-${i}` });
    assert.deepEqual(r.shadow, [{ version: 3, versionId: v3!.id }]);
    if (r.route === 'canary') {
      canary++;
      assert.equal(r.version, 2);
    } else assert.equal(r.version, 1);
    // Sticky: asking again gives the same answer.
    if (i % 50 === 0) assert.equal((await env.clients.viewer.models.resolve.query({ name: model, requestKey: `mailbox-${i}` })).route, r.route);
  }
  // Binomial(400, 0.3): sd ~9.2; 4 sd either side.
  assert.ok(Math.abs(canary - 120) < 37, `canary got ${canary} of 400`);

  const got = await env.clients.viewer.models.get.query({ name: model });
  assert.deepEqual(got.aliases, { champion: 1, challenger: 2 });

  const lineage = (await env.clients.viewer.models.lineage.query({ name: model, version: 1 })) as Record<string, unknown>;
  const [snap] = await db.select().from(datasetSnapshots).where(eq(datasetSnapshots.runId, runId));
  assert.equal((lineage.snapshot as { contentHash: string }).contentHash, snap!.contentHash);
  assert.equal(lineage.runId, runId);
  assert.equal(lineage.trainer, v1!.trainer);
  assert.equal((lineage.gate as { decision: string }).decision, 'approved');
  assert.equal((lineage.reports as unknown[]).length, 1);
  assert.equal((lineage.deployments as { action: string }[])[0]!.action, 'promote');
  assert.equal(((await env.clients.viewer.models.lineage.query({ name: model, version: 2 })) as { parentVersion: number }).parentVersion, 1);
  await assert.rejects(env.clients.viewer.models.lineage.query({ name: model, version: 9 }), (e) => e instanceof TRPCClientError && (e.data as { code: string }).code === 'NOT_FOUND');
});

test('predict routes each request: the canary answers its sticky share, logged under its own version', { timeout: 180_000 }, async () => {
  const db = env.services.opened.db;
  const model = routedModel;
  const [m] = await db.select().from(models).where(eq(models.name, model));
  const { token } = await issueToken(db, { subject: `gateway-${m!.id}`, role: 'ingest', createdBy: 'test' });
  const gateway = createApiClient(env.url, token);
  const requests = Array.from({ length: 200 }, (_, i) => ({
    requestId: `p-${i}`,
    routingKey: `mailbox-${i % 50}`,
    input: { subject: 'hello', body: `message ${i}` },
    attributes: {},
    occurredAt: new Date().toISOString(),
  }));
  const scored = await gateway.models.predict.mutate({ name: model, requests });
  const expected = await Promise.all(requests.map((r) => env.clients.viewer.models.resolve.query({ name: model, requestKey: r.routingKey })));
  scored.results.forEach((r, i) => assert.equal(r.version, expected[i]!.version, `request ${i} answered by v${r.version}`));
  const canaryShare = scored.results.filter((r) => r.version === 2).length / 200;
  assert.ok(canaryShare > 0.1 && canaryShare < 0.6, `canary share ${canaryShare}`);
  // Same routing key, same version; logged rows carry the answering version.
  for (let k = 0; k < 50; k++) assert.equal(new Set(scored.results.filter((_, i) => i % 50 === k).map((r) => r.version)).size, 1);
  const logged = await db.select({ requestId: predictions.requestId, versionId: modelVersions.version }).from(predictions).innerJoin(modelVersions, eq(modelVersions.id, predictions.versionId)).where(eq(predictions.modelId, m!.id));
  const byRequest = new Map(logged.map((l) => [l.requestId, l.versionId]));
  scored.results.forEach((r) => assert.equal(byRequest.get(r.requestId), r.version));
});
