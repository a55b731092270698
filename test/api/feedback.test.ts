// Feedback ingest: all or nothing per batch, replays counted as duplicates, events tied to real versions.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { count, eq } from 'drizzle-orm';
import type { ApiClient } from '../../api/client';
import { feedbackEvents, models, modelVersions } from '../../db/schema';
import { uid } from '../helpers';
import { startCallerEnv, type CallerEnv } from '../caller';

let env: CallerEnv;
let ingest: ApiClient;
let model: string;
let modelId: number;

before(async () => {
  env = await startCallerEnv();
  const db = env.db;
  ingest = (await env.as(`mail-frontend-${uid()}`, 'ingest')).client;
  model = `spam-${uid()}`;
  await env.clients.operator.models.register.mutate({ name: model });
  [{ id: modelId }] = (await db.select({ id: models.id }).from(models).where(eq(models.name, model))) as [{ id: number }];
  // A served version to attach feedback to (the artifact's bytes do not matter here).
  await db.insert(modelVersions).values({ modelId, version: 1, trainer: 'test', params: {}, artifact: new Uint8Array([1]), artifactHash: 'sha256:x', status: 'production' });
});
after(async () => {
  await env?.stop();
});

const stored = async () => Number((await env.db.select({ n: count() }).from(feedbackEvents).where(eq(feedbackEvents.modelId, modelId)))[0]!.n);
const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string }).code : undefined);
const at = '2026-11-20T10:00:00Z';
/** This model never opted in to feedback labels (test/api/feedbackLabels.test.ts covers those). */
const NO_LABELS = { labelled: 0, conflicts: 0, unlinked: 0 };

function batch(prefix: string, n: number) {
  const kinds = [
    { kind: 'override' as const, action: 'not_spam' as const },
    { kind: 'report' as const },
    { kind: 'rating' as const, rating: 2, reasonCodes: ['wrong_folder'] },
    { kind: 'dwell' as const, ms: 5400 },
    { kind: 'correction' as const, correctedLabel: 0 as const },
  ];
  return Array.from({ length: n }, (_, i) => ({
    ...kinds[i % kinds.length]!,
    idempotencyKey: `${prefix}-${i}`,
    version: 1,
    requestId: `req-${i}`,
    surface: 'inbox',
    position: i % 50,
    attributes: { sender_tld: i % 3 === 0 ? 'country_code' : 'generic' },
    occurredAt: at,
  }));
}

test('a batch is stored; replaying it writes nothing and says how many were duplicates', async () => {
  const events = batch('a', 25);
  assert.deepEqual(await ingest.feedback.ingest.mutate({ model, events }), { received: 25, inserted: 25, duplicates: 0, ...NO_LABELS });
  assert.equal(await stored(), 25);
  assert.deepEqual(await ingest.feedback.ingest.mutate({ model, events }), { received: 25, inserted: 0, duplicates: 25, ...NO_LABELS });
  const mixed = [...batch('a', 5), ...batch('b', 5)];
  assert.deepEqual(await ingest.feedback.ingest.mutate({ model, events: mixed }), { received: 10, inserted: 5, duplicates: 5, ...NO_LABELS });
  assert.equal(await stored(), 30);
  const [row] = await env.db.select().from(feedbackEvents).where(eq(feedbackEvents.idempotencyKey, 'a-2'));
  assert.deepEqual(row?.value, { rating: 2, reasonCodes: ['wrong_folder'] }, 'kind-specific fields are the value');
  assert.equal(row?.ingestedBy.startsWith('mail-frontend-'), true, 'the sender is the token, not the body');
});

test('one bad event refuses the whole batch, naming its index and field', async () => {
  const before = await stored();
  const events: unknown[] = batch('c', 6);
  events[3] = { ...(events[3] as object), kind: 'rating', rating: 9 };
  await assert.rejects(ingest.feedback.ingest.mutate({ model, events: events as never }), (err) => {
    assert.equal(codeOf(err), 'BAD_REQUEST');
    assert.match((err as Error).message, /events\.3|events\[3\]/);
    return true;
  });
  const unknownVersion = batch('d', 4).map((e, i) => (i === 2 ? { ...e, version: 99 } : e));
  await assert.rejects(ingest.feedback.ingest.mutate({ model, events: unknownVersion }), /events\[2\]\.version: model '.*' has no version 99; nothing in this batch was written/);
  assert.equal(await stored(), before, 'nothing from either batch was written');
});

test('only the ingest role (or admin) may send feedback; batches are capped', async () => {
  await assert.rejects(env.clients.viewer.feedback.ingest.mutate({ model, events: batch('e', 1) }), (err) => codeOf(err) === 'FORBIDDEN');
  await assert.rejects(env.clients.operator.feedback.ingest.mutate({ model, events: batch('e', 1) }), (err) => codeOf(err) === 'FORBIDDEN');
  await assert.rejects(ingest.feedback.ingest.mutate({ model, events: batch('f', 10_001) }), (err) => codeOf(err) === 'BAD_REQUEST');
});

test('a full 10,000-event batch goes in as bulk writes', async () => {
  const t0 = performance.now();
  const result = await ingest.feedback.ingest.mutate({ model, events: batch('g', 10_000) });
  const ms = performance.now() - t0;
  assert.deepEqual(result, { received: 10_000, inserted: 10_000, duplicates: 0, ...NO_LABELS });
  console.log(`# 10,000 feedback events through the router in ${ms.toFixed(0)} ms (${Math.round(10_000 / (ms / 1000))} events/s, ${env.opened.driver})`);
});
