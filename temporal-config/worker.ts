// Worker factory: one worker per task queue. `control` runs workflows and light activities; `training`
// runs training and scoring, so it can be scaled out on machines of its own.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, makeTelemetryFilterString, type WorkerOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, createBuiltinTrainer, setTrainingThreads, type ActivityDeps } from '../activities/index';
import { TASK_QUEUES, type TaskQueueName } from '../workflows/names';
import { readSettings, type Settings } from './env';
import { rootLogger, sdkLogger } from './log';

export const workflowsPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'workflows', 'index.ts');

let bundlePromise: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundles workflow code once per process; every worker after the first reuses it. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundlePromise ??= bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
  return bundlePromise;
}

const noop = () => {};
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: (message: string, meta?: Record<string, unknown>) => rootLogger().error({ component: 'bundler', ...meta }, message), log: noop };

let runtimeInstalled = false;
/**
 * The Temporal SDK's runtime, once per process and before any NativeConnection: its log (the SDK's own,
 * the workflow and activity context loggers', and Core's native log) goes into the JSON log at
 * TEMPORAL_LOG_LEVEL (default WARN: the SDK logs every worker state change at INFO); with
 * RETRAIN_WORKER_METRICS_ADDRESS the SDK's worker metrics are served for Prometheus at /metrics there.
 */
export function installRuntime(settings: Pick<Settings, 'temporalLogLevel' | 'workerMetricsAddress'> = readSettings()): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level = settings.temporalLogLevel;
  try {
    Runtime.install({
      logger: sdkLogger(level),
      telemetryOptions: {
        logging: { filter: makeTelemetryFilterString({ core: level }), forward: {} },
        ...(settings.workerMetricsAddress !== undefined ? { metrics: { prometheus: { bindAddress: settings.workerMetricsAddress } } } : {}),
      },
    });
  } catch {
    /* already installed by the host process */
  }
}


/** Training activities one worker takes at once: RETRAIN_TRAINING_THREADS, else one per core. */
export function trainingConcurrency(): number {
  return readSettings().trainingThreads;
}

/**
 * The task slots and heartbeat throttles of a queue's worker (the fleet bench's floor worker takes the same).
 * Training is CPU-bound: saturation points train in worker threads (one per core), so the training queue
 * takes as many activities at once as there are training threads. Heartbeats reach the server every 3 s
 * at most (the SDK's default is 0.8 x the timeout, 24 s for a trainer job): a cancelled job hears of it
 * within seconds, as the trainer contract asks.
 */
export function workerTuning(kind: TaskQueueName, trainingThreads = trainingConcurrency()): Partial<WorkerOptions> {
  if (kind === 'training') return { maxConcurrentActivityTaskExecutions: trainingThreads, maxHeartbeatThrottleInterval: '3 seconds', defaultHeartbeatThrottleInterval: '3 seconds' };
  return {};
}

export interface WorkerSet {
  workers: Worker[];
  /** Resolves when every worker has stopped; rejects if one fails. */
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

export async function createWorkers(opts: {
  connection: NativeConnection;
  namespace: string;
  deps: ActivityDeps;
  /** Which queues this process serves, and their names (tests use unique names to stay isolated). */
  queues?: Partial<Record<TaskQueueName, string>>;
  /** Lower for tests that kill workers, so a replacement picks up work promptly. */
  shutdownGraceTime?: string;
  /** The built-in trainer's bearer token on the data plane (role trainer). */
  trainerToken: () => string;
}): Promise<WorkerSet> {
  // Normally done before the connection was made (startServices); here for any other caller.
  installRuntime();
  const activities = createActivities(opts.deps);
  // The training queue serves the built-in trainer's contract activities beside the control plane's heavy ones.
  const builtinTrainer = createBuiltinTrainer({ token: opts.trainerToken, apiUrl: () => opts.deps.dataPlane.apiUrl() });
  // The pool trains in as many threads as the training worker takes activities (trainers/threadPool.ts).
  const trainingThreads = trainingConcurrency();
  setTrainingThreads(trainingThreads);
  const queues = Object.entries(opts.queues ?? TASK_QUEUES) as [TaskQueueName, string][];
  const bundle = await workflowBundle();
  const workers = await Promise.all(
    queues.map(([kind, taskQueue]) =>
      Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue,
        activities: kind === 'training' ? { ...activities, ...builtinTrainer } : activities,
        // Only the control queue runs workflow code; training workers carry activities alone.
        ...(kind === 'control' ? { workflowBundle: bundle } : {}),
        ...workerTuning(kind, trainingThreads),
        shutdownGraceTime: opts.shutdownGraceTime ?? '10 seconds',
      }),
    ),
  );
  let running: Promise<void> | undefined;
  return {
    workers,
    run() {
      running ??= Promise.all(workers.map((w) => w.run())).then(() => undefined);
      return running;
    },
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running?.catch(() => undefined);
    },
  };
}
