// The workers' health port (RETRAIN_WORKER_HEALTH_PORT, `retrain worker`): /healthz (alive), /readyz (the
// database and its migrations, Temporal, and every worker of this process running) and /metrics (the
// process's metrics and each worker's state). A tiny node:http server: the workers serve no API. The Temporal
// SDK's own metrics come from its runtime's Prometheus exporter, configured where the runtime is installed.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Db } from '../db/index';
import { answerHealth, answerMetrics, databaseCheck, HEALTH_PATHS, migrationsCheck, temporalCheck, type Check } from '../api/health';
import type { WorkerSet } from './worker';

export interface HealthServer {
  url: string;
  port: number;
  registry: Registry;
  close(): Promise<void>;
}

/**
 * Ready when every worker of the set is RUNNING (not still starting, draining or stopped); otherwise fails
 * naming each worker that is not, by task queue and state. The worker health port (`retrain worker`) and the
 * API's /readyz when the workers run beside it (`retrain up`) both use it.
 */
export const workersCheck =
  (workers: WorkerSet): Check =>
  async () => {
    if (workers.workers.length === 0) throw new Error('no workers in this process');
    const state = (w: WorkerSet['workers'][number]) => `${w.options.taskQueue}: ${w.getState()}`;
    const down = workers.workers.filter((w) => w.getState() !== 'RUNNING');
    const up = workers.workers.filter((w) => w.getState() === 'RUNNING');
    if (down.length > 0) throw new Error(`not running: ${down.map(state).join(', ')}${up.length > 0 ? ` (running: ${up.map(state).join(', ')})` : ''}`);
    return up.map(state).join(', ');
  };

export async function startHealthServer(opts: { db: Db; client: Client; workers: WorkerSet; port: number; host?: string }): Promise<HealthServer> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'retrain_worker_running',
    help: 'Whether this process’s worker for the task queue is running (1) or not (0: starting, draining, stopped or failed)',
    labelNames: ['task_queue'] as const,
    registers: [registry],
    collect() {
      for (const w of opts.workers.workers) this.set({ task_queue: w.options.taskQueue }, w.getState() === 'RUNNING' ? 1 : 0);
    },
  });
  const checks: Record<string, Check> = {
    database: databaseCheck(opts.db),
    migrations: migrationsCheck(opts.db),
    temporal: temporalCheck(opts.client),
    workers: workersCheck(opts.workers),
  };
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (HEALTH_PATHS.has(pathname)) return void answerHealth(res, pathname, checks);
    if (pathname === '/metrics') return void answerMetrics(res, registry);
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain');
    res.end('not found: this is the worker health port (/healthz, /readyz, /metrics)\n');
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    registry,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
