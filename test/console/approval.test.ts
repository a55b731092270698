// The headline flow in the console: an approver finds a run waiting for sign-off, reads its packet and
// approves it with a reason, and the candidate serves; the requester is told why they may not (and the
// server refuses anyway); a viewer is offered no decision; the runs page loads in under a second.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { eq } from 'drizzle-orm';
import type { Browser } from 'playwright-core';
import { createApiClient, type ApiClient } from '../../api/client';
import { approvals } from '../../db/schema';
import { issueToken } from '../../db/tokens';
import { promotedModel, startTestEnv, uid, waitForStatus, type TestEnv } from '../helpers';
import { absent, checkPage, launchBrowser, newPage, noBrowser, signIn, visible } from './browser';

const TEMPORAL_UI = 'http://temporal-ui.test:8233';

let env: TestEnv;
let browser: Browser;
let model: string;
/** Started by the operator, approved in the browser by the approver. */
let operatorRun: string;
/** Started by an admin-role person (who acts as approver too): four eyes keeps them from deciding it. */
let leadRun: string;
let lead: { subject: string; token: string; client: ApiClient };

before(async () => {
  // The console links a run to Temporal's UI when one is configured.
  process.env.RETRAIN_TEMPORAL_UI_URL = TEMPORAL_UI;
  env = await startTestEnv();
  delete process.env.RETRAIN_TEMPORAL_UI_URL;
  if (noBrowser) return;
  browser = await launchBrowser();
  // A model with a production v1 (its bootstrap needed no sign-off); from now on its gate asks for one.
  ({ model } = await promotedModel(env));
  const { policy } = await env.clients.operator.gates.getPolicy.query({ model });
  await env.clients.operator.gates.setPolicy.mutate({ model, policy: { ...policy, rules: [...policy.rules, { kind: 'human_approval', id: 'sign-off' }] } });
  const subject = `lead-${uid()}`;
  const { token } = await issueToken(env.services.opened.db, { subject, role: 'admin', createdBy: 'test' });
  lead = { subject, token, client: createApiClient(env.url, token) };
  [{ runId: operatorRun }, { runId: leadRun }] = await Promise.all([env.clients.operator.runs.start.mutate({ model }), lead.client.runs.start.mutate({ model })]);
  await Promise.all([waitForStatus(env, operatorRun, ['awaiting_approval']), waitForStatus(env, leadRun, ['awaiting_approval'])]);
});

after(async () => {
  // The lead's run is left waiting by the tests: decided here so no workflow outlives the file.
  if (leadRun) await env.clients.approver.gates.reject.mutate({ runId: leadRun, reason: 'end of the console test' }).catch(() => undefined);
  await browser?.close();
  await env?.stop();
});

const packetHashOf = async (runId: string) => (await env.clients.approver.reports.get.query({ runId })).packetHash!;
const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

test('an approver finds the waiting run, reads its packet hash and approves with a reason: the candidate serves', { skip: noBrowser ?? false }, async () => {
  const page = await newPage(browser);
  const approver = (await env.clients.approver.session.whoami.query()).subject;
  await signIn(page, env.url, env.tokens.approver!, approver);
  await visible(page.getByRole('heading', { name: 'Runs' }));
  await page.getByLabel('Status').selectOption('awaiting_approval');
  await visible(page.getByRole('link', { name: operatorRun }));
  await checkPage(page, 'run-runs-awaiting');
  await page.getByRole('link', { name: operatorRun }).click();

  await visible(page.getByRole('heading', { name: `Run ${operatorRun}` }));
  const packetHash = await packetHashOf(operatorRun);
  await visible(page.getByText(packetHash).first());
  await visible(page.getByRole('heading', { name: 'Approval packet' }));
  assert.equal(await page.getByRole('listitem').filter({ hasText: 'awaiting approval (current)' }).count(), 1, 'the timeline is at the sign-off');
  const temporalLink = page.getByRole('link', { name: 'Open in Temporal UI' });
  assert.equal(await temporalLink.getAttribute('href'), `${TEMPORAL_UI}/namespaces/${env.services.namespace}/workflows/${operatorRun}`);
  await checkPage(page, 'run-awaiting-approver');

  const reason = `read packet ${packetHash.slice(7, 19)}; FPR well inside the bound`;
  await page.getByLabel('Reason').fill(reason);
  await page.getByRole('button', { name: 'Approve' }).click();
  // The page follows the run to its end without a reload.
  await visible(page.getByText('promoted', { exact: true }).first(), 60_000);
  await visible(page.getByText(reason));
  // Promoted at once (no rollout plan): the timeline says the rollout and reject branches were not taken.
  await visible(page.getByRole('listitem').filter({ hasText: 'rolling out (not taken)' }));
  await visible(page.getByRole('listitem').filter({ hasText: 'promoting (done)' }));
  await absent(page, page.getByRole('link', { name: `Rollout of ${operatorRun}` }), 'a rollout link for a run without a rollout');
  await checkPage(page, 'run-promoted');

  // What the click did, in the database and the API: the candidate serves, the approval keeps the reason and the hash read.
  const run = await waitForStatus(env, operatorRun, ['promoted', 'rejected', 'failed']);
  assert.equal(run.status, 'promoted');
  const [approval] = await env.services.opened.db.select().from(approvals).where(eq(approvals.runId, operatorRun));
  assert.equal(approval?.decision, 'approved');
  assert.equal(approval?.approver, approver);
  assert.equal(approval?.reason, reason);
  assert.equal(approval?.reportHash, packetHash);
  const detail = await env.clients.viewer.runs.get.query({ runId: operatorRun });
  const m = await env.clients.viewer.models.get.query({ name: model });
  assert.ok(detail.candidateVersion !== null && detail.candidateVersion > 1, `a new candidate (v${String(detail.candidateVersion)})`);
  assert.equal(m.routes.find((r) => r.kind === 'production')?.version, detail.candidateVersion, 'the candidate replaced the bootstrap v1 in production');
  // Decided: nobody may decide it again, and session.gateEligibility says so.
  const after = await env.clients.approver.session.gateEligibility.query({ runId: operatorRun });
  assert.equal(after.allowed, false);
  assert.match(after.reason ?? '', /not waiting for a gate decision \(status: promoted\)/);
  assert.deepEqual(page.errors, []);
});

test('the requester (admin, so approver-capable) is told why they may not decide, and the server refuses them anyway', { skip: noBrowser ?? false }, async () => {
  const page = await newPage(browser);
  await signIn(page, env.url, lead.token, lead.subject);
  await page.goto(`${env.url}/runs/${leadRun}`);
  await visible(page.getByRole('heading', { name: `Run ${leadRun}` }));
  await visible(page.getByText(`${lead.subject} started this run and may not decide its gate (four eyes)`));
  await absent(page, page.getByRole('button', { name: 'Approve' }), 'Approve to the requester');
  await absent(page, page.getByRole('button', { name: 'Reject' }), 'Reject to the requester');
  await checkPage(page, 'run-awaiting-requester');
  await assert.rejects(lead.client.gates.approve.mutate({ runId: leadRun, reason: 'my own run looks fine', packetHash: await packetHashOf(leadRun) }), (err) => codeOf(err) === 'FORBIDDEN' && /four eyes/.test((err as Error).message));
  assert.equal((await env.services.opened.db.select().from(approvals).where(eq(approvals.runId, leadRun))).length, 0, 'no approval was written');
  // What the page asked: the same checks as gates.approve. Another approver may; an operator may not.
  const requester = await lead.client.session.gateEligibility.query({ runId: leadRun });
  assert.equal(requester.allowed, false);
  const other = await env.clients.approver.session.gateEligibility.query({ runId: leadRun });
  assert.deepEqual(other, { allowed: true, reason: null, packetHash: await packetHashOf(leadRun) });
  const operator = await env.clients.operator.session.gateEligibility.query({ runId: leadRun });
  assert.equal(operator.allowed, false);
  assert.match(operator.reason ?? '', /role 'operator'; deciding a gate needs 'approver'/);
  assert.deepEqual(page.errors, []);
});

test('a viewer sees the waiting run and its packet hash, and no decision controls', { skip: noBrowser ?? false }, async () => {
  const page = await newPage(browser);
  const viewer = (await env.clients.viewer.session.whoami.query()).subject;
  await signIn(page, env.url, env.tokens.viewer!, viewer);
  await page.goto(`${env.url}/runs/${leadRun}`);
  await visible(page.getByRole('heading', { name: `Run ${leadRun}` }));
  await visible(page.getByText(await packetHashOf(leadRun)).first());
  await visible(page.getByRole('heading', { name: 'Approval packet' }));
  await absent(page, page.getByRole('button', { name: 'Approve' }), 'Approve to a viewer');
  await absent(page, page.getByRole('button', { name: 'Reject' }), 'Reject to a viewer');
  await absent(page, page.getByLabel('Reason'), 'a reason box to a viewer');
  await checkPage(page, 'run-awaiting-viewer');
  assert.deepEqual(page.errors, []);
});

test('the first load of the runs page after sign-in takes under a second', { skip: noBrowser ?? false }, async (t) => {
  const viewer = (await env.clients.viewer.session.whoami.query()).subject;
  /** Navigation start to the runs table in the page, by the page's own clock (performance.now() counts from navigation start). */
  const loadRuns = async () => {
    const page = await newPage(browser);
    await signIn(page, env.url, env.tokens.viewer!, viewer);
    await page.goto(`${env.url}/runs`, { waitUntil: 'commit' });
    // Checked on every animation frame in the page; the value is the page's clock when a run row first shows.
    // (A function, not a string: the console's CSP forbids eval. `document` is the page's; this file has no DOM types.)
    const shown = await page.waitForFunction(
      () => (document.querySelector('table tbody tr') ? performance.now() : 0),
      undefined,
      { timeout: 30_000 },
    );
    const ms = Number(await shown.jsonValue());
    await visible(page.getByRole('table'));
    await page.context().close();
    return ms;
  };
  const warm = await loadRuns();
  const first = await loadRuns();
  t.diagnostic(`runs page, navigation start to the runs table: ${first.toFixed(0)} ms (warm-up load ${warm.toFixed(0)} ms)`);
  assert.ok(first < 1000, `the runs page took ${first.toFixed(0)} ms`);
});
