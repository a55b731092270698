// The composition root: the one place that wires the database, Temporal (a configured cluster or the
// embedded dev server), the workers and the API together in one process, from the settings in env.ts.
// `retrain up`, `retrain worker` and `retrain api`, the demo and the tests all start through here.
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { builtinDescription, closeTrainingPool, createScorer, trainerDescription } from '../activities/index';
import { TRAINER_CALL_WORKFLOW_TYPE, type TrainerCallInput } from '../workflows/messages';
import { ensurePythonTrainer, startPythonTrainer } from './pythonTrainer';
import { upsertTrainer } from '../db/trainers';
import { ApplicationFailure } from '@temporalio/common';
import { ensureConfiguredAdminToken, issueToken, revokeToken } from '../db/tokens';
import { acquireDataDirLock, openDb, type DataDirLock, type OpenDbOptions, type OpenedDb } from '../db/index';
import { startApiServer, type ApiServer } from '../api/server';
import { closeOrderThread } from '../api/trainerData';
import { startDevServer, type DevServer } from './devServer';
import { connectionOptions, databaseLocation, readSettings, readTemporalConfig } from './env';
import { createWorkers, installRuntime, type WorkerSet } from './worker';
import { workersCheck } from './healthServer';
import { rootLogger } from './log';

export interface Services {
  opened: OpenedDb;
  client: Client;
  temporalAddress: string;
  namespace: string;
  uiUrl: string | null;
  taskQueues: { control: string; training: string };
  workers: WorkerSet | null;
  api: ApiServer | null;
  devServer: DevServer | null;
  stop(): Promise<void>;
}

export interface StartServicesOptions {
  /** Where the startup lines go: `retrain up` and the demo print them for people; jsonStartupLog() writes them to the JSON log. Default: nowhere. */
  log?: (msg: string) => void;
  worker?: boolean;
  api?: boolean;
  apiPort?: number;
  /** Default: DATABASE_URL, else PGlite under the data folder. */
  db?: OpenDbOptions;
  /** Overrides TEMPORAL_ADDRESS; when neither is set the embedded dev server is started. */
  temporalAddress?: string;
  /** Embedded dev server persistence: a file (default <data>/temporal.db) or null for in-memory. */
  temporalDbFile?: string | null;
  /** Embedded dev server gRPC port: default a free port; a given port that is taken is an error (PortInUseError). */
  temporalPort?: number;
  /** Embedded dev server UI: default a free port; null for headless; a given port that is taken is an error. */
  temporalUiPort?: number | null;
  /** Default: RETRAIN_CONTROL_QUEUE and RETRAIN_TRAINING_QUEUE, else control and training. */
  taskQueues?: { control: string; training: string };
  defaultApprovalTimeoutSeconds?: number;
  dataDir?: string;
  /**
   * Start the reference Python trainer (trainers/python, scikit-learn) as a worker of its own on this
   * task queue, installed into <dataDir>/venv-trainer on first use, and register it: `retrain up` and
   * the demo. Needs the workers and the API in this process. Default: none.
   */
  pythonTrainerQueue?: string | null;
}

/** The startup lines (database, temporal, workers, api…) as JSON lines in the root log, under component "services". */
export function jsonStartupLog(): (msg: string) => void {
  const logger = rootLogger().child({ component: 'services' });
  return (msg) => logger.info(msg);
}

export async function startServices(opts: StartServicesOptions = {}): Promise<Services> {
  const log = opts.log ?? (() => {});
  const settings = readSettings();
  const cfg = readTemporalConfig();
  const dataDir = opts.dataDir ?? settings.dataDir;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err) => log(`shutdown step failed: ${String(err)}`));
    stops.length = 0;
  };
  try {
    const opened = await openDb(opts.db ?? databaseLocation(settings));
    stops.push(() => opened.close());
    log(`database: ${opened.driver} at ${opened.location} (migrations applied)`);

    let devServer: DevServer | null = null;
    let address = opts.temporalAddress ?? cfg.address;
    let namespace = cfg.namespace;
    let temporalDbLock: DataDirLock | null = null;
    if (!address) {
      // The dev server's SQLite file is one server's too (with DATABASE_URL no PGlite lock guards the folder).
      const dbFile = opts.temporalDbFile === undefined ? path.join(dataDir, 'temporal.db') : opts.temporalDbFile;
      if (dbFile !== null) {
        const lock = acquireDataDirLock(dbFile);
        temporalDbLock = lock;
        stops.push(async () => lock.release());
      }
      log('temporal: starting the embedded dev server (temporal server start-dev)');
      devServer = await startDevServer({
        dataDir,
        ...(opts.temporalDbFile !== undefined ? { dbFile: opts.temporalDbFile } : {}),
        ...(opts.temporalPort !== undefined ? { port: opts.temporalPort } : {}),
        ...(opts.temporalUiPort !== undefined ? { uiPort: opts.temporalUiPort } : {}),
        namespace,
        log,
      });
      stops.push(() => devServer!.stop());
      address = devServer.address;
      namespace = devServer.namespace;
    }
    const connOpts = connectionOptions(cfg, address);
    const connection = await Connection.connect(connOpts);
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace });
    log(`temporal: ${address}, namespace ${namespace}`);

    const taskQueues = opts.taskQueues ?? settings.taskQueues;
    // Trainers reach the data plane at RETRAIN_API_URL, else at the API this process serves (known once it listens).
    let apiUrl = settings.apiUrl ?? null;
    const dataPlane = {
      apiUrl(): string {
        if (!apiUrl) {
          throw ApplicationFailure.nonRetryable(
            "this worker does not know the control plane's URL for trainers: set RETRAIN_API_URL (the API server's base URL), or run the API in this process",
            'NoDataPlane',
          );
        }
        return apiUrl;
      },
    };
    let workers: WorkerSet | null = null;
    if (opts.worker ?? true) {
      // The built-in trainer's token on the data plane: RETRAIN_TRAINER_TOKEN, else one of its own for this process's life.
      let trainerToken = settings.trainerToken;
      if (!trainerToken) {
        const issued = await issueToken(opened.db, { subject: 'trainer:builtin', role: 'trainer', createdBy: 'system' });
        trainerToken = issued.token;
        stops.push(async () => void (await revokeToken(opened.db, issued.id)));
      }
      const token = trainerToken;
      // Installed here, before the first NativeConnection, and only with workers: the SDK shuts its
      // runtime down when the last native object goes, and a runtime nothing ever used (an API-only
      // process) would keep the process alive and take its SIGTERM.
      installRuntime(settings);
      const native = await NativeConnection.connect(connOpts);
      stops.push(() => native.close());
      // Closed after the workers have drained (stops run newest first).
      stops.push(() => closeTrainingPool());
      workers = await createWorkers({ connection: native, namespace, deps: { db: opened.db, dataPlane }, queues: taskQueues, trainerToken: () => token });
      const running = workers.run();
      running.catch((err) => log(`worker stopped with an error: ${String(err)}`));
      stops.push(() => workers!.shutdown());
      // The built-in trainer is registered as any trainer is, from what it says of itself (its params schema
      // is what models and runs are checked against).
      await upsertTrainer(opened.db, { description: builtinDescription, taskQueue: taskQueues.training, registeredBy: 'system' });
      log(`workers: task queues ${taskQueues.control} and ${taskQueues.training} (built-in trainer ${builtinDescription.name} on ${taskQueues.training})`);
    }

    let api: ApiServer | null = null;
    if (opts.api ?? true) {
      // RETRAIN_ADMIN_TOKEN: that secret is an admin token for subject 'admin' before anyone can call (never printed).
      if (settings.adminToken !== undefined) {
        const how = await ensureConfiguredAdminToken(opened.db, settings.adminToken);
        log(`admin: RETRAIN_ADMIN_TOKEN is an admin token for subject 'admin' (${how === 'issued' ? 'issued now' : 'already present'})`);
      }
      api = await startApiServer(
        {
          db: opened.db,
          temporal: client,
          namespace,
          temporalUiUrl: settings.temporalUiUrl ?? devServer?.uiUrl ?? null,
          taskQueues,
          defaultApprovalTimeoutSeconds: opts.defaultApprovalTimeoutSeconds ?? 7 * 86400,
          scorer: createScorer(),
        },
        {
          ...(opts.apiPort !== undefined ? { port: opts.apiPort } : {}),
          ...(settings.apiHost !== undefined ? { host: settings.apiHost } : {}),
          // Workers in this process (retrain up): /readyz says whether they run, as the worker health port does.
          ...(workers ? { checks: { workers: workersCheck(workers) } } : {}),
        },
      );
      // The data plane's ordering thread ends after the server (stops run newest first).
      stops.push(() => closeOrderThread());
      stops.push(() => api!.close());
      apiUrl ??= api.url;
      // A command that finds the PGlite folder held can then say where this server answers.
      opened.lock?.setApiUrl(api.url);
      temporalDbLock?.setApiUrl(api.url);
      log(`api: ${api.url} (the console at /, tRPC at /trpc, REST at /api, OpenAPI at /openapi.json)`);
    }

    if (opts.pythonTrainerQueue) {
      if (!workers || !api) throw new Error('the Python trainer is started beside the workers and the API of this process');
      const taskQueue = opts.pythonTrainerQueue;
      // The venv is the machine's (RETRAIN_DATA_DIR), shared by every deployment and demo under it.
      const { python } = await ensurePythonTrainer({ dataDir: settings.dataDir, log });
      const issued = await issueToken(opened.db, { subject: 'trainer:sklearn', role: 'trainer', createdBy: 'system' });
      stops.push(async () => void (await revokeToken(opened.db, issued.id)));
      const trainer = await startPythonTrainer({
        python,
        temporalAddress: address,
        namespace,
        taskQueue,
        apiToken: issued.token,
        artifactsDir: path.join(dataDir, 'trainer-artifacts', taskQueue),
        log,
      });
      // Stopped before the dev server and the database (stops run newest first).
      stops.push(() => trainer.stop());
      await trainer.ready;
      // Registered as trainers.register does: from what it says of itself.
      const description = trainerDescription.parse(
        await client.workflow.execute(TRAINER_CALL_WORKFLOW_TYPE, {
          taskQueue: taskQueues.control,
          workflowId: `describe-${taskQueue}-${Date.now()}`,
          args: [{ taskQueue, activity: 'trainer.describe', timeToStartSeconds: 60 } satisfies TrainerCallInput],
        }),
      );
      await upsertTrainer(opened.db, { description, taskQueue, registeredBy: 'system' });
      log(`python trainer: ${description.name} ${description.version} on task queue ${taskQueue} (pid ${trainer.pid})`);
    }

    return {
      opened,
      client,
      temporalAddress: address,
      namespace,
      uiUrl: devServer?.uiUrl ?? null,
      taskQueues,
      workers,
      api,
      devServer,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
