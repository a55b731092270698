// Intersections: an aggregate and every single-attribute slice can pass while a cell of two attributes
// fails. On the Spam Assassin corpus's held-out predictions (the built-in trainer's, test/fixtures/
// spam_predictions.csv, unmodified): HTML mail and generic-TLD senders each clear accuracy 0.93 on
// their Wilson interval, the cell format=html & sender_tld=generic does not, and the packet's worst
// cells name it. The cells' numbers themselves are proven against Fairlearn's MetricFrame with two
// sensitive features (fairness_oracle.json "intersections").
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gatePolicySchema, type GatePolicyInput } from '../../analysis/policy';
import { buildApprovalPacket, defaultEvaluationSettings, encodeHeldOut, evaluateVersion, intersectionPairs } from '../../analysis/report';
import { wilsonInterval } from '../../analysis/numerics/intervals';
import { evaluateClassification } from '../../analysis/classification';
import { encodeAttribute } from '../../analysis/confusion';
import { assertClose } from './oracle';

const rows = readFileSync(new URL('../fixtures/spam_predictions.csv', import.meta.url), 'utf8').trim().split('\n');
const header = rows[0]!.split(',');
const table = rows.slice(1).map((r) => Object.fromEntries(r.split(',').map((v, i) => [header[i]!, v])));
const data = encodeHeldOut(
  table.map((r) => Number(r['label'])),
  { format: table.map((r) => r['format']!), sender_tld: table.map((r) => r['sender_tld']!) },
);
const scores = Float64Array.from(table.map((r) => Number(r['score'])));
const settings = { ...defaultEvaluationSettings, B: 200 };

function packetFor(input: GatePolicyInput) {
  const policy = gatePolicySchema.parse(input);
  const evaluation = evaluateVersion(data, scores, { settings, intersections: intersectionPairs(policy, ['format', 'sender_tld']) });
  return buildApprovalPacket({
    runId: 'spam',
    model: 'spam',
    data,
    policy,
    policyVersion: 1,
    candidate: { versionId: 1, version: 1, reportHash: 'sha256:x', scores, evaluation },
    champion: null,
    traffic: [],
    settings,
  });
}

const singles: GatePolicyInput['rules'] = [
  { kind: 'bound', id: 'overall-accuracy', metric: 'accuracy', slices: 'overall', min: 0.93 },
  { kind: 'bound', id: 'format-accuracy', metric: 'accuracy', slices: { attribute: 'format', value: '*' }, min: 0.93 },
  { kind: 'bound', id: 'generic-tld-accuracy', metric: 'accuracy', slices: { attribute: 'sender_tld', value: 'generic' }, min: 0.93 },
  { kind: 'bound', id: 'country-tld-accuracy', metric: 'accuracy', slices: { attribute: 'sender_tld', value: 'country_code' }, min: 0.93 },
];

test('spam corpus: both single slices pass, the HTML-from-generic-senders cell fails, and the packet names it', () => {
  const alone = packetFor({ rules: singles });
  assert.equal(alone.judgement.decision, 'approved', alone.judgement.reasons.join('\n'));
  assert.equal(alone.intersections, undefined, 'no combination asked for, none listed');

  const packet = packetFor({
    rules: [
      ...singles,
      { kind: 'bound', id: 'html-generic', metric: 'accuracy', slices: { attributes: { sender_tld: 'generic', format: 'html' } }, min: 0.93 },
      { kind: 'bound', id: 'format-x-tld', metric: 'accuracy', slices: { attributes: ['format', 'sender_tld'] }, min: 0.93 },
    ],
  });
  const rule = (id: string) => packet.judgement.rules.find((r) => r.id === id)!;
  for (const id of ['overall-accuracy', 'format-accuracy', 'generic-tld-accuracy', 'country-tld-accuracy']) assert.equal(rule(id).outcome, 'passed', id);
  // format=html: 299/311 correct, Wilson lower 0.9338; sender_tld=generic: 1233/1257, lower 0.9717.
  const html = rule('format-accuracy').checks.find((c) => c.slice === 'format=html')!;
  assertClose(html.observed!.lower!, wilsonInterval(299, 311).lower!, 'format=html lower');
  assert.ok(html.observed!.lower! > 0.93);

  // The cell: 244/255 correct, Wilson lower 0.9244 < 0.93.
  const cell = rule('html-generic');
  assert.equal(cell.outcome, 'failed');
  assert.equal(cell.checks.length, 1);
  assert.equal(cell.checks[0]!.slice, 'format=html&sender_tld=generic');
  assertClose(cell.checks[0]!.observed!.lower!, wilsonInterval(244, 255).lower!, 'cell lower');
  assert.match(cell.detail, /format=html&sender_tld=generic: accuracy .* interval reaches below 0\.93/);
  assert.equal(packet.judgement.decision, 'failed');

  // Every cell of the combination: the worst decides; plain&unknown (1 row) is insufficient, never passed.
  const all = rule('format-x-tld');
  assert.equal(all.outcome, 'failed');
  assert.deepEqual(
    Object.fromEntries(all.checks.map((c) => [c.slice, c.outcome])),
    {
      'format=html&sender_tld=country_code': 'failed', // 55/56: too few rows to show 0.93
      'format=html&sender_tld=generic': 'failed',
      'format=plain&sender_tld=country_code': 'passed',
      'format=plain&sender_tld=generic': 'passed',
      'format=plain&sender_tld=unknown': 'insufficient',
    },
  );

  // The packet's worst cells, by the lower bound (a min rule), with support and outcome.
  assert.equal(packet.intersections!.length, 1);
  const report = packet.intersections![0]!;
  assert.deepEqual(report.attributes, ['format', 'sender_tld']);
  assert.equal(report.metric, 'accuracy');
  assert.equal(report.worstBy, 'lower');
  assert.deepEqual(report.rules, ['html-generic', 'format-x-tld']);
  assert.equal(report.cells, 5);
  assert.equal(report.belowMinSupport, 1);
  assert.deepEqual(
    report.worst.map((w) => [w.cell, w.support, w.outcome]),
    [
      ['format=html&sender_tld=country_code', 56, 'failed'],
      ['format=html&sender_tld=generic', 255, 'failed'],
      ['format=plain&sender_tld=country_code', 198, 'passed'],
      ['format=plain&sender_tld=generic', 1002, 'passed'],
    ],
  );
  assertClose(report.worst[1]!.interval.lower!, wilsonInterval(244, 255).lower!, 'worst cell interval');
});

test('an error-like metric ranks cells by their upper bound; a cell below minSliceSupport is insufficient', () => {
  const packet = packetFor({
    minSliceSupport: 50,
    rules: [{ kind: 'bound', id: 'cell-fpr', metric: 'fpr', slices: { attributes: ['sender_tld', 'format'] }, max: 0.2 }],
  });
  const report = packet.intersections![0]!;
  assert.equal(report.worstBy, 'upper');
  // Negatives per cell: html&generic 45 (< 50: insufficient), plain&cc 158, plain&generic 835; cells without ham are skipped.
  assert.equal(report.belowMinSupport, 1);
  // 0/158 has the wider interval (upper 0.024) than 8/835 (upper 0.019): worst by upper bound.
  assert.deepEqual(report.worst.map((w) => w.cell), ['format=plain&sender_tld=country_code', 'format=plain&sender_tld=generic']);
  assert.ok(report.worst[0]!.interval.upper! >= report.worst[1]!.interval.upper!);
  const rule = packet.judgement.rules[0]!;
  assert.equal(rule.outcome, 'insufficient');
  assert.deepEqual(rule.checks.find((c) => c.slice === 'format=html&sender_tld=generic')!.outcome, 'insufficient');
  assert.equal(packet.judgement.decision, 'failed', 'insufficient under block fails the gate');
});

test('a combination naming an attribute the held-out set lacks is missing evidence and fails closed', () => {
  const packet = packetFor({ rules: [{ kind: 'bound', id: 'lang', metric: 'accuracy', slices: { attributes: ['format', 'language'] }, min: 0.5 }] });
  const rule = packet.judgement.rules[0]!;
  assert.equal(rule.outcome, 'failed');
  assert.match(rule.detail, /missing evidence: intersection format × language is not in the evaluation/);
  assert.equal(packet.intersections, undefined);
});

interface OracleCell { cell: string; count: number; positives: number; negatives: number; accuracy: number; selection_rate: number; tpr: number; fpr: number; fnr: number }
const fairness = JSON.parse(readFileSync(new URL('../fixtures/fairness_oracle.json', import.meta.url), 'utf8')) as {
  versions: Record<string, string>;
  intersections: ({ name: string; attributes: [string, string]; labels: number[]; predictions: number[]; cells: OracleCell[] } & Record<string, unknown>)[];
};

test(`intersection cells match Fairlearn ${fairness.versions['fairlearn']} MetricFrame with two sensitive features`, () => {
  assert.deepEqual(fairness.intersections.map((d) => d.name), ['planted_cell_4000', 'spam_format_x_sender_tld']);
  for (const ds of fairness.intersections) {
    const [a, b] = ds.attributes;
    // Predictions as scores at threshold 0.5: the cells are MetricFrame's by_group of (a, b).
    const got = evaluateClassification({
      labels: Uint8Array.from(ds.labels),
      scores: Float64Array.from(ds.predictions),
      threshold: 0.5,
      attributes: [encodeAttribute(a, ds[a] as string[]), encodeAttribute(b, ds[b] as string[])],
      intersections: [[a, b]],
      withScoreMetrics: false,
    });
    assert.deepEqual(got.intersections.map((c) => c.value).sort(), ds.cells.map((c) => c.cell), `${ds.name}: the same cells (MetricFrame's empty combinations left out)`);
    for (const want of ds.cells) {
      const r = got.intersections.find((c) => c.value === want.cell)!.rates;
      const what = `${ds.name} ${want.cell}`;
      assert.deepEqual([r.support, r.positives, r.negatives], [want.count, want.positives, want.negatives], `${what} counts`);
      assertClose(r.accuracy.estimate, want.accuracy, `${what} accuracy`);
      assertClose(r.selectionRate.estimate, want.selection_rate, `${what} selection rate`);
      // Fairlearn says 0.0 where a rate has no rows to divide by; the engine says null (undefined), and a rule fails closed on it.
      assertClose(r.recall.estimate, want.positives === 0 ? null : want.tpr, `${what} TPR`);
      assertClose(r.fnr.estimate, want.positives === 0 ? null : want.fnr, `${what} FNR`);
      assertClose(r.fpr.estimate, want.negatives === 0 ? null : want.fpr, `${what} FPR`);
    }
  }
  // The planted cell is the worst by accuracy: 70% right where the rest are 95%.
  const planted = fairness.intersections[0]!.cells;
  assert.equal([...planted].sort((x, y) => x.accuracy - y.accuracy)[0]!.cell, 'lang=fr&device=mobile');
});

test('no_regression on cells: paired candidate-minus-champion differences per cell, the worsened cell named', () => {
  // The champion is the same model except in html&generic, where the candidate now misses 20 spam it used to catch.
  const policy = gatePolicySchema.parse({
    rules: [
      { kind: 'no_regression', id: 'format-recall', metric: 'recall', slices: { attribute: 'format', value: '*' }, margin: 0.15 },
      { kind: 'no_regression', id: 'cell-recall', metric: 'recall', slices: { attributes: ['format', 'sender_tld'] }, margin: 0.05 },
    ],
  });
  const candidate = Float64Array.from(scores);
  let flipped = 0;
  table.forEach((r, i) => {
    if (flipped < 20 && r['format'] === 'html' && r['sender_tld'] === 'generic' && r['label'] === '1' && scores[i]! >= 0.5) {
      candidate[i] = 0.1;
      flipped++;
    }
  });
  const pairs = intersectionPairs(policy, ['format', 'sender_tld']);
  const evaluate = (s: Float64Array) => evaluateVersion(data, s, { settings, intersections: pairs });
  const packet = buildApprovalPacket({
    runId: 'spam',
    model: 'spam',
    data,
    policy,
    policyVersion: 1,
    candidate: { versionId: 2, version: 2, reportHash: 'sha256:c', scores: candidate, evaluation: evaluate(candidate) },
    champion: { versionId: 1, version: 1, reportHash: 'sha256:p', scores, evaluation: evaluate(scores) },
    traffic: [],
    settings,
  });
  const delta = packet.deltas!.find((d) => d.attribute === 'format&sender_tld' && d.value === 'format=html&sender_tld=generic' && d.metric === 'recall')!;
  assertClose(delta.interval.estimate, -20 / 210, 'recall change in the cell');
  const [format, cells] = packet.judgement.rules;
  assert.equal(format!.outcome, 'passed', format!.detail); // html recall drops 20/266 = 7.5% (worst case ~11%), within its 15% margin
  assert.equal(cells!.outcome, 'failed');
  assert.deepEqual(cells!.checks.filter((c) => c.outcome === 'failed').map((c) => c.slice), ['format=html&sender_tld=generic']);
  const report = packet.intersections!.find((r) => r.metric === 'recall')!;
  assert.equal(report.worstBy, 'lower');
  assert.equal(report.worst[0]!.cell, 'format=html&sender_tld=generic');
  assert.equal(report.worst[0]!.outcome, 'failed');
});
