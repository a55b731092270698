// The happy path through the real Temporal server and the real database: v1 trained, gated, signed off
// by a second identity and promoted; v2 evaluated against v1 as champion and promoted; then a rollback.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { approvals, auditLog, datasetSnapshots, deploymentEvents, evalReports, gateResults, modelVersions, routes } from '../../db/schema';
import type { ApprovalPacket } from '../../analysis/report';
import { registerModelWithData, startTestEnv, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
/** The packet hash an approver reads and signs. */
const packetHashOf = async (client: TestEnv['clients']['approver'], runId: string) => (await client.reports.get.query({ runId })).packetHash ?? '';
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.stop();
});

test('two runs: each stops at the gate, is approved by a second identity and promoted; rollback restores v1', async () => {
  const { operator, approver, viewer } = env.clients;
  const db = env.services.opened.db;
  const model = await registerModelWithData(env);

  // v1: no champion yet.
  const first = await operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await waitForStatus(env, first.runId, ['awaiting_approval']);
  const waiting = await viewer.gates.list.query();
  const gate1 = waiting.find((g) => g.runId === first.runId);
  assert.ok(gate1, 'the run is listed among gates waiting for a human');
  assert.equal(gate1.candidateVersion, 1);
  assert.ok(gate1.reasons.some((r) => /sign-off needs_approval/.test(r)), gate1.reasons.join('\n'));
  const decided = await approver.gates.approve.mutate({ runId: first.runId, reason: 'metrics reviewed, v1 baseline', packetHash: await packetHashOf(approver, first.runId) });
  assert.equal(decided.decision, 'approve');
  assert.match(decided.reportHash ?? '', /^sha256:/);
  const run1 = await waitForStatus(env, first.runId, ['promoted', 'rejected', 'failed']);
  assert.equal(run1.status, 'promoted');

  const [v1] = await db.select().from(modelVersions).where(eq(modelVersions.runId, first.runId));
  assert.ok(v1);
  assert.equal(v1.status, 'production');
  const [route1] = await db.select().from(routes).where(and(eq(routes.modelId, v1.modelId), eq(routes.kind, 'production')));
  assert.equal(route1?.versionId, v1.id);
  const [approval1] = await db.select().from(approvals).where(eq(approvals.runId, first.runId));
  assert.equal(approval1?.decision, 'approved');
  assert.equal(approval1?.reportHash, decided.reportHash, 'the approval records the hash of the report it signed');
  assert.ok(approval1?.approver.startsWith('approver-'));

  // The evaluation is real: the held-out accuracy of a hashed-n-gram logistic regression on this corpus.
  const report1 = await viewer.reports.get.query({ runId: first.runId });
  assert.equal(report1.reports.length, 1, 'no champion, so one report');
  assert.equal(report1.packetHash, decided.reportHash, 'the approver signed the packet the API serves');
  const packet1 = report1.packet as unknown as ApprovalPacket;
  const overall = packet1.candidateEvaluation.classification.overall.rates;
  assert.ok(overall.accuracy.estimate! > 0.9, `accuracy ${overall.accuracy.estimate}`);
  assert.ok(overall.accuracy.lower! < overall.accuracy.estimate! && overall.accuracy.estimate! < overall.accuracy.upper!);
  assert.ok(packet1.candidateEvaluation.classification.slices.some((s) => s.attribute === 'corpus_group' && s.value === 'hard_ham'));
  assert.equal(packet1.deltas, null, 'no champion, no paired differences');
  assert.equal(packet1.judgement.decision, 'needs_approval');

  // Its lineage says where v1 came from: this run, its snapshot, its report, the gate it passed, the sign-off and the promotion.
  const lineage = (await viewer.models.lineage.query({ name: model, version: 1 })) as unknown as {
    runId: string;
    trainer: { name: string };
    snapshot: { contentHash: string } | null;
    reports: unknown[];
    gate: { packetHash: string | null } | null;
    approval: { decision: string } | null;
    deployments: { action: string }[];
  };
  const [snapshot1] = await db.select().from(datasetSnapshots).where(eq(datasetSnapshots.runId, first.runId));
  assert.equal(lineage.runId, first.runId);
  assert.equal(lineage.snapshot?.contentHash, snapshot1!.contentHash);
  assert.equal(lineage.trainer.name, v1.trainer);
  assert.equal(lineage.reports.length, 1);
  assert.equal(lineage.gate?.packetHash, decided.reportHash);
  assert.equal(lineage.approval?.decision, 'approved');
  assert.deepEqual(lineage.deployments.map((d) => d.action), ['promote']);

  // v2: evaluated against v1, the champion, on the same held-out set.
  const second = await operator.runs.start.mutate({ model, trainerParams: { epochs: 10, seed: 2 } });
  await waitForStatus(env, second.runId, ['awaiting_approval']);
  const report2 = await viewer.reports.get.query({ runId: second.runId });
  assert.deepEqual(report2.reports.map((r) => [r.role, r.version]).sort(), [['candidate', 2], ['champion', 1]]);
  const packet2 = report2.packet as unknown as ApprovalPacket;
  assert.equal(
    packet2.candidateEvaluation.classification.overall.rates.support,
    packet2.championEvaluation!.classification.overall.rates.support,
    'candidate and champion evaluated on the same held-out rows',
  );
  assert.ok(packet2.deltas?.some((d) => d.attribute === 'overall' && d.metric === 'accuracy'), 'paired differences vs the champion');
  assert.ok(report2.gate?.rules.some((r) => r.id === 'accuracy-vs-champion' && r.outcome === 'passed'), JSON.stringify(report2.gate?.rules));
  // A dry run judges another policy on the stored packet and changes nothing.
  const strict = await viewer.gates.dryRun.query({
    runId: second.runId,
    policy: { minSliceSupport: 10, rules: [{ kind: 'bound', id: 'tiny-fpr', metric: 'fpr', slices: 'overall', max: 0.001 }] },
  });
  assert.equal(strict.decision, 'failed');
  assert.match(strict.reasons[0]!, /tiny-fpr failed: overall: fpr .* reaches above 0.001|tiny-fpr failed: overall: fpr .* entirely above 0.001/);
  const current = await viewer.gates.dryRun.query({ runId: second.runId });
  assert.equal(current.decision, report2.gate?.decision, "the model's own policy gives the stored decision");
  assert.equal((await viewer.runs.get.query({ runId: second.runId })).status, 'awaiting_approval', 'the dry run touched nothing');

  await approver.gates.approve.mutate({ runId: second.runId, reason: 'no regression vs v1', packetHash: await packetHashOf(approver, second.runId) });
  assert.equal((await waitForStatus(env, second.runId, ['promoted', 'rejected', 'failed'])).status, 'promoted');

  const versions = await db.select().from(modelVersions).where(eq(modelVersions.modelId, v1.modelId));
  const statusOf = (n: number) => versions.find((v) => v.version === n)?.status;
  assert.equal(statusOf(1), 'retired');
  assert.equal(statusOf(2), 'production');
  const events = await db.select().from(deploymentEvents).where(eq(deploymentEvents.modelId, v1.modelId));
  assert.equal(events.length, 2, 'each promotion happened exactly once');
  assert.equal((await db.select().from(gateResults).where(eq(gateResults.runId, second.runId))).length, 1);
  assert.equal((await db.select().from(evalReports).where(eq(evalReports.runId, second.runId))).length, 2);

  // Rollback over REST, as curl would do it.
  const res = await fetch(`${env.url}/api/models/${model}/rollback`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.tokens.approver}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'planted regression drill' }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(await res.json(), { fromVersion: 2, toVersion: 1 });
  const after = await viewer.models.get.query({ name: model });
  assert.equal(after.routes.find((r) => r.kind === 'production')?.version, 1);
  assert.equal(after.versions.find((v) => v.version === 2)?.status, 'rolled_back');
  const listed = (await viewer.models.list.query()).find((m) => m.name === model);
  assert.deepEqual([listed?.versions, listed?.productionVersion], [2, 1], 'models.list counts this model\'s versions and names its production one');
  // A second rollback has nothing earlier than v1 to go to.
  await assert.rejects(approver.models.rollback.mutate({ name: model, reason: 'again' }), /no earlier production version/);

  // Predictions from elsewhere, uploaded over REST as curl would: judged, and a bad row named.
  const upload = await fetch(`${env.url}/api/reports/evaluate-file`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ content: 'label,score,lang\n1,0.9,en\n0,0.2,en\n1,0.7,de\n0,0.6,de\n', sensitive: ['lang'], bootstrap: 50 }),
  });
  assert.equal(upload.status, 200, await upload.clone().text());
  const doc = (await upload.json()) as { rows: number; fairness: { lang: { demographic_parity_difference: number } } };
  assert.equal(doc.rows, 4);
  assert.equal(doc.fairness.lang.demographic_parity_difference, 0.5, 'en selects 1 of 2, de 2 of 2');
  const badUpload = await fetch(`${env.url}/api/reports/evaluate-file`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ content: 'label,score\n1,0.9\nspam,0.2\n' }),
  });
  assert.equal(badUpload.status, 400);
  assert.match(await badUpload.text(), /line 3, column label/);

  const audit = await db.select().from(auditLog).where(eq(auditLog.target, model));
  assert.ok(audit.some((a) => a.action === 'models.rollback'), 'the rollback is in the audit log');
  assert.ok((await db.select().from(auditLog).where(eq(auditLog.target, first.runId))).some((a) => a.action === 'gates.approve'));
});
