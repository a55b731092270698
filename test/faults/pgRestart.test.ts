// PostgreSQL restarted (immediate shutdown, a pause, start again) while serving systems send feedback
// in batches through POST /api/models/{model}/feedback. The senders behave like real ones: every event
// has its idempotency key, a batch that fails (refused connection, 5xx, a dropped response) is sent
// again, unchanged, until it is acknowledged. Several batches are attempted while the database is down.
// Afterwards the database holds every event sent exactly once: 0 lost, 0 duplicated.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { feedbackEvents, modelVersions, models } from '../../db/schema';
import { Deployment, faultSuiteSkip, report, sleep } from './harness';

const skip = faultSuiteSkip();
const dep = new Deployment('pg-restart');

const SENDERS = 4;
const BATCHES_PER_SENDER = 8;
const EVENTS_PER_BATCH = 200;
const OUTAGE_MS = 4_000;

dep.hooks(skip);

test('PostgreSQL restart under feedback ingest: 0 lost, 0 duplicated', { skip, timeout: 240_000 }, async (t) => {
  try {
    const model = 'pg-restart-filter';
    await dep.call('operator', 'POST', '/models', { name: model, description: 'fault suite' });
    // Feedback names the version that answered; a version loaded by hand is enough (no training here).
    const db = dep.opened!.db;
    const [m] = await db.select().from(models).where(eq(models.name, model));
    await db.insert(modelVersions).values({ modelId: m!.id, version: 1, status: 'production', trainer: 'by-hand', params: {}, artifact: new Uint8Array([0]), artifactHash: 'by-hand' });

    const sent = new Set<string>();
    let acknowledged = 0;
    let inserted = 0;
    let duplicatesReported = 0;
    let failedAttempts = 0;
    const statuses = new Map<string, number>();
    let outage: { from: number; to: number } | null = null;
    let down = false;
    const batchesDuringOutage = new Set<string>();
    const totalBatches = SENDERS * BATCHES_PER_SENDER;

    const sendBatch = async (sender: number, b: number) => {
      const batchId = `s${sender}-b${b}`;
      const events = Array.from({ length: EVENTS_PER_BATCH }, (_, i) => {
        const key = `fb-${batchId}-${i}`;
        sent.add(key);
        return { kind: 'thumbs', up: i % 3 !== 0, idempotencyKey: key, version: 1, requestId: `req-${batchId}-${i}`, occurredAt: new Date().toISOString() };
      });
      const deadline = Date.now() + 120_000;
      for (let attempt = 1; ; attempt++) {
        if (down) batchesDuringOutage.add(batchId);
        let outcome: string;
        try {
          const res = await dep.rest('ingest', 'POST', `/models/${model}/feedback`, { events }, 30_000);
          if (res.status === 200) {
            const body = res.json as { inserted: number; duplicates: number };
            inserted += body.inserted;
            duplicatesReported += body.duplicates;
            acknowledged++;
            return;
          }
          outcome = `HTTP ${res.status}`;
          // A 4xx other than a timeout is the sender's own fault: retrying would not help, so it is a failure here.
          if (res.status < 500 && res.status !== 408 && res.status !== 429) {
            throw new Error(`batch ${batchId} refused with HTTP ${res.status}: ${JSON.stringify(res.json).slice(0, 500)}`);
          }
        } catch (err) {
          if ((err as Error).message.startsWith(`batch ${batchId} refused`)) throw err;
          outcome = (err as Error).name === 'TimeoutError' ? 'timeout' : 'network error';
        }
        if (down) batchesDuringOutage.add(batchId);
        failedAttempts++;
        statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
        if (Date.now() > deadline) throw new Error(`batch ${batchId} not acknowledged after ${attempt} attempts (last: ${outcome})`);
        await sleep(Math.min(1_000, 150 * attempt));
      }
    };

    const senders = Array.from({ length: SENDERS }, async (_, s) => {
      for (let b = 0; b < BATCHES_PER_SENDER; b++) {
        await sendBatch(s, b);
        await sleep(150); // traffic arrives over time, so the outage falls inside the stream
      }
    });

    const chaos = (async () => {
      await dep.waitFor('a quarter of the batches to be acknowledged', async () => acknowledged >= totalBatches / 4, 120_000, 20);
      dep.log(`stopping PostgreSQL (immediate) after ${acknowledged} of ${totalBatches} batches`);
      const from = Date.now();
      down = true;
      await dep.pg!.stopImmediate();
      await sleep(OUTAGE_MS);
      await dep.pg!.start();
      down = false;
      outage = { from, to: Date.now() };
      dep.log(`PostgreSQL back after ${outage.to - outage.from} ms`);
    })();

    await Promise.all([...senders, chaos]);

    const rows = await db
      .select({ key: feedbackEvents.idempotencyKey, n: sql<number>`count(*)::int` })
      .from(feedbackEvents)
      .where(eq(feedbackEvents.modelId, m!.id))
      .groupBy(feedbackEvents.idempotencyKey);
    const stored = rows.reduce((s, r) => s + r.n, 0);
    const storedKeys = new Set(rows.map((r) => r.key));
    const lost = [...sent].filter((k) => !storedKeys.has(k)).length;
    const duplicated = rows.reduce((s, r) => s + (r.n - 1), 0) + rows.filter((r) => !sent.has(r.key)).length;
    const attemptsByOutcome = [...statuses].map(([k, v]) => `${k}=${v}`).join(',') || 'none';

    report(t, `pg-restart events sent ${sent.size} stored ${stored} lost ${lost} duplicated ${duplicated} batches-during-outage ${batchesDuringOutage.size} outage-ms ${outage!.to - outage!.from}`);
    const api = dep.procs.filter((p) => p.name === 'api');
    report(t, `pg-restart batches ${totalBatches} acknowledged ${acknowledged} failed-attempts ${failedAttempts} (${attemptsByOutcome}) inserted-by-acks ${inserted} replayed-as-duplicates ${duplicatesReported} api-rode-out ${api.length === 1 && api[0]!.isAlive()}`);

    assert.equal(acknowledged, totalBatches, 'every batch acknowledged in the end');
    assert.ok(api.length === 1 && api[0]!.isAlive(), 'the API process rode out the outage (no restart)');
    assert.ok(batchesDuringOutage.size > 1, `more than one batch attempted during the outage (${batchesDuringOutage.size})`);
    assert.equal(lost, 0, 'no event lost');
    assert.equal(duplicated, 0, 'no event stored twice');
    assert.equal(stored, sent.size);
    // What the acknowledgements counted adds up to what is stored: an event committed before its
    // response was lost comes back as a duplicate on the retry, never as a second row.
    assert.equal(inserted, stored, 'inserted counts in the acknowledgements add up to the rows stored');
  } catch (err) {
    dep.failed = true;
    throw err;
  }
});
