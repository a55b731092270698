// Scheduled bias re-audits (api/routers/audits): each audit is a Temporal Schedule on the real dev
// server that starts `biasReaudit` on the control queue. No worker runs here (worker: false): the
// started executions stay Running, which is all this file asserts about them (the workflow itself is
// tested where it is written). Intervals are 1 h so the schedules do not fire by themselves; where an
// hour boundary could still fall inside the test, assertions count only the runs they caused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { BIAS_REAUDIT_WORKFLOW_TYPE } from '../../workflows/messages';
import { startTestEnv, uid, waitFor, type TestEnv } from '../helpers';

let env: TestEnv;
let model: string;
const HOUR = 3_600_000;
const scheduledStart = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);
const policy = {
  maxFprIncrease: 0.05,
  maxFairnessGap: 0.1,
  minSupport: 20,
  attributes: ['language'],
  startRetraining: true,
  webhook: { url: 'https://alerts.example.com/bias', secretEnv: 'RETRAIN_WEBHOOK_SECRET_BIAS' },
};
/** Every schedule this file creates, deleted in after() whatever happened. */
const created = new Set<string>();

before(async () => {
  env = await startTestEnv({ worker: false });
  // A registered model is all an audit needs here: nothing runs the re-audit (no worker).
  model = `audited-${uid()}`;
  await env.clients.operator.models.register.mutate({ name: model });
});

after(async () => {
  if (!env) return;
  const client = env.services.client;
  for (const id of created) {
    await client.schedule
      .getHandle(id)
      .delete()
      .catch(() => {});
    // Deleting a schedule leaves the runs it started; nothing polls this queue, so end them.
    for await (const w of client.workflow.list({ query: `TemporalScheduledById = '${id}' AND ExecutionStatus = 'Running'` })) {
      await client.workflow
        .getHandle(w.workflowId, w.runId)
        .terminate('test cleanup')
        .catch(() => {});
    }
  }
  await env.stop();
});

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

async function expectCode(call: () => Promise<unknown>, code: string, what: string): Promise<string> {
  try {
    const result = await call();
    assert.fail(`${what}: expected ${code}, got ${JSON.stringify(result).slice(0, 300)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.equal(codeOf(err), code, `${what}: expected ${code}, got ${String(err)}`);
    return (err as Error).message;
  }
}

async function createAudit(extra: { id?: string; paused?: boolean } = {}) {
  const audit = await env.clients.operator.audits.create.mutate({ model, spec: { interval: { everySeconds: 3600 } }, windowDays: 14, policy, ...extra });
  created.add(audit.id);
  return audit;
}

/** The biasReaudit executions a schedule started, with their nominal (scheduled) times. */
async function executionsOf(id: string) {
  const out: { workflowId: string; type: string; scheduledAt: number | null }[] = [];
  for await (const w of env.services.client.workflow.list({ query: `WorkflowType = '${BIAS_REAUDIT_WORKFLOW_TYPE}' AND TemporalScheduledById = '${id}'` })) {
    out.push({ workflowId: w.workflowId, type: w.type, scheduledAt: w.typedSearchAttributes.get(scheduledStart)?.getTime() ?? null });
  }
  return out;
}

describe('audits: a Temporal Schedule per audit', () => {
  let id: string;

  test('create: an hourly audit starts biasReaudit with the policy, tagged with the model', async () => {
    const audit = await createAudit();
    id = audit.id;
    assert.equal(id, `bias-reaudit-${model}`, 'the default id');
    assert.equal(audit.model, model);
    assert.deepEqual(audit.spec, { cron: null, interval: { everySeconds: 3600 }, timezone: 'UTC' });
    assert.equal(audit.workflowType, BIAS_REAUDIT_WORKFLOW_TYPE);
    assert.equal(audit.taskQueue, env.services.taskQueues.control);
    assert.equal(audit.windowDays, 14);
    assert.deepEqual(audit.policy, policy);
    assert.equal(audit.overlap, 'skip');
    assert.equal(audit.catchupWindowSeconds, 3600);
    assert.equal(audit.paused, false);
    assert.match(audit.note ?? '', /created by operator-/);
    assert.equal(audit.createdBy?.startsWith('operator-'), true);
    assert.deepEqual(audit.recentActions, []);

    // What Temporal holds: the action's args are the BiasReauditInput; the model is a search attribute.
    const d = await env.services.client.schedule.getHandle(id).describe();
    assert.equal(d.action.workflowId, id);
    const [input] = d.action.args as [Record<string, unknown>];
    assert.deepEqual(input, { modelId: input.modelId, model, scheduleId: id, windowDays: 14, policy, trainingTaskQueue: env.services.taskQueues.training });
    assert.equal(typeof input.modelId, 'number');
    assert.deepEqual(d.searchAttributes.RetrainModel, [model]);
  });

  test('describe and list show the audit, its policy and the next hourly times', async () => {
    const d = await env.clients.viewer.audits.describe.query({ id });
    assert.deepEqual(d.policy, policy);
    const next = d.nextActionTimes.map((t) => new Date(t).getTime());
    assert.ok(next.length >= 3, `next times: ${JSON.stringify(d.nextActionTimes)}`);
    assert.ok(next[0]! > Date.now() - 60_000 && next[0]! <= Date.now() + HOUR, 'the first within the next hour');
    for (let i = 1; i < next.length; i++) assert.equal(next[i]! - next[i - 1]!, HOUR, 'an hour apart');
    assert.ok(next.every((t) => t % HOUR === 0), 'on the hour (UTC)');

    // Listing is eventually consistent: wait until the new schedule is visible.
    const listed = await waitFor('the audit in audits.list', async () => (await env.clients.viewer.audits.list.query({ model })).find((a) => a.id === id), 30_000);
    assert.equal(listed.model, model);
    assert.deepEqual(listed.spec, d.spec);
    assert.equal(listed.paused, false);
    assert.ok(listed.nextActionTimes.length > 0);
    assert.ok((await env.clients.viewer.audits.list.query({})).some((a) => a.id === id), 'in the unfiltered list');
    assert.deepEqual(await env.clients.viewer.audits.list.query({ model: `other-${uid()}` }), [], 'not under another model');

    // The same over REST.
    const res = await fetch(`${env.url}/api/audits/${id}`, { headers: { authorization: `Bearer ${env.tokens.viewer}` } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { id: string; policy: unknown; nextActionTimes: string[] };
    assert.equal(body.id, id);
    assert.deepEqual(body.policy, policy);
    assert.ok(body.nextActionTimes.length > 0);
  });

  test('pause and resume change the state; the note says who and why', async () => {
    const paused = await env.clients.operator.audits.pause.mutate({ id, reason: 'labelling backlog this week' });
    assert.equal(paused.paused, true);
    assert.match(paused.note ?? '', /^paused by operator-\w+: labelling backlog this week$/);
    const seen = await env.clients.viewer.audits.describe.query({ id });
    assert.equal(seen.paused, true);
    assert.equal(seen.note, paused.note);

    const resumed = await env.clients.operator.audits.resume.mutate({ id, reason: 'backlog cleared' });
    assert.equal(resumed.paused, false);
    assert.match(resumed.note ?? '', /^resumed by operator-\w+: backlog cleared$/);
    assert.equal((await env.clients.viewer.audits.describe.query({ id })).paused, false);

    const log = await env.clients.admin.admin.auditLog.query({ target: id });
    const actions = log.map((e) => e.action);
    assert.ok(actions.includes('audits.pause') && actions.includes('audits.resume'), `audit log: ${actions.join(', ')}`);
  });

  test('trigger starts a biasReaudit execution now', async () => {
    const before = await env.clients.viewer.audits.describe.query({ id });
    const t = await env.clients.operator.audits.trigger.mutate({ id });
    assert.equal(t.id, id);
    assert.ok(t.workflowId, 'the schedule reported the run it started');
    assert.ok(t.workflowId.startsWith(`${id}-`), `workflow id ${t.workflowId}: the schedule id plus the time`);

    const after = await env.clients.viewer.audits.describe.query({ id });
    assert.ok(after.actionsTaken > before.actionsTaken);
    assert.ok(after.recentActions.some((a) => a.workflowId === t.workflowId), 'in recentActions');

    const started = await waitFor('the triggered execution in visibility', async () => (await executionsOf(id)).find((e) => e.workflowId === t.workflowId), 30_000);
    assert.equal(started.type, BIAS_REAUDIT_WORKFLOW_TYPE);
    const described = await env.services.client.workflow.getHandle(t.workflowId).describe();
    assert.equal(described.type, BIAS_REAUDIT_WORKFLOW_TYPE);
    assert.equal(described.taskQueue, env.services.taskQueues.control);
    assert.equal(described.status.name, 'RUNNING', 'started (no worker polls the queue here, so it stays running)');
  });

  test('backfill of a past 3-hour range [from, to) starts one run per hour: 3, at the nominal times', async () => {
    const to = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
    const from = to - 3 * HOUR;
    const r = await env.clients.operator.audits.backfill.mutate({ id, from: new Date(from).toISOString(), to: new Date(to).toISOString(), overlap: 'allow_all' });
    assert.equal(r.overlap, 'allow_all');
    assert.equal(new Date(r.from).getTime(), from);

    const expected = [from, from + HOUR, from + 2 * HOUR];
    const inRange = async () => (await executionsOf(id)).filter((e) => e.scheduledAt !== null && e.scheduledAt >= from - HOUR && e.scheduledAt <= to + HOUR);
    const runs = await waitFor('3 backfilled executions', async () => {
      const found = await inRange();
      return found.length >= 3 ? found : undefined;
    }, 30_000);
    // Give a 4th (the `to` end, which this API excludes) time to show up if it were started.
    await new Promise((res) => setTimeout(res, 1500));
    const all = await inRange();
    assert.deepEqual(all.map((e) => e.scheduledAt).sort(), expected, `scheduled times: ${all.map((e) => new Date(e.scheduledAt!).toISOString()).join(', ')}`);
    assert.equal(runs.every((e) => e.type === BIAS_REAUDIT_WORKFLOW_TYPE), true);
    for (const t of expected) {
      const wid = `${id}-${new Date(t).toISOString().replace('.000Z', 'Z')}`;
      assert.ok(all.some((e) => e.workflowId === wid), `execution ${wid}`);
    }
  });

  test('delete removes the schedule: describe is NOT_FOUND, and so is a second delete', async () => {
    const d = await env.clients.operator.audits.delete.mutate({ id });
    assert.deepEqual(d, { id, deleted: true });
    await expectCode(() => env.clients.viewer.audits.describe.query({ id }), 'NOT_FOUND', 'describe after delete');
    await expectCode(() => env.clients.operator.audits.delete.mutate({ id }), 'NOT_FOUND', 'delete twice');
    await expectCode(() => env.clients.operator.audits.trigger.mutate({ id }), 'NOT_FOUND', 'trigger after delete');
    await waitFor('the audit gone from audits.list', async () => !(await env.clients.viewer.audits.list.query({ model })).some((a) => a.id === id), 30_000);
    created.delete(id);
  });
});

describe('audits: refusals', () => {
  test('a viewer may read but not create, pause, trigger, backfill or delete (FORBIDDEN)', async () => {
    const audit = await createAudit({ id: `viewer-${uid()}`, paused: true });
    assert.equal(audit.paused, true);
    const v = env.clients.viewer;
    await expectCode(() => v.audits.create.mutate({ model, id: `v-${uid()}`, spec: { interval: { everySeconds: 3600 } }, policy }), 'FORBIDDEN', 'viewer create');
    await expectCode(() => v.audits.pause.mutate({ id: audit.id, reason: 'viewer tries' }), 'FORBIDDEN', 'viewer pause');
    await expectCode(() => v.audits.resume.mutate({ id: audit.id, reason: 'viewer tries' }), 'FORBIDDEN', 'viewer resume');
    await expectCode(() => v.audits.trigger.mutate({ id: audit.id }), 'FORBIDDEN', 'viewer trigger');
    await expectCode(() => v.audits.delete.mutate({ id: audit.id }), 'FORBIDDEN', 'viewer delete');
    await expectCode(
      () => v.audits.backfill.mutate({ id: audit.id, from: new Date(Date.now() - 3 * HOUR).toISOString(), to: new Date(Date.now() - HOUR).toISOString() }),
      'FORBIDDEN',
      'viewer backfill',
    );
    const res = await fetch(`${env.url}/api/audits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.tokens.viewer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, spec: { interval: { everySeconds: 3600 } }, policy }),
    });
    assert.equal(res.status, 403);
    const still = await v.audits.describe.query({ id: audit.id });
    assert.equal(still.paused, true, 'untouched');
    assert.equal(still.actionsTaken, 0);
  });

  test('an unknown model is NOT_FOUND and creates nothing', async () => {
    const missing = `no-such-model-${uid()}`;
    const msg = await expectCode(() => env.clients.operator.audits.create.mutate({ model: missing, spec: { interval: { everySeconds: 3600 } }, policy }), 'NOT_FOUND', 'unknown model');
    assert.ok(msg.includes(missing));
    await expectCode(() => env.clients.viewer.audits.describe.query({ id: `bias-reaudit-${missing}` }), 'NOT_FOUND', 'no schedule');
  });

  test('an id that exists is CONFLICT and leaves the first audit as it was', async () => {
    const first = await createAudit({ id: `dup-${uid()}` });
    const msg = await expectCode(
      () => env.clients.operator.audits.create.mutate({ model, id: first.id, spec: { cron: '0 3 * * *' }, policy: { maxFprIncrease: 0.5, maxFairnessGap: 0.5 } }),
      'CONFLICT',
      'duplicate id',
    );
    assert.ok(msg.includes(first.id));
    const d = await env.clients.viewer.audits.describe.query({ id: first.id });
    assert.deepEqual(d.spec, first.spec);
    assert.deepEqual(d.policy, policy);
  });

  test('bad cron: a malformed string is refused by its shape, an out-of-range field by Temporal, an impossible date too (BAD_REQUEST)', async () => {
    const op = env.clients.operator;
    const tryCron = (cron: string, id = `cron-${uid()}`) => {
      created.add(id);
      return op.audits.create.mutate({ model, id, spec: { cron }, policy });
    };
    for (const cron of ['every day at 3', '0 3 * *', '* * * * * * *', '@every 10s', 'CRON_TZ=UTC 0 3 * * *']) {
      const msg = await expectCode(() => tryCron(cron), 'BAD_REQUEST', `cron '${cron}'`);
      assert.match(msg, /spec/, `cron '${cron}': names the field: ${msg}`);
    }
    const range = await expectCode(() => tryCron('99 3 * * *'), 'BAD_REQUEST', 'minute 99');
    assert.match(range, /Temporal refused the schedule spec: .*Minute/i);
    const feb31 = `feb31-${uid()}`;
    const never = await expectCode(() => tryCron('0 0 31 2 *', feb31), 'BAD_REQUEST', '31 February');
    assert.match(never, /no future time/);
    await expectCode(() => env.clients.viewer.audits.describe.query({ id: feb31 }), 'NOT_FOUND', 'the never-firing schedule is not left behind');
    // A good cron with a zone: Temporal computes the times in that zone.
    const utc = await tryCron('0 3 * * MON', `utc-${uid()}`);
    assert.deepEqual((await op.audits.describe.query({ id: utc.id })).spec, { cron: '0 3 * * MON', interval: null, timezone: 'UTC' });
    assert.ok(utc.nextActionTimes.every((t) => new Date(t).getUTCDay() === 1 && new Date(t).getUTCHours() === 3));
    const zoned = await op.audits.create.mutate({ model, id: `zoned-${uid()}`, spec: { cron: '0 3 * * MON', timezone: 'Europe/Berlin' }, policy });
    created.add(zoned.id);
    const inBerlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', weekday: 'short', hourCycle: 'h23' });
    for (const t of zoned.nextActionTimes.map((x) => new Date(x))) {
      const parts = Object.fromEntries(inBerlin.formatToParts(t).map((p) => [p.type, p.value]));
      assert.deepEqual([parts.weekday, parts.hour, parts.minute], ['Mon', '03', '00'], `${t.toISOString()} is Monday 03:00 in Berlin`);
    }
  });

  test('a schedule that is not a bias re-audit is not an audit (NOT_FOUND) and is left alone', async () => {
    const other = `other-${uid()}`;
    const handle = await env.services.client.schedule.create({
      scheduleId: other,
      spec: { intervals: [{ every: HOUR }] },
      action: { type: 'startWorkflow', workflowType: 'somethingElse', taskQueue: env.services.taskQueues.control, args: [] },
      state: { paused: true },
    });
    created.add(other);
    await expectCode(() => env.clients.viewer.audits.describe.query({ id: other }), 'NOT_FOUND', 'describe');
    await expectCode(() => env.clients.operator.audits.delete.mutate({ id: other }), 'NOT_FOUND', 'delete');
    await expectCode(() => env.clients.operator.audits.trigger.mutate({ id: other }), 'NOT_FOUND', 'trigger');
    assert.equal((await handle.describe()).action.workflowType, 'somethingElse', 'still there');
  });

  test('a backfill of more than 1000 periods is refused before Temporal', async () => {
    const audit = await createAudit({ id: `big-${uid()}`, paused: true });
    const msg = await expectCode(
      () => env.clients.operator.audits.backfill.mutate({ id: audit.id, from: new Date(Date.now() - 200 * 24 * HOUR).toISOString(), to: new Date(Date.now() - HOUR).toISOString() }),
      'BAD_REQUEST',
      'too many periods',
    );
    assert.match(msg, /1000 periods/);
    assert.equal((await env.clients.viewer.audits.describe.query({ id: audit.id })).actionsTaken, 0);
  });
});
