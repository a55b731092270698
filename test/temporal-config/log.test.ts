// The JSON log (temporal-config/log.ts): secrets censored, one access-log line per API request with its
// request id, procedures' own lines (ctx.log) under the same request id with the subject, procedure and the
// workflow they start or update, and the Temporal SDK's runtime log (workers, workflows, activities) in the same log, without
// the "No workflows registered" warning the activities-only training worker used to print on every start.
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { runs } from '../../db/schema';
import { createLogger, requestIdFrom, setRootLogger } from '../../temporal-config/log';
import { installRuntime } from '../../temporal-config/worker';
import { readSettings } from '../../temporal-config/env';
import { TRAINER_CALL_WORKFLOW_TYPE, type TrainerCallInput } from '../../workflows/messages';
import { startCallerEnv, type CallerEnv } from '../caller';
import { startTestEnv, type TestEnv } from '../helpers';

type Line = Record<string, unknown>;

/** A logger writing into an array of parsed JSON lines. */
function capture(level: 'debug' | 'info' = 'info') {
  const lines: Line[] = [];
  let pending = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        lines.push(JSON.parse(pending.slice(0, nl)) as Line);
        pending = pending.slice(nl + 1);
      }
      done();
    },
  });
  return { lines, logger: createLogger({ level, destination: stream }) };
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

test('the logger censors authorization headers and token fields, however deep', () => {
  const { lines, logger } = capture();
  logger.info({ token: 'sekret-1', headers: { authorization: 'Bearer sekret-2' }, issued: { token: 'sekret-3', subject: 'ada' }, req: { headers: { authorization: 'Bearer sekret-4' } } }, 'issued');
  logger.child({ requestId: 'r-1' }).info({ authorization: 'Bearer sekret-5' }, 'child');
  const text = JSON.stringify(lines);
  for (const n of [1, 2, 3, 4, 5]) assert.ok(!text.includes(`sekret-${n}`), `sekret-${n} reached the log: ${text}`);
  assert.equal(lines[0]!.token, '[redacted]');
  assert.equal((lines[0]!.issued as Line).subject, 'ada');
  assert.equal(lines[1]!.requestId, 'r-1');
  assert.equal(lines[0]!.level, 'info');
});

test('RETRAIN_LOG_LEVEL and RETRAIN_WORKER_METRICS_ADDRESS are validated', () => {
  assert.equal(readSettings({ RETRAIN_LOG_LEVEL: 'DEBUG' }).logLevel, 'debug');
  assert.equal(readSettings({}).logLevel, undefined);
  assert.throws(() => readSettings({ RETRAIN_LOG_LEVEL: 'loud' }), /RETRAIN_LOG_LEVEL: must be one of/);
  assert.equal(readSettings({ RETRAIN_WORKER_METRICS_ADDRESS: '0.0.0.0:9464' }).workerMetricsAddress, '0.0.0.0:9464');
  assert.throws(() => readSettings({ RETRAIN_WORKER_METRICS_ADDRESS: 'http://x:1/metrics' }), /RETRAIN_WORKER_METRICS_ADDRESS: must be host:port/);
});

test('request ids: a short token is kept, anything else replaced', () => {
  assert.equal(requestIdFrom('abc-123_x.y:z'), 'abc-123_x.y:z');
  for (const bad of [undefined, '', 'has space', 'a'.repeat(65), 'new\nline', '<script>', '-leading']) {
    const id = requestIdFrom(bad);
    assert.notEqual(id, bad);
    assert.match(id, /^[0-9a-f-]{36}$/);
  }
});

describe('the access log', () => {
  let env: CallerEnv;
  let url: string;
  const cap = capture();
  before(async () => {
    setRootLogger(cap.logger);
    env = await startCallerEnv();
    url = await env.serve();
  });
  after(() => env.stop());

  const accessLine = async (requestId: string) => {
    // The line is written when the response closes, just after the client has read it.
    for (let i = 0; i < 50; i++) {
      const line = cap.lines.find((l) => l.msg === 'request' && l.requestId === requestId);
      if (line) return line;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`no access-log line for ${requestId}: ${JSON.stringify(cap.lines)}`);
  };

  test('a REST call (a refused one): requestId echoed, path without the query, status, subject; no token, no query', async () => {
    const res = await fetch(`${url}/api/session?secret=in-the-query`, { headers: { authorization: `Bearer ${env.tokens.viewer}`, 'x-request-id': 'trace-42' } });
    // The operation takes no parameters: the unknown one is refused (400), after the token was resolved.
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-request-id'), 'trace-42');
    const line = await accessLine('trace-42');
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/api/session');
    assert.equal(line.status, 400);
    assert.equal(line.subject, env.identities.viewer.subject);
    assert.equal(line.component, 'api');
    assert.equal(typeof line.duration_ms, 'number');
    const text = JSON.stringify(cap.lines);
    assert.ok(!text.includes(env.tokens.viewer) && !text.includes('in-the-query'));
  });

  test('a tRPC call names its procedure; a bad X-Request-Id is replaced, and the new one echoed', async () => {
    const res = await fetch(`${url}/trpc/session.whoami`, { headers: { authorization: `Bearer ${env.tokens.admin}`, 'x-request-id': 'no spaces allowed' } });
    assert.equal(res.status, 200);
    const id = res.headers.get('x-request-id')!;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const line = await accessLine(id);
    assert.equal(line.procedure, 'session.whoami');
    assert.equal(line.subject, env.identities.admin.subject);
    assert.equal(line.path, '/trpc/session.whoami');
  });

  test("a procedure's own log line carries the access log's requestId, the subject and procedure; runs.start its runId and workflowId", async () => {
    const model = `logged-${Date.now().toString(36)}`;
    await env.clients.operator.models.register.mutate({ name: model, gatePolicy: { rules: [{ kind: 'human_approval' }] } });
    const res = await fetch(`${url}/api/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.tokens.operator}`, 'content-type': 'application/json', 'x-request-id': 'start-7' },
      body: JSON.stringify({ model }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'start-7');
    const { runId, workflowId } = (await res.json()) as { runId: string; workflowId: string };
    const access = await accessLine('start-7');
    const started = cap.lines.filter((l) => l.msg === 'run started');
    assert.equal(started.length, 1, JSON.stringify(started));
    const line = started[0]!;
    assert.equal(line.requestId, access.requestId);
    assert.equal(line.subject, env.identities.operator.subject);
    assert.equal(line.subject, access.subject);
    assert.equal(line.procedure, 'runs.start');
    assert.equal(line.component, 'api');
    assert.equal(line.level, 'info');
    assert.equal(line.runId, runId);
    assert.equal(line.workflowId, workflowId);
    // The workflow Temporal was asked to start is the one the line names.
    assert.deepEqual(env.temporal.of('start').map((c) => c.id), [workflowId]);
    assert.ok(!JSON.stringify(cap.lines).includes(env.tokens.operator));

    // The workflows a procedure updates: a rollout control (the rollout child's id) and a gate decision (the run's).
    const post = async (path: string, token: string, requestId: string, body: unknown) => {
      const r = await fetch(`${url}/api${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': requestId }, body: JSON.stringify(body) });
      assert.equal(r.status, 200, await r.clone().text());
      return accessLine(requestId);
    };
    env.temporal.onUpdate = (_id, name) =>
      name === 'decideGate'
        ? { decision: 'reject', approver: env.identities.approver.subject, reportHash: null }
        : { phase: 'paused', step: 0, weight: 0, analyses: [], shadow: null, pausedBecause: 'operator', outcome: null, reason: null };
    try {
      await post(`/runs/${runId}/rollout/pause`, env.tokens.operator, 'pause-8', { reason: 'looking at the canary' });
      const paused = cap.lines.find((l) => l.msg === 'rollout update accepted' && l.requestId === 'pause-8');
      assert.deepEqual(paused && [paused.runId, paused.workflowId, paused.command, paused.procedure, paused.subject], [runId, `rollout-${runId}`, 'pause', 'runs.pause', env.identities.operator.subject], JSON.stringify(paused));
      await env.db.update(runs).set({ status: 'awaiting_approval' }).where(eq(runs.id, runId));
      await post(`/gates/${runId}/reject`, env.tokens.approver, 'reject-9', { reason: 'not this one' });
      const decided = cap.lines.find((l) => l.msg === 'gate decided' && l.requestId === 'reject-9');
      assert.deepEqual(decided && [decided.runId, decided.workflowId, decided.decision, decided.procedure, decided.subject], [runId, runId, 'reject', 'gates.reject', env.identities.approver.subject], JSON.stringify(decided));
    } finally {
      env.temporal.onUpdate = (id) => {
        throw new WorkflowNotFoundError(`workflow not found: ${id}`, id, undefined);
      };
    }
  });

  test('a request without a token: its status, no subject', async () => {
    const res = await fetch(`${url}/api/session`);
    assert.equal(res.status, 401);
    const line = await accessLine(res.headers.get('x-request-id')!);
    assert.equal(line.status, 401);
    assert.equal(line.subject, undefined);
  });
});

describe('the Temporal SDK log, through the same logger', () => {
  let env: TestEnv;
  const cap = capture('debug');
  let metricsPort: number;
  before(async () => {
    setRootLogger(cap.logger);
    metricsPort = await freePort();
    // Before any connection, as startServices would (which then finds it installed).
    installRuntime({ temporalLogLevel: 'DEBUG', workerMetricsAddress: `127.0.0.1:${metricsPort}` });
    env = await startTestEnv();
  });
  after(() => env?.stop());

  test('starting the workers warns of nothing: the activities-only queue is noted at debug', async () => {
    const training = env.services.taskQueues.training;
    const sdk = cap.lines.filter((l) => l.component === 'temporal');
    assert.ok(sdk.some((l) => l.taskQueue === training), 'the training worker logged through our logger');
    const notice = cap.lines.filter((l) => String(l.msg).startsWith('No workflows registered'));
    assert.ok(notice.length > 0 && notice.every((l) => l.level === 'debug' && l.taskQueue === training), JSON.stringify(notice));
    const warnings = cap.lines.filter((l) => l.level === 'warn' || l.level === 'error');
    assert.deepEqual(warnings, []);
  });

  test('workflow and activity log entries carry workflowId and runId; worker metrics are scrapable', async () => {
    const workflowId = `log-describe-${Date.now()}`;
    const handle = await env.services.client.workflow.start(TRAINER_CALL_WORKFLOW_TYPE, {
      taskQueue: env.services.taskQueues.control,
      workflowId,
      args: [{ taskQueue: env.services.taskQueues.training, activity: 'trainer.describe', timeToStartSeconds: 60 } satisfies TrainerCallInput],
    });
    await handle.result();
    // Workflow entries reach the runtime logger through a sink, after the workflow task: wait for the last.
    const runId = handle.firstExecutionRunId;
    for (let i = 0; i < 100 && !cap.lines.some((l) => l.workflowId === workflowId && l.msg === 'Workflow completed'); i++) await new Promise((r) => setTimeout(r, 50));
    const mine = cap.lines.filter((l) => l.workflowId === workflowId && l.sdkComponent !== 'core');
    assert.ok(mine.some((l) => l.runId === runId && l.activityType !== undefined), `an activity entry: ${JSON.stringify(mine)}`);
    assert.ok(mine.some((l) => l.runId === runId && l.workflowType === TRAINER_CALL_WORKFLOW_TYPE), `a workflow entry: ${JSON.stringify(mine)}`);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.ok(!JSON.stringify(mine).includes('taskToken'));
    assert.match(text, /^temporal_\w+/m);
    assert.match(text, /temporal_activity_execution_latency|temporal_workflow_completed/);
  });
});
