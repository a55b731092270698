// What the run benchmarks share (runHistory, millionRun, snapshotExport): a workflow's history measured
// (size, payloads, per-step seconds, every activity's and timer's interval), the gate policy that passes a
// learnable model without sign-off, a plain-text table, `psql \copy` and other psql commands timed as the
// floors, the NDJSON lines the data plane writes as one SQL query, a process's RSS and CPU from /proc, and
// the union of time intervals (what a phase covered).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import type { Client } from '@temporalio/client';
import protos from '@temporalio/proto';

// CommonJS: the namespace comes off the default export.
const { temporal } = protos;

/** A gate that passes a learnable model without sign-off: one loose bound. */
export const GATE_POLICY = {
  minSliceSupport: 30,
  rules: [{ kind: 'bound' as const, id: 'overall-fpr', metric: 'fpr' as const, slices: 'overall' as const, max: 0.5 }],
};

interface Payload {
  bytes: number;
  where: string;
}

/** Epoch milliseconds, from the history's event times (the server's clock; this machine's). */
export interface Interval {
  name: string;
  from: number;
  to: number;
}

export interface HistoryMeasure {
  events: number;
  serverBytes: number;
  protoBytes: number;
  jsonBytes: number;
  payloads: number;
  payloadBytes: number;
  largest: Payload;
  /** Seconds per run step (recordRunStep to the next one); empty for a child workflow. */
  steps: { step: string; seconds: number; from: number; to: number }[];
  /** Activities by type: count, seconds scheduled → started (queue wait), started → completed. */
  activities: Map<string, { count: number; waitSeconds: number; execSeconds: number }>;
  /** Each completed activity started → completed, each fired timer started → fired, each child started → closed. */
  intervals: { activities: Interval[]; timers: Interval[]; children: Interval[] };
  from: number;
  to: number;
  seconds: number;
}

/** Every Payload in an event (inputs, results, heartbeat details, memo, search attributes, failures' details). */
function payloadsOf(value: unknown, where: string, out: Payload[]): void {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    for (const v of value) payloadsOf(v, where, out);
    return;
  }
  const o = value as Record<string, unknown>;
  if (o.data instanceof Uint8Array && 'metadata' in o) {
    const metadata = Object.entries((o.metadata ?? {}) as Record<string, Uint8Array>).reduce((s, [k, v]) => s + k.length + v.length, 0);
    out.push({ bytes: o.data.length + metadata, where });
    return;
  }
  for (const v of Object.values(o)) payloadsOf(v, where, out);
}

/** An event's name for the table: its type, and the activity's for activity events. */
function eventName(e: NonNullable<History['events']>[number], activityOf: Map<string, string>): string {
  const type = temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType);
  const scheduled = e.activityTaskScheduledEventAttributes;
  if (scheduled) return `${type} ${scheduled.activityType?.name}`;
  for (const attrs of [e.activityTaskStartedEventAttributes, e.activityTaskCompletedEventAttributes, e.activityTaskFailedEventAttributes]) {
    if (attrs) return `${type} ${activityOf.get(String(attrs.scheduledEventId)) ?? '?'}`;
  }
  return type;
}

/** A closed workflow's history, measured. */
export async function measureHistory(client: Client, workflowId: string): Promise<HistoryMeasure> {
  const handle = client.workflow.getHandle(workflowId);
  const described = await handle.describe();
  const history: History = await handle.fetchHistory();
  const events = history.events ?? [];
  const activityOf = new Map<string, string>();
  const scheduledAt = new Map<string, number>();
  const startedAt = new Map<string, number>();
  const timerAt = new Map<string, number>();
  const childAt = new Map<string, { name: string; t: number }>();
  const activities = new Map<string, { count: number; waitSeconds: number; execSeconds: number }>();
  const intervals: HistoryMeasure['intervals'] = { activities: [], timers: [], children: [] };
  const stepMarks: { step: string; t: number }[] = [];
  const payloads: Payload[] = [];
  for (const e of events) {
    const t = tsToMs(e.eventTime);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const name = s.activityType?.name ?? '?';
      activityOf.set(String(e.eventId), name);
      scheduledAt.set(String(e.eventId), t);
      if (name === 'recordRunStep') {
        const [arg] = (s.input?.payloads ?? []).map((p) => defaultPayloadConverter.fromPayload<{ step: string }>(p));
        stepMarks.push({ step: arg!.step, t });
      }
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st) startedAt.set(String(st.scheduledEventId), t);
    const c = e.activityTaskCompletedEventAttributes;
    if (c) {
      const id = String(c.scheduledEventId);
      const name = activityOf.get(id) ?? '?';
      const a = activities.get(name) ?? { count: 0, waitSeconds: 0, execSeconds: 0 };
      a.count++;
      a.waitSeconds += (startedAt.get(id)! - scheduledAt.get(id)!) / 1000;
      a.execSeconds += (t - startedAt.get(id)!) / 1000;
      activities.set(name, a);
      intervals.activities.push({ name, from: startedAt.get(id)!, to: t });
    }
    if (e.timerStartedEventAttributes) timerAt.set(String(e.eventId), t);
    const fired = e.timerFiredEventAttributes;
    if (fired) intervals.timers.push({ name: 'timer', from: timerAt.get(String(fired.startedEventId))!, to: t });
    const child = e.childWorkflowExecutionStartedEventAttributes;
    if (child) childAt.set(String(e.eventId), { name: child.workflowExecution?.workflowId ?? '?', t });
    const closed = e.childWorkflowExecutionCompletedEventAttributes ?? e.childWorkflowExecutionFailedEventAttributes;
    if (closed) {
      const opened = childAt.get(String(closed.startedEventId));
      if (opened) intervals.children.push({ name: opened.name, from: opened.t, to: t });
    }
    payloadsOf(e, eventName(e, activityOf), payloads);
  }
  const from = tsToMs(events[0]!.eventTime);
  const end = tsToMs(events.at(-1)!.eventTime);
  const steps = stepMarks.map((m, i) => {
    const to = stepMarks[i + 1]?.t ?? end;
    return { step: m.step, seconds: (to - m.t) / 1000, from: m.t, to };
  });
  const largest = payloads.reduce((a, b) => (b.bytes > a.bytes ? b : a), { bytes: 0, where: '-' });
  return {
    events: events.length,
    serverBytes: Number(described.raw.workflowExecutionInfo?.historySizeBytes ?? 0),
    protoBytes: temporal.api.history.v1.History.encode(history).finish().length,
    jsonBytes: Buffer.byteLength(historyToJSON(history)),
    payloads: payloads.length,
    payloadBytes: payloads.reduce((s, p) => s + p.bytes, 0),
    largest,
    steps,
    activities,
    intervals,
    from,
    to: end,
    seconds: (end - from) / 1000,
  };
}

export const kb = (b: number) => `${(b / 1024).toFixed(1)} KiB`;

/** A plain table on stdout: the first column left-aligned, the others right-aligned. */
export function table(header: string[], body: string[][]): void {
  const all = [header, ...body];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  for (const r of all) console.log('  ' + r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
}

/**
 * The split's lines as the data plane writes them (db/trainerData exampleLineSql: examples without an
 * observedAt, so no ageDays), in the same order, as one query for `psql \copy (...) to stdout`.
 */
export function exampleLinesQuery(snapshotId: number, split: 'train' | 'heldout'): string {
  const label = split === 'train' ? `,',"label":', m.label` : '';
  return `select concat('{"exampleId":', m.example_id, ',"externalId":', to_json(e.external_id), ',"input":', e.input${label}, '}') from dataset_snapshot_members m join examples e on e.id = m.example_id where m.snapshot_id = ${snapshotId} and m.split = '${split}' order by m.example_id`;
}

export interface CopyOut {
  ms: number;
  bytes: number;
  lines: number;
}

/** `psql \copy (query) to stdout`, counting bytes and lines as they arrive (nothing kept). */
export function psqlCopyOut(url: string, query: string): Promise<CopyOut> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('psql', [url, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy (${query}) to stdout`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let lines = 0;
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      bytes += c.length;
      for (let at = c.indexOf(10); at >= 0; at = c.indexOf(10, at + 1)) lines++;
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ ms: performance.now() - start, bytes, lines }) : reject(new Error(`psql \\copy failed: ${stderr}`))));
  });
}

/** One psql command (e.g. `\copy t from 'file'`), timed; psql's own start-up is in the time, as it is for the copy floors. */
export function psqlCommand(url: string, command: string): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('psql', [url, '-v', 'ON_ERROR_STOP=1', '-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ ms: performance.now() - start, stdout }) : reject(new Error(`psql failed: ${stderr}`))));
  });
}

/** A process's resident set from /proc (0 once it has gone). */
export function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** A process's parent pid and CPU (user + system, every thread) in seconds, from /proc; null once it has gone. */
export function procStat(pid: number | string): { ppid: string; cpuSeconds: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command: state(0) ppid(1) ... utime(11) stime(12), in clock ticks (USER_HZ = 100).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: f[1]!, cpuSeconds: (Number(f[11]) + Number(f[12])) / 100 };
  } catch {
    return null;
  }
}

/** The union of intervals (epoch ms), as disjoint intervals in time order; empty ones dropped. */
export function unionOf(ivs: readonly { from: number; to: number }[]): { from: number; to: number }[] {
  const sorted = ivs.filter((iv) => iv.to > iv.from).sort((a, b) => a.from - b.from);
  const out: { from: number; to: number }[] = [];
  for (const iv of sorted) {
    const last = out.at(-1);
    if (last && iv.from <= last.to) last.to = Math.max(last.to, iv.to);
    else out.push({ from: iv.from, to: iv.to });
  }
  return out;
}

/** Milliseconds that intervals cover, summed (pass a union for wall time covered). */
export const totalMs = (ivs: readonly { from: number; to: number }[]): number => ivs.reduce((s, iv) => s + (iv.to - iv.from), 0);

// ---- child processes -----------------------------------------------------------------------------------

const repo = path.resolve(import.meta.dirname, '..');

/** Resolves once a worker polls each task queue (workflow or activity tasks); 60 s at most. */
export async function waitForPollers(client: Client, taskQueues: string[]): Promise<void> {
  for (const name of taskQueues) {
    for (let i = 0; ; i++) {
      const res = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name }, taskQueueType: 1 /* WORKFLOW */ });
      const act = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name }, taskQueueType: 2 /* ACTIVITY */ });
      if ((res.pollers?.length ?? 0) + (act.pollers?.length ?? 0) > 0) break;
      if (i > 600) throw new Error(`no worker polls ${name} after 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A TypeScript entry point of this repository as a child process (`node --import tsx`), its stderr's tail printed if it fails. */
export function spawnChild(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: repo, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.on('exit', (code, signal) => {
    if (code || (signal && signal !== 'SIGTERM')) process.stderr.write(`${args.join(' ')} exited ${code ?? signal}: ${stderr}\n`);
  });
  return child;
}

/** SIGTERM, then SIGKILL after 15 s; resolves once the child has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
