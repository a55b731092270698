// The real-data demo. It starts everything embedded, then acts as the product's users do, only through
// the API: an ML engineer registers `spam-filter`, loads the chronologically first part of the Spam
// Assassin corpus and bootstraps v1; later mail arrives as production traffic (scored by v1, with the
// readers' feedback), a retraining run samples it for annotation, a simulated annotator pool (one of
// them with a planted bias) labels it through the annotator API, the labels are aggregated, v2 is
// trained and evaluated against v1 on the same held-out set, stops at the gate, and a second identity
// signs it off. In the second act (demo/secondAct.ts) the rest of the year's mail drifts, the scheduled
// re-audit and drift monitor notice, and a retraining run starts by itself.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { createApiClient, type ApiClient } from '../api/client';
import { ensureAdminToken } from '../db/tokens';
import { dataDir } from '../temporal-config/env';
import { startServices } from '../temporal-config/services';
import { createLogger, setRootLogger } from '../temporal-config/log';
import { assignHeldOut, chronologicalParts, loadCorpus, type CorpusEmail } from './corpus';
import { runAnnotators, type SimulatedAnnotator } from './annotators';
import { formatRunEvidence, formatSaturationReport } from '../api/format';
import { DEMO_ALERT_SECRET_ENV, secondAct, startAlertReceiver } from './secondAct';
import { withFeedbackLabels } from './feedbackLabels';
import { replayTraffic } from './traffic';
import { reviewAct } from './reviewAct';
import { adultAct } from './adultAct';
import { ensurePythonTrainer } from '../temporal-config/pythonTrainer';

const say = (msg: string) => process.stderr.write(`${msg}\n`);
const MODEL = 'spam-filter';

async function importExamples(api: ApiClient, emails: CorpusEmail[], split: Map<string, 'train' | 'heldout'>, label: string) {
  const bar = new SingleBar({ format: `  ${label} [{bar}] {value}/{total} e-mails`, stream: process.stderr, hideCursor: true, noTTYOutput: true, notTTYSchedule: 2000 }, Presets.shades_classic);
  bar.start(emails.length, 0);
  const batch = 250;
  for (let i = 0; i < emails.length; i += batch) {
    const chunk = emails.slice(i, i + batch);
    await api.models.importExamples.mutate({
      name: MODEL,
      examples: chunk.map((e) => ({
        externalId: e.externalId,
        input: e.input,
        label: e.label,
        slices: { ...e.slices },
        split: split.get(e.externalId)!,
        ...(e.sentAt ? { observedAt: e.sentAt } : {}),
      })),
    });
    bar.update(i + chunk.length);
  }
  bar.stop();
}

/** Follows a run's steps as they happen, until it waits for a human or finishes. */
async function follow(api: ApiClient, runId: string, until: string[]) {
  let last = '';
  const started = Date.now();
  for (;;) {
    const run = await api.runs.get.query({ runId });
    const step: string = run.live?.step ?? run.step;
    if (step !== last) {
      say(`  [${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] step: ${step}`);
      last = step;
    }
    if (until.includes(run.status)) return run;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** all: the spam story, then the tabular act (Adult, the Python trainer, the team's own serving); spam or adult alone. */
export type DemoDataset = 'all' | 'spam' | 'adult';

export async function runDemo(opts: { quick: boolean; dataset?: DemoDataset }) {
  const dataset = opts.dataset ?? 'all';
  const t0 = Date.now();
  const root = path.join(dataDir(), 'demo');
  // The demo tells one story from the start; its state lives apart from `retrain up`'s.
  rmSync(root, { recursive: true, force: true });
  say(`retrain demo${opts.quick ? ' (quick)' : ''}: state under ${root}`);
  // The webhook secret is the team's and the worker's (it signs with the variable the policy names), so
  // the demo puts it where the worker in this process will read it.
  const alertSecret = randomBytes(24).toString('hex');
  process.env[DEMO_ALERT_SECRET_ENV] = alertSecret;
  const alertReceiver = await startAlertReceiver(alertSecret);
  // The story is told on stderr: the API's access log would bury it, so the JSON log keeps to warnings
  // unless RETRAIN_LOG_LEVEL asks for more.
  setRootLogger(createLogger({ fallbackLevel: 'warn' }));
  const services = await startServices({
    log: (m) => say(`  ${m}`),
    dataDir: root,
    db: { pgliteDir: path.join(root, 'pg') },
    temporalDbFile: path.join(root, 'temporal.db'),
    // The reference Python trainer (scikit-learn) on its own queue, for the tabular act.
    pythonTrainerQueue: dataset === 'spam' ? null : 'sklearn',
  });
  try {
    const url = services.api!.url;
    const adminToken = (await ensureAdminToken(services.opened.db))!;
    const admin = createApiClient(url, adminToken);
    // The team's receiver listens on loopback, where alerts go only if an admin allows it.
    await admin.webhooks.allowDestination.mutate({ host: '127.0.0.1', port: Number(new URL(alertReceiver.url).port), note: "the demo's alert receiver" });
    const engineerToken = (await admin.admin.createToken.mutate({ subject: 'ml-engineer', role: 'operator' })).token;
    const approverToken = (await admin.admin.createToken.mutate({ subject: 'risk-approver', role: 'approver' })).token;
    const engineer = createApiClient(url, engineerToken);
    const approver = createApiClient(url, approverToken);
    const tabular = async () => {
      const { python } = await ensurePythonTrainer({ dataDir: dataDir(), log: (m) => say(`  ${m}`) });
      const ingestTabular = createApiClient(url, (await admin.admin.createToken.mutate({ subject: 'income-service', role: 'ingest' })).token);
      return adultAct({ engineer, approver, ingest: ingestTabular, python, dataDir: dataDir(), quick: opts.quick, say, follow });
    };
    if (dataset === 'adult') {
      const line = await tabular();
      if (line.runStatus !== 'promoted') process.exitCode = 1;
      return;
    }

    let corpus = loadCorpus();
    if (opts.quick) corpus = corpus.filter((_, i) => i % 3 === 0);
    const split = assignHeldOut(corpus, { fraction: 0.25, seed: 7 });
    // The first half trains v1, the next quarter is v1's traffic (and v2's annotation sample), the last
    // quarter is v2's traffic in the second act.
    const [early, later, late] = chronologicalParts(corpus, [0.5, 0.75]) as [CorpusEmail[], CorpusEmail[], CorpusEmail[]];
    say(`\ncorpus: ${corpus.length} real e-mails (Spam Assassin), ${[...split.values()].filter((s) => s === 'heldout').length} held out (stratified, seed 7)`);

    await engineer.models.register.mutate({
      name: MODEL,
      description: 'Spam filter for inbound mail: a false positive hides a real e-mail from its reader.',
      // Every bound is judged on its interval: a slice whose point estimate passes but whose interval
      // reaches past the bound is not passed silently.
      gatePolicy: {
        description: 'Spam filter: a false positive hides a real e-mail; no slice may be worse than a quarter of its ham blocked.',
        minSliceSupport: 20,
        // Blocking a real e-mail costs ten times a missed spam, twenty on hard ham (newsletters, receipts).
        costs: { falsePositiveCost: 10, falseNegativeCost: 1, sliceMultipliers: [{ attribute: 'corpus_group', value: 'hard_ham', falsePositive: 2 }] },
        abstainHalfWidth: 0.1,
        rules: [
          { kind: 'bound', id: 'overall-fpr', metric: 'fpr', slices: 'overall', max: 0.1 },
          { kind: 'bound', id: 'overall-recall', metric: 'recall', slices: 'overall', min: 0.8 },
          { kind: 'bound', id: 'group-fpr', metric: 'fpr', slices: { attribute: 'corpus_group', value: '*' }, max: 0.25, onFail: 'ask' },
          { kind: 'no_regression', id: 'accuracy-vs-champion', metric: 'accuracy', slices: 'overall', margin: 0.01 },
          { kind: 'no_regression', id: 'fpr-vs-champion', metric: 'fpr', slices: 'overall', margin: 0.01, onFail: 'ask' },
          { kind: 'fairness', id: 'sender-tld-fpr-gap', attribute: 'sender_tld', metric: 'fpr_difference', max: 0.1, onFail: 'ask' },
          // Every cell of format x sender domain: a failing cell can hide behind two passing slices.
          { kind: 'bound', id: 'format-by-tld-fpr', metric: 'fpr', slices: { attributes: ['format', 'sender_tld'] }, max: 0.25, onFail: 'ask' },
          // A score of 0.9 should mean about 90% spam: the approver and the threshold both read it so.
          { kind: 'calibration', id: 'calibration', metric: 'ece', slices: 'overall', max: 0.1, onFail: 'ask' },
          { kind: 'threshold', id: 'operating-point', constraints: { minRecall: 0.9, maxSliceFpr: 0.25, minSliceNegatives: 20 }, onFail: 'ask' },
          // Does more data still help? A newest batch that makes things worse blocks; a plateau asks.
          { kind: 'saturation', id: 'more-data', onPlateau: 'ask', onDegrading: 'block' },
          { kind: 'human_approval', id: 'sign-off' },
        ],
      },
    });
    say(`\n1. ml-engineer registers '${MODEL}' and loads the first ${early.length} e-mails (${early[0]?.sentAt?.slice(0, 10)} .. ${early.at(-1)?.sentAt?.slice(0, 10)})`);
    await importExamples(engineer, early, split, 'import');

    say('\n2. bootstrap run: train v1, evaluate, gate');
    const first = await engineer.runs.start.mutate({ model: MODEL, trigger: 'bootstrap' });
    say(`  run ${first.runId}`);
    const bootstrap = await follow(engineer, first.runId, ['awaiting_approval', 'promoted', 'rejected', 'failed']);
    if (bootstrap.status !== 'awaiting_approval') {
      say(formatRunEvidence(await approver.reports.get.query({ runId: first.runId })));
      throw new Error(`the bootstrap run ended ${bootstrap.status} instead of waiting for approval`);
    }
    // The approver signs the packet they read: its hash goes with the approval.
    const firstPacket = await approver.reports.get.query({ runId: first.runId });
    await approver.gates.approve.mutate({ runId: first.runId, reason: 'baseline reviewed: overall FPR within bound', packetHash: firstPacket.packetHash ?? '' });
    say(`  risk-approver approved v1, signing packet ${firstPacket.packetHash}`);
    await follow(engineer, first.runId, ['promoted', 'rejected', 'failed']);

    say(`\n3. later mail arrives as production traffic: ${later.length} e-mails (${later.find((e) => e.sentAt)?.sentAt?.slice(0, 10)} .. ${later.filter((e) => e.sentAt).at(-1)?.sentAt?.slice(0, 10)}), scored by the production version; readers react`);
    // The evaluation set stays fixed and trusted: recent held-out mail is labelled by the team's reviewers
    // (never trained on); everything else is known only through traffic, feedback and annotation.
    const laterHeldOut = later.filter((e) => split.get(e.externalId) === 'heldout');
    say(`  the team refreshes its held-out set with ${laterHeldOut.length} reviewed recent e-mails`);
    await importExamples(engineer, laterHeldOut, split, 'held-out');
    const ingest = createApiClient(url, (await admin.admin.createToken.mutate({ subject: 'mail-gateway', role: 'ingest' })).token);
    const replay = await replayTraffic({ api: ingest, model: MODEL, emails: later, seed: 7 });
    const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
    say(`  ${replay.requests} requests, ${replay.blocked} blocked; truth: ${replay.truth.hamBlocked} ham blocked, ${replay.truth.spamPassed} spam passed`);
    say(
      `  feedback (stated → observed): rescue blocked ham ${pct(replay.stated.overrideHamRescue)} → ${pct(replay.observed.overrideHamRescue)}, ` +
        `report missed spam ${pct(replay.stated.reportMissedSpam)} → ${pct(replay.observed.reportMissedSpam)}, rate ${pct(replay.stated.rating)} → ${pct(replay.observed.rating)}; ` +
        `${replay.feedback.total} events`,
    );
    const health = await engineer.feedback.health.query({ model: MODEL, from: '1990-01-01T00:00:00Z', to: new Date().toISOString() });
    say(`  flywheel: explicit-feedback rate ${pct(health.explicitRate.rate)} of ${health.explicitRate.requests} requests; label sources ${health.labelSources.overall.mix.map((x) => `${x.source} ${x.count}`).join(', ')}`);

    say('\n4. the annotator pool: five people with stated accuracies, a senior adjudicator, and one who (unknown to the system) calls ham from country-code domains spam');
    const truth = new Map(corpus.map((e) => [e.externalId, e]));
    const people: { subject: string; accuracy: number; adjudicator?: boolean; bias?: SimulatedAnnotator['bias'] }[] = [
      { subject: 'annotator-ana', accuracy: 0.95 },
      { subject: 'annotator-ben', accuracy: 0.9 },
      { subject: 'annotator-chen', accuracy: 0.85 },
      { subject: 'annotator-dev', accuracy: 0.8 },
      { subject: 'annotator-eli', accuracy: 0.92, bias: { slice: 'sender_tld', value: 'country_code', trueLabel: 0, says: 1, rate: 0.85 } },
      { subject: 'adjudicator-fay', accuracy: 0.98, adjudicator: true },
    ];
    const pool: SimulatedAnnotator[] = [];
    for (const p of people) {
      const token = (await admin.admin.createToken.mutate({ subject: p.subject, role: 'annotator' })).token;
      await engineer.annotation.registerAnnotator.mutate({ subject: p.subject, adjudicator: p.adjudicator ?? false });
      pool.push({ subject: p.subject, client: createApiClient(url, token), accuracy: p.accuracy, ...(p.bias ? { bias: p.bias } : {}) });
      say(`  ${p.subject.padEnd(16)} accuracy ${p.accuracy}${p.adjudicator ? ', adjudicates disagreements' : ''}${p.bias ? `; planted bias: ${p.bias.slice}=${p.bias.value} ham → spam (${p.bias.rate})` : ''}`);
    }

    const budget = opts.quick ? 200 : 400;
    say(`\n5. retraining run: sample ${budget} e-mails of the traffic (uncertainty, blocked review, exploration, a floor of ${opts.quick ? 50 : 100} country-code mails), 3 annotators each + 10% gold, then train v2 and evaluate against v1`);
    const second = await engineer.runs.start.mutate({
      model: MODEL,
      annotation: {
        budget,
        overlap: 3,
        goldShare: 0.1,
        quorum: 1,
        deadlineSeconds: 1800,
        assignmentSeconds: 120,
        seed: 11,
        sliceFloors: [{ slice: 'sender_tld', value: 'country_code', min: opts.quick ? 50 : 100 }],
      },
    });
    say(`  run ${second.runId}`);
    const batchId = `batch-${second.runId}`;
    // The run samples first; the batch exists once its tasks are stored.
    while (!(await engineer.annotation.batch.query({ batchId }).catch(() => null))) await new Promise((r) => setTimeout(r, 200));
    const bar = new SingleBar({ format: '  labels [{bar}] {value} submitted', stream: process.stderr, hideCursor: true, noTTYOutput: true, notTTYSchedule: 2000 }, Presets.shades_classic);
    bar.start(budget * 4, 0);
    const work = await runAnnotators({
      annotators: pool,
      truthOf: (id) => {
        const e = truth.get(id);
        return e ? { label: e.label, slices: { ...e.slices } } : undefined;
      },
      seed: 5,
      stop: async () => (await engineer.annotation.batch.query({ batchId })).status !== 'open',
      onLabel: (_who, total) => bar.update(total),
    });
    bar.stop();
    // The batch closes, then the run aggregates it; the estimate is there once aggregation is done.
    let batchView = await engineer.annotation.batch.query({ batchId });
    while (!batchView.estimate) {
      await new Promise((r) => setTimeout(r, 200));
      batchView = await engineer.annotation.batch.query({ batchId });
    }
    const est = batchView.estimate;
    const sla = batchView.sla!;
    say(`  batch ${batchId}: ${batchView.status}, ${sla.labels} labels (${Object.entries(work.labels).map(([k, v]) => `${k.replace(/^\w+-/, '')} ${v}`).join(', ')}), median ${sla.medianSecondsToLabel?.toFixed(2)} s to label, ${sla.reassigned} reassigned, backlog at close ${sla.backlogAtClose}`);
    await reviewAct({ api: engineer, model: MODEL, say });
    if (est?.summary) {
      // A batch aggregated without labels stores no agreement.
      const q = est.quality;
      if (q) {
        say(`  agreement: Krippendorff's alpha ${est.summary.krippendorffAlpha?.toFixed(3)}, Fleiss' kappa ${q.fleiss_kappa?.toFixed(3)}, mean Cohen's kappa ${q.cohen_kappa_mean?.toFixed(3)}; class balance ${q.class_balance.map((c) => `${c.category} ${pct(c.share)}`).join(', ')}`);
        say(`  gold accuracy: ${Object.entries(q.annotators).map(([k, v]) => `${k.replace(/^\w+-/, '')} ${pct(v.gold_accuracy.estimate)}`).join(', ')}`);
      }
      for (const f of est.summary.biasFlags) {
        say(`  BIAS FLAG: ${f.annotator} on ${f.slice}=${f.value}: disagrees ${pct(f.disagreement)} of ${f.n} labels there vs ${pct(f.rest)} elsewhere (Fisher, Holm-adjusted p = ${f.p.toExponential(2)})`);
      }
      const pa = est.summary.productionAccuracy;
      if (pa) say(`  production accuracy of v1 on the traffic (Horvitz-Thompson over the sample): ${pct(pa.estimate)} [${pct(pa.lower)}, ${pct(pa.upper)}]`);
    }
    const aggregated = await engineer.annotation.aggregated.query({ batchId });
    const dsErrors = aggregated.filter((a) => a.label !== truth.get(a.externalId)?.label).length;
    const mvErrors = aggregated.filter((a) => a.majorityLabel !== truth.get(a.externalId)?.label).length;
    const dsAloneErrors = aggregated.filter((a) => a.dawidSkeneLabel !== truth.get(a.externalId)?.label).length;
    say(
      `  against the corpus truth, on ${aggregated.length} items: Dawid-Skene wrong on ${dsAloneErrors}, majority vote on ${mvErrors}; ` +
        `the training labels (Dawid-Skene, adjudicator where the three disagreed) on ${dsErrors}`,
    );
    const waiting = await follow(engineer, second.runId, ['awaiting_approval', 'promoted', 'rejected', 'failed']);
    const evidence = await approver.reports.get.query({ runId: second.runId });
    const saturationView = await approver.reports.saturation.query({ runId: second.runId });
    say(`\n${formatSaturationReport(second.runId, saturationView.report)}`);
    say(`\n${formatRunEvidence(evidence)}\n`);

    let gateDecision = evidence.gate?.decision ?? 'unknown';
    if (waiting.status === 'awaiting_approval') {
      // The engineer may not sign off their own run: four eyes.
      const own = await engineer.gates.approve.mutate({ runId: second.runId, reason: 'mine', packetHash: evidence.packetHash ?? '' }).catch((e: Error) => e);
      say(`  ml-engineer tries to approve: refused (${own instanceof Error ? own.message : 'unexpectedly accepted'})`);
      const decided = await approver.gates.approve.mutate({
        runId: second.runId,
        reason: 'no regression vs v1; hard-ham FPR reviewed and accepted for this release',
        packetHash: evidence.packetHash ?? '',
      });
      say(`  risk-approver approved, signing packet ${decided.reportHash}`);
      gateDecision = `${gateDecision}: approved by risk-approver`;
    }
    const done = await follow(engineer, second.runId, ['promoted', 'rejected', 'failed']);
    const model = await engineer.models.get.query({ name: MODEL });
    const production = model.routes.find((r) => r.kind === 'production')?.version ?? null;
    say(`\n6. ${MODEL}: production is v${production}; versions ${model.versions.map((v) => `v${v.version}=${v.status}`).join(', ')}`);

    const act2 = done.status === 'promoted' ? await withFeedbackLabels({ engineer, model: MODEL, say }, () => secondAct({ model: MODEL, engineer, ingest, late, alerts: alertReceiver, say, follow })) : null;

    const overall = evidence.packet!.candidateEvaluation.classification.overall.rates;
    say('\nWhere to look:');
    if (services.uiUrl) say(`  Temporal UI    ${services.uiUrl}/namespaces/${services.namespace}/workflows (search: RetrainModel="${MODEL}")`);
    say(`  console        ${url}/  (sign in with a token below: the approver's to judge and sign off)`);
    say(`  API            ${url}/trpc  REST ${url}/api  OpenAPI ${url}/openapi.json`);
    say(`  tokens         admin=${adminToken}\n                 ml-engineer (operator)=${engineerToken}\n                 risk-approver (approver)=${approverToken}`);
    say(`  try            curl -H 'Authorization: Bearer ${engineerToken}' ${url}/api/models/${MODEL}`);
    say(`  (the demo stops its services when it ends; \`npm run retrain -- up\` keeps them running)`);
    const line = {
      runId: second.runId,
      candidateVersion: done.candidateVersion,
      gateDecision,
      runStatus: done.status,
      productionVersion: production,
      metrics: {
        accuracy: overall.accuracy.estimate,
        fpr: overall.fpr.estimate,
        fprUpper95: overall.fpr.upper,
        recall: overall.recall.estimate,
        precision: overall.precision.estimate,
        heldOut: overall.support,
      },
      saturation: saturationView.verdict,
      annotation: {
        batchId,
        labels: sla.labels,
        biasFlags: est?.summary.biasFlags.map((f) => `${f.annotator}:${f.slice}=${f.value}`) ?? [],
        trainingLabelErrors: dsErrors,
        dawidSkeneErrors: dsAloneErrors,
        majorityVoteErrors: mvErrors,
        productionAccuracy: est?.summary.productionAccuracy?.estimate ?? null,
      },
      secondAct: act2,
      wallSeconds: Math.round((Date.now() - t0) / 100) / 10,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    // The story must happen: v2 promoted, and in the second act a run started by the drift monitor.
    if (done.status !== 'promoted' || !act2?.retrainingRunId) process.exitCode = 1;
    if (dataset === 'all') {
      const adult = await tabular();
      if (adult.runStatus !== 'promoted') process.exitCode = 1;
    }
  } finally {
    await services.stop();
    await alertReceiver.close();
  }
}
