// The Temporal server killed with SIGKILL mid-run and restarted on its own database (the dev server's
// --db-filename, on the same port), twice: first while the runs' training activities heartbeat, then
// again once the runs have moved on after the first restart. `retrain worker` and `retrain api` keep
// running through both outages and reconnect by themselves. Every run is promoted exactly once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import { Deployment, faultSuiteSkip, report, sleep } from './harness';
import { maxActivityAttempt, promotionVerdict, registerLoadedModel, runRow, startRun, temporalClient, trainingHeartbeated } from './runs';

const skip = faultSuiteSkip();
const dep = new Deployment('temporal-restart');
let temporal: { client: Client; close(): Promise<void> } | undefined;

const RUNS = 2;
const RESTARTS = 2;
const DOWN_MS = 2_000;
// The runs train for different lengths: when the first is through training after restart 1, the second
// is still training, so restart 2 lands mid-run (with equal lengths both could finish between two looks).
const TRAINER_PARAMS = [{ epochs: 300 }, { epochs: 1000 }];
const DONE = ['promoted', 'rejected', 'failed'];

dep.hooks(skip, async () => {
  temporal = await temporalClient(dep);
}, () => temporal?.close() ?? Promise.resolve());

test('Temporal server SIGKILL and restart on its db mid-run: every run promoted exactly once', { skip, timeout: 420_000 }, async (t) => {
  try {
    const client = temporal!.client;
    const modelNames = Array.from({ length: RUNS }, (_, i) => `temporal-kill-${i}`);
    for (const name of modelNames) await registerLoadedModel(dep, name);
    const worker = await dep.startWorker({ RETRAIN_TRAINING_THREADS: String(RUNS) });
    const runIds: string[] = [];
    for (const [i, name] of modelNames.entries()) runIds.push(await startRun(dep, name, TRAINER_PARAMS[i % TRAINER_PARAMS.length]!));

    const momentsAtRestart: string[] = [];
    let lastLog = 0;
    const describeRuns = async () => (await Promise.all(runIds.map((id) => runRow(dep, id)))).map((r) => `${r?.status}/${r?.step}`).join(' ');

    // Restart 1: while the runs train (every run has reached training, and one at least heartbeats
    // from inside it; on a loaded machine one run can be through training before the other starts).
    await dep.waitFor('training heartbeats', async () => {
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        dep.log(`waiting for restart 1: ${await describeRuns()}`);
      }
      const rows = await Promise.all(runIds.map((id) => runRow(dep, id)));
      if (rows.some((r) => ['queued', 'started', 'snapshot'].includes(r?.step ?? 'queued'))) return false;
      return (await Promise.all(runIds.map((id) => trainingHeartbeated(dep, client, id)))).some(Boolean);
    }, 240_000, 300);
    const restart = async (n: number) => {
      momentsAtRestart.push(await describeRuns());
      await dep.temporal!.kill();
      dep.log(`restart ${n}: Temporal SIGKILLed while runs were ${momentsAtRestart.at(-1)}`);
      await sleep(DOWN_MS);
      const t0 = Date.now();
      await dep.temporal!.start();
      dep.log(`restart ${n}: Temporal serving again from ${dep.temporal!.dbFile} after ${Date.now() - t0} ms`);
    };
    await restart(1);

    // Restart 2: once the runs have made progress on the restarted server (a step further, or done).
    const stepsAfter1 = (await Promise.all(runIds.map((id) => runRow(dep, id)))).map((r) => r?.step);
    await dep.waitFor('progress after the first restart', async () => {
      const rows = await Promise.all(runIds.map((id) => runRow(dep, id)));
      return rows.some((r, i) => r?.step !== stepsAfter1[i] || DONE.includes(r?.status ?? ''));
    }, 240_000, 300);
    if ((await Promise.all(runIds.map((id) => runRow(dep, id)))).every((r) => DONE.includes(r?.status ?? ''))) {
      throw new Error('every run finished before the second restart: it would not be mid-run');
    }
    await restart(2);

    for (const id of runIds) {
      await dep.waitFor(`run ${id} to finish`, async () => DONE.includes((await runRow(dep, id))?.status ?? ''), 300_000, 1_000);
    }
    const verdicts = [];
    for (const [i, id] of runIds.entries()) {
      const v = await promotionVerdict(dep, id, modelNames[i]!);
      const attempt = await maxActivityAttempt(client, id);
      verdicts.push(v);
      t.diagnostic(`${id}: ${JSON.stringify({ ...v, maxActivityAttempt: attempt })}`);
    }
    const survived = verdicts.filter((v) => v.status === 'promoted').length;
    const once = verdicts.filter((v) => v.promotedOnce).length;
    report(t, `temporal-restart runs survived ${survived}/${RUNS} promoted-once ${once}/${RUNS} restarts ${RESTARTS} worker-restarts 0 worker-alive ${worker.isAlive()}`);
    t.diagnostic(`runs at each restart: ${momentsAtRestart.map((m, i) => `#${i + 1} ${m}`).join('; ')}`);

    assert.equal(survived, RUNS, 'every run promoted');
    assert.equal(once, RUNS, 'every run promoted exactly once');
    assert.ok(worker.isAlive(), 'the worker rode out both outages');
  } catch (err) {
    dep.failed = true;
    throw err;
  }
});
