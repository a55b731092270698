// Feedback as labels on the real stack (issue #16 item 6): a spam model opts in, users' corrections and
// overrides on mail nobody had labelled become training labels, the next run's snapshot records their
// share (label_mix: source 'feedback', selected by 'user'), the packet and the flywheel show it, and a
// self_selected_share rule that caps user-selected labels low sends the gate to a human.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import type { ApprovalPacket } from '../../analysis/report';
import { datasetSnapshots } from '../../db/schema';
import { plantProductionVersion } from '../caller';
import { corpusSubset, startTestEnv, toExampleInputs, uid, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.stop();
});

test('corrections become labels; the next snapshot records their share; a low cap on user-selected labels asks a human', { timeout: 300_000 }, async () => {
  const db = env.services.opened.db;
  const model = `spam-fb-${uid()}`;
  const { id: modelId } = await env.clients.operator.models.register.mutate({
    name: model,
    gatePolicy: { minSliceSupport: 10, rules: [{ kind: 'self_selected_share', id: 'user-cap', max: 0.05, selectors: ['user'], onFail: 'ask' }] },
  });
  const emails = corpusSubset();
  await plantProductionVersion(db, modelId, emails);
  // Every 6th training mail arrives unlabelled: only users' feedback can label it.
  const rows = toExampleInputs(emails);
  const unlabelled = rows.filter((r, i) => r.split === 'train' && i % 6 === 0);
  const hidden = new Set(unlabelled.map((r) => r.externalId));
  const sent = rows.map((r) => (hidden.has(r.externalId) ? { ...r, label: null } : r));
  for (let i = 0; i < sent.length; i += 500) await env.clients.operator.models.importExamples.mutate({ name: model, examples: sent.slice(i, i + 500) });

  await env.clients.operator.feedback.setLabelling.mutate({ model, kinds: ['correction', 'override'] });
  const at = new Date().toISOString();
  const events = unlabelled.map((r, i) =>
    i % 2 === 0
      ? { kind: 'correction' as const, correctedLabel: r.label, idempotencyKey: `c-${r.externalId}`, version: 1, exampleExternalId: r.externalId, occurredAt: at }
      : { kind: 'override' as const, action: r.label === 1 ? ('spam' as const) : ('not_spam' as const), idempotencyKey: `o-${r.externalId}`, version: 1, exampleExternalId: r.externalId, occurredAt: at },
  );
  // One user disagrees with an imported label: reported, never written.
  const imported = rows.find((r) => r.split === 'train' && !hidden.has(r.externalId))!;
  events.push({ kind: 'correction', correctedLabel: imported.label === 1 ? 0 : 1, idempotencyKey: `c-${imported.externalId}`, version: 1, exampleExternalId: imported.externalId, occurredAt: at });
  const ingested = await env.clients.admin.feedback.ingest.mutate({ model, events: events as never });
  assert.deepEqual({ ...ingested }, { received: unlabelled.length + 1, inserted: unlabelled.length + 1, duplicates: 0, labelled: unlabelled.length, conflicts: 1, unlinked: 0 });

  const { runId } = await env.clients.operator.runs.start.mutate({ model });
  await waitForStatus(env, runId, ['awaiting_approval', 'promoted', 'rejected', 'failed'], 240_000);
  const [snap] = await db.select().from(datasetSnapshots).where(eq(datasetSnapshots.runId, runId));
  const mix = snap!.labelMix!;
  const train = rows.filter((r) => r.split === 'train').length;
  assert.equal(mix.train, train);
  assert.equal(mix.bySource.feedback, unlabelled.length);
  assert.deepEqual(mix.bySelector, { design: train - unlabelled.length, user: unlabelled.length });

  const packet = (await env.clients.viewer.reports.get.query({ runId })).packet as unknown as ApprovalPacket;
  assert.deepEqual(packet.labelMix, mix);
  const rule = packet.judgement.rules.find((r) => r.id === 'user-cap')!;
  assert.equal(rule.outcome, 'needs_approval', rule.detail);
  assert.equal(packet.judgement.decision, 'needs_approval');
  const run = await env.clients.viewer.runs.get.query({ runId });
  assert.equal(run.status, 'awaiting_approval');

  const health = await env.clients.viewer.feedback.health.query({ model });
  assert.equal(health.labelSources.latestSnapshot?.snapshotId, snap!.id);
  assert.equal(health.labelSources.userSelectedShare, unlabelled.length / train);
  assert.equal(health.labelSources.selfLabelShare, 0);
  process.stderr.write(`feedback labels: ${unlabelled.length} of ${train} training labels (${((100 * unlabelled.length) / train).toFixed(1)}%); ${rule.detail}\n`);

  await env.clients.approver.gates.reject.mutate({ runId, reason: 'test done: too many user-selected labels' });
  await waitForStatus(env, runId, ['rejected'], 60_000);
});
