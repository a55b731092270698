// The approval packet in the browser: a real run of a model whose mail carries 10 slice attributes of 5
// values each (50 slice values, all 10 with fairness gaps), judged by a policy with bounds, fairness
// rules, a threshold rule and an abstain band; the second run has a champion and a saturation check.
// The approver opens its packet page: the hash they sign, every rule, every slice with its interval,
// thin slices marked insufficient; drawn in under a second (issue #14).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { approveAsRead, corpusSubset, startTestEnv, toExampleInputs, uid, waitForStatus, type TestEnv } from '../helpers';
import { checkPage, launchBrowser, newPage, noBrowser, signIn, visible } from './browser';

const ATTRIBUTES = Array.from({ length: 10 }, (_, i) => `a${i}`);
/** Skewed shares of v0..v4: v4 holds ~5% of the rows, so ~18 held-out rows, below the minimum of 30. */
const CUMULATIVE = [35, 65, 85, 95, 100];

/** A value of `attribute` for a message, fixed by a hash of its id (independent of the label). */
function valueOf(externalId: string, attribute: string): string {
  const h = createHash('sha256').update(`${attribute}:${externalId}`).digest().readUInt32BE(0) % 100;
  return `v${CUMULATIVE.findIndex((c) => h < c)}`;
}

const policy = {
  minSliceSupport: 30,
  abstainHalfWidth: 0.1,
  rules: [
    { kind: 'bound' as const, id: 'overall-fpr', metric: 'fpr' as const, slices: 'overall' as const, max: 0.1, onFail: 'ask' as const },
    { kind: 'bound' as const, id: 'a0-recall', metric: 'recall' as const, slices: { attribute: 'a0', value: '*' }, min: 0.6, onFail: 'ask' as const },
    { kind: 'bound' as const, id: 'a1-accuracy', metric: 'accuracy' as const, slices: { attribute: 'a1', value: '*' }, min: 0.7, onFail: 'ask' as const },
    { kind: 'no_regression' as const, id: 'accuracy-vs-champion', metric: 'accuracy' as const, slices: 'overall' as const, margin: 0.05, onFail: 'ask' as const },
    { kind: 'bound' as const, id: 'a0-a1-cells', metric: 'accuracy' as const, slices: { attributes: ['a0', 'a1'] }, min: 0.6, onFail: 'ask' as const },
    { kind: 'fairness' as const, id: 'a0-fpr-gap', attribute: 'a0', metric: 'fpr_difference' as const, max: 0.2, onFail: 'ask' as const },
    { kind: 'fairness' as const, id: 'a1-odds-gap', attribute: 'a1', metric: 'equalized_odds_difference' as const, max: 0.3, onFail: 'ask' as const },
    { kind: 'threshold' as const, id: 'operating-point', constraints: { minRecall: 0.8, maxFpr: 0.1 }, onFail: 'ask' as const },
    { kind: 'calibration' as const, id: 'overall-ece', metric: 'ece' as const, binning: 'quantile' as const, bins: 10, slices: 'overall' as const, max: 0.0001, onFail: 'ask' as const },
    { kind: 'human_approval' as const, id: 'sign-off' },
  ],
};

let env: TestEnv;
let browser: Browser;
/** The first run (no champion, no saturation check) and the second (champion v1, saturation check). */
let first: string;
let second: string;

before(
  async () => {
    env = await startTestEnv();
    if (!noBrowser) browser = await launchBrowser();
    const model = `packet-${uid()}`;
    await env.clients.operator.models.register.mutate({ name: model, description: 'spam filter with 10 slice attributes', gatePolicy: policy });
    const rows = toExampleInputs(corpusSubset()).map((r) => ({ ...r, slices: Object.fromEntries(ATTRIBUTES.map((a) => [a, valueOf(r.externalId, a)])) }));
    for (let i = 0; i < rows.length; i += 500) await env.clients.operator.models.importExamples.mutate({ name: model, examples: rows.slice(i, i + 500) });
    first = (await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' })).runId;
    await waitForStatus(env, first, ['awaiting_approval'], 240_000);
    await approveAsRead(env.clients.approver, first, 'baseline reviewed');
    assert.equal((await waitForStatus(env, first, ['promoted', 'rejected', 'failed'], 240_000)).status, 'promoted');
    second = (await env.clients.operator.runs.start.mutate({ model, saturation: { seeds: 2 } })).runId;
    await waitForStatus(env, second, ['awaiting_approval'], 300_000);
  },
  { timeout: 600_000 },
);
after(async () => {
  await browser?.close();
  await env?.stop();
});

/** Charts drawn on the page: each PlotFigure's box once Observable Plot has put its SVG in. */
const drawnCharts = () => document.querySelectorAll('figure.chart > div > svg, figure.chart > div > figure').length;
/** The moment (ms since navigation start) `n` charts are on the page; false until then. Functions, not strings: the CSP forbids eval. */
const drawnAt = (n: number) => document.querySelectorAll('figure.chart > div > svg, figure.chart > div > figure').length >= n && performance.now();

test('the approver reads the packet of 50 slices and 10 fairness attributes, drawn in under a second', { skip: noBrowser ?? false, timeout: 180_000 }, async (t) => {
  const answer = await env.clients.approver.reports.get.query({ runId: second });
  const packet = answer.packet!;
  const saturation = await env.clients.approver.reports.saturation.query({ runId: second });
  const slices = packet.candidateEvaluation.classification.slices.filter((s) => s.rates.support > 0);
  assert.equal(slices.length, 50, 'ten attributes of five values each');
  assert.equal(packet.candidateEvaluation.fairness.length, 10, 'fairness gaps for all ten attributes');
  assert.ok(packet.deltas && packet.champion, 'the second run has a champion');
  const attributes = new Set(slices.map((s) => s.attribute)).size;
  const expected =
    1 + attributes + 1 + 1 + 2 + 2 + 1 + (saturation.report.ablation?.interval?.interval ? 1 : 0) + (packet.untested.length > 0 ? 1 : 0);

  const page = await newPage(browser);
  const approver = (await env.clients.approver.session.whoami.query()).subject;
  await signIn(page, env.url, env.tokens.approver!, approver);
  const url = `${env.url}/runs/${encodeURIComponent(second)}/packet`;
  // Warm-up: the first load builds the bundle and warms the API's queries.
  await page.goto(url);
  await page.waitForFunction(drawnAt, expected, { timeout: 60_000 });

  // Measured: from navigation start (performance.now() = 0) to the moment every chart is on the page.
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    await page.goto(url);
    const handle = await page.waitForFunction(drawnAt, expected, { timeout: 30_000, polling: 'raf' });
    times.push(Number(await handle.jsonValue()));
  }
  // The median of three loads: one hiccup of a machine shared with other tests does not decide it, a slow page does.
  const median = [...times].sort((a, b) => a - b)[1]!;
  t.diagnostic(`packet page (50 slices, 10 fairness attributes, ${expected} charts) drawn in ${times.map((x) => x.toFixed(0)).join(' / ')} ms from navigation start (median ${median.toFixed(0)} ms)`);
  assert.ok(median < 1000, `the packet page took ${times.map((x) => x.toFixed(0)).join(', ')} ms to draw (the median must be under 1000 ms)`);
  assert.equal(await page.evaluate(drawnCharts), expected);

  // The hash the approver signs, in full.
  await visible(page.getByRole('heading', { name: 'Approval packet', exact: true, level: 2 }));
  await visible(page.getByText(answer.packetHash!, { exact: true }));

  // Every rule, with its outcome.
  const rules = page.getByRole('table', { name: /Every rule of the policy/ });
  for (const r of packet.judgement.rules) {
    const row = rules.getByRole('row').filter({ has: page.getByRole('rowheader', { name: r.id, exact: true }) });
    assert.match(await row.innerText(), new RegExp(r.outcome.replace('_', ' ')), r.id);
  }

  // One row per slice value; a thin slice is labelled insufficient.
  const sliceTable = page.getByRole('table', { name: /per slice: 50 slice values/ });
  assert.equal(await sliceTable.getByRole('row').count(), 1 + 50);
  const thin = slices.find((s) => s.attribute === 'a0' && s.rates.positives < policy.minSliceSupport);
  assert.ok(thin, 'a slice of a0 with too few positives to judge recall');
  const thinRow = sliceTable.getByRole('row').filter({ has: page.getByRole('rowheader', { name: `a0=${thin.value}`, exact: true }) });
  assert.match(await thinRow.innerText(), /insufficient/);
  const wide = slices.find((s) => s.attribute === 'a0' && s.rates.positives >= policy.minSliceSupport)!;
  const wideRow = sliceTable.getByRole('row').filter({ has: page.getByRole('rowheader', { name: `a0=${wide.value}`, exact: true }) });
  assert.doesNotMatch(await wideRow.innerText(), /insufficient/);
  assert.match(await wideRow.innerText(), new RegExp(`${wide.rates.recall.estimate!.toFixed(3)}\\s+\\[${wide.rates.recall.lower!.toFixed(3)}, ${wide.rates.recall.upper!.toFixed(3)}\\]`));
  assert.match(await wideRow.innerText(), /≥ 0\.600/, "the a0 recall rule's bound");

  // Intersections: the worst cells of a0 × a1, worst first, each with its rows, interval and outcome.
  const cells = packet.intersections?.find((r) => r.attributes.join('&') === 'a0&a1');
  assert.ok(cells && cells.worst.length > 0 && cells.rules.includes('a0-a1-cells'), 'the packet lists the worst cells of a0 × a1');
  const cellTable = page.getByRole('table', { name: /Worst cells of a0 × a1 by accuracy/ });
  assert.equal(await cellTable.getByRole('row').count(), 1 + cells.worst.length);
  const worst = cells.worst[0]!;
  const worstRow = cellTable.getByRole('row').nth(1);
  assert.equal(await worstRow.getByRole('rowheader').innerText(), worst.cell.replaceAll('&', ' & '));
  assert.match(await worstRow.innerText(), new RegExp(`${worst.support}\\s+${worst.interval.estimate!.toFixed(3)} \\[${worst.interval.lower!.toFixed(3)}, ${worst.interval.upper!.toFixed(3)}\\]\\s+${(worst.outcome ?? 'not judged').replace('_', ' ')}`));

  // Fairness: a row per attribute; untested segments: a row each.
  assert.equal(await page.getByRole('table', { name: /per attribute, with the groups compared/ }).getByRole('row').count(), 1 + 10);
  if (packet.untested.length) assert.equal(await page.getByRole('table', { name: /Segments of production traffic/ }).getByRole('row').count(), 1 + packet.untested.length);
  for (const heading of ['Rules', 'Per-slice metrics', 'Intersections', 'Fairness gaps', 'Candidate minus champion', 'Precision and recall', 'Calibration', 'Learning curve', 'Untested segments']) {
    await visible(page.getByRole('heading', { name: heading, exact: true, level: 2 }));
  }
  await visible(page.getByText('Projected gain from doubling the data'));
  // The learning curve's numbers: each training size's mean error, and the fit's projection when it fitted.
  const curveTable = page.getByRole('table', { name: 'Held-out error per training size' });
  assert.equal(await curveTable.getByRole('row').count(), 1 + saturation.report.curve.length);
  const fit = saturation.report.fit;
  t.diagnostic(`learning curve: ${saturation.report.curve.length} sizes, fit ${fit.ok ? `ok, projected gain ${fit.projectedGainFromDoubling}` : `not fitted (${fit.reason})`}`);
  if (fit.ok) await visible(page.getByText(new RegExp(`^${fit.projectedGainFromDoubling.toFixed(4)}`)));
  else await visible(page.getByText(`not fitted: ${fit.reason}`));
  // Calibration: the reliability curve (a bin per row of its table), the overall ECE and Brier with their intervals, the rule's outcome.
  const ten = packet.candidateEvaluation.calibration!.find((c) => c.bins === 10)!;
  const curve = ten.overall.curves!.quantile;
  await visible(page.getByRole('heading', { name: 'Calibration', exact: true, level: 2 }));
  assert.equal(await page.locator('figure.chart svg[aria-label^="Reliability curve"]').count(), 1);
  assert.equal(await page.getByRole('table', { name: /reliability curve.s bins/ }).getByRole('row').count(), 1 + curve.probPred.length);
  const f = (x: number | null) => x!.toFixed(3);
  const { ece: { quantile: ece }, brier } = ten.overall;
  assert.equal((await page.locator('dd.calibration-ece').innerText()).trim(), `${f(ece.estimate)} [${f(ece.lower)}, ${f(ece.upper)}]`);
  assert.equal((await page.locator('dd.calibration-brier').innerText()).trim(), `${f(brier.estimate)} [${f(brier.lower)}, ${f(brier.upper)}]`);
  assert.equal(await page.getByRole('table', { name: /Calibration overall and per slice/ }).getByRole('row').count(), 1 + 1 + ten.slices.length);
  assert.equal(packet.judgement.rules.find((r) => r.id === 'overall-ece')?.outcome, 'needs_approval', 'a tight calibration rule under ask asks');
  await checkPage(page, 'packet-full');

  // Another metric: the table and charts follow, the count of drawn charts stays.
  await page.getByLabel('Slice metric', { exact: true }).selectOption('accuracy');
  await visible(page.getByRole('table', { name: /Accuracy per slice: 50 slice values/ }));
  await page.getByLabel('Curve of', { exact: true }).selectOption(`a1=${slices.find((s) => s.attribute === 'a1')!.value}`);
  await page.waitForFunction(drawnAt, expected);
  assert.equal(await page.evaluate(drawnCharts), expected);
  assert.deepEqual(page.errors, []);
});

test('a first run: no champion to compare with and no saturation check, said so', { skip: noBrowser ?? false, timeout: 120_000 }, async () => {
  const answer = await env.clients.viewer.reports.get.query({ runId: first });
  assert.equal(answer.packet?.champion, null);
  const page = await newPage(browser);
  const viewer = (await env.clients.viewer.session.whoami.query()).subject;
  await signIn(page, env.url, env.tokens.viewer!, viewer);
  await page.goto(`${env.url}/runs/${encodeURIComponent(first)}/packet`);
  await visible(page.getByText(answer.packetHash!, { exact: true }));
  await visible(page.getByText(/No champion: nothing in production to compare/));
  await visible(page.getByText(/No saturation check/));
  await checkPage(page, 'packet-first-run');
  assert.deepEqual(page.errors, []);
});
