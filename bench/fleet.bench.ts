// A fleet: N models retraining at once (issue #17). Per fleet size N: N models are registered through
// the API (300 labelled e-mails of the corpus each, a gate policy that promotes without a human), then
// all N runs are started at the same moment through runs.start, as a Schedule firing for every model
// would, and the bench measures until every run has settled (a finished status, or awaiting_approval:
// the gate reached): the settle time, runs per minute, the worker's CPU per run, Temporal's work per run
// (history events, workflow tasks, activities, from every run's history), a reader's latency (GET
// /api/runs every ~100 ms through the storm: p50, p99, max), and that every run settled exactly once
// (one runs row in a finished status and one candidate version per run; one workflow execution per run
// id in Temporal's visibility, completed).
//
// The floor, in the same process on the same dev server: N workflows of a run's shape (the same
// activities on the same task queues, step by step, each returning at once: bench/fleetFloor.workflows.ts),
// started at once, served by a worker process of their own with the same task slots. Orchestration per
// run is a run's time with no activity outstanding (close - start - the union of its activities'
// scheduled..completed intervals: workflow tasks and the server's round trips), beside the floor's
// same measure; queue wait (scheduled..started, a slot or a core being busy) is printed apart.
//
//   [DATABASE_URL=postgres://...] npx tsx bench/fleet.bench.ts [--models 20,200] [--examples 300] [--no-floor]
//
// With DATABASE_URL: a scratch database of its own on that server; the API runs in this process and the
// worker is a `retrain worker` process of its own (worker CPU is that process's, from /proc). Without it:
// PGlite in memory, so the worker runs in this process beside the API (CPU is the whole process's). The
// dev server is started here, in memory, headless. Worker settings come from the environment as for
// `retrain worker` (RETRAIN_TRAINING_THREADS, ...).
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import protos from '@temporalio/proto';
import { and, inArray, sql } from 'drizzle-orm';
import { createApiClient } from '../api/client';
import { modelVersions, runs } from '../db/schema';
import { issueToken } from '../db/tokens';
import { startDevServer } from '../temporal-config/devServer';
import { startServices, type Services } from '../temporal-config/services';
import { corpusSubset, toExampleInputs, uid } from '../test/helpers';
import { fileDatabaseUrl } from '../test/fileDatabase';
import type { FloorStep } from './fleetFloor.workflows';
import { procStat, spawnChild, stopChild, totalMs, unionOf, waitForPollers } from './runMeasure';

const { temporal } = protos;
const EventType = temporal.api.enums.v1.EventType;
const repo = path.resolve(import.meta.dirname, '..');

/** The floor's worker process: the floor workflow and a do-nothing activity, with the control plane's task slots. */
async function floorWorker(): Promise<void> {
  const { NativeConnection, Worker } = await import('@temporalio/worker');
  const { workerTuning, installRuntime } = await import('../temporal-config/worker');
  installRuntime();
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const activities = { floorStep: async () => null };
  const control = await Worker.create({
    connection,
    taskQueue: process.env.FLOOR_CONTROL_QUEUE!,
    workflowsPath: path.join(import.meta.dirname, 'fleetFloor.workflows.ts'),
    activities,
    ...workerTuning('control'),
  });
  const training = await Worker.create({ connection, taskQueue: process.env.FLOOR_TRAINING_QUEUE!, activities, ...workerTuning('training') });
  process.on('SIGTERM', () => {
    control.shutdown();
    training.shutdown();
  });
  await Promise.all([control.run(), training.run()]);
  await connection.close();
}

interface HistoryStats {
  events: number;
  workflowTasks: number;
  activities: number;
  spanMs: number;
  /** Time with no activity outstanding: workflow tasks and server round trips. */
  orchestrationMs: number;
  /** Union of scheduled..started: waiting for a slot. */
  queueWaitMs: number;
  closed: boolean;
  steps: FloorStep[];
  /** Per activity type: how many, ms waiting for a slot (scheduled..started), ms running (started..closed). */
  byType: Map<string, { n: number; waitMs: number; execMs: number }>;
}

async function historyStats(client: Client, workflowId: string): Promise<HistoryStats> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const ms = (e: (typeof events)[number]) => tsToMs(e.eventTime!);
  const scheduled = new Map<number, { at: number; queue: string; wft: number; type: string }>();
  const byType = new Map<string, { n: number; waitMs: number; execMs: number }>();
  const started = new Map<number, number>();
  const busy: [number, number][] = [];
  const wait: [number, number][] = [];
  let workflowTasks = 0;
  let closed = false;
  const bySchedulingTask = new Map<number, FloorStep>();
  for (const e of events) {
    const id = Number(e.eventId);
    switch (e.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        workflowTasks++;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const a = e.activityTaskScheduledEventAttributes!;
        const wft = Number(a.workflowTaskCompletedEventId);
        scheduled.set(id, { at: ms(e), queue: a.taskQueue?.name ?? '', wft, type: a.activityType?.name ?? '?' });
        const step = bySchedulingTask.get(wft);
        if (step) step.parallel++;
        else bySchedulingTask.set(wft, { taskQueue: a.taskQueue?.name ?? '', parallel: 1 });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        started.set(Number(e.activityTaskStartedEventAttributes!.scheduledEventId), ms(e));
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const attrs = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
        const s = scheduled.get(Number(attrs!.scheduledEventId));
        const st = started.get(Number(attrs!.scheduledEventId));
        if (s) busy.push([s.at, ms(e)]);
        if (s && st !== undefined) {
          wait.push([s.at, st]);
          const t = byType.get(s.type) ?? { n: 0, waitMs: 0, execMs: 0 };
          t.n++;
          t.waitMs += st - s.at;
          t.execMs += ms(e) - st;
          byType.set(s.type, t);
        }
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        closed = true;
        break;
    }
  }
  const spanMs = events.length ? ms(events[events.length - 1]!) - ms(events[0]!) : 0;
  return {
    events: events.length,
    workflowTasks,
    activities: scheduled.size,
    spanMs,
    orchestrationMs: spanMs - coveredMs(busy),
    queueWaitMs: coveredMs(wait),
    closed,
    byType,
    steps: [...bySchedulingTask.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s),
  };
}

/** user+system CPU seconds of a process, from /proc (Linux); NaN once it has gone. */
const procCpuSeconds = (pid: number): number => procStat(pid)?.cpuSeconds ?? NaN;

/** Milliseconds the [from, to] intervals cover together. */
const coveredMs = (intervals: [number, number][]): number => totalMs(unionOf(intervals.map(([from, to]) => ({ from, to }))));

/** CPU seconds of every PostgreSQL process on this machine (the postmaster's children that live now). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres') total += procStat(d)?.cpuSeconds ?? 0;
    } catch {
      /* gone */
    }
  }
  return total;
}

const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** The dev server's pid: the process whose command line is `temporal server start-dev ... --port <port>`. */
function devServerPid(port: string): number | null {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--port');
      if (argv.includes('start-dev') && i >= 0 && argv[i + 1] === port) return Number(d);
    } catch {
      /* gone */
    }
  }
  return null;
}

/** Activity types summed over runs, per run and per activity. */
function byTypeOf(stats: HistoryStats[]): Row['byType'] {
  const total = new Map<string, { n: number; waitMs: number; execMs: number }>();
  for (const s of stats) {
    for (const [type, t] of s.byType) {
      const acc = total.get(type) ?? { n: 0, waitMs: 0, execMs: 0 };
      acc.n += t.n;
      acc.waitMs += t.waitMs;
      acc.execMs += t.execMs;
      total.set(type, acc);
    }
  }
  return [...total.entries()].map(([type, t]) => [type, { n: t.n / stats.length, waitMs: t.waitMs / t.n, execMs: t.execMs / t.n }]);
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Row {
  n: number;
  settleS: number;
  runsPerMin: number;
  cpuPerRunS: number;
  devServerCpuPerRunS: number | null;
  /** This process: the API, and the bench's reader and polling. */
  apiCpuPerRunS: number;
  pgCpuPerRunS: number | null;
  events: number;
  workflowTasks: number;
  activities: number;
  orchMs: number;
  queueWaitMs: number;
  readerP50: number;
  readerP99: number;
  readerMax: number;
  readerN: number;
  readerErrors: string[];
  startCallP99: number;
  exactlyOnce: string;
  /** Per activity type, per run: count, mean ms waiting for a slot, mean ms running. */
  byType: [string, { n: number; waitMs: number; execMs: number }][];
  floor: { settleS: number; runsPerMin: number; orchMs: number; queueWaitMs: number; cpuPerRunS: number } | null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      models: { type: 'string', default: '20,200' },
      examples: { type: 'string', default: '300' },
      'no-floor': { type: 'boolean', default: false },
    },
  });
  const sizes = values.models.split(',').map((s) => Number(s));
  for (const n of sizes) if (!Number.isInteger(n) || n < 1) throw new Error(`--models: bad fleet size ${n}`);
  const perModel = Number(values.examples);
  if (!Number.isInteger(perModel) || perModel < 50) throw new Error(`--examples: bad count ${values.examples} (at least 50)`);

  const dbUrl = await fileDatabaseUrl();
  const separate = dbUrl !== undefined;
  const dataDir = path.join(os.tmpdir(), `fleet-bench-${uid()}`);
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  const dev = await startDevServer({ dataDir, dbFile: null, uiPort: null });
  const devPid = devServerPid(dev.address.split(':')[1]!);
  const suffix = uid();
  const queues = { control: `control-fleet-${suffix}`, training: `training-fleet-${suffix}` };
  const floorQueues = { control: `control-floor-${suffix}`, training: `training-floor-${suffix}` };
  const children: ChildProcess[] = [];
  let services: Services | undefined;
  try {
    services = await startServices({
      temporalAddress: dev.address,
      db: dbUrl ? { url: dbUrl } : { pgliteDir: 'memory://' },
      taskQueues: queues,
      worker: !separate,
      dataDir,
    });
    const db = services.opened.db;
    const client = services.client;
    const url = services.api!.url;
    let worker: ChildProcess | null = null;
    if (separate) {
      worker = spawnChild([path.join(repo, 'bin', 'retrain.ts'), 'worker'], {
        TEMPORAL_ADDRESS: dev.address,
        DATABASE_URL: dbUrl,
        RETRAIN_CONTROL_QUEUE: queues.control,
        RETRAIN_TRAINING_QUEUE: queues.training,
        RETRAIN_API_URL: url,
        RETRAIN_DATA_DIR: dataDir,
      });
      children.push(worker);
    }
    const floorWorkerProc = values['no-floor'] ? null : spawnChild([path.join(import.meta.dirname, 'fleet.bench.ts'), '--floor-worker'], { TEMPORAL_ADDRESS: dev.address, FLOOR_CONTROL_QUEUE: floorQueues.control, FLOOR_TRAINING_QUEUE: floorQueues.training });
    if (floorWorkerProc) children.push(floorWorkerProc);
    await waitForPollers(client, [queues.control, queues.training, ...(floorWorkerProc ? [floorQueues.control, floorQueues.training] : [])]);
    const workerCpu = () => (worker ? procCpuSeconds(worker.pid!) : ownCpuSeconds());
    const devCpu = () => (devPid ? procCpuSeconds(devPid) : NaN);

    const operatorToken = (await issueToken(db, { subject: `fleet-operator-${suffix}`, role: 'operator', createdBy: 'bench' })).token;
    const viewerToken = (await issueToken(db, { subject: `fleet-viewer-${suffix}`, role: 'viewer', createdBy: 'bench' })).token;
    const operator = createApiClient(url, operatorToken);

    const subset = corpusSubset();
    const stride = Math.max(1, Math.floor(subset.length / perModel));
    const rows = toExampleInputs(subset.filter((_, i) => i % stride === 0).slice(0, perModel));
    let registered = 0;
    const register = async (): Promise<string> => {
      const name = `fleet-${suffix}-${registered++}`;
      await operator.models.register.mutate({
        name,
        description: 'fleet bench',
        gatePolicy: {
          minSliceSupport: 10,
          rules: [
            { kind: 'bound', id: 'overall-fpr', metric: 'fpr', slices: 'overall', max: 0.2 },
            { kind: 'no_regression', id: 'accuracy-vs-champion', metric: 'accuracy', slices: 'overall', margin: 0.05 },
          ],
        },
      });
      await operator.models.importExamples.mutate({ name, examples: rows });
      return name;
    };
    const registerMany = async (n: number): Promise<string[]> => {
      const names: string[] = [];
      const lanes = 8;
      await Promise.all(Array.from({ length: lanes }, async () => {
        while (names.length < n) {
          names.push('');
          const i = names.length - 1;
          names[i] = await register();
        }
      }));
      return names;
    };

    const settledStatuses = ['promoted', 'rejected', 'failed', 'cancelled', 'rolled_back', 'awaiting_approval'] as const;
    const waitSettled = async (ids: string[], t0: number, timeoutMs: number): Promise<number> => {
      for (;;) {
        const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(runs).where(and(inArray(runs.id, ids), inArray(runs.status, [...settledStatuses])));
        if ((row?.n ?? 0) >= ids.length) return performance.now() - t0;
        if (performance.now() - t0 > timeoutMs) throw new Error(`only ${row?.n} of ${ids.length} runs settled within ${timeoutMs / 1000} s`);
        await sleep(100);
      }
    };

    // One run alone first: its time, and its shape for the floor.
    const [solo] = await registerMany(1);
    const tSolo = performance.now();
    const { runId: soloRun } = await operator.runs.start.mutate({ model: solo!, trigger: 'schedule' });
    const soloMs = await waitSettled([soloRun], tSolo, 120_000);
    const soloStats = await historyStats(client, soloRun);
    const floorSteps = soloStats.steps.map((s) => ({ taskQueue: s.taskQueue === queues.training ? floorQueues.training : floorQueues.control, parallel: s.parallel }));
    log(`one run alone: ${(soloMs / 1000).toFixed(2)} s; ${soloStats.events} events, ${soloStats.workflowTasks} workflow tasks, ${soloStats.activities} activities in ${floorSteps.length} steps`);
    // One floor workflow alone: orchestration with nothing else in the way, beside the lone run's.
    let soloFloor: HistoryStats | null = null;
    if (floorWorkerProc) {
      const h = await client.workflow.start('fleetFloor', { taskQueue: floorQueues.control, workflowId: `floor-${suffix}-alone`, args: [{ steps: floorSteps }] });
      await h.result();
      soloFloor = await historyStats(client, h.workflowId);
    }

    const table: Row[] = [];
    for (const n of sizes) {
      log(`fleet of ${n}: registering ${n} models with ${rows.length} examples each`);
      const names = await registerMany(n);
      await sleep(2000);

      // The reader: GET /api/runs every ~100 ms while the storm lasts.
      // A request that fails (an error status, a reset connection) is counted, and the reader goes on.
      const latencies: number[] = [];
      const readerErrors: string[] = [];
      let reading = true;
      const reader = (async () => {
        while (reading) {
          const t = performance.now();
          try {
            const res = await fetch(`${url}/api/runs?limit=50`, { headers: { authorization: `Bearer ${viewerToken}` } });
            await res.arrayBuffer();
            if (res.ok) latencies.push(performance.now() - t);
            else readerErrors.push(`HTTP ${res.status}`);
          } catch (err) {
            readerErrors.push(String((err as Error).cause ?? err));
          }
          await sleep(100);
        }
      })();

      const cpu0 = workerCpu();
      const dev0 = devCpu();
      const api0 = ownCpuSeconds();
      const pg0 = separate ? postgresCpuSeconds() : NaN;
      const t0 = performance.now();
      const startCalls: number[] = [];
      const ids = await Promise.all(
        names.map(async (model) => {
          const t = performance.now();
          const { runId } = await operator.runs.start.mutate({ model, trigger: 'schedule' });
          startCalls.push(performance.now() - t);
          return runId;
        }),
      );
      const settleMs = await waitSettled(ids, t0, 30 * 60_000);
      const cpu = workerCpu() - cpu0;
      const devUsed = devCpu() - dev0;
      const apiUsed = ownCpuSeconds() - api0;
      const pgUsed = separate ? postgresCpuSeconds() - pg0 : NaN;
      reading = false;
      await reader;

      // Exactly once: the runs table, the versions, and Temporal's executions.
      const runRows = await db.select({ id: runs.id, status: runs.status }).from(runs).where(inArray(runs.id, ids));
      const statuses = new Map<string, number>();
      for (const r of runRows) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      const versions = await db.select({ runId: modelVersions.runId, n: sql<number>`count(*)::int` }).from(modelVersions).where(inArray(modelVersions.runId, ids)).groupBy(modelVersions.runId);
      const executions = new Map<string, number>();
      for (let attempt = 0; attempt < 50; attempt++) {
        executions.clear();
        for await (const wf of client.workflow.list({ query: `TaskQueue = '${queues.control}' AND WorkflowType = 'retrainingRun'` })) {
          if (ids.includes(wf.workflowId) && wf.status.name === 'COMPLETED') executions.set(wf.workflowId, (executions.get(wf.workflowId) ?? 0) + 1);
        }
        if (executions.size >= ids.length) break;
        await sleep(200);
      }
      const once = runRows.length === ids.length && new Set(ids).size === ids.length && versions.length === ids.length && versions.every((v) => v.n === 1) && executions.size === ids.length && [...executions.values()].every((c) => c === 1);
      const exactlyOnce = `${once ? 'yes' : 'NO'} (${[...statuses].map(([s, c]) => `${c} ${s}`).join(', ')}; ${versions.length} versions; ${executions.size} executions)`;

      const stats: HistoryStats[] = [];
      for (let i = 0; i < ids.length; i += 20) stats.push(...(await Promise.all(ids.slice(i, i + 20).map((id) => historyStats(client, id)))));
      const mean = (f: (s: HistoryStats) => number, of = stats) => of.reduce((a, s) => a + f(s), 0) / of.length;
      latencies.sort((a, b) => a - b);
      startCalls.sort((a, b) => a - b);

      let floor: Row['floor'] = null;
      if (floorWorkerProc) {
        await sleep(2000);
        const f0 = procCpuSeconds(floorWorkerProc.pid!);
        const tf = performance.now();
        const handles = await Promise.all(
          Array.from({ length: n }, (_, i) => client.workflow.start('fleetFloor', { taskQueue: floorQueues.control, workflowId: `floor-${suffix}-${n}-${i}`, args: [{ steps: floorSteps }] })),
        );
        await Promise.all(handles.map((h) => h.result()));
        const floorMs = performance.now() - tf;
        const floorCpu = procCpuSeconds(floorWorkerProc.pid!) - f0;
        const fstats: HistoryStats[] = [];
        for (let i = 0; i < handles.length; i += 20) fstats.push(...(await Promise.all(handles.slice(i, i + 20).map((h) => historyStats(client, h.workflowId)))));
        floor = { settleS: floorMs / 1000, runsPerMin: n / (floorMs / 60_000), orchMs: mean((s) => s.orchestrationMs, fstats), queueWaitMs: mean((s) => s.queueWaitMs, fstats), cpuPerRunS: floorCpu / n };
      }

      const row: Row = {
        n,
        settleS: settleMs / 1000,
        runsPerMin: n / (settleMs / 60_000),
        cpuPerRunS: cpu / n,
        devServerCpuPerRunS: devPid ? devUsed / n : null,
        apiCpuPerRunS: apiUsed / n,
        pgCpuPerRunS: separate ? pgUsed / n : null,
        events: mean((s) => s.events),
        workflowTasks: mean((s) => s.workflowTasks),
        activities: mean((s) => s.activities),
        orchMs: mean((s) => s.orchestrationMs),
        queueWaitMs: mean((s) => s.queueWaitMs),
        readerP50: quantile(latencies, 0.5),
        readerP99: quantile(latencies, 0.99),
        readerMax: latencies[latencies.length - 1] ?? NaN,
        readerN: latencies.length,
        readerErrors,
        startCallP99: quantile(startCalls, 0.99),
        exactlyOnce,
        byType: byTypeOf(stats),
        floor,
      };
      table.push(row);
      log(`fleet of ${n}: settled in ${row.settleS.toFixed(1)} s (${row.runsPerMin.toFixed(0)} runs/min); exactly once: ${exactlyOnce}`);
    }

    const base = table[0]!;
    const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
    console.log(`\nfleet bench: ${separate ? 'PostgreSQL, the API in this process, the worker a process of its own' : 'PGlite in memory, the API and the worker in this process'}; ${rows.length} examples per model; ${os.availableParallelism()} cores; RETRAIN_TRAINING_THREADS=${process.env.RETRAIN_TRAINING_THREADS ?? '(default)'}`);
    console.log(`one run alone: ${(soloMs / 1000).toFixed(2)} s (${soloStats.events} events, ${soloStats.workflowTasks} workflow tasks, ${soloStats.activities} activities; floor: the same ${soloStats.activities} activities in ${floorSteps.length} steps)`);
    if (soloFloor) console.log(`orchestration alone: the run ${f(soloStats.orchestrationMs, 0)} ms (span ${f(soloStats.spanMs, 0)} ms), the floor ${f(soloFloor.orchestrationMs, 0)} ms (span ${f(soloFloor.spanMs, 0)} ms): ${f(soloStats.orchestrationMs / soloFloor.orchestrationMs, 2)}x`);
    console.log('N     settle s  runs/min  vs first  floor runs/min  orch ms/run  floor orch ms  orch/floor  queue wait ms  worker CPU s/run  server CPU s/run  API CPU s/run  PG CPU s/run  events  wf tasks  activities  reader p50/p99/max ms (n)  start p99 ms  exactly once');
    for (const r of table) {
      console.log(
        [
          String(r.n).padEnd(5),
          f(r.settleS).padStart(8),
          f(r.runsPerMin, 0).padStart(9),
          `${f(r.runsPerMin / base.runsPerMin, 2)}x`.padStart(8),
          (r.floor ? f(r.floor.runsPerMin, 0) : '-').padStart(15),
          f(r.orchMs, 0).padStart(12),
          (r.floor ? f(r.floor.orchMs, 0) : '-').padStart(14),
          (r.floor ? `${f(r.orchMs / r.floor.orchMs, 2)}x` : '-').padStart(11),
          f(r.queueWaitMs, 0).padStart(14),
          f(r.cpuPerRunS, 3).padStart(17),
          (r.devServerCpuPerRunS !== null ? f(r.devServerCpuPerRunS, 3) : '-').padStart(17),
          (separate ? f(r.apiCpuPerRunS, 3) : '-').padStart(14),
          (r.pgCpuPerRunS !== null ? f(r.pgCpuPerRunS, 3) : '-').padStart(13),
          f(r.events, 0).padStart(7),
          f(r.workflowTasks, 0).padStart(9),
          f(r.activities, 0).padStart(11),
          `${f(r.readerP50, 0)}/${f(r.readerP99, 0)}/${f(r.readerMax, 0)} (${r.readerN})`.padStart(26),
          f(r.startCallP99, 0).padStart(13),
          ` ${r.exactlyOnce}`,
        ].join(' '),
      );
    }
    console.log('\nper activity type: activities per run, mean ms waiting for a slot / mean ms running, at each N');
    console.log(`${'activity'.padEnd(28)} ${table.map((r) => `N=${r.n}`.padStart(22)).join(' ')}`);
    for (const [type] of table[0]!.byType) {
      const cells = table.map((r) => {
        const t = r.byType.find(([k]) => k === type)?.[1];
        return (t ? `${f(t.n, 0)} x ${f(t.waitMs, 0)}/${f(t.execMs, 0)}` : '-').padStart(22);
      });
      console.log(`${type.padEnd(28)} ${cells.join(' ')}`);
    }
    for (const r of table) if (r.readerErrors.length) console.log(`reader at ${r.n}: ${r.readerErrors.length} failed requests (${[...new Set(r.readerErrors)].join('; ')})`);
    for (const r of table) if (r.floor) console.log(`floor at ${r.n}: settle ${f(r.floor.settleS)} s, ${f(r.floor.runsPerMin, 0)} runs/min, queue wait ${f(r.floor.queueWaitMs, 0)} ms/run, floor worker CPU ${f(r.floor.cpuPerRunS, 3)} s/run`);
    const last = table[table.length - 1]!;
    if (table.length > 1) console.log(`throughput at ${last.n} vs ${base.n}: ${f(last.runsPerMin / base.runsPerMin, 2)}x (target: within 10%, >= 0.90x)`);
    if (last.floor) console.log(`orchestration per run at ${last.n} vs the floor: ${f(last.orchMs / last.floor.orchMs, 2)}x (target: within 2x)`);
  } finally {
    for (const c of children) await stopChild(c);
    await services?.stop();
    await dev.stop();
  }
}

// Last, so every module-level constant above is initialised first.
if (process.argv.includes('--floor-worker')) {
  await floorWorker();
} else {
  await main();
}
