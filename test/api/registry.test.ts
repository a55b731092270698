// The registry and serving contract through the router: aliases and models.resolve (sticky canary by
// weight, shadow versions listed) as a serving system calls it, and models.predict answering each
// request with the version resolve names. The routes are planted as a rollout would set them, over a
// real artifact; a version's lineage after a real run is checked in e2e/retrainingRun.test.ts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { eq } from 'drizzle-orm';
import { modelVersions, predictions, routes } from '../../db/schema';
import { plantProductionVersion, startCallerEnv, type CallerEnv } from '../caller';
import { corpusSubset, uid } from '../helpers';

let env: CallerEnv;
let model: string;
let modelId: number;
/** v1 in production, v2 a 30% canary, v3 in shadow, all the same artifact. */
const ids: Record<1 | 2 | 3, number> = { 1: 0, 2: 0, 3: 0 };

before(async () => {
  env = await startCallerEnv();
  model = `spam-${uid()}`;
  ({ id: modelId } = await env.clients.operator.models.register.mutate({ name: model }));
  ids[1] = await plantProductionVersion(env.db, modelId, corpusSubset().slice(0, 300));
});

async function insertVersion(row: typeof modelVersions.$inferInsert): Promise<number> {
  const [inserted] = await env.db.insert(modelVersions).values(row).returning({ id: modelVersions.id });
  return inserted!.id;
}

after(async () => {
  await env?.stop();
});

/** What a version without an evaluation or a frozen rule serves: 0.5, no band. */
const thresholdOnly = { threshold: 0.5, abstain: null, policyVersion: null };

test('resolve routes by sticky weight and lists shadows; aliases name champion and challenger', async () => {
  const { viewer } = env.clients;
  // Only production: everyone gets v1.
  assert.deepEqual(await viewer.models.resolve.query({ name: model, requestKey: 'mailbox-1' }), { version: 1, versionId: ids[1], route: 'production', canaryWeight: 0, decisionRule: thresholdOnly, shadow: [] });

  // A canary at 30% and a shadow (as a rollout would set them).
  const [v1] = await env.db.select().from(modelVersions).where(eq(modelVersions.id, ids[1]));
  const copy = (version: number, status: 'canary' | 'shadow') => ({ ...v1!, id: undefined, version, status, parentVersionId: ids[1] });
  ids[2] = await insertVersion(copy(2, 'canary'));
  ids[3] = await insertVersion(copy(3, 'shadow'));
  await env.db.insert(routes).values([
    { modelId, kind: 'canary', versionId: ids[2], weight: 0.3 },
    { modelId, kind: 'shadow', versionId: ids[3], weight: 1 },
  ]);
  let canary = 0;
  for (let i = 0; i < 400; i++) {
    const r = await viewer.models.resolve.query({ name: model, requestKey: `mailbox-${i}` });
    assert.deepEqual(r.shadow, [{ version: 3, versionId: ids[3], decisionRule: thresholdOnly }]);
    if (r.route === 'canary') {
      canary++;
      assert.equal(r.version, 2);
    } else assert.equal(r.version, 1);
    // Sticky: asking again gives the same answer.
    if (i % 50 === 0) assert.equal((await viewer.models.resolve.query({ name: model, requestKey: `mailbox-${i}` })).route, r.route);
  }
  // Binomial(400, 0.3): sd ~9.2; 4 sd either side.
  assert.ok(Math.abs(canary - 120) < 37, `canary got ${canary} of 400`);

  assert.deepEqual((await viewer.models.get.query({ name: model })).aliases, { champion: 1, challenger: 2 });
  assert.equal(((await viewer.models.lineage.query({ name: model, version: 2 })) as { parentVersion: number }).parentVersion, 1);
  await assert.rejects(viewer.models.lineage.query({ name: model, version: 9 }), (e) => e instanceof TRPCClientError && (e.data as { code: string }).code === 'NOT_FOUND');
});

test('predict routes each request: the canary answers its sticky share, logged under its own version', async () => {
  assert.ok(ids[2], 'runs after the canary was routed');
  const { client: gateway } = await env.as(`gateway-${uid()}`, 'ingest');
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
  const logged = await env.db.select({ requestId: predictions.requestId, version: modelVersions.version }).from(predictions).innerJoin(modelVersions, eq(modelVersions.id, predictions.versionId)).where(eq(predictions.modelId, modelId));
  const byRequest = new Map(logged.map((l) => [l.requestId, l.version]));
  scored.results.forEach((r) => assert.equal(byRequest.get(r.requestId), r.version));
});
