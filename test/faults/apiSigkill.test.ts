// `retrain api` killed with SIGKILL in the middle of a large examples import (POST
// /api/models/{name}/examples, 2,000 e-mail-sized examples, the most one request takes). Each round
// kills at another point: while the request is being received and parsed, while the insert runs in
// the database, and just after the rows were committed (before the response). After a restart the
// batch is in the database whole or not at all (never partly), and the client's retry of the same
// batch leaves exactly one copy of each example: imports are idempotent by (model, externalId), and
// the retry says how many it found already there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { resultRows } from '../../db/queries';
import { auditLog, examples, models } from '../../db/schema';
import { Deployment, faultSuiteSkip, report, sleep } from './harness';

const skip = faultSuiteSkip();
const dep = new Deployment('api-sigkill');

const BATCH = 2_000;
const BODY_CHARS = 3_000;

dep.hooks(skip);

type KillPoint = 'receiving' | 'inserting' | 'committed';

function batchOf(round: number) {
  const filler = 'lorem ipsum dolor sit amet consectetur adipiscing elit '.repeat(Math.ceil(BODY_CHARS / 56)).slice(0, BODY_CHARS);
  return Array.from({ length: BATCH }, (_, i) => ({
    externalId: `imp-${round}-${i}`,
    input: { subject: `message ${round}/${i}`, body: `${i} ${filler}` },
    label: (i % 2) as 0 | 1,
    slices: { sender_tld: i % 3 ? 'generic' : 'country_code' },
    split: i % 10 < 3 ? ('heldout' as const) : ('train' as const),
  }));
}

test('API SIGKILL mid-import: whole batch or none, and the retry leaves one copy', { skip, timeout: 240_000 }, async (t) => {
  try {
    const model = 'import-filter';
    await dep.call('operator', 'POST', '/models', { name: model, description: 'fault suite' });
    const db = dep.opened!.db;
    const [m] = await db.select().from(models).where(eq(models.name, model));
    const countOf = async (ids: string[]) =>
      (await db.select({ n: sql<number>`count(*)::int` }).from(examples).where(and(eq(examples.modelId, m!.id), inArray(examples.externalId, ids))))[0]!.n;
    const importAudits = async () =>
      (await db.select({ n: sql<number>`count(*)::int` }).from(auditLog).where(and(eq(auditLog.action, 'models.importExamples'), eq(auditLog.target, model))))[0]!.n;

    const points: KillPoint[] = ['receiving', 'inserting', 'committed'];
    const outcomes: string[] = [];
    let partial = 0;
    let retriesOneCopy = 0;
    let auditGaps = 0;
    for (const [round, point] of points.entries()) {
      const batch = batchOf(round);
      const ids = batch.map((e) => e.externalId);
      const auditsBefore = await importAudits();
      const api = dep.procs.filter((p) => p.name === 'api').at(-1)!;
      const request = dep.rest('operator', 'POST', `/models/${model}/examples`, { examples: batch }, 60_000).then(
        (r) => `HTTP ${r.status}`,
        (err: Error) => `${err.name}: ${err.message}`,
      );
      // Wait for the chosen moment, then SIGKILL: no shutdown hook, no drain.
      let landed: string = point;
      if (point === 'receiving') {
        await sleep(15);
      } else if (point === 'inserting') {
        const seen = await dep.waitFor('the insert to be running', async () => {
          const [row] = resultRows<{ n: number }>(await db.execute(sql`select count(*)::int as n from pg_stat_activity where state = 'active' and query ilike 'insert into "examples"%'`));
          if (row && Number(row.n) > 0) return 'insert';
          return (await countOf(ids.slice(0, 1))) > 0 ? 'already-committed' : false;
        }, 60_000, 2);
        if (seen === 'already-committed') landed = 'committed (the insert finished before it was seen running)';
      } else {
        await dep.waitFor('the rows to be committed', async () => (await countOf(ids.slice(0, 1))) > 0, 60_000, 2);
      }
      await api.kill('SIGKILL');
      const clientSaw = await request;
      const afterKill = await countOf(ids);
      const outcome = afterKill === 0 ? 'none' : afterKill === BATCH ? 'all' : `partial(${afterKill})`;
      if (afterKill !== 0 && afterKill !== BATCH) partial++;
      const audited = (await importAudits()) - auditsBefore;
      if (afterKill === BATCH && audited === 0) auditGaps++;
      outcomes.push(outcome);
      dep.log(`round ${round}: killed while ${landed}; client saw ${clientSaw}; ${afterKill} of ${BATCH} rows in the db (${outcome}); audit rows ${audited}`);

      // The client retries the same batch against the restarted API.
      await dep.startApi();
      const retry = await dep.call<{ inserted: number; duplicates: number }>('operator', 'POST', `/models/${model}/examples`, { examples: batch });
      const afterRetry = await countOf(ids);
      const copies = await db
        .select({ n: sql<number>`count(*)::int` })
        .from(examples)
        .where(and(eq(examples.modelId, m!.id), inArray(examples.externalId, ids)))
        .groupBy(examples.externalId)
        .having(sql`count(*) > 1`);
      if (afterRetry === BATCH && copies.length === 0) retriesOneCopy++;
      assert.equal(retry.inserted + retry.duplicates, BATCH);
      assert.equal(retry.duplicates, afterKill, 'the retry finds exactly what the killed request committed');
      t.diagnostic(`round ${round} (${point}): client saw ${clientSaw}; after kill ${outcome}; retry inserted ${retry.inserted} duplicates ${retry.duplicates}; rows ${afterRetry}`);
    }

    report(t, `api-sigkill imports ${points.length} of ${BATCH} examples killed ${points.length} partial ${partial} outcomes ${outcomes.join(',')} retry-one-copy ${retriesOneCopy}/${points.length} committed-without-audit-row ${auditGaps}`);
    assert.equal(partial, 0, 'no partial batch');
    assert.equal(retriesOneCopy, points.length, 'every retry leaves exactly one copy of the batch');
  } catch (err) {
    dep.failed = true;
    throw err;
  }
});
