// The audits pages on the real stack: an operator schedules a drift monitor through the form (a bad cron
// is refused with the server's reason), pauses and resumes it, backfills two past days of drifted
// traffic and runs it once now, and the schedule page draws a chart per finding and lists the alerts
// with their delivery (signed, to a local receiver); a viewer sees the same pages without a form or an
// action; the operator deletes the audit after confirming. A re-audit's findings (which the stack would
// need labelled traffic and another run for) are followed across reports from a stored-report fixture.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { loadCorpus, type CorpusEmail } from '../../demo/corpus';
import { startAlertReceiver } from '../../demo/secondAct';
import { predictions } from '../../db/schema';
import { findingSeries, type WholeReport } from '../../console/audits/findings';
import { findingSpec } from '../../console/audits/specs';
import { promotedModel, startTestEnv, uid, waitFor, type TestEnv } from '../helpers';
import { absent, checkPage, launchBrowser, newPage, noBrowser, signIn, visible } from './browser';

const SECRET = `s-${uid()}`;
const SECRET_ENV = 'RETRAIN_WEBHOOK_SECRET_TEST_CONSOLE_AUDITS';
process.env[SECRET_ENV] = SECRET;
const DAY = 86_400_000;

let env: TestEnv;
let browser: Browser;
let model: string;
let modelId: number;
let versionId: number;
let receiver: Awaited<ReturnType<typeof startAlertReceiver>>;
/** The audit the test schedules; deleted after, should the test stop before it does (Temporal is shared). */
let scheduled: string | undefined;

before(async () => {
  env = await startTestEnv();
  if (noBrowser) return;
  browser = await launchBrowser();
  ({ model, modelId, productionVersionId: versionId } = await promotedModel(env));
  receiver = await startAlertReceiver(SECRET);
  await env.clients.admin.webhooks.allowDestination.mutate({ host: '127.0.0.1', port: Number(new URL(receiver.url).port), note: 'the console test receiver' });
});
after(async () => {
  if (scheduled) await env.clients.operator.audits.delete.mutate({ id: scheduled }).catch(() => undefined);
  await browser?.close();
  await receiver?.close();
  await env?.stop();
});

/** Logs the mail as answered traffic of the production version at `at`. */
async function traffic(mail: CorpusEmail[], at: Date) {
  const tag = uid();
  await env.services.opened.db
    .insert(predictions)
    .values(mail.map((e) => ({ modelId, versionId, requestId: `ca-${tag}-${e.externalId}`, score: 0.5, decision: e.label, attributes: { ...e.slices } as Record<string, string>, occurredAt: at, loggedBy: 'test' })));
}

const subjectOf = async (who: 'operator' | 'viewer') => (await env.clients[who].session.whoami.query()).subject;

test('an operator schedules, pauses, resumes, backfills and deletes an audit; a viewer only reads', { skip: noBrowser ?? false, timeout: 300_000 }, async () => {
  const api = env.clients.operator;
  const id = `drift-console-${uid()}`;
  scheduled = id;
  const page = await newPage(browser);
  await signIn(page, env.url, env.tokens.operator!, await subjectOf('operator'));
  await page.getByRole('link', { name: 'Audits' }).click();
  await visible(page.getByRole('heading', { name: 'Audits', level: 1 }));
  const form = page.getByRole('form', { name: 'Schedule an audit' });
  await visible(form);
  // The list has loaded (the shared Temporal may hold other stacks' audits, or none).
  await visible(page.getByText(/scheduled audits|No audits are scheduled yet/));
  await checkPage(page, 'audits-list-operator');

  // A cron Temporal cannot read is refused, with the server's reason, and nothing is created.
  await form.getByLabel('Kind').selectOption('drift_monitor');
  await form.getByLabel('Model').selectOption(model);
  await form.getByLabel('Audit id').fill(id);
  await form.getByLabel('Cron expression').fill('every tuesday');
  await form.getByRole('button', { name: 'Schedule audit' }).click();
  await visible(form.getByRole('alert'));
  assert.match(await form.getByRole('alert').innerText(), /cron expression is 5-7/);
  await assert.rejects(api.audits.describe.query({ id }), /not found/);

  // Daily, over the day before each run, watching sender_tld; alerts go to the (loopback) receiver, signed.
  await form.getByLabel('Runs on').selectOption('interval');
  await form.getByLabel('Every (hours)').fill('24');
  await form.getByLabel('Window (days').fill('1');
  await form.getByLabel('Largest PSI').fill('0.25');
  await form.getByLabel('Slice attributes').fill('sender_tld');
  await form.getByLabel('Alert webhook URL').fill(receiver.url);
  await form.getByLabel('Webhook secret variable').fill(SECRET_ENV);
  await form.getByRole('button', { name: 'Schedule audit' }).click();
  await visible(page.getByRole('heading', { name: `Audit ${id}` }));
  // Schedule listing is eventually consistent: the audit shows up in audits.list soon.
  const listed = await waitFor('the audit in audits.list', async () => (await api.audits.list.query({ model })).find((a) => a.id === id), 30_000);
  assert.equal(listed.kind, 'drift_monitor');
  assert.deepEqual(listed.spec.interval, { everySeconds: 86_400 });
  assert.equal(listed.paused, false);
  const described = await api.audits.describe.query({ id });
  assert.deepEqual(described.policy, { attributes: ['sender_tld'], maxPsi: 0.25, startRetraining: false, webhook: { url: receiver.url, secretEnv: SECRET_ENV } });
  assert.equal(described.windowDays, 1);

  // Pause, with a reason that becomes the schedule's note; then resume.
  await page.getByLabel('Reason').fill('holding it while the console is tested');
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await visible(page.getByRole('button', { name: 'Resume', exact: true }));
  const paused = await api.audits.describe.query({ id });
  assert.equal(paused.paused, true);
  assert.match(paused.note ?? '', /holding it while the console is tested/);
  await page.getByLabel('Reason').fill('tested enough');
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await visible(page.getByRole('button', { name: 'Pause', exact: true }));
  assert.equal((await api.audits.describe.query({ id })).paused, false);

  // Two past days of mail from country-code senders only (population drift), backfilled: one report a day.
  const to = new Date(Math.floor(Date.now() / DAY) * DAY - 20 * DAY);
  const from = new Date(to.getTime() - 2 * DAY);
  const cc = loadCorpus().filter((e, i) => i % 5 === 4 && e.slices.sender_tld === 'country_code');
  await traffic(cc.slice(0, 200), new Date(from.getTime() - DAY / 2));
  await traffic(cc.slice(200, 400), new Date(from.getTime() + DAY / 2));
  const backfill = page.getByRole('form', { name: 'Backfill' });
  await backfill.getByLabel('From').fill(from.toISOString().slice(0, 10));
  await backfill.getByLabel('To').fill(to.toISOString().slice(0, 10));
  await backfill.getByRole('button', { name: 'Backfill' }).click();
  await visible(backfill.getByRole('status'));
  const reports = await waitFor('two backfilled reports', async () => {
    const r = await api.audits.reports.query({ model, auditId: id });
    return r.length >= 2 && r;
  }, 120_000);
  assert.equal(reports.length, 2);
  assert.ok(reports.every((r) => r.alert), JSON.stringify(reports));

  // The page draws each finding across the reports, and the verdicts; the alerts table says they were delivered.
  await visible(page.getByLabel('PSI of sender_tld across reports'), 60_000);
  await visible(page.getByLabel('Override-rate change across reports'));
  await visible(page.getByLabel('Verdict of each window'));
  const alerts = await waitFor('two delivered alerts', async () => {
    const a = (await api.audits.alerts.query({ model })).filter((x) => x.reportId !== null && reports.some((r) => r.reportId === x.reportId));
    return a.length === 2 && a.every((x) => x.status === 'delivered') && a;
  }, 60_000);
  assert.ok(alerts.every((a) => a.attempts >= 1));
  assert.equal(receiver.received.filter((r) => r.verified && r.kind === 'drift').length, 2);
  const alertRows = page.getByRole('table').filter({ has: page.getByRole('columnheader', { name: 'Delivery' }) }).getByRole('row');
  await waitFor('the alerts table to show both deliveries', async () => (await alertRows.filter({ hasText: 'delivered' }).count()) === 2, 30_000);

  // Run now: one more run, over the day ending now (no traffic there: a quiet report).
  await page.getByRole('button', { name: 'Run now' }).click();
  // The API waits up to 5 s for the schedule to report the run it started; on a loaded machine it may say so
  // instead of naming it. Either answer is honest; the third report below proves the run happened.
  await visible(page.getByText(/^Started (drift-console-|\(the schedule has not reported the run yet\))/));
  const third = await waitFor('the triggered run\'s report', async () => {
    const r = await api.audits.reports.query({ model, auditId: id });
    return r.length === 3 && r[0];
  }, 60_000);
  assert.equal(third.alert, false);
  assert.ok(Date.now() - third.windowTo.getTime() < 120_000, 'the triggered run looks at the window ending now');
  await visible(page.getByRole('cell', { name: 'quiet' }));
  await checkPage(page, 'audit-schedule-operator');

  // A viewer reads both pages, and is offered neither the form nor any action. (The operator's list showed the
  // audit above; the fuzz test, which once deleted it from beside this one, has a Temporal server of its own.)
  const viewerPage = await newPage(browser);
  await signIn(viewerPage, env.url, env.tokens.viewer!, await subjectOf('viewer'));
  await viewerPage.getByRole('link', { name: 'Audits' }).click();
  await visible(viewerPage.getByRole('link', { name: id }));
  await visible(viewerPage.getByRole('cell', { name: 'Drift monitor' }));
  await absent(viewerPage, viewerPage.getByRole('form', { name: 'Schedule an audit' }), 'the create form');
  await checkPage(viewerPage, 'audits-list-viewer');
  await viewerPage.getByRole('link', { name: id }).click();
  await visible(viewerPage.getByLabel('PSI of sender_tld across reports'), 60_000);
  for (const name of ['Pause', 'Resume', 'Run now', 'Backfill', 'Delete audit…']) {
    await absent(viewerPage, viewerPage.getByRole('button', { name, exact: true }), `the ${name} button`);
  }
  await checkPage(viewerPage, 'audit-schedule-viewer');
  assert.deepEqual(viewerPage.errors, []);

  // The operator deletes it, after confirming: gone from Temporal, back on the list.
  await page.getByRole('button', { name: 'Delete audit…' }).click();
  await page.getByRole('button', { name: 'Confirm delete' }).click();
  await visible(page.getByRole('heading', { name: 'Audits', level: 1 }));
  await assert.rejects(api.audits.describe.query({ id }), /not found/);
  assert.deepEqual(page.errors, []);
});

/** A bias re-audit's stored report, as audits.report returns it, with one finding of each sort. */
function reaudit(reportId: number, windowTo: Date, gap: number, crossed: boolean): WholeReport {
  const iv = (estimate: number, half: number) => ({ estimate, lower: estimate - half, upper: estimate + half });
  const rate = (estimate: number) => ({ ...iv(estimate, 0.02), n: 400, events: Math.round(400 * estimate) });
  const windowFrom = new Date(windowTo.getTime() - 7 * DAY);
  return {
    reportId,
    kind: 'bias_reaudit',
    auditId: 'bias-reaudit-x',
    workflowId: `bias-reaudit-x-${reportId}`,
    version: 2,
    windowFrom,
    windowTo,
    alert: crossed,
    reasons: crossed ? ['fairness: FPR gap across sender_tld'] : [],
    requests: 900,
    labelled: 400,
    contentHash: 'sha256:00',
    createdAt: windowTo,
    model: 'spam',
    report: {
      schemaVersion: 1,
      versionId: 2,
      prelaunchEvalReportId: 1,
      window: { from: windowFrom.toISOString(), to: windowTo.toISOString() },
      requests: 900,
      labelled: 400,
      labelDesign: 'review',
      labelCounts: { annotation: 0, review: 400 },
      method: 'unweighted',
      comparison: {
        dataDrift: [{ attribute: 'sender_tld', psi: 0.1, band: 'stable', p: 0.2, df: 1, statistic: 1.6, categories: [], crossed: false }],
        conceptDrift: [
          { slice: 'sender_tld=country_code', attribute: 'sender_tld', value: 'country_code', metric: 'fpr', prelaunch: rate(0.05), window: rate(0.05 + gap), difference: iv(gap, 0.03), threshold: 0.05, crossed },
        ],
        fairness: [
          { attribute: 'sender_tld', metric: 'fpr_difference', prelaunch: { ...iv(0.02, 0.01), high: 'country_code', low: 'generic', groups: 2 }, window: { ...iv(gap, 0.04), high: 'country_code', low: 'generic', groups: 2 }, threshold: 0.15, crossed },
        ],
        insufficient: [],
        alert: crossed,
        reasons: [],
        policy: { maxFprIncrease: 0.05, maxFnrIncrease: null, maxFairnessGap: 0.15, fairnessMetrics: ['fpr_difference'], maxPsi: 0.25, psiAlpha: 0.01, minSupport: 30, confidence: 0.95, psiEpsilon: 1e-4 },
      },
    },
  };
}

test('a re-audit’s findings are followed across its reports: each PSI, rate change and fairness gap, with its interval and bound, oldest window first', () => {
  const week = new Date('2026-11-02T06:00:00Z');
  const reports = [reaudit(8, new Date(week.getTime() + 7 * DAY), 0.3, true), reaudit(7, week, 0.01, false)];
  const series = findingSeries(reports, null);
  assert.deepEqual(
    series.map((s) => [s.label, s.points.map((p) => p.reportId)]),
    [
      ['PSI of sender_tld', [7, 8]],
      ['FPR change on sender_tld=country_code', [7, 8]],
      ['FPR gap across sender_tld', [7, 8]],
    ],
  );
  const gap = series[2]!.points[1]!;
  assert.deepEqual([gap.estimate, gap.lower, gap.upper, gap.threshold, gap.crossed].map((x) => (typeof x === 'number' ? Number(x.toFixed(6)) : x)), [0.3, 0.26, 0.34, 0.15, true]);
  assert.equal(series[0]!.points[0]!.threshold, 0.25, 'the PSI bound comes from the report’s policy');
  // The chart of a finding declares its interval rules, its points and the policy's bound.
  const spec = findingSpec(series[2]!.points, series[2]!.measure);
  assert.equal(spec.marks?.length, 6);
});
