// Shared test set-up: real Temporal (CI's shared dev server, or one started here), real database
// (PostgreSQL when DATABASE_URL is set: a database of the file's own on that server, see fileDatabase.ts; in-memory PGlite otherwise), unique task queues per test file.
import { versionArtifact } from '../db/models';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { createApiClient, type ApiClient } from '../api/client';
import { issueToken } from '../db/tokens';
import { fileDatabaseLocation, fileDatabaseUrl } from './fileDatabase';
import { assignHeldOut, loadCorpus, type CorpusEmail } from '../demo/corpus';
import { annotationBatches, annotationTasks, examples, feedbackEvents, models, modelVersions, predictions, routes, runs } from '../db/schema';
import { labelSubmittedSignal, type AnnotationBatchInput } from '../workflows/messages';
import type { Role } from '../db/schema';
import type { Services, StartServicesOptions } from '../temporal-config/services';
import { deserializeArtifact, predictBatch } from '../trainers/hashedLogReg';
import { createLogger, setRootLogger } from '../temporal-config/log';

// The suites make thousands of requests: the JSON log (access log included) keeps to warnings unless
// RETRAIN_LOG_LEVEL asks for more.
setRootLogger(createLogger({ fallbackLevel: 'warn' }));

export const uid = () => randomBytes(4).toString('hex');

export interface TestEnv {
  services: Services;
  url: string;
  tokens: Record<string, string>;
  clients: Record<'admin' | 'operator' | 'approver' | 'viewer', ApiClient>;
  stop(): Promise<void>;
}

export async function startTestEnv(opts: Partial<StartServicesOptions> = {}): Promise<TestEnv> {
  // Loaded here, not at the top: files that only use the corpus helpers (the router layer's) skip the worker's load.
  const { startServices } = await import('../temporal-config/services');
  const suffix = uid();
  const services = await startServices({
    temporalAddress: process.env.TEMPORAL_TEST_ADDRESS,
    temporalDbFile: null,
    temporalUiPort: null,
    db: await fileDatabaseLocation(),
    taskQueues: { control: `control-${suffix}`, training: `training-${suffix}` },
    defaultApprovalTimeoutSeconds: 600,
    ...opts,
  });
  const tokens: Record<string, string> = {};
  const roles: [string, Role][] = [
    ['admin', 'admin'],
    ['operator', 'operator'],
    ['approver', 'approver'],
    ['viewer', 'viewer'],
  ];
  for (const [name, role] of roles) {
    tokens[name] = (await issueToken(services.opened.db, { subject: `${name}-${suffix}`, role, createdBy: 'test' })).token;
  }
  const url = services.api!.url;
  const clients = {
    admin: createApiClient(url, tokens.admin!),
    operator: createApiClient(url, tokens.operator!),
    approver: createApiClient(url, tokens.approver!),
    viewer: createApiClient(url, tokens.viewer!),
  };
  return { services, url, tokens, clients, stop: () => services.stop() };
}

let subset: CorpusEmail[] | undefined;
/** A fixed, stratified fifth of the corpus: enough for real metrics, small enough for fast tests. */
export function corpusSubset(): CorpusEmail[] {
  subset ??= loadCorpus().filter((_, i) => i % 5 === 0);
  return subset;
}

export function toExampleInputs(emails: CorpusEmail[]) {
  const split = assignHeldOut(emails, { fraction: 0.3, seed: 7 });
  return emails.map((e) => ({
    externalId: e.externalId,
    input: e.input,
    label: e.label,
    slices: { ...e.slices } as Record<string, string>,
    split: split.get(e.externalId)!,
    ...(e.sentAt ? { observedAt: e.sentAt } : {}),
  }));
}

/** Registers a uniquely named model with the corpus subset loaded; returns its name. */
export async function registerModelWithData(env: TestEnv, opts: { requireHumanApproval?: 'always' | 'never' } = {}) {
  const name = `spam-${uid()}`;
  await env.clients.operator.models.register.mutate({
    name,
    description: 'test spam filter',
    gatePolicy: {
      minSliceSupport: 10,
      rules: [
        { kind: 'bound', id: 'overall-fpr', metric: 'fpr', slices: 'overall', max: 0.08 },
        { kind: 'no_regression', id: 'accuracy-vs-champion', metric: 'accuracy', slices: 'overall', margin: 0.05 },
        ...(opts.requireHumanApproval === 'never' ? [] : [{ kind: 'human_approval' as const, id: 'sign-off' }]),
      ],
    },
  });
  const rows = toExampleInputs(corpusSubset());
  for (let i = 0; i < rows.length; i += 500) {
    await env.clients.operator.models.importExamples.mutate({ name, examples: rows.slice(i, i + 500) });
  }
  return name;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Until Temporal has seen a worker poll `taskQueue` for activities: trainers.register refuses a queue no
 * worker has polled yet, so a test that starts a trainer and registers it waits for this in between.
 */
export async function waitForPoller(env: TestEnv, taskQueue: string): Promise<void> {
  await waitFor(`a poller on ${taskQueue}`, async () => {
    const res = await env.services.client.workflowService.describeTaskQueue({ namespace: env.services.namespace, taskQueue: { name: taskQueue }, taskQueueType: 2 /* ACTIVITY */ });
    return (res.pollers?.length ?? 0) > 0;
  }, 30_000);
}

/** A registered model whose bootstrap run promoted v1 (no human sign-off), with the ids tests query by. */
export async function promotedModel(env: TestEnv): Promise<{ model: string; modelId: number; productionVersionId: number }> {
  const model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed']);
  if (run.status !== 'promoted') throw new Error(`the bootstrap run of ${model} ended ${run.status}`);
  const db = env.services.opened.db;
  const [m] = await db.select({ id: models.id }).from(models).where(eq(models.name, model));
  const [route] = await db.select({ versionId: routes.versionId }).from(routes).where(and(eq(routes.modelId, m!.id), eq(routes.kind, 'production')));
  return { model, modelId: m!.id, productionVersionId: route!.versionId };
}

export async function waitForStatus(env: TestEnv, runId: string, statuses: string[], timeoutMs?: number) {
  return waitFor(
    `run ${runId} to reach ${statuses.join('|')}`,
    async () => {
      const [row] = await env.services.opened.db.select().from(runs).where(eq(runs.id, runId));
      return row && statuses.includes(row.status) ? row : undefined;
    },
    timeoutMs,
  );
}

export async function versionRows(env: TestEnv, runId: string) {
  return env.services.opened.db.select().from(modelVersions).where(eq(modelVersions.runId, runId));
}

/**
 * Adds `subject` to the annotator pool (annotator token, pool entry with `attributes`) and returns a
 * client that acts as them.
 */
export async function annotatorClient(
  env: TestEnv,
  subject: string,
  attributes: Record<string, string> = {},
  adjudicator = false,
): Promise<ApiClient> {
  const { token } = await issueToken(env.services.opened.db, { subject, role: 'annotator', createdBy: 'test' });
  await env.clients.operator.annotation.registerAnnotator.mutate({ subject, attributes, adjudicator });
  return createApiClient(env.url, token);
}

/**
 * Logs `emails` as production traffic of `model` answered by its production version: unlabelled
 * examples + predictions (the candidate pool of annotation). Returns the model id.
 */
export async function logTraffic(env: TestEnv, model: string, emails: CorpusEmail[]): Promise<number> {
  const db = env.services.opened.db;
  const [m] = await db.select().from(models).where(eq(models.name, model));
  if (!m) throw new Error(`model ${model} does not exist`);
  const [route] = await db.select().from(routes).where(and(eq(routes.modelId, m.id), eq(routes.kind, 'production')));
  if (!route) throw new Error(`model ${model} has no production version: run a bootstrap first`);
  const [version] = await db.select().from(modelVersions).where(eq(modelVersions.id, route.versionId));
  const scores = predictBatch(deserializeArtifact((await versionArtifact(db, version!.id))!), emails.map((e) => e.input));
  await db.insert(examples).values(
    emails.map((e) => ({ modelId: m.id, externalId: e.externalId, input: e.input, label: null, slices: { ...e.slices }, split: 'train' as const })),
  );
  await db.insert(predictions).values(
    emails.map((e, i) => ({
      modelId: m.id,
      versionId: version!.id,
      requestId: `req-${e.externalId}`,
      exampleExternalId: e.externalId,
      score: scores[i]!,
      decision: scores[i]! >= 0.5 ? 1 : 0,
      attributes: { ...e.slices },
      occurredAt: new Date(),
      loggedBy: 'test',
    })),
  );
  return m.id;
}

/** Crash tests run workers as separate processes sharing this database: PGlite is single-process. */
export const needsSharedDatabase = process.env.DATABASE_URL
  ? false
  : 'needs DATABASE_URL: worker processes must share the database (PGlite is single-process)';

/**
 * A crash test's set-up: this process serves the API only (its own task queues), workers are
 * `retrain worker` subprocesses that can be SIGKILLed; everything is stopped by `stop()`.
 */
export function crashTestRig(name: string, workerEnv: Record<string, string> = {}) {
  const suffix = uid();
  const queues = { control: `control-${name}-${suffix}`, training: `training-${name}-${suffix}` };
  const children: ChildProcess[] = [];
  const rig = {
    env: undefined as unknown as TestEnv,
    queues,
    databaseUrl: undefined as string | undefined,
    async start(): Promise<TestEnv> {
      rig.databaseUrl = await fileDatabaseUrl();
      rig.env = await startTestEnv({ worker: false, taskQueues: queues });
      return rig.env;
    },
    startWorker(): ChildProcess {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '..', 'bin', 'retrain.ts'), 'worker'], {
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: rig.env.services.temporalAddress,
          RETRAIN_CONTROL_QUEUE: queues.control,
          RETRAIN_TRAINING_QUEUE: queues.training,
          // The data plane the worker's trainers read from: this process's API.
          RETRAIN_API_URL: rig.env.url,
          // The file's own database, which the API in this process uses too.
          ...(rig.databaseUrl ? { DATABASE_URL: rig.databaseUrl } : {}),
          ...workerEnv,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
      });
      child.on('exit', (code) => {
        if (code && code !== 0) process.stderr.write(`worker exited ${code}: ${stderr}\n`);
      });
      children.push(child);
      return child;
    },
    /** SIGKILL: no shutdown hooks, no graceful drain; resolves when the process is gone. */
    async kill(child: ChildProcess): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    async stop(): Promise<void> {
      for (const c of children) await rig.kill(c);
      await rig.env?.stop();
    },
  };
  return rig;
}

/**
 * Traffic a version answered just now: `requests` blocked mails (half from country-code senders), of
 * which the first `overrides` were rescued from the spam folder. How rollout tests plant a regression.
 */
export async function plantAnsweredTraffic(db: TestEnv['services']['opened']['db'], modelId: number, versionId: number, requests: number, overrides: number, by = 'test', occurredAt = new Date()) {
  const tag = uid();
  const rows = Array.from({ length: requests }, (_, i) => ({
    modelId,
    versionId,
    requestId: `r-${tag}-${i}`,
    score: 0.9,
    decision: 1,
    attributes: { sender_tld: i % 2 ? 'generic' : 'country_code' },
    occurredAt,
    loggedBy: by,
  }));
  await db.insert(predictions).values(rows);
  if (overrides > 0) {
    await db.insert(feedbackEvents).values(
      rows.slice(0, overrides).map((r) => ({ modelId, versionId, idempotencyKey: `${r.requestId}:override`, requestId: r.requestId, kind: 'override' as const, value: { action: 'not_spam' }, occurredAt, ingestedBy: by })),
    );
  }
}

/** Approves a run's gate as an approver would: reading the packet's hash first and signing that. */
export async function approveAsRead(client: ApiClient, runId: string, reason: string) {
  const { packetHash } = await client.reports.get.query({ runId });
  if (!packetHash) throw new Error(`run ${runId} has no approval packet to approve`);
  return client.gates.approve.mutate({ runId, reason, packetHash });
}

/**
 * An annotationBatch started with a low event limit over `mails` (unlabelled), kept busy with label
 * hints for `hintTasks` of its tasks over `rounds` sweeps so that it continues as new, then completed.
 * Returns once it finished; the replay recorder and the history-size test both drive it.
 */
export async function continuingAnnotationBatch(
  env: TestEnv,
  opts: { mails: CorpusEmail[]; continueAfterEvents: number; rounds: number; hintTasks?: number; actor: string },
) {
  const db = env.services.opened.db;
  const client = env.services.client;
  const [m] = await db.insert(models).values({ name: `batch-history-${uid()}`, createdBy: opts.actor }).returning();
  const rows = await db
    .insert(examples)
    .values(opts.mails.map((e) => ({ modelId: m!.id, externalId: e.externalId, input: e.input, label: null, slices: { ...e.slices } as Record<string, string>, split: 'train' as const })))
    .returning({ id: examples.id });
  const batchId = `batch-continued-${uid()}`;
  await db.insert(annotationBatches).values({ id: batchId, modelId: m!.id, specVersion: 1, overlap: 1, goldShare: 0, deadline: new Date(Date.now() + 600_000), createdBy: opts.actor });
  const tasks = await db
    .insert(annotationTasks)
    .values(rows.map((r) => ({ batchId, exampleId: r.id, stratum: 'remainder', inclusionProbability: 1 })))
    .returning({ id: annotationTasks.id });
  const handle = await client.workflow.start('annotationBatch', {
    taskQueue: env.services.taskQueues.control,
    workflowId: batchId,
    args: [{ batchId, modelId: m!.id, tasks: tasks.length, deadlineSeconds: 600, assignmentSeconds: 2, continueAfterEvents: opts.continueAfterEvents } satisfies AnnotationBatchInput],
  });
  // Hints as the API sends them: far more events than the limit, across several sweeps.
  for (let round = 0; round < opts.rounds; round++) {
    for (const t of tasks.slice(0, opts.hintTasks ?? tasks.length)) await handle.signal(labelSubmittedSignal, { taskId: t.id, annotator: opts.actor, taskStatus: 'open' });
    await new Promise((r) => setTimeout(r, 1200));
  }
  await db.update(annotationTasks).set({ status: 'done' }).where(eq(annotationTasks.batchId, batchId));
  for (const t of tasks) await handle.signal(labelSubmittedSignal, { taskId: t.id, annotator: opts.actor, taskStatus: 'done' });
  const result = await handle.result();
  return { batchId, handle, tasks, result };
}
