// What the run-based fault checks share: models registered and loaded through the REST API, runs
// started through it, waiting on a run's step, and the "promoted exactly once" verdict read from the
// database (run status, the run's one version in production behind the production route, one promote
// deployment event, one route.promote audit row).
import { Connection, Client } from '@temporalio/client';
import { and, eq, sql } from 'drizzle-orm';
import { auditLog, deploymentEvents, models, modelVersions, routes, runs } from '../../db/schema';
import { corpusSubset, toExampleInputs } from '../helpers';
import type { Deployment } from './harness';

/** Registers `name` with a policy that promotes without a human, and loads the test corpus subset through the API. */
export async function registerLoadedModel(dep: Deployment, name: string): Promise<void> {
  await dep.call('operator', 'POST', '/models', {
    name,
    description: 'fault suite',
    gatePolicy: {
      minSliceSupport: 10,
      rules: [{ kind: 'bound', id: 'overall-fpr', metric: 'fpr', slices: 'overall', max: 0.2 }],
    },
  });
  const rows = toExampleInputs(corpusSubset());
  for (let i = 0; i < rows.length; i += 1000) {
    await dep.call('operator', 'POST', `/models/${name}/examples`, { examples: rows.slice(i, i + 1000) });
  }
}

export async function startRun(dep: Deployment, model: string, trainerParams: Record<string, number>): Promise<string> {
  const { runId } = await dep.call<{ runId: string }>('operator', 'POST', '/runs', { model, trainerParams });
  return runId;
}

export async function runRow(dep: Deployment, runId: string) {
  const [row] = await dep.opened!.db.select().from(runs).where(eq(runs.id, runId));
  return row;
}

/** A client of the deployment's own Temporal server (describe, history); reconnects are the SDK's. */
export async function temporalClient(dep: Deployment): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: dep.temporal!.address });
  return { client: new Client({ connection }), close: () => connection.close() };
}

/**
 * Where the run's training activity stands on the worker started at `sinceMs`: `started` when an
 * attempt was started on it (at or after sinceMs) and is still running, `heartbeated` when that attempt
 * has also heartbeated from inside its epochs. Heartbeat details of an attempt lost with a killed
 * worker linger until the heartbeat timeout; they do not count. (The training worker sends heartbeats
 * to the server every 3 s at most: temporal-config/worker.ts.)
 */
export async function trainingState(dep: Deployment, client: Client, runId: string, sinceMs = 0): Promise<{ started: boolean; heartbeated: boolean }> {
  const none = { started: false, heartbeated: false };
  const row = await runRow(dep, runId);
  if (row?.step !== 'training') return none;
  try {
    const d = await client.workflow.getHandle(runId).describe();
    const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => (t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : 0);
    const a = d.raw.pendingActivities?.find((p) => p.activityType?.name === 'trainer.train');
    if (!a || !(ms(a.lastStartedTime) >= sinceMs) || a.state !== 2 /* STARTED */) return none;
    return { started: true, heartbeated: Boolean(a.heartbeatDetails) && ms(a.lastHeartbeatTime) > ms(a.lastStartedTime) };
  } catch {
    return none;
  }
}

/** True when the run's training activity, started at or after `sinceMs`, has heartbeated from inside its epochs. */
export async function trainingHeartbeated(dep: Deployment, client: Client, runId: string, sinceMs = 0): Promise<boolean> {
  return (await trainingState(dep, client, runId, sinceMs)).heartbeated;
}

/** Steps a run passes through before its candidate is trained. */
export const BEFORE_TRAINED = ['queued', 'started', 'snapshot', 'training'];

/** The highest attempt any activity of the run reached (2+ means one was retried after a fault). */
export async function maxActivityAttempt(client: Client, runId: string): Promise<number> {
  const history = await client.workflow.getHandle(runId).fetchHistory();
  return (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0).reduce((a, b) => Math.max(a, b), 0);
}

export interface PromotionVerdict {
  runId: string;
  status: string;
  versions: number;
  productionVersion: boolean;
  routed: boolean;
  promoteEvents: number;
  promoteAudits: number;
  promotedOnce: boolean;
}

/** Reads what the database says about one run's promotion. */
export async function promotionVerdict(dep: Deployment, runId: string, model: string): Promise<PromotionVerdict> {
  const db = dep.opened!.db;
  const row = await runRow(dep, runId);
  const [m] = await db.select().from(models).where(eq(models.name, model));
  const versions = await db.select().from(modelVersions).where(eq(modelVersions.runId, runId));
  const [route] = await db.select().from(routes).where(and(eq(routes.modelId, m!.id), eq(routes.kind, 'production')));
  const events = await db.select().from(deploymentEvents).where(and(eq(deploymentEvents.runId, runId), eq(deploymentEvents.action, 'promote')));
  const [audits] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(auditLog)
    .where(and(eq(auditLog.action, 'route.promote'), sql`${auditLog.details}->>'runId' = ${runId}`));
  const v = {
    runId,
    status: row?.status ?? 'missing',
    versions: versions.length,
    productionVersion: versions.length === 1 && versions[0]!.status === 'production',
    routed: versions.length === 1 && route?.versionId === versions[0]!.id,
    promoteEvents: events.length,
    promoteAudits: audits?.n ?? 0,
  };
  return { ...v, promotedOnce: v.status === 'promoted' && v.productionVersion && v.routed && v.promoteEvents === 1 && v.promoteAudits === 1 };
}
