// `retrain worker` killed with SIGKILL while it trains: runs of three models train at the same time
// on one worker; it is killed while the runs' training activities heartbeat from inside their epochs,
// a new worker is started, and the kill is repeated (on the retried trainings) until every run has had
// a training attempt killed and the worker was killed at least twice; the last worker finishes. Every run is promoted exactly once: one candidate version,
// in production behind the production route, one promote deployment event, one route.promote audit row.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import { Deployment, faultSuiteSkip, report } from './harness';
import { BEFORE_TRAINED, maxActivityAttempt, promotionVerdict, registerLoadedModel, runRow, startRun, temporalClient, trainingState } from './runs';

const skip = faultSuiteSkip();
const dep = new Deployment('worker-sigkill');
let temporal: { client: Client; close(): Promise<void> } | undefined;

const RUNS = 3;
const MIN_KILLS = 2;
const MAX_KILLS = 4;
// Enough epochs that training lasts well past a kill on a loaded 2-core machine (and past the retry).
const TRAINER_PARAMS = { epochs: 600 };
const WORKER_ENV = { RETRAIN_TRAINING_THREADS: String(RUNS) };

dep.hooks(skip, async () => {
  temporal = await temporalClient(dep);
}, () => temporal?.close() ?? Promise.resolve());

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
    while ((killedRuns.size < RUNS || kills < MIN_KILLS) && kills < MAX_KILLS) {
      const inTraining = await dep.waitFor(`training heartbeats for kill ${kills + 1}`, async () => {
        const states = await Promise.all(runIds.map(async (id) => ({ id, ...(await trainingState(dep, client, id, workerSince)), row: await runRow(dep, id) })));
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          dep.log(`waiting for kill ${kills + 1}: ${states.map((s) => `${s.row?.status}/${s.row?.step}${s.heartbeated ? '+hb' : s.started ? '+started' : ''}${killedRuns.has(s.id) ? '(killed before)' : ''}`).join(' ')}`);
        }
        const untrained = states.filter((s) => BEFORE_TRAINED.includes(s.row?.step ?? 'queued') && !['promoted', 'rejected', 'failed'].includes(s.row?.status ?? ''));
        const unkilled = untrained.filter((s) => !killedRuns.has(s.id));
        // Aim at the runs not hit yet; once all were, at the retried trainings (up to MIN_KILLS kills).
        const targets = unkilled.length > 0 ? unkilled : untrained;
        if (targets.length === 0) return 'none-left' as const;
        // A target has heartbeated on this worker (its training attempt is running here): kill now. The
        // kill lands mid-training for every run whose training attempt this worker holds.
        return targets.some((s) => s.heartbeated) ? states.filter((s) => s.started) : false;
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
    const retried = verdicts.filter((v) => killedRuns.has(v.runId) && v.attempt >= 2).length;
    report(t, `worker-sigkill runs survived ${survived}/${RUNS} promoted-once ${once}/${RUNS} kills ${kills} trainings-killed ${landedMidTraining} runs-killed-mid-training ${killedRuns.size}/${RUNS} runs-retried ${retried}/${RUNS}`);

    assert.equal(survived, RUNS, 'every run promoted');
    assert.equal(once, RUNS, 'every run promoted exactly once');
    assert.equal(killedRuns.size, RUNS, 'every run had a training attempt killed');
    assert.ok(kills >= MIN_KILLS, `the worker was killed at least ${MIN_KILLS} times (${kills})`);
    assert.equal(retried, killedRuns.size, 'every killed run had its training retried');
  } catch (err) {
    dep.failed = true;
    throw err;
  }
});
