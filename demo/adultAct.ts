// The tabular act: a team that trains in Python and serves from its own system. UCI Adult (income above
// 50K, 30,162 census rows with sex, race and native-country: a real long tail of 41 countries) is
// governed through the API only: the team's trainer (trainers/python, scikit-learn) registered by its
// queue, a model declaring its features and its trainer, v1 trained by the Python worker and signed
// off; then the team's serving system (a Python process loading the artifact, as a team's server
// would) resolves which version answers and logs its predictions; the incomes observed later come back
// as labels; a retraining run trained by the Python worker is checked for saturation, gated on fairness
// by sex and race and on a floor per country, approved by a second identity and promoted. It ends with
// one JSON line: the trainer, the versions, the gate decision and the fairness gaps with their intervals.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ApiClient } from '../api/client';
import { ADULT_FEATURES, loadAdult, type AdultRow } from './adult';

export const ADULT_MODEL = 'income-adult';
const TRAINER = 'sklearn/tabular';
const PYTHON_TRAINER_DIR = fileURLToPath(new URL('../trainers/python', import.meta.url));

export interface AdultActDeps {
  engineer: ApiClient;
  approver: ApiClient;
  ingest: ApiClient;
  /** The Python of the trainer's virtual environment (scikit-learn and joblib), for the serving system. */
  python: string;
  dataDir: string;
  quick: boolean;
  say: (msg: string) => void;
  follow: (api: ApiClient, runId: string, until: string[]) => Promise<{ status: string; candidateVersion?: number | null }>;
}

/** The team's serving system scoring a batch with the artifact file its trainer keeps. */
export function serveBatch(python: string, artifactPath: string, requests: { requestId: string; input: AdultRow['input'] }[]): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-m', 'retrain_trainer.serve', artifactPath], { cwd: PYTHON_TRAINER_DIR, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the serving system exited ${code}: ${err}`));
      const scores = new Map<string, number>();
      for (const line of out.split('\n')) {
        if (!line.trim()) continue;
        const { requestId, score } = JSON.parse(line) as { requestId: string; score: number };
        scores.set(requestId, score);
      }
      resolve(scores);
    });
    child.stdin.end(requests.map((r) => JSON.stringify(r)).join('\n') + '\n');
  });
}

async function importRows(api: ApiClient, rows: AdultRow[]) {
  for (let i = 0; i < rows.length; i += 1000) {
    await api.models.importExamples.mutate({
      name: ADULT_MODEL,
      examples: rows.slice(i, i + 1000).map((r) => ({ externalId: r.externalId, input: r.input, label: r.label, slices: { ...r.slices }, split: r.split })),
    });
  }
}

async function signOff(deps: AdultActDeps, runId: string, reason: string): Promise<{ status: string; gate: string; packetHash: string | null }> {
  const waiting = await deps.follow(deps.engineer, runId, ['awaiting_approval', 'promoted', 'rejected', 'failed']);
  const evidence = await deps.approver.reports.get.query({ runId });
  let gate = evidence.gate?.decision ?? 'unknown';
  if (waiting.status === 'awaiting_approval') {
    await deps.approver.gates.approve.mutate({ runId, reason, packetHash: evidence.packetHash ?? '' });
    gate = `${gate}: approved by risk-approver`;
  }
  const done = await deps.follow(deps.engineer, runId, ['promoted', 'rejected', 'failed']);
  // What the approver read: every rule that did not simply pass (a country below its floor, a gap whose interval reaches past its bound).
  for (const reason of (evidence.gate?.reasons ?? []).slice(0, 6)) deps.say(`    gate: ${reason.length > 220 ? `${reason.slice(0, 220)}…` : reason}`);
  return { status: done.status, gate, packetHash: evidence.packetHash ?? null };
}

export async function adultAct(deps: AdultActDeps) {
  const { engineer, ingest, say } = deps;
  const t0 = Date.now();
  let rows = await loadAdult(deps.dataDir, { python: deps.python, log: (m) => say(`  ${m}`) });
  if (deps.quick) rows = rows.filter((_, i) => i % 3 === 0);
  // Half trains v1, a quarter is served by v1 (its incomes observed later), a quarter is left unseen.
  const first = rows.filter((_, i) => i % 4 < 2);
  const traffic = rows.filter((_, i) => i % 4 === 2);
  say(`\nAdult act: ${rows.length} census rows (UCI Adult from the fairness package); ${first.length} labelled now, ${traffic.length} served by the team's own system`);

  const trainer = await engineer.trainers.get.query({ name: TRAINER });
  say(`  trainer ${trainer.name} ${trainer.version} (code ${trainer.codeDigest.slice(0, 19)}…) on task queue ${trainer.taskQueue}, registered from its own description`);
  await engineer.models.register.mutate({
    name: ADULT_MODEL,
    description: 'Income above 50K from census features: a credit pre-screen, judged on fairness by sex and race and on every country.',
    trainer: { name: TRAINER, params: { estimator: 'logistic_regression', C: 1 }, timeToStartSeconds: 120 },
    features: ADULT_FEATURES,
    gatePolicy: {
      description: 'Income model: no group by sex or race treated worse beyond the bounds; no country with enough support below the floor.',
      minSliceSupport: 30,
      rules: [
        { kind: 'bound', id: 'overall-auc', metric: 'auc', slices: 'overall', min: 0.85 },
        { kind: 'no_regression', id: 'accuracy-vs-champion', metric: 'accuracy', slices: 'overall', margin: 0.02 },
        { kind: 'fairness', id: 'sex-equal-opportunity', attribute: 'sex', metric: 'equal_opportunity_difference', max: 0.15, onFail: 'ask' },
        { kind: 'fairness', id: 'race-selection', attribute: 'race', metric: 'demographic_parity_difference', max: 0.2, onFail: 'ask' },
        // Every sex x race cell with enough positives must find at least half of its high earners: a gap that
        // hides inside one cell (women of one race) while sex and race each pass on their own.
        { kind: 'bound', id: 'sex-by-race-recall', metric: 'recall', slices: { attributes: ['sex', 'race'] }, min: 0.5, onFail: 'ask' },
        { kind: 'bound', id: 'country-floor', metric: 'accuracy', slices: { attribute: 'native-country', value: '*' }, min: 0.6, onFail: 'ask' },
        { kind: 'saturation', id: 'more-data', onPlateau: 'pass', onDegrading: 'ask', seeds: 2 },
        { kind: 'human_approval', id: 'sign-off' },
      ],
    },
  });
  await importRows(engineer, first);

  say('\n  v1: trained by the Python worker on its own task queue');
  const v1Run = await engineer.runs.start.mutate({ model: ADULT_MODEL, trigger: 'bootstrap' });
  const v1 = await signOff(deps, v1Run.runId, 'first version of the income model; fairness gaps reviewed');
  if (v1.status !== 'promoted') throw new Error(`the Adult v1 run ended ${v1.status}`);
  const lineage1 = await engineer.models.lineage.query({ name: ADULT_MODEL, version: 1 });
  say(`  v1 promoted (${v1.gate}); artifact kept by the trainer at ${lineage1.artifact.uri}`);

  // The team's serving system: resolve which version answers each request, score with that version's
  // artifact, log the predictions (with the features, so audits and sampling can read them).
  const answered = new Map<number, { requestId: string; row: AdultRow }[]>();
  for (const [i, row] of traffic.entries()) {
    const requestId = `req-${row.externalId}`;
    const resolved = await ingest.models.resolve.query({ name: ADULT_MODEL, requestKey: requestId });
    const list = answered.get(resolved.version) ?? [];
    list.push({ requestId, row });
    answered.set(resolved.version, list);
    if (i > 0 && i % 2000 === 0) say(`    resolved ${i} requests`);
  }
  let logged = 0;
  const occurredAt = new Date().toISOString();
  for (const [version, requests] of answered) {
    const lineage = await engineer.models.lineage.query({ name: ADULT_MODEL, version });
    const artifactPath = fileURLToPath(lineage.artifact.uri!);
    const scores = await serveBatch(deps.python, artifactPath, requests.map((r) => ({ requestId: r.requestId, input: r.row.input })));
    for (let i = 0; i < requests.length; i += 2000) {
      const out = await ingest.serving.logPredictions.mutate({
        name: ADULT_MODEL,
        requests: requests.slice(i, i + 2000).map(({ requestId, row }) => ({
          requestId,
          version,
          score: scores.get(requestId)!,
          externalId: `served-${row.externalId}`,
          input: row.input,
          attributes: { ...row.slices },
          occurredAt,
        })),
      });
      logged += out.logged;
    }
  }
  say(`  the team's serving system logged ${logged} predictions (resolve, score with its own copy of the artifact, POST /api/models/${ADULT_MODEL}/predictions)`);

  // The incomes of the served requests become known later: they come back as labelled examples.
  await importRows(engineer, traffic);
  say(`  ${traffic.length} observed incomes imported as labels`);

  say('\n  v2: retraining with the Python worker: saturation check, then the gate');
  const v2Run = await engineer.runs.start.mutate({ model: ADULT_MODEL, trigger: 'manual', trainerParams: { C: 0.5 } });
  const v2 = await signOff(deps, v2Run.runId, 'more data, no fairness regression beyond the bounds; countries reviewed');
  const evidence = await engineer.reports.get.query({ runId: v2Run.runId });
  const lineage2 = evidence.packet ? await engineer.models.lineage.query({ name: ADULT_MODEL, version: evidence.packet.candidate.version }) : null;
  const fairness = (evidence.packet?.candidateEvaluation.fairness ?? [])
    .filter((f) => f.attribute === 'sex' || f.attribute === 'race')
    .map((f) => ({
      attribute: f.attribute,
      equalOpportunityDifference: { estimate: f.equal_opportunity_difference.estimate, lower: f.equal_opportunity_difference.lower, upper: f.equal_opportunity_difference.upper },
      demographicParityDifference: { estimate: f.demographic_parity_difference.estimate, lower: f.demographic_parity_difference.lower, upper: f.demographic_parity_difference.upper },
    }));
  const saturation = await engineer.reports.saturation.query({ runId: v2Run.runId }).catch(() => null);
  const model = await engineer.models.get.query({ name: ADULT_MODEL });
  const production = model.routes.find((r) => r.kind === 'production')?.version ?? null;
  say(`  v2 ${v2.status} (${v2.gate}); production is v${production}`);
  for (const f of fairness) {
    say(
      `    ${f.attribute}: equal opportunity gap ${f.equalOpportunityDifference.estimate?.toFixed(3)} [${f.equalOpportunityDifference.lower?.toFixed(3)}, ${f.equalOpportunityDifference.upper?.toFixed(3)}], ` +
        `selection-rate gap ${f.demographicParityDifference.estimate?.toFixed(3)} [${f.demographicParityDifference.lower?.toFixed(3)}, ${f.demographicParityDifference.upper?.toFixed(3)}]`,
    );
  }
  // The sex x race cells the rule judged, worst first: what an approver reads before signing off.
  const sexByRace = evidence.packet?.intersections?.find((x) => [...x.attributes].sort().join() === 'race,sex') ?? null;
  const worstCells = (sexByRace?.worst ?? []).map((c) => ({ cell: c.cell, support: c.support, positives: c.positives, recall: c.interval.estimate, lower: c.interval.lower, upper: c.interval.upper, outcome: c.outcome }));
  if (sexByRace) {
    say(`    sex x race: ${sexByRace.cells} cells, ${sexByRace.belowMinSupport} below the minimum support (not ranked); the worst by recall:`);
    for (const c of worstCells) say(`      ${c.cell}: recall ${c.recall?.toFixed(3)} [${c.lower?.toFixed(3)}, ${c.upper?.toFixed(3)}] on ${c.positives} high earners (${c.outcome ?? 'not judged'})`);
  }
  const line = {
    dataset: 'adult',
    trainer: { name: trainer.name, version: trainer.version, codeDigest: trainer.codeDigest, taskQueue: trainer.taskQueue },
    versions: model.versions.map((v) => ({ version: v.version, status: v.status, trainer: v.trainer })),
    runId: v2Run.runId,
    gateDecision: v2.gate,
    runStatus: v2.status,
    productionVersion: production,
    servedPredictionsLogged: logged,
    candidateArtifact: lineage2?.artifact ?? null,
    saturation: saturation?.verdict ?? null,
    fairness,
    sexByRace: sexByRace ? { cells: sexByRace.cells, belowMinSupport: sexByRace.belowMinSupport, worst: worstCells } : null,
    wallSeconds: Math.round((Date.now() - t0) / 100) / 10,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return line;
}
