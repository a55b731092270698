// `retrain worker` killed with SIGKILL while it trains: runs of three models train at the same time
// on one worker; it is killed while the runs' training activities heartbeat from inside their epochs,
// a new worker is started, and the kill is repeated (on the retried trainings) until every run has had
// a training attempt killed; the last worker finishes. Every run is promoted exactly once: one candidate version,
// in production behind the production route, one promote deployment event, one route.promote audit row.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { Deployment, faultSuiteSkip, report } from './harness';
import { BEFORE_TRAINED, maxActivityAttempt, promotionVerdict, registerLoadedModel, runRow, startRun, temporalClient, trainingHeartbeated } from './runs';

const skip = faultSuiteSkip();
const dep = new Deployment('worker-sigkill');
let failed = false;
let temporal: { client: Client; close(): Promise<void> } | undefined;

const RUNS = 3;
const MAX_KILLS = 4;
// Enough epochs that training lasts well past a kill on a loaded 2-core machine (and past the retry).
const TRAINER_PARAMS = { epochs: 600 };
const WORKER_ENV = { RETRAIN_TRAINING_THREADS: String(RUNS) };

before(async () => {
  if (skip) return;
  await dep.startPostgres();
  await dep.startTemporal();
  await dep.startApi();
  temporal = await temporalClient(dep);
});
after(async () => {
  if (skip) return;
  await temporal?.close().catch(() => {});
  await dep.stop(failed);
});

test('worker SIGKILL mid-training: every run promoted exactly once', { skip, timeout: 420_000 }, async (t) => {
  try {
    const client = temporal!.client;
    const modelNames = Array.from({ length: RUNS }, (_, i) => `worker-kill-${i}`);
    for (const name of modelNames) await registerLoadedModel(dep, name);
    let worker = await dep.startWorker(WORKER_ENV);
    const runIds: string[] = [];
    for (const name of modelNames) runIds.push(await startRun(dep, name, TRAINER_PARAMS));

    // Kill the worker while runs train, and again after the retried trainings are under way on the
    // next worker, until every run has had a training attempt killed (at most MAX_KILLS kills). A run
    // whose training got through unkilled (the machine was faster than its epochs) is counted as missed.
    let kills = 0;
    let lastLog = 0;
    let landedMidTraining = 0;
    const killedRuns = new Set<string>();
    let workerSince = Date.now() - 1_000;
    while (killedRuns.size < RUNS && kills < MAX_KILLS) {
      const inTraining = await dep.waitFor(`training heartbeats for kill ${kills + 1}`, async () => {
        const states = await Promise.all(runIds.map(async (id) => ({ id, hb: await trainingHeartbeated(dep, client, id, workerSince), row: await runRow(dep, id) })));
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          dep.log(`waiting for kill ${kills + 1}: ${states.map((s) => `${s.row?.status}/${s.row?.step}${s.hb ? '+hb' : ''}${killedRuns.has(s.id) ? '(killed before)' : ''}`).join(' ')}`);
        }
        const unkilled = states.filter((s) => !killedRuns.has(s.id) && BEFORE_TRAINED.includes(s.row?.step ?? 'queued') && !['promoted', 'rejected', 'failed'].includes(s.row?.status ?? ''));
        if (unkilled.length === 0) return 'none-left' as const;
        // Every run not yet killed is training here and has heartbeated: the kill hits them all.
        return unkilled.every((s) => s.hb) ? states.filter((s) => s.hb) : false;
      }, 240_000, 300);
      if (inTraining === 'none-left') break;
      await worker.kill('SIGKILL');
      kills++;
      landedMidTraining += inTraining.length;
      for (const s of inTraining) killedRuns.add(s.id);
      dep.log(`kill ${kills}: SIGKILLed worker pid ${worker.pid} while ${inTraining.length} run(s) trained`);
      workerSince = Date.now();
      worker = await dep.startWorker(WORKER_ENV);
    }

    const verdicts = [];
    for (const id of runIds) {
      await dep.waitFor(`run ${id} to finish`, async () => ['promoted', 'rejected', 'failed'].includes((await runRow(dep, id))?.status ?? ''), 300_000, 1_000);
    }
    for (const [i, id] of runIds.entries()) {
      const v = await promotionVerdict(dep, id, modelNames[i]!);
      const attempt = await maxActivityAttempt(client, id);
      verdicts.push({ ...v, attempt });
      t.diagnostic(`${id}: ${JSON.stringify({ ...v, maxActivityAttempt: attempt })}`);
    }
    const survived = verdicts.filter((v) => v.status === 'promoted').length;
    const once = verdicts.filter((v) => v.promotedOnce).length;
    const retried = verdicts.filter((v) => v.attempt >= 2).length;
    report(t, `worker-sigkill runs survived ${survived}/${RUNS} promoted-once ${once}/${RUNS} kills ${kills} trainings-killed ${landedMidTraining} runs-killed-mid-training ${killedRuns.size}/${RUNS} runs-retried ${retried}/${RUNS}`);

    assert.equal(survived, RUNS, 'every run promoted');
    assert.equal(once, RUNS, 'every run promoted exactly once');
    assert.equal(killedRuns.size, RUNS, 'every run had a training attempt killed');
    assert.equal(retried, RUNS, 'every run had its training retried after a kill');
  } catch (err) {
    failed = true;
    throw err;
  }
});
