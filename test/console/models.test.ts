// The models pages on the real stack: the list shows each model's serving routes, version count and
// trainer; a model's page shows its versions with the champion's lineage, its routes, its flywheel health
// as charts carrying feedback.health's numbers, and its gate policy's versions with what the newest
// changed. policyDiff, the pure function behind that, is tested on its own first.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { and, eq } from 'drizzle-orm';
import { createApiClient } from '../../api/client';
import { describeChange, policyDiff } from '../../console/models/policyDiff';
import { pct } from '../../console/format';
import { issueToken } from '../../db/tokens';
import { modelVersions, predictions, routes } from '../../db/schema';
import { plantAnsweredTraffic, promotedModel, startTestEnv, uid, waitFor, waitForStatus, type TestEnv } from '../helpers';
import { checkPage, gone, launchBrowser, newPage, noBrowser, signIn, visible } from './browser';

describe('policyDiff', () => {
  const v1 = {
    minSliceSupport: 10,
    rules: [
      { kind: 'bound', id: 'overall-fpr', metric: 'fpr', slices: 'overall', max: 0.08 },
      { kind: 'no_regression', id: 'acc', metric: 'accuracy', slices: 'overall', margin: 0.05 },
    ],
  };
  test('names a changed bound by the rule id, not its position; a reordered rule is no change', () => {
    const v2 = { minSliceSupport: 10, rules: [{ ...v1.rules[1] }, { ...v1.rules[0], max: 0.1 }] };
    const changes = policyDiff(v1, v2);
    assert.deepEqual(changes, [{ path: 'rules[overall-fpr].max', kind: 'changed', before: 0.08, after: 0.1 }]);
    assert.equal(describeChange(changes[0]!), 'changed rules[overall-fpr].max: 0.08 → 0.1');
  });
  test('added and removed rules and fields, nested objects, and identical documents', () => {
    const v2 = {
      minSliceSupport: 30,
      costs: { falsePositiveCost: 5, falseNegativeCost: 1 },
      rules: [{ ...v1.rules[0], min: 0.01 }, { kind: 'human_approval', id: 'sign-off' }],
    };
    assert.deepEqual(policyDiff(v1, v2), [
      { path: 'minSliceSupport', kind: 'changed', before: 10, after: 30 },
      { path: 'rules[overall-fpr].min', kind: 'added', after: 0.01 },
      { path: 'rules[acc]', kind: 'removed', before: v1.rules[1] },
      { path: 'rules[sign-off]', kind: 'added', after: { kind: 'human_approval', id: 'sign-off' } },
      { path: 'costs', kind: 'added', after: { falsePositiveCost: 5, falseNegativeCost: 1 } },
    ]);
    assert.deepEqual(policyDiff(v1, structuredClone(v1)), []);
    // Rules without ids are compared by position; a value that changes type is a change.
    assert.deepEqual(policyDiff({ rules: [{ kind: 'a' }, { kind: 'b' }] }, { rules: [{ kind: 'a' }] }), [{ path: 'rules[1]', kind: 'removed', before: { kind: 'b' } }]);
    assert.deepEqual(policyDiff({ x: { y: 1 } }, { x: 'one' }), [{ path: 'x', kind: 'changed', before: { y: 1 }, after: 'one' }]);
    assert.equal(describeChange({ path: 'rules[acc]', kind: 'removed', before: { margin: 0.05 } }), 'removed rules[acc] (was {"margin":0.05})');
  });
});

describe('the models pages', { skip: noBrowser ?? false }, () => {
  let env: TestEnv;
  let browser: Browser;
  let model: string;
  let modelId: number;
  let productionVersionId: number;
  let shadowRunId: string;
  before(async () => {
    env = await startTestEnv();
    browser = await launchBrowser();
    ({ model, modelId, productionVersionId } = await promotedModel(env));
    const db = env.services.opened.db;
    // v2 scores traffic silently on the shadow route (a long shadow window), so the list shows both routes.
    ({ runId: shadowRunId } = await env.clients.operator.runs.start.mutate({ model, rollout: { shadowSeconds: 3600, steps: [{ weight: 0.1, analysisSeconds: 60 }] } }));
    await waitFor('the shadow route', async () => (await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'shadow'))))[0]);
    // Traffic answered by v1, a few overrides (corrections), and explicit thumbs on 50 of the 200 requests.
    await plantAnsweredTraffic(db, modelId, productionVersionId, 200, 12);
    const ingest = createApiClient(env.url, (await issueToken(db, { subject: `frontend-${uid()}`, role: 'ingest', createdBy: 'test' })).token);
    const ids = await db.select({ requestId: predictions.requestId }).from(predictions).where(and(eq(predictions.modelId, modelId), eq(predictions.versionId, productionVersionId))).orderBy(predictions.requestId).limit(50);
    await ingest.feedback.ingest.mutate({
      model,
      events: ids.map((r, i) => ({ kind: 'thumbs' as const, up: i % 3 !== 0, idempotencyKey: `thumbs-${r.requestId}`, version: 1, requestId: r.requestId, occurredAt: new Date().toISOString() })),
    });
    // A second policy version: the FPR bound loosened from 0.08 to 0.1, nothing else.
    const [current] = await env.clients.viewer.gates.policyHistory.query({ model });
    const rules = current!.policy.rules.map((r) => (r.kind === 'bound' && r.id === 'overall-fpr' ? { ...r, max: 0.1 } : r));
    await env.clients.operator.gates.setPolicy.mutate({ model, policy: { ...current!.policy, rules } });
  });
  after(async () => {
    if (shadowRunId) await env?.clients.approver.runs.rollback.mutate({ runId: shadowRunId, reason: 'end of the models page test' }).catch(() => undefined);
    if (shadowRunId && env) await waitForStatus(env, shadowRunId, ['rolled_back'], 30_000).catch(() => undefined);
    await browser?.close();
    await env?.stop();
  });

  test('the list shows each model’s routes, versions and trainer; the model page its versions, lineage, flywheel and policy diff', { timeout: 240_000 }, async () => {
    const page = await newPage(browser);
    const viewer = (await env.clients.viewer.session.whoami.query()).subject;
    await signIn(page, env.url, env.tokens.viewer!, viewer);
    await page.getByRole('link', { name: 'Models' }).click();
    await visible(page.getByRole('heading', { name: 'Models', level: 1 }));
    const listed = (await env.clients.viewer.models.list.query()).find((m) => m.name === model)!;
    assert.deepEqual([listed.productionVersion, listed.shadowVersion, listed.canaryVersion, listed.versions], [1, 2, null, 2], 'models.list names the routes');
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: model }) });
    await visible(row);
    assert.match(await row.innerText(), new RegExp(`^${model}\\s+test spam filter\\s+v1\\s+—\\s+v2\\s+2\\s+${listed.trainer.name.replace('/', '\\/')}`));
    await checkPage(page, 'models-list');

    await row.getByRole('link', { name: model }).click();
    await visible(page.getByRole('heading', { name: `Model ${model}`, level: 1 }));
    // Routes and versions as the API has them.
    const detail = await env.clients.viewer.models.get.query({ name: model });
    assert.deepEqual(detail.routes.map((r) => [r.kind, r.version]).sort(), [['production', 1], ['shadow', 2]]);
    const routeRow = (kind: string) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: kind, exact: true }) });
    assert.match(await routeRow('production').innerText(), /^production\s+v1\s+—/);
    assert.match(await routeRow('shadow').innerText(), /^shadow\s+v2\s+100%/);
    const versionRow = (v: number) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: `v${v}`, exact: true }) });
    assert.match(await versionRow(1).innerText(), /^v1\s+production/);
    assert.match(await versionRow(2).innerText(), /^v2\s+shadow/);
    // The champion's lineage: its snapshot, gate and promotion.
    const lineage = await env.clients.viewer.models.lineage.query({ name: model, version: 1 });
    const facts = await (await visible(page.getByLabel('Lineage of v1'))).innerText();
    assert.match(facts, new RegExp(`Snapshot\\s+#${lineage.snapshot!.id}, ${lineage.snapshot!.contentHash.replace(/^sha256:/, '').slice(0, 12)}: ${lineage.snapshot!.trainCount} train, ${lineage.snapshot!.heldoutCount} held out`));
    assert.match(facts, new RegExp(`Gate\\s+${lineage.gate!.decision}`));
    assert.match(facts, new RegExp(`Artifact\\s+${lineage.artifact.sha256.replace(/^sha256:/, '').slice(0, 12)}`));
    await visible(page.getByRole('cell', { name: 'promote', exact: true }));

    // Flywheel health: the explicit-feedback rate the API computed (50 of 200), drawn and written.
    const health = await env.clients.viewer.feedback.health.query({ model });
    assert.equal(health.explicitRate.withExplicit, 50);
    const rate = pct(health.explicitRate.rate);
    assert.equal(rate, '25.0%');
    await visible(page.getByText(`${rate} of 200 requests had explicit feedback (50 requests;`));
    await visible(page.getByRole('img', { name: new RegExp(`^Explicit feedback rate: ${rate.replace('.', '\\.')} \\[0\\.\\d{3}, 0\\.\\d{3}\\] of 200 requests$`) }));
    await visible(page.getByRole('img', { name: /^Feedback coverage per slice/ }));
    await visible(page.getByRole('img', { name: /^Correction trend: corrections per request/ }));
    await visible(page.getByRole('img', { name: /^Label sources: import \d+/ }));

    // The abstain band: v1 was gated without one (it serves its threshold alone); given a band, the page
    // shows it before (held-out) and after (served traffic) as the API computes it.
    const noBand = await env.clients.viewer.review.abstainReport.query({ name: model });
    assert.equal(noBand.rule.abstain, null);
    await visible(page.getByText(`v1 serves its threshold ${noBand.rule.threshold.toFixed(3)} alone: its policy set no abstain band.`));
    await visible(page.getByText('No abstained request has been queued for review (SLA 4.0 h).'));
    const db = env.services.opened.db;
    await db.update(modelVersions).set({ decisionRule: { ...noBand.rule, abstain: { lower: 0.4, upper: 0.6 } } }).where(eq(modelVersions.id, productionVersionId));
    const banded = await env.clients.viewer.review.abstainReport.query({ name: model });
    const overall = banded.groups.find((g) => g.attribute === null)!;
    assert.ok(overall.before && overall.before.n > 0 && overall.after.n === 200);
    await page.reload();
    const bandRow = page.getByRole('table', { name: 'Abstain band of v1' }).getByRole('row', { name: /^overall/ });
    const share = (x: { count: number; n: number; interval: { estimate: number | null } }) => `${x.count}/${x.n} = ${pct(x.interval.estimate)}`;
    const text = await (await visible(bandRow)).innerText();
    for (const expected of [share(overall.before!.abstained), share(overall.after.abstained), share(overall.before!.errorOutside), share(overall.after.errorOutside)]) {
      assert.ok(text.includes(expected), `the overall row shows ${expected}: ${text}`);
    }

    // Policy versions: v2 is selected and its one change from v1 is named.
    await visible(page.getByRole('heading', { name: 'Changes from v1 to v2' }));
    const changes = page.getByRole('list', { name: 'Changes from v1 to v2' }).getByRole('listitem');
    assert.deepEqual(await changes.allInnerTexts(), ['changed rules[overall-fpr].max: 0.08 → 0.1']);
    await checkPage(page, 'models-model');
    await page.getByLabel('Policy version to compare with the one before').selectOption('1');
    await visible(page.getByRole('heading', { name: 'v1 is the first version' }));
    assert.deepEqual(page.errors, []);
  });

  test('a model without a gate policy: a marker in the list and an alert on its page, both gone once a policy is set', { timeout: 120_000 }, async () => {
    const bare = `bare-${uid()}`;
    const registered = await env.clients.operator.models.register.mutate({ name: bare, description: 'no policy yet' });
    assert.equal(registered.warnings.length, 1);
    const [warning] = registered.warnings;
    const listed = (await env.clients.viewer.models.list.query()).find((m) => m.name === bare)!;
    assert.deepEqual([listed.policyVersion, listed.warnings], [null, registered.warnings], 'models.list warns as models.register and models.get do');
    assert.deepEqual((await env.clients.viewer.models.list.query()).find((m) => m.name === model)!.warnings, []);

    const page = await newPage(browser);
    await signIn(page, env.url, env.tokens.viewer!, (await env.clients.viewer.session.whoami.query()).subject);
    await page.getByRole('link', { name: 'Models' }).click();
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: bare, exact: true }) });
    const marker = row.getByRole('group', { name: `Warnings for ${bare}` });
    await visible(marker);
    // Closed, the marker says how many; opened, what they are.
    assert.equal((await marker.innerText()).trim(), '1 warning');
    await marker.getByText('1 warning').click();
    await visible(marker.getByRole('listitem').filter({ hasText: warning! }));
    // The promoted model, which has a policy, carries no marker.
    const promotedRow = page.getByRole('row').filter({ has: page.getByRole('link', { name: model, exact: true }) });
    assert.equal(await promotedRow.getByRole('group').count(), 0);
    await checkPage(page, 'models-list-warning');

    await row.getByRole('link', { name: bare }).click();
    await visible(page.getByRole('heading', { name: `Model ${bare}`, level: 1 }));
    const alert = page.getByRole('alert', { name: `Warnings for ${bare}` });
    await visible(alert);
    assert.equal((await alert.innerText()).trim(), `warning ${warning}`);
    await checkPage(page, 'models-model-warning');

    // The policy set elsewhere (the CLI, say): the page's next refresh (every 10 s) drops the alert.
    await env.clients.operator.gates.setPolicy.mutate({ model: bare, policy: { rules: [{ kind: 'human_approval' }] } });
    assert.deepEqual((await env.clients.viewer.models.get.query({ name: bare })).warnings, []);
    await gone(alert, 30_000);
    await visible(page.getByRole('definition').filter({ hasText: /^v1$/ }));
    await page.getByRole('link', { name: 'All models' }).click();
    await visible(page.getByRole('link', { name: bare, exact: true }));
    // The list refetches on arrival: the marker it may show from its cache goes.
    await gone(row.getByRole('group'), 30_000);
    assert.deepEqual(page.errors, []);
  });
});
