// Feedback as labels (issue #16 item 6), at the router: a model that opted in gets its corrections and
// overrides as labels (source 'feedback', selected by the user) in the transaction that stores the events;
// designed labels are never overwritten (counted as conflicts), a later event wins only if it occurred
// later, replays change nothing, unknown examples are counted, accepted predictions never become labels,
// and a model that did not opt in gets no label at all.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { createAnnotationActivities } from '../../activities/annotation';
import type { ApiClient } from '../../api/client';
import { auditLog, examples, feedbackEvents, models, modelVersions, predictions, type LabelSource } from '../../db/schema';
import { uid } from '../helpers';
import { startCallerEnv, type CallerEnv } from '../caller';

let env: CallerEnv;
let ingest: ApiClient;
let model: string;
let modelId: number;

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string }).code : undefined);

async function registerModel(name: string): Promise<number> {
  await env.clients.operator.models.register.mutate({ name });
  const [{ id }] = (await env.db.select({ id: models.id }).from(models).where(eq(models.name, name))) as [{ id: number }];
  const [v] = await env.db.insert(modelVersions).values({ modelId: id, version: 1, trainer: 'test', params: {}, artifact: new Uint8Array([1]), artifactHash: 'sha256:x', status: 'production' }).returning({ id: modelVersions.id });
  // Examples: unlabelled ones, and one per protected source with label 1.
  const rows: { externalId: string; label: number | null; labelSource: LabelSource }[] = [
    ...Array.from({ length: 8 }, (_, i) => ({ externalId: `u${i}`, label: null, labelSource: 'import' as const })),
    { externalId: 'imp', label: 1, labelSource: 'import' },
    { externalId: 'ann', label: 1, labelSource: 'annotation' },
    { externalId: 'rev', label: 1, labelSource: 'review' },
    { externalId: 'mdl', label: 1, labelSource: 'model' },
  ];
  await env.db.insert(examples).values(rows.map((r) => ({ modelId: id, externalId: r.externalId, input: { body: r.externalId }, label: r.label, labelSource: r.labelSource, split: 'train' as const })));
  // A request that became example u7 (feedback names the request, not the example).
  await env.db.insert(predictions).values({ modelId: id, versionId: v!.id, requestId: 'req-u7', exampleExternalId: 'u7', score: 0.4, decision: 0, occurredAt: new Date('2026-11-20T09:00:00Z'), loggedBy: 'test' });
  return id;
}

const labelOf = async (externalId: string, id = modelId) => {
  const [e] = await env.db.select({ label: examples.label, source: examples.labelSource, selection: examples.labelSelection }).from(examples).where(and(eq(examples.modelId, id), eq(examples.externalId, externalId)));
  return e!;
};
const ev = (key: string, rest: Record<string, unknown>, at = '2026-11-20T10:00:00Z') => ({ idempotencyKey: key, version: 1, occurredAt: at, ...rest }) as never;

before(async () => {
  env = await startCallerEnv();
  ingest = (await env.as(`mail-frontend-${uid()}`, 'ingest')).client;
  model = `spam-${uid()}`;
  modelId = await registerModel(model);
});
after(async () => {
  await env?.stop();
});

test('opting in is an operator setting, audited; others are refused', async () => {
  assert.deepEqual(await env.clients.viewer.feedback.labelling.query({ model }), { model, kinds: [] });
  await assert.rejects(env.clients.viewer.feedback.setLabelling.mutate({ model, kinds: ['correction'] }), (e) => codeOf(e) === 'FORBIDDEN');
  await assert.rejects(ingest.feedback.setLabelling.mutate({ model, kinds: ['correction'] }), (e) => codeOf(e) === 'FORBIDDEN');
  const set = await env.clients.operator.feedback.setLabelling.mutate({ model, kinds: ['override', 'correction'] });
  assert.deepEqual(set, { model, kinds: ['correction', 'override'], previous: [] });
  assert.deepEqual((await env.db.select({ f: models.feedbackLabels }).from(models).where(eq(models.id, modelId)))[0]!.f, { kinds: ['correction', 'override'] });
  const [audit] = await env.db.select().from(auditLog).where(and(eq(auditLog.action, 'feedback.setLabelling'), eq(auditLog.target, model))).orderBy(desc(auditLog.id)).limit(1);
  assert.ok(audit, 'the setting change is in the audit log');
});

test('corrections and overrides become feedback labels; designed labels are never overwritten; unknown examples are counted', async () => {
  const out = await ingest.feedback.ingest.mutate({
    model,
    events: [
      ev('c0', { kind: 'correction', correctedLabel: 1, exampleExternalId: 'u0', requestId: 'r0' }),
      ev('o1', { kind: 'override', action: 'not_spam', exampleExternalId: 'u1' }),
      ev('o2', { kind: 'override', action: 'spam', exampleExternalId: 'u2' }),
      ev('req', { kind: 'correction', correctedLabel: 1, requestId: 'req-u7' }), // reaches u7 through its prediction
      ev('imp', { kind: 'correction', correctedLabel: 0, exampleExternalId: 'imp' }), // disagrees: conflict
      ev('ann', { kind: 'override', action: 'not_spam', exampleExternalId: 'ann' }), // disagrees: conflict
      ev('rev', { kind: 'correction', correctedLabel: 1, exampleExternalId: 'rev' }), // agrees: no conflict, no write
      ev('mdl', { kind: 'correction', correctedLabel: 0, exampleExternalId: 'mdl' }), // the model's own label: a user's correction replaces it
      ev('nx', { kind: 'correction', correctedLabel: 1, exampleExternalId: 'no-such-example' }),
      ev('nreq', { kind: 'override', action: 'spam', requestId: 'no-such-request' }),
      ev('thumb', { kind: 'thumbs', up: true, exampleExternalId: 'u3' }), // accepted: never a label
      ev('rep', { kind: 'report', exampleExternalId: 'u4' }), // not a label-carrying kind
    ],
  });
  assert.deepEqual(out, { received: 12, inserted: 12, duplicates: 0, labelled: 5, conflicts: 2, unlinked: 2 });
  assert.deepEqual([(await labelOf('mdl')).label, (await labelOf('mdl')).source], [0, 'feedback']);
  assert.deepEqual(await labelOf('u0'), {
    label: 1,
    source: 'feedback',
    selection: { by: 'user', how: 'feedback:correction', inclusionProbability: null, requestId: 'r0', version: 1, occurredAt: '2026-11-20T10:00:00.000Z' },
  });
  assert.deepEqual([(await labelOf('u1')).label, (await labelOf('u2')).label, (await labelOf('u7')).label], [0, 1, 1]);
  assert.equal((await labelOf('u1')).selection?.how, 'feedback:override');
  for (const [id, source] of [['imp', 'import'], ['ann', 'annotation'], ['rev', 'review']] as const) {
    assert.deepEqual(await labelOf(id), { label: 1, source, selection: null }, `${source} label kept`);
  }
  for (const id of ['u3', 'u4']) assert.deepEqual(await labelOf(id), { label: null, source: 'import', selection: null });
});

test('a later event wins only if it occurred later; a replayed batch changes nothing', async () => {
  const newer = [ev('late', { kind: 'correction', correctedLabel: 0, exampleExternalId: 'u0' }, '2026-11-21T10:00:00Z')];
  assert.deepEqual(await ingest.feedback.ingest.mutate({ model, events: newer }), { received: 1, inserted: 1, duplicates: 0, labelled: 1, conflicts: 0, unlinked: 0 });
  assert.equal((await labelOf('u0')).label, 0);
  // Arrives later but happened earlier: the newer label stays.
  const older = [ev('early', { kind: 'correction', correctedLabel: 1, exampleExternalId: 'u0' }, '2026-11-19T10:00:00Z')];
  assert.deepEqual(await ingest.feedback.ingest.mutate({ model, events: older }), { received: 1, inserted: 1, duplicates: 0, labelled: 0, conflicts: 0, unlinked: 0 });
  assert.equal((await labelOf('u0')).label, 0);
  // Two events on one example in one batch: the one that occurred last decides.
  const both = [
    ev('b2', { kind: 'override', action: 'not_spam', exampleExternalId: 'u5' }, '2026-11-22T12:00:00Z'),
    ev('b1', { kind: 'override', action: 'spam', exampleExternalId: 'u5' }, '2026-11-22T11:00:00Z'),
  ];
  assert.equal((await ingest.feedback.ingest.mutate({ model, events: both })).labelled, 1);
  assert.equal((await labelOf('u5')).label, 0);
  // Replay: duplicates, no label touched (even the one whose stored label the replayed event once lost to).
  const before = await env.db.select().from(examples).where(eq(examples.modelId, modelId));
  const replay = await ingest.feedback.ingest.mutate({ model, events: [...older, ...newer, ...both] });
  assert.deepEqual(replay, { received: 4, inserted: 0, duplicates: 4, labelled: 0, conflicts: 0, unlinked: 0 });
  assert.deepEqual(await env.db.select().from(examples).where(eq(examples.modelId, modelId)), before);
});

test('all or nothing: a bad event in the batch writes neither events nor labels', async () => {
  const events = [ev('bad-ok', { kind: 'correction', correctedLabel: 1, exampleExternalId: 'u6' }), ev('bad-version', { kind: 'correction', correctedLabel: 1, exampleExternalId: 'u6', version: 99 })];
  await assert.rejects(ingest.feedback.ingest.mutate({ model, events }), (e) => codeOf(e) === 'BAD_REQUEST');
  // A label that is not 0 or 1: refused by the schema, nothing written.
  const badLabel = [events[0]!, ev('bad-label', { kind: 'correction', correctedLabel: 2, exampleExternalId: 'u6' })];
  await assert.rejects(ingest.feedback.ingest.mutate({ model, events: badLabel }), (e) => codeOf(e) === 'BAD_REQUEST');
  assert.deepEqual(await labelOf('u6'), { label: null, source: 'import', selection: null });
  assert.equal((await env.db.select().from(feedbackEvents).where(and(eq(feedbackEvents.modelId, modelId), inArray(feedbackEvents.idempotencyKey, ['bad-ok', 'bad-version', 'bad-label'])))).length, 0);
});

test('an unauthorised caller is refused; opting out (or never opting in) writes no label', async () => {
  const events = [ev('v0', { kind: 'correction', correctedLabel: 1, exampleExternalId: 'u6' })];
  await assert.rejects(env.clients.viewer.feedback.ingest.mutate({ model, events }), (e) => codeOf(e) === 'FORBIDDEN');
  assert.deepEqual(await env.clients.operator.feedback.setLabelling.mutate({ model, kinds: [] }), { model, kinds: [], previous: ['correction', 'override'] });
  assert.deepEqual(await ingest.feedback.ingest.mutate({ model, events }), { received: 1, inserted: 1, duplicates: 0, labelled: 0, conflicts: 0, unlinked: 0 });
  assert.equal((await labelOf('u6')).label, null);
  // Only the enabled kinds: a model that takes corrections ignores overrides.
  const other = `spam-${uid()}`;
  const otherId = await registerModel(other);
  await ingest.feedback.ingest.mutate({ model: other, events: [ev('n0', { kind: 'correction', correctedLabel: 1, exampleExternalId: 'u0' })] });
  assert.equal((await labelOf('u0', otherId)).label, null, 'never opted in');
  await env.clients.operator.feedback.setLabelling.mutate({ model: other, kinds: ['correction'] });
  const out = await ingest.feedback.ingest.mutate({
    model: other,
    events: [ev('n1', { kind: 'override', action: 'spam', exampleExternalId: 'u1' }), ev('n2', { kind: 'correction', correctedLabel: 0, exampleExternalId: 'u2' })],
  });
  assert.deepEqual([out.labelled, (await labelOf('u1', otherId)).label, (await labelOf('u2', otherId)).label], [1, null, 0]);
});

test('a feedback label leaves the request in the designed sample population (else the Horvitz-Thompson estimate loses the errors users corrected)', async () => {
  const name = `spam-${uid()}`;
  const id = await registerModel(name);
  const [v] = await env.db.select({ id: modelVersions.id }).from(modelVersions).where(eq(modelVersions.modelId, id));
  // Traffic: 30 requests that became unlabelled examples t0..t29, the model scoring them.
  await env.db.insert(examples).values(Array.from({ length: 30 }, (_, i) => ({ modelId: id, externalId: `t${i}`, input: { body: `t${i}` }, split: 'train' as const })));
  await env.db.insert(predictions).values(
    Array.from({ length: 30 }, (_, i) => ({ modelId: id, versionId: v!.id, requestId: `q${i}`, exampleExternalId: `t${i}`, score: (i + 0.5) / 30, decision: i >= 15 ? 1 : 0, occurredAt: new Date('2026-11-20T09:00:00Z'), loggedBy: 'test' })),
  );
  await env.clients.operator.feedback.setLabelling.mutate({ model: name, kinds: ['override'] });
  // Users rescue 10 blocked e-mails: the model's errors, chosen by the users.
  const rescued = Array.from({ length: 10 }, (_, i) => ev(`p${i}`, { kind: 'override', action: 'not_spam', requestId: `q${15 + i}` }));
  assert.equal((await ingest.feedback.ingest.mutate({ model: name, events: rescued })).labelled, 10);
  const batch = await createAnnotationActivities({ db: env.db }).sampleForAnnotation({
    runId: `run-pool-${uid()}`,
    modelId: id,
    requestedBy: 'test',
    settings: { budget: 30, goldShare: 0, deadlineSeconds: 600, seed: 1 },
  });
  // 30 requests and registerModel's req-u7: all answered traffic, feedback-labelled or not (21 if the 10 rescued left it).
  assert.equal(batch?.poolSize, 31);
});
