// What the runs and gates routers decide before and around Temporal, through the router with the stub
// Temporal client: the run row and the workflow start they ask for, a start Temporal refuses, and the
// gate checks made before any Update is sent (four eyes, a run not waiting) and the mapping of the
// workflow's refusals. The workflows' own answers are tested end to end in test/e2e.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import { approvals, runs } from '../../db/schema';
import { GATE_FAILURE, RUN_WORKFLOW_TYPE, type RetrainingRunInput } from '../../workflows/messages';
import { startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv;
let model: string;
let modelId: number;

before(async () => {
  env = await startCallerEnv({ defaultApprovalTimeoutSeconds: 1234 });
  model = `runs-${uid()}`;
  // With a policy: runs.start refuses a model without one (test/api/noPolicy.test.ts).
  ({ id: modelId } = await env.clients.operator.models.register.mutate({ name: model, gatePolicy: { rules: [{ kind: 'human_approval' }] } }));
});
after(async () => {
  await env?.stop();
});
beforeEach(() => {
  env.temporal.calls.length = 0;
  env.temporal.onStart = () => {};
  env.temporal.onUpdate = (id) => {
    throw new Error(`no update expected for ${id}`);
  };
});

/** A well-formed packet hash; these planted runs have no stored packet, so only the workflow (stubbed) compares it. */
const anyHash = `sha256:${'0'.repeat(64)}`;
const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);
const rowOf = async (runId: string) => (await env.db.select().from(runs).where(eq(runs.id, runId)))[0]!;

/** A run row as runs.start leaves it, in the status a test needs, requested by `requestedBy`. */
async function plantRun(status: 'awaiting_approval' | 'promoted', requestedBy: string): Promise<string> {
  const id = `run-${model}-${uid()}`;
  await env.db.insert(runs).values({ id, modelId, trigger: 'manual', requestedBy, status, step: status, params: {} });
  return id;
}

test('runs.start writes the run row and starts retrainingRun on the control queue with the identity, defaults and search attributes', async () => {
  const { runId, workflowId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'drift', trainerParams: { epochs: 3 } });
  assert.equal(workflowId, runId);
  const [start] = env.temporal.of('start');
  assert.equal(start?.id, runId);
  assert.equal(start.name, RUN_WORKFLOW_TYPE);
  const options = start.options as { taskQueue: string; typedSearchAttributes: { key: { name: string }; value: string }[] };
  assert.equal(options.taskQueue, env.deps.taskQueues.control);
  assert.deepEqual(
    options.typedSearchAttributes.map((a) => [a.key.name, a.value]),
    [
      ['RetrainModel', model],
      ['RetrainTrigger', 'drift'],
      ['RetrainStep', 'queued'],
    ],
  );
  const input = start.args![0] as RetrainingRunInput;
  assert.equal(input.requestedBy, env.identities.operator.subject, 'the requester is the token, not the body');
  assert.equal(input.approvalTimeoutSeconds, 1234, 'the deployment default when the request names none');
  assert.equal(input.trainingTaskQueue, env.deps.taskQueues.training);
  assert.deepEqual(input.trainerParams, { epochs: 3 });
  const row = await rowOf(runId);
  assert.deepEqual([row.status, row.step, row.trigger, row.requestedBy], ['running', 'queued', 'drift', env.identities.operator.subject]);
});

test('a start Temporal refuses leaves no run claiming to run: CONFLICT for a duplicate id, the row marked failed', async () => {
  env.temporal.onStart = (id, type) => {
    throw new WorkflowExecutionAlreadyStartedError('already started', id, type);
  };
  const err = await env.clients.operator.runs.start.mutate({ model }).then(
    () => assert.fail('the start was accepted'),
    (e: unknown) => e,
  );
  assert.equal(codeOf(err), 'CONFLICT');
  const [start] = env.temporal.of('start');
  const row = await rowOf(start!.id);
  assert.deepEqual([row.status, row.step], ['failed', 'done']);
  assert.ok(row.finishedAt instanceof Date);
});

test('gates: four eyes and a run not waiting are refused before any Update is sent', async () => {
  const mine = await plantRun('awaiting_approval', env.identities.approver.subject);
  await assert.rejects(env.clients.approver.gates.approve.mutate({ runId: mine, reason: 'my own run, fine', packetHash: anyHash }), (e) => codeOf(e) === 'FORBIDDEN' && /four eyes/.test((e as Error).message));
  const done = await plantRun('promoted', env.identities.operator.subject);
  await assert.rejects(env.clients.approver.gates.approve.mutate({ runId: done, reason: 'late to the party', packetHash: anyHash }), (e) => codeOf(e) === 'CONFLICT');
  assert.deepEqual(env.temporal.of('executeUpdate'), [], 'Temporal was not asked');
  assert.equal((await env.db.select().from(approvals).where(eq(approvals.runId, mine))).length, 0);
});

test('gates: the decision goes to the workflow as decideGate with the approver from the token; its refusals keep their code', async () => {
  const runId = await plantRun('awaiting_approval', env.identities.operator.subject);
  env.temporal.onUpdate = () => ({ decision: 'reject', approver: env.identities.approver.subject, reportHash: 'sha256:abc' });
  const decided = await env.clients.approver.gates.reject.mutate({ runId, reason: 'hard ham FPR too close' });
  assert.deepEqual(decided, { runId, decision: 'reject', approver: env.identities.approver.subject, reportHash: 'sha256:abc' });
  const [update] = env.temporal.of('executeUpdate');
  assert.equal(update?.id, runId);
  assert.equal(update.name, 'decideGate');
  assert.deepEqual(update.args, [
    {
      decision: 'reject',
      reason: 'hard ham FPR too close',
      approver: { subject: env.identities.approver.subject, role: 'approver' },
      // Who controls the approver's token, for the validator's four-eyes rule; the policy in force, for staleness.
      approverChain: { subject: env.identities.approver.subject, issuers: [], root: 'test' },
      currentPolicyVersion: 1, // the policy the model was registered with
    },
  ]);

  for (const [type, code] of [
    [GATE_FAILURE.forbidden, 'FORBIDDEN'],
    [GATE_FAILURE.badRequest, 'BAD_REQUEST'],
    [GATE_FAILURE.conflict, 'CONFLICT'],
  ] as const) {
    env.temporal.onUpdate = () => {
      throw new WorkflowUpdateFailedError('update failed', ApplicationFailure.create({ type, message: `refused: ${type}` }));
    };
    await assert.rejects(env.clients.approver.gates.approve.mutate({ runId, reason: 'second opinion', packetHash: anyHash }), (e) => codeOf(e) === code && (e as Error).message.includes(`refused: ${type}`), type);
  }
});
