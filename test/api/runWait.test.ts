// runs.wait, the long-poll on a run's status (GET /api/runs/{runId}/wait): it answers at once when the run
// already satisfies `until`, promptly after the status changes (the workflow's own recordRunStep activity
// moves it here), with timedOut and the current state when nothing happens, and stops reading the database
// when the client goes away. Through the router with the stub Temporal client, and over real HTTP for what
// HTTP adds (REST statuses, a disconnecting client).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { createApiClient } from '../../api/client';
import { statusSatisfies, waitForRun } from '../../api/runWait';
import { createRetrainingActivities } from '../../activities/retraining';
import { markRunNotStarted } from '../../db/runs';
import { startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv;
let model: string;
let url: string;
/** Reads of the database (db.select calls) by the API served over HTTP. */
let selects = 0;
let activities: ReturnType<typeof createRetrainingActivities>;

before(async () => {
  env = await startCallerEnv();
  model = `wait-${uid()}`;
  await env.clients.operator.models.register.mutate({ name: model, gatePolicy: { rules: [{ kind: 'human_approval' }] } });
  activities = createRetrainingActivities({ db: env.db, dataPlane: { apiUrl: () => 'http://127.0.0.1:1' } });
  // The HTTP server's database counts its reads, to see a wait stop when its client leaves.
  const db = env.deps.db;
  (env.deps as { db: typeof db }).db = new Proxy(db, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (key === 'select') selects++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  url = await env.serve();
});
after(async () => {
  await env?.stop();
});

/** A run as runs.start leaves it (running, queued; the stub Temporal accepts the start). */
const startRun = async () => (await env.clients.operator.runs.start.mutate({ model })).runId;
const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);
const rest = (path: string, token: string | null, signal?: AbortSignal) =>
  fetch(`${url}/api${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, ...(signal ? { signal } : {}) });

test('statusSatisfies: gate is awaiting_approval or finished; settled is finished only', () => {
  assert.equal(statusSatisfies('running', 'gate'), false);
  assert.equal(statusSatisfies('awaiting_approval', 'gate'), true);
  assert.equal(statusSatisfies('awaiting_approval', 'settled'), false);
  for (const s of ['promoted', 'rejected', 'failed', 'cancelled', 'rolled_back'] as const) {
    assert.equal(statusSatisfies(s, 'gate'), true);
    assert.equal(statusSatisfies(s, 'settled'), true);
  }
});

test('a finished run is answered at once, as runs.get answers it, with timedOut false', async () => {
  const runId = await startRun();
  await markRunNotStarted(env.db, runId, 'planted');
  const t0 = Date.now();
  const waited = await env.clients.viewer.runs.wait.query({ runId, until: 'settled', timeoutSeconds: 30 });
  assert.ok(Date.now() - t0 < 500, `answered after ${Date.now() - t0} ms`);
  const got = await env.clients.viewer.runs.get.query({ runId });
  assert.deepEqual(waited, { ...got, timedOut: false });
  assert.equal(waited.status, 'failed');
});

test('a run that does not move: timedOut true after the timeout, with its current status and step', async () => {
  const runId = await startRun();
  const t0 = Date.now();
  const waited = await env.clients.viewer.runs.wait.query({ runId, timeoutSeconds: 1 });
  const ms = Date.now() - t0;
  assert.ok(ms >= 950 && ms < 2000, `answered after ${ms} ms`);
  assert.equal(waited.timedOut, true);
  assert.equal(waited.status, 'running');
  assert.equal(waited.step, 'queued');
  assert.equal(waited.runId, runId);
});

test('answers within a second of the status changing: the gate for until=gate, a finished status for until=settled', async () => {
  const runId = await startRun();
  const atGate = env.clients.viewer.runs.wait.query({ runId, until: 'gate', timeoutSeconds: 20 });
  const settled = env.clients.viewer.runs.wait.query({ runId, until: 'settled', timeoutSeconds: 20 });
  await new Promise((r) => setTimeout(r, 700));
  // The path the workflow takes into the gate: its recordRunStep activity.
  const changed = Date.now();
  await activities.recordRunStep({ runId, step: 'awaiting_approval', status: 'awaiting_approval' });
  const gate = await atGate;
  const gateMs = Date.now() - changed;
  assert.equal(gate.timedOut, false);
  assert.equal(gate.status, 'awaiting_approval');
  assert.ok(gateMs < 1000, `answered ${gateMs} ms after the change`);
  // Waiting for a finished status goes on past the gate.
  await new Promise((r) => setTimeout(r, 700));
  const finished = Date.now();
  await activities.recordRunStep({ runId, step: 'done', status: 'promoted' });
  const done = await settled;
  const doneMs = Date.now() - finished;
  assert.equal(done.timedOut, false);
  assert.equal(done.status, 'promoted');
  assert.ok(doneMs < 1000, `answered ${doneMs} ms after the change`);
});

test('step: answers when the run moves on from the step the caller last saw', async () => {
  const runId = await startRun();
  const moved = env.clients.viewer.runs.wait.query({ runId, step: 'queued', timeoutSeconds: 20 });
  await new Promise((r) => setTimeout(r, 500));
  const changed = Date.now();
  await activities.recordRunStep({ runId, step: 'training' });
  const run = await moved;
  assert.equal(run.timedOut, false);
  assert.equal(run.step, 'training');
  assert.equal(run.status, 'running');
  assert.ok(Date.now() - changed < 1000);
});

test('many waits at once hold no connection between reads: 40 waiters (the pool has 10) and runs.get still answers at once', async () => {
  const runId = await startRun();
  const waits = Array.from({ length: 40 }, () => env.clients.viewer.runs.wait.query({ runId, timeoutSeconds: 3 }));
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = Date.now();
  const got = await env.clients.viewer.runs.get.query({ runId });
  const ms = Date.now() - t0;
  assert.equal(got.status, 'running');
  assert.ok(ms < 500, `runs.get took ${ms} ms beside 40 waits`);
  const answers = await Promise.all(waits);
  assert.ok(answers.every((a) => a.timedOut && a.status === 'running'));
});

test('refusals: unknown run NOT_FOUND, bad timeouts BAD_REQUEST, no token UNAUTHORIZED (router)', async () => {
  await assert.rejects(env.clients.viewer.runs.wait.query({ runId: `run-nope-${uid()}` }), (e) => codeOf(e) === 'NOT_FOUND');
  for (const timeoutSeconds of [0, 61, 1.5]) {
    await assert.rejects(env.clients.viewer.runs.wait.query({ runId: 'x', timeoutSeconds }), (e) => codeOf(e) === 'BAD_REQUEST', String(timeoutSeconds));
  }
  await assert.rejects(env.client(null).runs.wait.query({ runId: 'x' }), (e) => codeOf(e) === 'UNAUTHORIZED');
});

test('REST: GET /runs/{runId}/wait answers 200 with timedOut, 404, 400 and 401', async () => {
  const runId = await startRun();
  const ok = await rest(`/runs/${runId}/wait?until=settled&timeoutSeconds=1`, env.tokens.viewer);
  assert.equal(ok.status, 200);
  const body = (await ok.json()) as { runId: string; status: string; timedOut: boolean; startedAt: string };
  assert.equal(body.runId, runId);
  assert.equal(body.status, 'running');
  assert.equal(body.timedOut, true);
  assert.equal((await rest(`/runs/run-nope-${uid()}/wait?timeoutSeconds=1`, env.tokens.viewer)).status, 404);
  for (const q of ['timeoutSeconds=0', 'timeoutSeconds=61', 'timeoutSeconds=abc', 'timeoutSeconds=2.5', 'until=soon']) {
    const res = await rest(`/runs/${runId}/wait?${q}`, env.tokens.viewer);
    assert.equal(res.status, 400, q);
  }
  assert.equal((await rest(`/runs/${runId}/wait?timeoutSeconds=1`, null)).status, 401);
  assert.equal((await rest(`/runs/${runId}/wait?timeoutSeconds=1`, 'not-a-token')).status, 401);
});

test('a client that disconnects ends its wait: no more reads of the run (REST and tRPC)', async () => {
  const runId = await startRun();
  for (const via of ['rest', 'trpc'] as const) {
    const ac = new AbortController();
    const waiting =
      via === 'rest'
        ? rest(`/runs/${runId}/wait?timeoutSeconds=30`, env.tokens.viewer, ac.signal)
        : createApiClient(url, env.tokens.viewer).runs.wait.query({ runId, timeoutSeconds: 30 }, { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 1000));
    const whileWaiting = selects;
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(selects - whileWaiting >= 2, `${via}: the wait reads the run while it waits (${selects - whileWaiting} reads in 1 s)`);
    ac.abort();
    await assert.rejects(waiting);
    await new Promise((r) => setTimeout(r, 500));
    const afterAbort = selects;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(selects - afterAbort, 0, `${via}: reads after the client left`);
  }
});

test('waitForRun: an aborted signal ends the wait at once with CLIENT_CLOSED_REQUEST', async () => {
  const runId = await startRun();
  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 200);
  await assert.rejects(waitForRun(env.db, runId, { until: 'gate', timeoutMs: 10_000, signal: ac.signal, pollMs: 5000 }), (e: Error & { code?: string }) => e.code === 'CLIENT_CLOSED_REQUEST');
  assert.ok(Date.now() - t0 < 1000);
});
