// Four eyes, for real: no one person both starts a run and has it approved, whatever tokens or
// subjects they can mint. Through the router with the stub Temporal client (test/caller.ts): canonical
// subjects, tokens that record their issuer, the rule over issuance chains, the approval bound to the
// packet hash and the policy it was judged under, and who may act on a rollout. The workflow's own
// validator is exercised end to end in test/e2e/gates.test.ts.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { eq } from 'drizzle-orm';
import { packetHashOf } from '../../api/packetIntegrity';
import { ROLLOUT_ROLES } from '../../api/routers/runs';
import { identityFromToken } from '../../api/trpc';
import { annotators, gateResults, runs, type Role } from '../../db/schema';
import { canonicalSubject as dbCanonicalSubject } from '../../db/tokens';
import { canonicalSubject, fourEyesRefusal, roleAllows, type IssuanceChain, type RetrainingRunInput } from '../../workflows/messages';
import { startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv;
let model: string;

before(async () => {
  env = await startCallerEnv();
  model = `foureyes-${uid()}`;
  await env.clients.operator.models.register.mutate({ name: model });
  await env.clients.operator.gates.setPolicy.mutate({ model, policy: { rules: [{ kind: 'human_approval' }] } });
});
after(async () => {
  await env?.stop();
});
beforeEach(() => {
  env.temporal.calls.length = 0;
  // What the workflows answer when they accept: decideGate's result, or the rollout's status.
  env.temporal.onUpdate = (_id, name, args) =>
    name === 'decideGate'
      ? (() => {
          const d = args[0] as { decision: string; approver: { subject: string }; packetHash?: string };
          return { decision: d.decision, approver: d.approver.subject, reportHash: d.packetHash ?? null };
        })()
      : { phase: 'canary', step: 0, weight: 0.05, analyses: [], shadow: null, pausedBecause: null, outcome: null, reason: null };
});

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);
const refusedWith = (code: string, pattern?: RegExp) => (err: unknown) => codeOf(err) === code && (!pattern || pattern.test((err as Error).message));

/** A client for a token minted through the API by `issuer` (the new token records the issuing one). */
async function mint(issuer: ReturnType<typeof env.client>, subject: string, role: Role) {
  const made = await issuer.admin.createToken.mutate({ subject, role });
  const identity = (await identityFromToken(env.db, made.token))!;
  return { ...made, identity, client: env.client(identity) };
}

/** A run waiting at its gate, started by `starter`'s token, with a stored packet judged under the current policy. */
async function waitingRun(starter: ReturnType<typeof env.client>) {
  const { runId } = await starter.runs.start.mutate({ model });
  const packet = { runId, judged: 'under the current policy' };
  const policyVersion = (await env.clients.viewer.gates.getPolicy.query({ model })).version;
  await env.db.update(runs).set({ status: 'awaiting_approval', step: 'awaiting_approval' }).where(eq(runs.id, runId));
  await env.db.insert(gateResults).values({ runId, policyVersion, decision: 'needs_approval', rules: [], reasons: [], packet, packetHash: packetHashOf(packet) });
  return { runId, packetHash: packetHashOf(packet) };
}

describe('subjects are canonical', () => {
  test('one canonical form in db/ and in the workflows, folding case, width and surrounding space', () => {
    for (const s of ['Operator1', 'operator1', ' OPERATOR1 ', 'Ｏｐｅｒａｔｏｒ１', 'ＡＤＭＩＮ', 'İstanbul', 'ß-team', 'ǅemal']) {
      assert.equal(dbCanonicalSubject(s), canonicalSubject(s), s);
    }
    assert.equal(canonicalSubject('Ｏｐｅｒａｔｏｒ１'), 'operator1');
    assert.equal(canonicalSubject(' Operator1 '), 'operator1');
  });

  test('admin.createToken stores the canonical subject and records the issuing token; listTokens shows it', async () => {
    const name = `Alice-${uid()}`;
    const made = await env.clients.admin.admin.createToken.mutate({ subject: name, role: 'viewer' });
    assert.equal(made.subject, name.toLowerCase());
    assert.equal(made.issuedByTokenId, env.identities.admin.tokenId);
    const listed = (await env.clients.admin.admin.listTokens.query()).find((t) => t.id === made.id);
    assert.deepEqual([listed?.subject, listed?.createdBy, listed?.issuedByTokenId], [name.toLowerCase(), env.identities.admin.subject, env.identities.admin.tokenId]);
  });

  test('an annotator registered as Ann-DE is the pool member a token for ann-de pulls tasks as', async () => {
    const name = `Ann-DE-${uid()}`;
    const registered = await env.clients.operator.annotation.registerAnnotator.mutate({ subject: name, attributes: { language: 'de' } });
    assert.equal(registered.subject, name.toLowerCase());
    const made = await env.clients.admin.admin.createToken.mutate({ subject: name, role: 'annotator' });
    const stored = await env.db.select({ subject: annotators.subject }).from(annotators).where(eq(annotators.subject, made.subject));
    assert.deepEqual(stored, [{ subject: name.toLowerCase() }]);
  });
});

describe('the four-eyes rule over issuance chains', () => {
  const chain = (subject: string, issuers: string[] = [], root: string | null = null): IssuanceChain => ({ subject, issuers, root });
  test('who is refused, and why', () => {
    // The requester themself, under any spelling.
    assert.match(fourEyesRefusal(chain('operator1'), chain('Operator1')) ?? '', /started this run/);
    // The approver issued the requester's token (directly, or through a token they issued).
    assert.match(fourEyesRefusal(chain('puppet', [], 'boss'), chain('boss')) ?? '', /issued \(directly or through another token\)/);
    assert.match(fourEyesRefusal(chain('puppet', ['deputy'], 'boss'), chain('boss')) ?? '', /issued/);
    // The requester issued the approver's token.
    assert.match(fourEyesRefusal(chain('boss'), chain('puppet', [], 'boss')) ?? '', /was issued \(directly or not\) by boss/);
    assert.match(fourEyesRefusal(chain('boss'), chain('puppet', ['deputy'], 'BOSS')) ?? '', /by boss/);
    // Both tokens were minted through one delegated admin.
    assert.match(fourEyesRefusal(chain('op', ['deputy'], 'root'), chain('ap', ['deputy'], 'root')) ?? '', /both issued through deputy/);
    assert.match(fourEyesRefusal(chain('op', ['deputy', 'it'], 'root'), chain('ap', ['it'], 'root')) ?? '', /both issued through it/);
    // Sharing only the root of trust is allowed (the root is trusted), as are unrelated tokens.
    assert.equal(fourEyesRefusal(chain('op', [], 'root'), chain('ap', [], 'root')), null);
    assert.equal(fourEyesRefusal(chain('op', ['a'], 'root'), chain('ap', ['b'], 'root')), null);
    assert.equal(fourEyesRefusal(chain('op'), chain('ap')), null);
  });

  test('runs.start records the requesting token and its chain for the validator', async () => {
    const op = await mint(env.clients.admin, `op-${uid()}`, 'operator');
    const { runId } = await op.client.runs.start.mutate({ model });
    const [row] = await env.db.select().from(runs).where(eq(runs.id, runId));
    assert.equal(row?.requestedByTokenId, op.id);
    const start = env.temporal.of('start').find((c) => c.id === runId);
    const input = start!.args![0] as RetrainingRunInput;
    assert.deepEqual(input.requesterChain, { subject: op.subject, issuers: [], root: env.identities.admin.subject });
  });

  test('a token for Operator1 does not approve operator1’s run; an admin does not approve through a puppet or a puppet’s run; two puppets of one admin do not decide each other’s runs', async () => {
    const op = await env.as(`operator1-${uid()}`, 'operator');
    const { runId, packetHash } = await waitingRun(op.client);
    const shouting = await mint(env.clients.admin, op.identity.subject.toUpperCase().replace('OPERATOR1', 'Operator1'), 'approver');
    assert.equal(shouting.subject, op.identity.subject);
    await assert.rejects(shouting.client.gates.approve.mutate({ runId, reason: 'same person', packetHash }), refusedWith('FORBIDDEN', /four eyes/));

    const lead = await env.as(`lead-${uid()}`, 'admin');
    const mine = await waitingRun(lead.client);
    const puppet = await mint(lead.client, `puppet-${uid()}`, 'approver');
    await assert.rejects(puppet.client.gates.approve.mutate({ reason: 'my boss says fine', ...mine }), refusedWith('FORBIDDEN', /four eyes/));

    const puppetOp = await mint(lead.client, `puppet-op-${uid()}`, 'operator');
    const theirs = await waitingRun(puppetOp.client);
    await assert.rejects(lead.client.gates.approve.mutate({ reason: 'my puppet’s run', ...theirs }), refusedWith('FORBIDDEN', /four eyes/));

    const deputy = await mint(lead.client, `deputy-${uid()}`, 'admin');
    const op2 = await mint(deputy.client, `op2-${uid()}`, 'operator');
    const ap2 = await mint(deputy.client, `ap2-${uid()}`, 'approver');
    const pair = await waitingRun(op2.client);
    await assert.rejects(ap2.client.gates.approve.mutate({ reason: 'a colleague of sorts', ...pair }), refusedWith('FORBIDDEN', new RegExp(`both issued through ${deputy.subject}`)));
    await assert.rejects(ap2.client.gates.reject.mutate({ reason: 'not even this', ...pair }), refusedWith('FORBIDDEN'), 'rejecting is deciding too');
    assert.deepEqual(env.temporal.of('executeUpdate'), [], 'Temporal was not asked');

    // An approver sharing only the root of trust with the requester decides; the update carries the chain.
    await env.clients.approver.gates.approve.mutate({ reason: 'reviewed the packet', ...pair });
    const [update] = env.temporal.of('executeUpdate');
    assert.deepEqual(update?.args, [
      {
        decision: 'approve',
        reason: 'reviewed the packet',
        approver: { subject: env.identities.approver.subject, role: 'approver' },
        approverChain: { subject: env.identities.approver.subject, issuers: [], root: 'test' },
        packetHash: pair.packetHash,
        currentPolicyVersion: (await env.clients.viewer.gates.getPolicy.query({ model })).version,
      },
    ]);
  });
});

describe('the approval is bound to what was judged', () => {
  test('a hash other than the stored packet’s is refused naming both; gates.list shows the hash to send', async () => {
    const { runId, packetHash } = await waitingRun(env.clients.operator);
    const other = `sha256:${'b'.repeat(64)}`;
    await assert.rejects(
      env.clients.approver.gates.approve.mutate({ runId, reason: 'signed another', packetHash: other }),
      (err) => refusedWith('CONFLICT', /packet hash mismatch/)(err) && (err as Error).message.includes(other) && (err as Error).message.includes(packetHash),
    );
    assert.equal((await env.clients.approver.gates.list.query()).find((g) => g.runId === runId)?.packetHash, packetHash);
    assert.deepEqual(env.temporal.of('executeUpdate'), []);
  });

  test('a policy stored after the judgement refuses approval (stale judgement), not rejection', async () => {
    const { runId, packetHash } = await waitingRun(env.clients.operator);
    const judged = (await env.clients.viewer.gates.getPolicy.query({ model })).version;
    await env.clients.operator.gates.setPolicy.mutate({ model, policy: { rules: [{ kind: 'bound', metric: 'fpr', slices: 'overall', max: 0.001 }, { kind: 'human_approval' }] } });
    await assert.rejects(
      env.clients.approver.gates.approve.mutate({ runId, reason: 'the old judgement was fine', packetHash }),
      refusedWith('CONFLICT', new RegExp(`judged under policy version ${judged}, the model's policy is now version ${judged + 1}.*reject this run and start a new one`)),
    );
    assert.deepEqual(env.temporal.of('executeUpdate'), []);
    await env.clients.approver.gates.reject.mutate({ runId, reason: 'judged under an old policy', packetHash });
    assert.equal(env.temporal.of('executeUpdate').length, 1, 'a rejection goes through');
  });

  test('a packet altered in the database is refused on read and on approval (CONFLICT naming both hashes)', async () => {
    const { runId, packetHash } = await waitingRun(env.clients.operator);
    const { sql } = await import('drizzle-orm');
    await env.db.execute(sql`ALTER TABLE gate_results DISABLE TRIGGER gate_results_no_update_delete`);
    try {
      await env.db.update(gateResults).set({ packet: { runId, judged: 'something else' } }).where(eq(gateResults.runId, runId));
    } finally {
      await env.db.execute(sql`ALTER TABLE gate_results ENABLE TRIGGER gate_results_no_update_delete`);
    }
    const altered = refusedWith('CONFLICT', new RegExp(`stored hash ${packetHash}, the packet now hashes to sha256:`));
    await assert.rejects(env.clients.viewer.reports.get.query({ runId }), altered);
    await assert.rejects(env.clients.approver.gates.approve.mutate({ runId, reason: 'approve it anyway', packetHash }), altered);
  });
});

describe('who may act on a rollout', () => {
  // The decision, written down (README, Roles): promote-now is approvers' (never by the requester);
  // rollback, pause and resume operators' and approvers'; admin may do everything.
  const expected: Record<Role, Record<keyof typeof ROLLOUT_ROLES, boolean>> = {
    viewer: { rollback: false, 'promote-now': false, pause: false, resume: false },
    operator: { rollback: true, 'promote-now': false, pause: true, resume: true },
    approver: { rollback: true, 'promote-now': true, pause: true, resume: true },
    admin: { rollback: true, 'promote-now': true, pause: true, resume: true },
    annotator: { rollback: false, 'promote-now': false, pause: false, resume: false },
    ingest: { rollback: false, 'promote-now': false, pause: false, resume: false },
    trainer: { rollback: false, 'promote-now': false, pause: false, resume: false },
  };
  const procedures = { rollback: 'rollback', 'promote-now': 'promoteNow', pause: 'pause', resume: 'resume' } as const;
  const updates = { rollback: 'rollback', 'promote-now': 'promoteNow', pause: 'pause', resume: 'resume' } as const;

  test('each role is allowed or refused each of the four controls, in the API and in the shared role table', async () => {
    const { runId } = await env.clients.operator.runs.start.mutate({ model });
    for (const role of Object.keys(expected) as Role[]) {
      const who = await env.as(`${role}-rollout-${uid()}`, role);
      for (const [path, allowed] of Object.entries(expected[role]) as [keyof typeof ROLLOUT_ROLES, boolean][]) {
        env.temporal.calls.length = 0;
        assert.equal(ROLLOUT_ROLES[path].some((r) => roleAllows(role, r)), allowed, `${role} ${path}: the role table`);
        const call = who.client.runs[procedures[path]].mutate({ runId, reason: 'rollout control test' });
        if (allowed) {
          await call;
          const [update] = env.temporal.of('executeUpdate');
          assert.deepEqual([update?.id, update?.name], [`rollout-${runId}`, updates[path]], `${role} ${path}: sent to the rollout`);
        } else {
          await assert.rejects(call, refusedWith('FORBIDDEN'), `${role} ${path}: refused`);
          assert.deepEqual(env.temporal.of('executeUpdate'), [], `${role} ${path}: Temporal was not asked`);
        }
      }
    }
  });

  test('promote-now is an approval: never by the requester or whoever controls the requesting token', async () => {
    const lead = await env.as(`lead-${uid()}`, 'admin');
    const { runId } = await lead.client.runs.start.mutate({ model });
    await assert.rejects(lead.client.runs.promoteNow.mutate({ runId, reason: 'ship it, mine' }), refusedWith('FORBIDDEN', /four eyes/));
    const puppet = await mint(lead.client, `puppet-${uid()}`, 'approver');
    await assert.rejects(puppet.client.runs.promoteNow.mutate({ runId, reason: 'boss says ship it' }), refusedWith('FORBIDDEN', /four eyes/));
    assert.deepEqual(env.temporal.of('executeUpdate'), []);
    // Rolling back stays open to any approver, the requester included: it only takes the candidate away.
    await lead.client.runs.rollback.mutate({ runId, reason: 'pulling my own change' });
    assert.equal(env.temporal.of('executeUpdate').length, 1);
  });
});
