// What an approver and the people around them can do wrong, through the real Temporal server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { eq, sql } from 'drizzle-orm';
import { createApiClient } from '../../api/client';
import { issueToken } from '../../db/tokens';
import { approvals, gateResults, modelVersions, routes, runs } from '../../db/schema';
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

/** The packet hash an approver reads (reports.get) and signs. */
const packetHashOf = async (runId: string) => (await env.clients.approver.reports.get.query({ runId })).packetHash ?? '';

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
  await assert.rejects(env.clients.approver.gates.approve.mutate({ runId, reason: 'too late', packetHash: await packetHashOf(runId) }), (err) => codeOf(err) === 'CONFLICT');
});

test('the requester cannot approve their own run, even holding an approver-capable role; the workflow is unchanged', async () => {
  const admin = createApiClient(env.url, (await issueToken(env.services.opened.db, { subject: `lead-${uid()}`, role: 'admin', createdBy: 'test' })).token);
  const { runId } = await admin.runs.start.mutate({ model });
  await waitForStatus(env, runId, ['awaiting_approval']);
  await assert.rejects(admin.gates.approve.mutate({ runId, reason: 'looks fine to me', packetHash: await packetHashOf(runId) }), (err) => codeOf(err) === 'FORBIDDEN' && /four eyes/.test((err as Error).message));
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
    env.clients.operator.gates.approve.mutate({ runId: 'run-nothing-here', reason: 'not mine to decide', packetHash: `sha256:${'0'.repeat(64)}` }),
    (err) => codeOf(err) === 'FORBIDDEN',
  );
});

// Four eyes, for real: identities are canonical subjects, and tokens remember who issued them.

/** A token minted through the API by `issuer` (so it records the issuing token). */
async function mint(issuer: ReturnType<typeof createApiClient>, subject: string, role: 'operator' | 'approver' | 'admin') {
  const made = await issuer.admin.createToken.mutate({ subject, role });
  return { ...made, client: createApiClient(env.url, made.token) };
}

const forbidden = (pattern: RegExp) => (err: unknown) => codeOf(err) === 'FORBIDDEN' && pattern.test((err as Error).message);
const validatorRefused = (type: string, pattern: RegExp) => (err: unknown) =>
  err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === type && pattern.test(err.cause.message);

test('an admin who starts a run cannot approve it through a token they mint, nor through a subject differing only in case', async () => {
  const lead = `lead-${uid()}`;
  const admin = createApiClient(env.url, (await issueToken(env.services.opened.db, { subject: lead, role: 'admin', createdBy: 'test' })).token);
  const { runId } = await admin.runs.start.mutate({ model });
  await waitForStatus(env, runId, ['awaiting_approval']);
  const [row] = await env.services.opened.db.select().from(runs).where(eq(runs.id, runId));
  assert.ok(row?.requestedByTokenId, 'the run records the token that started it');
  const packetHash = await packetHashOf(runId);

  // A puppet approver minted by the requester: its token's issuance chain leads back to the requester.
  const puppet = await mint(admin, `puppet-${uid()}`, 'approver');
  assert.equal(puppet.issuedByTokenId, row!.requestedByTokenId, 'the minted token records its issuer');
  await assert.rejects(puppet.client.gates.approve.mutate({ runId, reason: 'my boss says fine', packetHash }), forbidden(/issued \(directly or not\) by .*four eyes/));

  // The same person under another spelling: the subject is stored canonical, so it is the requester.
  const shouting = await mint(admin, lead.toUpperCase(), 'approver');
  assert.equal(shouting.subject, lead, 'subjects are stored canonical');
  await assert.rejects(shouting.client.gates.approve.mutate({ runId, reason: 'it is me, shouting', packetHash }), forbidden(/started this run.*four eyes/));

  // The workflow's validator, which is authoritative, refuses both when the API is bypassed.
  const handle = env.services.client.workflow.getHandle(runId);
  const bypass = (approver: { subject: string; role: string }, extra: Record<string, unknown> = {}) =>
    handle.executeUpdate('decideGate', { args: [{ decision: 'approve', reason: 'bypassing the API', approver, packetHash, ...extra }] });
  await assert.rejects(bypass({ subject: `Ｌ${lead.slice(1).toUpperCase()}`, role: 'approver' }), validatorRefused(GATE_FAILURE.forbidden, /four eyes/));
  await assert.rejects(
    bypass({ subject: puppet.subject, role: 'approver' }, { approverChain: { subject: puppet.subject, issuers: [], root: lead } }),
    validatorRefused(GATE_FAILURE.forbidden, /four eyes/),
  );
  assert.equal((await handle.query(statusQuery)).approval?.decision, null);
  await env.clients.approver.gates.reject.mutate({ runId, reason: 'cleaning up the test run', packetHash });
  assert.equal((await waitForStatus(env, runId, ['rejected', 'promoted'])).status, 'rejected');
});

test("an admin cannot approve a run started by an operator token they minted, and one admin's two puppets cannot decide each other's runs", async () => {
  const lead = `lead-${uid()}`;
  const admin = createApiClient(env.url, (await issueToken(env.services.opened.db, { subject: lead, role: 'admin', createdBy: 'test' })).token);
  // A delegated admin (minted through the API) mints an operator and an approver: one person's word for both.
  const delegate = await mint(admin, `it-admin-${uid()}`, 'admin');
  const op = await mint(delegate.client, `op-${uid()}`, 'operator');
  const ap = await mint(delegate.client, `ap-${uid()}`, 'approver');
  const { runId } = await op.client.runs.start.mutate({ model });
  await waitForStatus(env, runId, ['awaiting_approval']);
  const packetHash = await packetHashOf(runId);

  await assert.rejects(delegate.client.gates.approve.mutate({ runId, reason: 'my operator, my call', packetHash }), forbidden(/issued \(directly or through another token\).*four eyes/));
  await assert.rejects(admin.gates.approve.mutate({ runId, reason: 'I minted the minter', packetHash }), forbidden(/issued \(directly or through another token\).*four eyes/));
  await assert.rejects(ap.client.gates.approve.mutate({ runId, reason: 'a colleague of sorts', packetHash }), forbidden(new RegExp(`both issued through ${delegate.subject}`)));
  const handle = env.services.client.workflow.getHandle(runId);
  await assert.rejects(
    handle.executeUpdate('decideGate', {
      args: [{ decision: 'approve', reason: 'bypassing the API', approver: { subject: ap.subject, role: 'approver' }, approverChain: { subject: ap.subject, issuers: [delegate.subject], root: lead }, packetHash }],
    }),
    validatorRefused(GATE_FAILURE.forbidden, /both issued through/),
  );

  // An approver whose token shares only the root of trust with the requester's decides: the root is trusted.
  const colleague = await mint(admin, `colleague-${uid()}`, 'approver');
  const decided = await colleague.client.gates.approve.mutate({ runId, reason: 'reviewed the packet', packetHash });
  assert.equal(decided.reportHash, packetHash);
  assert.equal((await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'])).status, 'promoted');
  const [approval] = await env.services.opened.db.select().from(approvals).where(eq(approvals.runId, runId));
  assert.equal(approval?.reportHash, packetHash, 'the approval records the hash the approver sent');
});

test('the approval is bound to what was judged: the packet hash read, an intact packet, the policy in force', async () => {
  const { runId } = await env.clients.operator.runs.start.mutate({ model });
  await waitForStatus(env, runId, ['awaiting_approval']);
  const db = env.services.opened.db;
  const packetHash = await packetHashOf(runId);
  const other = `sha256:${'a'.repeat(64)}`;

  // A hash the approver did not read from this run is refused, naming both.
  await assert.rejects(
    env.clients.approver.gates.approve.mutate({ runId, reason: 'signed something else', packetHash: other }),
    (err) => codeOf(err) === 'CONFLICT' && (err as Error).message.includes(other) && (err as Error).message.includes(packetHash),
  );
  const handle = env.services.client.workflow.getHandle(runId);
  const approver = { subject: `someone-${uid()}`, role: 'approver' };
  await assert.rejects(
    handle.executeUpdate('decideGate', { args: [{ decision: 'approve', reason: 'bypassing the API', approver, packetHash: other }] }),
    validatorRefused(GATE_FAILURE.conflict, /packet hash mismatch/),
  );
  await assert.rejects(
    handle.executeUpdate('decideGate', { args: [{ decision: 'approve', reason: 'bypassing the API', approver }] }),
    validatorRefused(GATE_FAILURE.badRequest, /packetHash/),
  );

  // The database refuses to change a stored packet; one altered past it (the table owner disabling the
  // trigger) is refused when read: never served, never signed.
  await assert.rejects(db.update(gateResults).set({ packet: { forged: true } }).where(eq(gateResults.runId, runId)), (err) => /immutable/.test(String((err as Error).cause ?? err)));
  const [stored] = await db.select().from(gateResults).where(eq(gateResults.runId, runId));
  const tamper = async (packet: unknown) => {
    await db.execute(sql`ALTER TABLE gate_results DISABLE TRIGGER gate_results_no_update_delete`);
    try {
      await db.update(gateResults).set({ packet }).where(eq(gateResults.runId, runId));
    } finally {
      await db.execute(sql`ALTER TABLE gate_results ENABLE TRIGGER gate_results_no_update_delete`);
    }
  };
  await tamper({ ...(stored!.packet as Record<string, unknown>), runId: 'doctored' });
  const altered = (err: unknown) => codeOf(err) === 'CONFLICT' && /altered after it was stored: stored hash sha256:[0-9a-f]{64}, the packet now hashes to sha256:/.test((err as Error).message);
  await assert.rejects(env.clients.approver.reports.get.query({ runId }), altered);
  await assert.rejects(env.clients.approver.gates.dryRun.query({ runId }), altered);
  await assert.rejects(env.clients.approver.gates.approve.mutate({ runId, reason: 'approving the doctored one', packetHash }), altered);
  await tamper(stored!.packet);
  assert.equal((await env.clients.approver.reports.get.query({ runId })).packetHash, packetHash, 'restored, it verifies again');

  // A policy stored after the judgement makes it stale: approval is refused with the reason, rejection is not.
  const current = await env.clients.operator.gates.getPolicy.query({ model });
  const stricter = { ...current.policy, rules: current.policy.rules.map((r) => (r.kind === 'bound' && r.metric === 'fpr' ? { ...r, max: 0.0001 } : r)) };
  await env.clients.operator.gates.setPolicy.mutate({ model, policy: stricter });
  await assert.rejects(
    env.clients.approver.gates.approve.mutate({ runId, reason: 'the old judgement was fine', packetHash }),
    (err) => codeOf(err) === 'CONFLICT' && new RegExp(`judged under policy version ${current.version}, the model's policy is now version ${current.version + 1} \\(its dry run on this packet says failed`).test((err as Error).message),
  );
  await assert.rejects(
    handle.executeUpdate('decideGate', { args: [{ decision: 'approve', reason: 'bypassing the API', approver, packetHash, currentPolicyVersion: current.version + 1 }] }),
    validatorRefused(GATE_FAILURE.conflict, /judgement is stale/),
  );
  await env.clients.operator.gates.setPolicy.mutate({ model, policy: current.policy });
  await env.clients.approver.gates.reject.mutate({ runId, reason: 'judged under an old policy', packetHash });
  assert.equal((await waitForStatus(env, runId, ['rejected', 'promoted'])).status, 'rejected');
});

test('a calibration rule with a tight max blocks the run; the packet carries the reliability curve it judged; under onFail ask a dry run asks', async () => {
  const current = await env.clients.operator.gates.getPolicy.query({ model });
  const calibration = { kind: 'calibration' as const, id: 'overall-ece', metric: 'ece' as const, binning: 'quantile' as const, bins: 10, slices: 'overall' as const, max: 0.0001 };
  await env.clients.operator.gates.setPolicy.mutate({ model, policy: { ...current.policy, rules: [...current.policy.rules, { ...calibration, onFail: 'block' as const }] } });
  try {
    const { runId } = await env.clients.operator.runs.start.mutate({ model });
    assert.equal((await waitForStatus(env, runId, ['awaiting_approval', 'promoted', 'rejected', 'failed'])).status, 'rejected');
    const report = await env.clients.viewer.reports.get.query({ runId });
    const packet = report.packet!;
    assert.equal(packet.judgement.decision, 'failed');
    const rule = packet.judgement.rules.find((r) => r.id === 'overall-ece')!;
    assert.equal(rule.kind, 'calibration');
    assert.equal(rule.outcome, 'failed');
    // Judged on the packet's own numbers: the overall 10-bin quantile ECE, its upper bound above the max.
    const ten = packet.candidateEvaluation.calibration!.find((c) => c.bins === 10)!;
    assert.deepEqual(rule.checks[0]!.observed, ten.overall.ece.quantile);
    assert.ok(ten.overall.ece.quantile.upper! > 0.0001);
    const curve = ten.overall.curves!.quantile;
    assert.ok(curve.probPred.length >= 2 && curve.probPred.length === curve.probTrue.length && curve.counts.length === curve.probPred.length);
    assert.equal(curve.counts.reduce((a, b) => a + b, 0), packet.heldOut.rows, 'every held-out row is in a bin');
    assert.equal(ten.overall.brier.estimate! >= 0 && ten.overall.brier.estimate! <= 1, true);
    assert.ok(ten.slices.length > 0, 'per-slice calibration');
    // The champion was evaluated the same way.
    if (packet.championEvaluation) assert.ok(packet.championEvaluation.calibration?.some((c) => c.bins === 10));
    // The same evidence under onFail 'ask' asks a human instead.
    const asked = await env.clients.viewer.gates.dryRun.query({ runId, policy: { minSliceSupport: 10, rules: [{ ...calibration, onFail: 'ask' }] } });
    assert.equal(asked.decision, 'needs_approval');
    const loose = await env.clients.viewer.gates.dryRun.query({ runId, policy: { minSliceSupport: 10, rules: [{ ...calibration, max: 0.9 }] } });
    assert.equal(loose.decision, 'approved', loose.reasons.join('; '));
  } finally {
    await env.clients.operator.gates.setPolicy.mutate({ model, policy: current.policy });
  }
});
