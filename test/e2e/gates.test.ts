// What an approver and the people around them can do wrong, through the real Temporal server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { eq } from 'drizzle-orm';
import { createApiClient } from '../../api/client';
import { issueToken } from '../../db/tokens';
import { approvals, modelVersions, routes, runs } from '../../db/schema';
import { GATE_FAILURE, statusQuery } from '../../workflows/messages';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { registerModelWithData, startTestEnv, uid, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
let model: string;
before(async () => {
  env = await startTestEnv();
  model = await registerModelWithData(env);
});
after(async () => {
  await env?.stop();
});

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

test('an approver rejects: the candidate is rejected and production is untouched', async () => {
  const { runId } = await env.clients.operator.runs.start.mutate({ model });
  await waitForStatus(env, runId, ['awaiting_approval']);
  await env.clients.approver.gates.reject.mutate({ runId, reason: 'hard ham FPR too close to the bound' });
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed']);
  assert.equal(run.status, 'rejected');
  assert.equal((run.result as { humanDecision: string }).humanDecision, 'reject');
  const [version] = await env.services.opened.db.select().from(modelVersions).where(eq(modelVersions.runId, runId));
  assert.equal(version?.status, 'rejected');
  const prod = await env.services.opened.db.select().from(routes).where(eq(routes.modelId, version!.modelId));
  assert.equal(prod.length, 0, 'nothing was routed to production');
  const [approval] = await env.services.opened.db.select().from(approvals).where(eq(approvals.runId, runId));
  assert.equal(approval?.decision, 'rejected');
  assert.equal(approval?.reason, 'hard ham FPR too close to the bound');
});

test('the approval deadline passes: the gate is rejected', async () => {
  const { runId } = await env.clients.operator.runs.start.mutate({ model, approvalTimeoutSeconds: 2 });
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed']);
  assert.equal(run.status, 'rejected');
  assert.equal((run.result as { humanDecision: string }).humanDecision, 'timeout');
  const [approval] = await env.services.opened.db.select().from(approvals).where(eq(approvals.runId, runId));
  assert.equal(approval?.approver, 'system:deadline');
  // A late decision is refused with CONFLICT, not silently accepted.
  await assert.rejects(env.clients.approver.gates.approve.mutate({ runId, reason: 'too late' }), (err) => codeOf(err) === 'CONFLICT');
});

test('the requester cannot approve their own run, even holding an approver-capable role; the workflow is unchanged', async () => {
  const admin = createApiClient(env.url, (await issueToken(env.services.opened.db, { subject: `lead-${uid()}`, role: 'admin', createdBy: 'test' })).token);
  const { runId } = await admin.runs.start.mutate({ model });
  await waitForStatus(env, runId, ['awaiting_approval']);
  await assert.rejects(admin.gates.approve.mutate({ runId, reason: 'looks fine to me' }), (err) => codeOf(err) === 'FORBIDDEN' && /four eyes/.test((err as Error).message));
  // The workflow's own validator refuses it too, when the API check is bypassed.
  const handle = env.services.client.workflow.getHandle(runId);
  const [row] = await env.services.opened.db.select().from(runs).where(eq(runs.id, runId));
  await assert.rejects(
    handle.executeUpdate('decideGate', { args: [{ decision: 'approve', reason: 'bypass', approver: { subject: row!.requestedBy, role: 'admin' } }] }),
    (err) =>
      err instanceof WorkflowUpdateFailedError &&
      err.cause instanceof ApplicationFailure &&
      err.cause.type === GATE_FAILURE.forbidden &&
      /four eyes/.test(err.cause.message),
  );
  const status = await handle.query(statusQuery);
  assert.equal(status.step, 'awaiting_approval');
  assert.equal(status.approval?.decision, null);
  assert.equal((await env.services.opened.db.select().from(approvals).where(eq(approvals.runId, runId))).length, 0);
  // A real second identity can still decide it.
  await env.clients.approver.gates.reject.mutate({ runId, reason: 'cleaning up the test run' });
  assert.equal((await waitForStatus(env, runId, ['rejected', 'promoted'])).status, 'rejected');
});

test('a viewer cannot start a run, and an operator cannot decide a gate', async () => {
  const before = await env.services.opened.db.select().from(runs);
  await assert.rejects(env.clients.viewer.runs.start.mutate({ model }), (err) => codeOf(err) === 'FORBIDDEN');
  assert.equal((await env.services.opened.db.select().from(runs)).length, before.length, 'no run row was written');
  await assert.rejects(
    env.clients.operator.gates.approve.mutate({ runId: 'run-nothing-here', reason: 'not mine to decide' }),
    (err) => codeOf(err) === 'FORBIDDEN',
  );
});
