// A model without a gate policy could never have a run approved: registration and models.get warn, and
// runs.start refuses it (PRECONDITION_FAILED, saying what to do) before anything is recorded or started.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { eq } from 'drizzle-orm';
import { runs } from '../../db/schema';
import { startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv;
before(async () => {
  env = await startCallerEnv();
});
after(async () => {
  await env?.stop();
});

test('a model registered without a policy is warned about, its runs are refused until gates.setPolicy, then accepted', async () => {
  const op = env.clients.operator;
  const model = `nopolicy-${uid()}`;
  const registered = await op.models.register.mutate({ name: model });
  assert.equal(registered.policyVersion, null);
  assert.equal(registered.warnings.length, 1);
  assert.match(registered.warnings[0]!, /no gate policy/);
  assert.match(registered.warnings[0]!, /gates\.setPolicy/);
  assert.deepEqual((await op.models.get.query({ name: model })).warnings, registered.warnings);

  const err = await op.runs.start.mutate({ model }).then(
    () => assert.fail('runs.start accepted a model without a gate policy'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TRPCClientError);
  assert.equal(err.data?.code, 'PRECONDITION_FAILED');
  assert.match(err.message, new RegExp(`model '${model}' has no gate policy`));
  assert.match(err.message, /gates\.setPolicy/);
  // Nothing recorded, nothing asked of Temporal.
  const { id: modelId } = registered;
  assert.equal((await env.db.select().from(runs).where(eq(runs.modelId, modelId))).length, 0);
  assert.equal(env.temporal.calls.filter((c) => c.kind === 'start').length, 0);

  await op.gates.setPolicy.mutate({ model, policy: { rules: [{ kind: 'human_approval' }] } });
  assert.deepEqual((await op.models.get.query({ name: model })).warnings, []);
  const { runId } = await op.runs.start.mutate({ model });
  assert.equal((await env.db.select().from(runs).where(eq(runs.id, runId))).length, 1);
});

test('a model registered with a policy has no warnings', async () => {
  const model = `withpolicy-${uid()}`;
  const registered = await env.clients.operator.models.register.mutate({ name: model, gatePolicy: { rules: [{ kind: 'human_approval' }] } });
  assert.deepEqual(registered.warnings, []);
  assert.deepEqual((await env.clients.viewer.models.get.query({ name: model })).warnings, []);
});
