// Watching it run, on the real stack: /healthz, /readyz (200 with every check; 503 naming the database or
// Temporal when it cannot be reached) and /metrics (request counts by procedure and status, the domain's
// gauges after a real run) on the API; the same probes on the workers' health server; the pieces that
// need no stack (the procedure label, RETRAIN_WORKER_HEALTH_PORT) directly.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { openDb } from '../../db/index';
import { procedureOf } from '../../api/health';
import { startApiServer } from '../../api/server';
import { startHealthServer } from '../../temporal-config/healthServer';
import { readSettings } from '../../temporal-config/env';
import type { WorkerSet } from '../../temporal-config/worker';
import { registerModelWithData, startTestEnv, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.stop();
});

const getJson = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as { ok: boolean; failed?: string[]; checks: Record<string, { ok: boolean; detail: string; ms: number }> } };
};

/** The value of one sample in Prometheus text, or undefined when the series is absent. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};
const scrape = async (url: string) => {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return res.text();
};

test('/healthz answers 200 {"ok":true}; /readyz 200 with the database, migrations, Temporal and (workers in this process) workers checks passing', async () => {
  const alive = await fetch(`${env.url}/healthz`);
  assert.equal(alive.status, 200);
  assert.deepEqual(await alive.json(), { ok: true });
  const started = Date.now();
  const { status, body } = await getJson(`${env.url}/readyz`);
  assert.ok(Date.now() - started < 2000, `readyz took ${Date.now() - started} ms`);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.ok, true);
  // startServices ran the workers beside the API (as `retrain up` does): their state is part of readiness.
  assert.deepEqual(Object.keys(body.checks).sort(), ['database', 'migrations', 'temporal', 'workers']);
  for (const check of Object.values(body.checks)) assert.equal(check.ok, true);
  assert.match(body.checks.migrations!.detail, /^\d+ applied, newest \d{4}_/);
  const { control, training } = env.services.taskQueues;
  assert.equal(body.checks.workers!.detail, `${control}: RUNNING, ${training}: RUNNING`);
});

test('/readyz answers 503 naming the database when it cannot be reached, and Temporal when its server does not answer, within the bound', async () => {
  const closed = await openDb({ pgliteDir: 'memory://', migrate: false });
  await closed.close();
  const deps = {
    db: env.services.opened.db,
    temporal: env.services.client,
    namespace: env.services.namespace,
    taskQueues: env.services.taskQueues,
    defaultApprovalTimeoutSeconds: 600,
  };
  // An API without workers in its process (retrain api) has no workers check.
  const noDb = await startApiServer({ ...deps, db: closed.db });
  // Nothing listens on port 1: the connection is made lazily (giving up on connecting after 1 s) and every call fails.
  const nowhere = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: '1s' }), namespace: env.services.namespace });
  const noTemporal = await startApiServer({ ...deps, temporal: nowhere });
  try {
    const a = await getJson(`${noDb.url}/readyz`);
    assert.equal(a.status, 503);
    assert.deepEqual(a.body.failed, ['database', 'migrations']);
    assert.deepEqual(Object.keys(a.body.checks).sort(), ['database', 'migrations', 'temporal']);
    assert.equal(a.body.checks.temporal!.ok, true);
    assert.ok(a.body.checks.database!.detail.length > 0);

    const started = Date.now();
    const b = await getJson(`${noTemporal.url}/readyz`);
    assert.ok(Date.now() - started < 3500, `readyz took ${Date.now() - started} ms`);
    assert.equal(b.status, 503);
    assert.deepEqual(b.body.failed, ['temporal']);
    // The call's deadline (Temporal at 127.0.0.1:1 did not answer: ...) or, on a loaded machine, the check's bound.
    assert.match(b.body.checks.temporal!.detail, /did not answer/);
    assert.equal(b.body.checks.database!.ok, true);
    // Alive all the same: liveness touches nothing.
    assert.equal((await fetch(`${noTemporal.url}/healthz`)).status, 200);
  } finally {
    await noDb.close();
    await noTemporal.close();
    // Closed once its call has given up connecting (after 1 s), so no call is cut off while pending.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await nowhere.connection.close().catch(() => {});
  }
});

test('procedure labels: tRPC paths and REST operations by their procedure, anything unknown as "other"', () => {
  assert.equal(procedureOf('GET', '/trpc/models.list?input=%7B%7D'), 'models.list');
  assert.equal(procedureOf('GET', '/api/models'), 'models.list');
  assert.equal(procedureOf('POST', '/api/models'), 'models.register');
  assert.equal(procedureOf('GET', '/trpc/no.such'), 'other');
  assert.equal(procedureOf('GET', '/api/no/such/path'), 'other');
  assert.equal(procedureOf('GET', '/api/trainer/runs/x/examples'), 'trainerData');
});

test('/metrics counts requests by procedure and status exactly, and the domain gauges count a real run and its gate decision', async () => {
  const before = await scrape(env.url);
  const okSeries = 'retrain_api_requests_total{procedure="models.list",status="200"}';
  const deniedSeries = 'retrain_api_requests_total{procedure="models.list",status="401"}';
  const otherSeries = 'retrain_api_requests_total{procedure="other",status="404"}';
  const base = { ok: sample(before, okSeries) ?? 0, denied: sample(before, deniedSeries) ?? 0, other: sample(before, otherSeries) ?? 0 };

  for (let i = 0; i < 3; i++) await env.clients.viewer.models.list.query();
  const rest = await fetch(`${env.url}/api/models`, { headers: { authorization: `Bearer ${env.tokens.viewer}` } });
  assert.equal(rest.status, 200);
  assert.equal((await fetch(`${env.url}/api/models`)).status, 401);
  assert.equal((await fetch(`${env.url}/api/no/such/${Date.now()}`)).status, 404);

  const model = await registerModelWithData(env);
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'drift' });
  await waitForStatus(env, runId, ['awaiting_approval', 'rejected', 'failed']);
  const after = await scrape(env.url);

  assert.equal(sample(after, okSeries), base.ok + 4, 'three tRPC calls and one REST call of models.list');
  assert.equal(sample(after, deniedSeries), base.denied + 1);
  assert.equal(sample(after, otherSeries), base.other + 1);
  assert.equal(sample(after, 'retrain_api_request_duration_seconds_count{procedure="models.list"}'), (sample(before, 'retrain_api_request_duration_seconds_count{procedure="models.list"}') ?? 0) + 5);
  assert.ok((sample(after, 'process_cpu_seconds_total') ?? 0) > 0, 'the default process metrics');
  // This file's database holds only this run.
  assert.equal(sample(after, 'retrain_runs{status="awaiting_approval",trigger="drift"}'), 1, after.split('\n').filter((l) => l.startsWith('retrain_runs')).join('\n'));
  assert.equal(sample(after, 'retrain_gate_decisions{stage="gate",outcome="needs_approval"}'), 1);
  assert.equal(sample(after, 'retrain_annotation_backlog_tasks{status="open"}'), 0);
  assert.equal(sample(after, 'retrain_alerts{status="failed"}'), 0);
  for (const family of ['retrain_annotation_label_latency_seconds', 'retrain_annotation_labels_last_day', 'retrain_audit_reports']) {
    assert.match(after, new RegExp(`^# HELP ${family} `, 'm'));
  }
});

test("the workers' health server: /healthz, /readyz with the workers running, /metrics with their state; 503 naming workers that are not", async () => {
  const workers = env.services.workers!;
  const server = await startHealthServer({ db: env.services.opened.db, client: env.services.client, workers, port: 0 });
  const stopped = { workers: [{ options: { taskQueue: 'q' }, getState: () => 'DRAINED' }] } as unknown as WorkerSet;
  const down = await startHealthServer({ db: env.services.opened.db, client: env.services.client, workers: stopped, port: 0 });
  try {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const ready = await getJson(`${server.url}/readyz`);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(Object.keys(ready.body.checks).sort(), ['database', 'migrations', 'temporal', 'workers']);
    assert.match(ready.body.checks.workers!.detail, new RegExp(`${env.services.taskQueues.control}: RUNNING`));
    const text = await scrape(server.url);
    assert.equal(sample(text, `retrain_worker_running{task_queue="${env.services.taskQueues.control}"}`), 1);
    assert.equal(sample(text, `retrain_worker_running{task_queue="${env.services.taskQueues.training}"}`), 1);
    assert.equal((await fetch(`${server.url}/nope`)).status, 404);

    const notReady = await getJson(`${down.url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(notReady.body.failed, ['workers']);
    assert.equal(notReady.body.checks.workers!.detail, 'not running: q: DRAINED');
  } finally {
    await server.close();
    await down.close();
  }
});

// Last: it stops one of this file's workers.
test("the API's /readyz with workers in its process (retrain up): 503 naming the worker that stopped, the running one beside it", async () => {
  const { control, training } = env.services.taskQueues;
  const worker = env.services.workers!.workers.find((w) => w.options.taskQueue === training)!;
  worker.shutdown();
  // Shutting down drains (no activity is running here) and then stops.
  for (let i = 0; i < 200 && worker.getState() !== 'STOPPED'; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(worker.getState(), 'STOPPED');
  const { status, body } = await getJson(`${env.url}/readyz`);
  assert.equal(status, 503, JSON.stringify(body));
  assert.deepEqual(body.failed, ['workers']);
  assert.equal(body.checks.workers!.detail, `not running: ${training}: STOPPED (running: ${control}: RUNNING)`);
  for (const name of ['database', 'migrations', 'temporal']) assert.equal(body.checks[name]!.ok, true);
  // Alive all the same: a supervisor restarts the process on liveness, a balancer routes on readiness.
  assert.equal((await fetch(`${env.url}/healthz`)).status, 200);
});

test('RETRAIN_WORKER_HEALTH_PORT: a port (on 127.0.0.1) or host:port; anything else refused by name', () => {
  assert.equal(readSettings({}).workerHealth, undefined);
  assert.deepEqual(readSettings({ RETRAIN_WORKER_HEALTH_PORT: '9464' }).workerHealth, { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(readSettings({ RETRAIN_WORKER_HEALTH_PORT: '0.0.0.0:9464' }).workerHealth, { host: '0.0.0.0', port: 9464 });
  assert.throws(() => readSettings({ RETRAIN_WORKER_HEALTH_PORT: 'nine' }), /RETRAIN_WORKER_HEALTH_PORT/);
  assert.throws(() => readSettings({ RETRAIN_WORKER_HEALTH_PORT: '70000' }), /RETRAIN_WORKER_HEALTH_PORT/);
});
