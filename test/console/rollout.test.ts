// The rollout page on the real stack: a live rollout (its shadow window compared, its first canary window
// inconclusive, so it waits for a human) shows its phase, step, weight, shadow comparison and analysis
// table; a viewer is offered no control; an operator resumes it and then rolls it back with a reason, and
// the run ends rolled back with the old version still in production.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { and, desc, eq } from 'drizzle-orm';
import { ROLLOUT_ROLES } from '../../api/routers/runs';
import { controlsFor, ROLES } from '../../console/rollout/controls';
import { deploymentEvents, modelVersions, predictions, routes, runs, shadowPredictions } from '../../db/schema';
import { promotedModel, startTestEnv, uid, waitFor, waitForStatus, type TestEnv } from '../helpers';
import { absent, checkPage, launchBrowser, newPage, noBrowser, signIn, visible } from './browser';

let env: TestEnv;
let browser: Browser;
let model: string;
let modelId: number;
let productionVersionId: number;
before(async () => {
  env = await startTestEnv();
  if (!noBrowser) browser = await launchBrowser();
  ({ model, modelId, productionVersionId } = await promotedModel(env));
});
after(async () => {
  await browser?.close();
  await env?.stop();
});

test('the controls offered follow the phase, and the browser\'s role table is the server\'s', () => {
  assert.deepEqual(ROLES, ROLLOUT_ROLES);
  assert.deepEqual(ROLES.rollback, ['operator', 'approver'], 'operators roll back (issue #14)');
  assert.deepEqual(controlsFor({ phase: 'shadow', outcome: null }), ['rollback', 'promote-now', 'pause']);
  assert.deepEqual(controlsFor({ phase: 'canary', outcome: null }), ['rollback', 'promote-now', 'pause']);
  assert.deepEqual(controlsFor({ phase: 'paused', outcome: null }), ['rollback', 'promote-now', 'resume']);
  for (const phase of ['rolling_back', 'promoting', 'done']) assert.deepEqual(controlsFor({ phase, outcome: null }), [], phase);
  assert.deepEqual(controlsFor({ phase: 'canary', outcome: 'rolled_back' }), []);
});

const rolloutStatus = (runId: string) => env.clients.viewer.runs.rollout.query({ runId });

/**
 * A run whose rollout has a shadow window (200 planted requests both versions decided alike), then a
 * 3 s canary window at 10% without traffic (inconclusive: it pauses), then a 600 s window at 50%.
 */
async function pausedRollout() {
  const db = env.services.opened.db;
  const { runId } = await env.clients.operator.runs.start.mutate({
    model,
    rollout: { shadowSeconds: 4, steps: [{ weight: 0.1, analysisSeconds: 3 }, { weight: 0.5, analysisSeconds: 600 }] },
  });
  await waitFor('the shadow route', async () => (await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'shadow'))))[0]);
  await waitFor('the shadow timer', async () => {
    const history = await env.services.client.workflow.getHandle(`rollout-${runId}`).fetchHistory();
    return (history.events ?? []).some((e) => e.timerStartedEventAttributes);
  });
  const [run] = await db.select().from(runs).where(eq(runs.id, runId));
  const candidateVersionId = run!.candidateVersionId!;
  const tag = uid();
  const now = new Date();
  const rows = Array.from({ length: 200 }, (_, i) => ({ requestId: `console-${tag}-${i}`, decision: i % 4 === 0 ? 1 : 0, attributes: { sender_tld: i % 2 ? 'generic' : 'country_code' } }));
  await db.insert(predictions).values(rows.map((r) => ({ modelId, versionId: productionVersionId, requestId: r.requestId, score: r.decision ? 0.9 : 0.1, decision: r.decision, attributes: r.attributes, occurredAt: now, loggedBy: 'test' })));
  await db.insert(shadowPredictions).values(rows.map((r) => ({ modelId, versionId: candidateVersionId, requestId: r.requestId, score: r.decision ? 0.8 : 0.2, decision: r.decision, attributes: r.attributes, occurredAt: now })));
  const paused = await waitFor('the pause after the first canary window', async () => {
    const s = await rolloutStatus(runId).catch(() => null);
    if (s?.outcome) throw new Error(`the rollout ended early: ${s.outcome} (${s.reason})`);
    return s?.phase === 'paused' ? s : null;
  });
  return { runId, candidateVersionId, paused };
}

test('an operator sees a live rollout, resumes it and rolls it back with a reason; a viewer is offered no control', { skip: noBrowser ?? false, timeout: 300_000 }, async (t) => {
  const { runId, candidateVersionId, paused } = await pausedRollout();
  t.diagnostic(`paused: ${paused.pausedBecause}; shadow ${paused.shadow?.phase}`);
  assert.equal(paused.shadow?.phase, 'Successful', JSON.stringify(paused.shadow));
  assert.equal(paused.step, 1);
  const url = `${env.url}/runs/${encodeURIComponent(runId)}/rollout`;

  // A viewer reads everything and is offered nothing.
  const viewerPage = await newPage(browser);
  const viewer = (await env.clients.viewer.session.whoami.query()).subject;
  await signIn(viewerPage, env.url, env.tokens.viewer!, viewer);
  await viewerPage.goto(url);
  await visible(viewerPage.getByRole('heading', { name: `Rollout of run ${runId}` }));
  await visible(viewerPage.getByRole('cell', { name: 'Inconclusive' }));
  for (const name of ['Roll back', 'Promote now', 'Pause', 'Resume']) await absent(viewerPage, viewerPage.getByRole('button', { name }), `${name} to a viewer`);
  await absent(viewerPage, viewerPage.getByLabel('Reason'), 'a reason field to a viewer');
  assert.deepEqual(viewerPage.errors, []);

  // The operator: the state as the API has it, and the controls an operator may use while paused.
  const page = await newPage(browser);
  const operator = (await env.clients.operator.session.whoami.query()).subject;
  await signIn(page, env.url, env.tokens.operator!, operator);
  await page.goto(url);
  await visible(page.getByText('paused', { exact: true }));
  assert.match(await page.getByLabel('Rollout state').innerText(), /Canary step\s+1\s+Canary weight\s+10%/);
  assert.match(await page.getByLabel('Rollout state').innerText(), /inconclusive/);
  // The shadow comparison: 200 requests compared, all agreeing.
  await visible(page.getByText('200 of 200 served (coverage 100.0%)'));
  await visible(page.getByText('Successful', { exact: true }));
  const row = page.getByRole('row').filter({ has: page.getByRole('cell', { name: 'Inconclusive' }) });
  assert.match(await row.innerText(), /^1\s+10%/);
  await visible(page.getByRole('img', { name: /Canary weight over steps: step 1 at 10% \(Inconclusive\)/ }));
  await visible(page.getByRole('button', { name: 'Roll back' }));
  await visible(page.getByRole('button', { name: 'Resume' }));
  await absent(page, page.getByRole('button', { name: 'Promote now' }), 'promote-now to an operator');
  await absent(page, page.getByRole('button', { name: 'Pause' }), 'pause to a paused rollout');
  await checkPage(page, 'rollout-paused');

  // Resume: the next step (50%) starts; the page follows by itself.
  await page.getByLabel('Reason').fill('no traffic overnight; go on');
  await page.getByRole('button', { name: 'Resume' }).click();
  await visible(page.getByRole('status').filter({ hasText: 'Resume: done.' }));
  await visible(page.getByRole('img', { name: /step 2 at 50% \(in progress\)/ }));
  assert.match(await page.getByLabel('Rollout state').innerText(), /Phase\s+canary\s+Canary step\s+2\s+Canary weight\s+50%/);
  await visible(page.getByRole('button', { name: 'Pause' }));
  await checkPage(page, 'rollout-canary');

  // Roll back with a reason: the operator steers the rollout back to the approved champion.
  await page.getByLabel('Reason').fill('complaints from the support desk about v2');
  await page.getByRole('button', { name: 'Roll back' }).click();
  await visible(page.getByText(`rolled back by ${operator}: complaints from the support desk about v2`));
  await absent(page, page.getByRole('button', { name: 'Roll back' }), 'a control on an ended rollout');
  await checkPage(page, 'rollout-rolled-back');
  assert.deepEqual(page.errors, []);

  // The outcome, from the database and the API.
  const run = await waitForStatus(env, runId, ['rolled_back', 'promoted', 'failed'], 30_000);
  assert.equal(run.status, 'rolled_back');
  const db = env.services.opened.db;
  const [v] = await db.select().from(modelVersions).where(eq(modelVersions.id, candidateVersionId));
  assert.equal(v!.status, 'rolled_back');
  const routesNow = await db.select().from(routes).where(eq(routes.modelId, modelId));
  assert.deepEqual(routesNow.map((r) => [r.kind, r.versionId]), [['production', productionVersionId]], 'the old version serves alone');
  const [event] = await db.select().from(deploymentEvents).where(eq(deploymentEvents.runId, runId)).orderBy(desc(deploymentEvents.id));
  assert.deepEqual([event!.action, event!.actor], ['rollback', operator]);
  assert.match(event!.reason, /complaints from the support desk about v2/);
  const status = await rolloutStatus(runId);
  assert.deepEqual([status.outcome, status.analyses.length], ['rolled_back', 1]);
  assert.equal((await env.clients.viewer.models.serving.query({ name: model })).versionId, productionVersionId);
});
