// The traffic replayer against the API over HTTP: a production v1 (a real artifact trained on the test
// subset, routed as a promotion leaves it) serves corpus e-mails it never trained on; the readers'
// feedback must follow from the truth and the decisions, and a second replay writes nothing new. No
// workflow is involved, so the API runs over the router layer's set-up (no Temporal).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { createApiClient, type ApiClient } from '../../api/client';
import { loadCorpus, type CorpusEmail } from '../../demo/corpus';
import { replayTraffic, type ReplayTrafficResult, type TrafficProgress } from '../../demo/traffic';
import { feedbackEvents, modelVersions, predictions } from '../../db/schema';
import { plantProductionVersion, startCallerEnv, type CallerEnv } from '../caller';
import { corpusSubset, uid } from '../helpers';

let env: CallerEnv & { url: string };
let ingest: ApiClient;
let model: string;
let modelId: number;
let productionVersionId: number;
// Not in corpusSubset() (every fifth e-mail, the training data): a spread of 400 unseen e-mails.
const emails: CorpusEmail[] = loadCorpus()
  .filter((_, i) => i % 5 === 2)
  .filter((_, i) => i % 3 === 0);
const truth = new Map(emails.map((e) => [e.externalId, e.label]));
// Certain reactions where the filter was wrong make the counts exact; rating and correction stay random.
const probabilities = { overrideHamRescue: 1, reportMissedSpam: 1, rating: 0.2, correction: 0.5 };

before(async () => {
  const callerEnv = await startCallerEnv();
  env = Object.assign(callerEnv, { url: await callerEnv.serve() });
  model = `spam-${uid()}`;
  ({ id: modelId } = await env.clients.operator.models.register.mutate({ name: model }));
  productionVersionId = await plantProductionVersion(env.db, modelId, corpusSubset().slice(0, 600));
  ingest = createApiClient(env.url, (await env.as(`mail-frontend-${uid()}`, 'ingest')).token);
});
after(async () => {
  await env?.stop();
});

let first: ReplayTrafficResult;

test('a replay logs every e-mail once and sends feedback that follows from the truth and the decisions', async () => {
  const db = env.db;
  const progress: TrafficProgress[] = [];
  const t0 = performance.now();
  first = await replayTraffic({ api: ingest, model, emails, seed: 11, batchSize: 100, probabilities, onProgress: (p) => progress.push(p) });
  console.log(`# ${emails.length} e-mails replayed in ${(performance.now() - t0).toFixed(0)} ms: blocked ${first.blocked}, feedback ${JSON.stringify(first.feedback)}`);
  assert.ok(emails.length > 350, `${emails.length} e-mails`);
  assert.equal(first.requests, emails.length);
  assert.deepEqual(first.versions, { 1: emails.length });
  assert.equal(first.versionRaces, 0);
  assert.deepEqual(progress.map((p) => p.done), Array.from({ length: Math.ceil(emails.length / 100) }, (_, i) => Math.min((i + 1) * 100, emails.length)));
  assert.equal(first.duplicates.predictions, 0);
  assert.equal(first.duplicates.feedback, 0);
  assert.equal(first.truth.ham + first.truth.spam, emails.length);
  assert.equal(first.truth.spam, emails.filter((e) => e.label === 1).length);
  assert.ok(first.truth.hamBlocked + first.truth.spamPassed > 0, 'the filter made some mistakes to react to');
  assert.ok(first.blocked > first.truth.spam / 2, `blocked ${first.blocked} of ${first.truth.spam} spam`);

  // Predictions: one row per e-mail, by the production version.
  const logged = await db.select().from(predictions).where(eq(predictions.modelId, modelId));
  assert.equal(logged.length, emails.length);
  assert.ok(logged.every((p) => p.versionId === productionVersionId));
  assert.equal(logged.filter((p) => p.decision === 1).length, first.blocked);
  const decisionOf = new Map(logged.map((p) => [p.requestId, p.decision]));

  // Feedback: per kind as counted, each consistent with the truth.
  const rows = await db.select().from(feedbackEvents).where(eq(feedbackEvents.modelId, modelId));
  const byKind = (k: string) => rows.filter((r) => r.kind === k);
  assert.equal(rows.length, first.feedback.total);
  assert.equal(first.feedback.inserted, first.feedback.total);
  for (const k of ['override', 'report', 'rating', 'correction'] as const) assert.equal(byKind(k).length, first.feedback[k], k);
  assert.equal(first.feedback.override, first.truth.hamBlocked, 'probability 1: every blocked ham is rescued');
  assert.equal(first.feedback.report, first.truth.spamPassed, 'probability 1: every missed spam is reported');
  assert.ok(rows.every((r) => r.versionId === productionVersionId));
  for (const r of byKind('override')) {
    assert.equal(truth.get(r.exampleExternalId!), 0, 'an override is on ham');
    assert.equal(decisionOf.get(r.requestId!), 1, 'that was blocked');
    assert.deepEqual(r.value, { action: 'not_spam' });
  }
  for (const r of byKind('report')) {
    assert.equal(truth.get(r.exampleExternalId!), 1, 'a report is on spam');
    assert.equal(decisionOf.get(r.requestId!), 0, 'that passed');
  }
  const reacted = new Set([...byKind('override'), ...byKind('report')].map((r) => r.requestId));
  for (const r of byKind('correction')) {
    assert.ok(reacted.has(r.requestId), 'a correction follows an override or a report');
    assert.deepEqual(r.value, { correctedLabel: truth.get(r.exampleExternalId!) });
  }
  for (const r of byKind('rating')) {
    const wrong = decisionOf.get(r.requestId!) !== truth.get(r.exampleExternalId!);
    const stars = (r.value as { rating: number }).rating;
    assert.ok(wrong ? stars <= 2 : stars >= 3, `rating ${stars} when the filter was ${wrong ? 'wrong' : 'right'}`);
  }
  assert.ok(first.feedback.rating > 0, 'some ratings at 20%');
  for (const r of rows) {
    const p = logged.find((x) => x.requestId === r.requestId)!;
    assert.ok(r.occurredAt.getTime() >= p.occurredAt.getTime(), 'feedback comes after the e-mail');
  }

  // Stated against observed.
  assert.deepEqual(first.stated, { ...probabilities, review: 0 });
  assert.equal(first.observed.overrideHamRescue ?? 1, 1);
  assert.equal(first.observed.reportMissedSpam ?? 1, 1);
  assert.equal(first.observed.rating, first.feedback.rating / emails.length);
});

test('replaying the same e-mails (another batch size) writes nothing new: same events, all duplicates', async () => {
  const db = env.db;
  const before = (await db.select().from(feedbackEvents).where(eq(feedbackEvents.modelId, modelId))).length;
  const again = await replayTraffic({ api: ingest, model, emails: emails.slice().reverse(), seed: 11, batchSize: 250, probabilities });
  assert.equal(again.duplicates.predictions, emails.length);
  assert.equal(again.feedback.inserted, 0);
  assert.equal(again.duplicates.feedback, first.feedback.total);
  assert.deepEqual(again.feedback, { ...first.feedback, inserted: 0 }, 'draws are per e-mail, so batch size and input order do not change them');
  assert.equal((await db.select().from(feedbackEvents).where(eq(feedbackEvents.modelId, modelId))).length, before);
  assert.equal((await db.select().from(predictions).where(eq(predictions.modelId, modelId))).length, emails.length);
});

test('the defaults are the stated probabilities; nonsense options are refused before anything is sent', async () => {
  const few = emails.slice(0, 20);
  const out = await replayTraffic({ api: ingest, model, emails: few, requestPrefix: 'defaults' });
  assert.deepEqual(out.stated, { overrideHamRescue: 0.35, reportMissedSpam: 0.15, rating: 0.005, correction: 0.02, review: 0 });
  await assert.rejects(replayTraffic({ api: ingest, model, emails: few, probabilities: { rating: 1.5 } }), /rating must be a probability/);
  await assert.rejects(replayTraffic({ api: ingest, model, emails: few, batchSize: 0 }), /batchSize/);
  // A viewer cannot feed traffic.
  await assert.rejects(replayTraffic({ api: createApiClient(env.url, env.tokens.viewer), model, emails: few, requestPrefix: 'viewer' }), /this needs 'ingest'/);
  const [v] = await env.db.select().from(modelVersions).where(eq(modelVersions.id, productionVersionId));
  assert.equal(v?.status, 'production');
});

test('the review stream spot-checks a uniform share of requests, right or wrong, with the true label', async () => {
  const db = env.db;
  const some = emails.slice(0, 200);
  const prefix = `review-${uid()}`;
  const out = await replayTraffic({ api: ingest, model, emails: some, requestPrefix: prefix, seed: 3, probabilities: { overrideHamRescue: 0, reportMissedSpam: 0, rating: 0, review: 0.5 } });
  const rows = (await db.select().from(feedbackEvents).where(eq(feedbackEvents.modelId, modelId))).filter((r) => r.requestId?.startsWith(`${prefix}:`));
  assert.equal(rows.length, out.feedback.reviewed);
  assert.ok(out.feedback.reviewed > 70 && out.feedback.reviewed < 130, `${out.feedback.reviewed} of 200 reviewed at 50%`);
  for (const r of rows) {
    assert.equal(r.kind, 'correction');
    assert.equal((r.value as { correctedLabel: number }).correctedLabel, truth.get(r.requestId!.slice(prefix.length + 1)), 'the true label');
  }
  const decided = await db.select().from(predictions).where(eq(predictions.modelId, modelId));
  const reviewedDecisions = new Set(rows.map((r) => decided.find((p) => p.requestId === r.requestId)!.decision));
  assert.deepEqual([...reviewedDecisions].sort(), [0, 1], 'blocked and delivered mail alike');
});
