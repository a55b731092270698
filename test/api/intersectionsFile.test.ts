// Intersections on a file of predictions: `retrain eval --intersections a,b`, the streamed upload's
// `intersections=a,b` query parameter and the JSON body's pairs compute the same cells and list the
// same worst cells; a policy's own intersection rules get their cells without asking; a bad pair is
// refused naming it. The file is the Spam Assassin held-out predictions (test/fixtures/spam_predictions.csv).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { gatePolicySchema } from '../../analysis/policy';
import { evaluatePredictionsFile } from '../../api/evaluateFile';
import { closeEvaluateFilePool } from '../../api/evaluateFileWorker';
import { startCallerEnv, type CallerEnv } from '../caller';

const FILE = path.join(import.meta.dirname, '..', 'fixtures', 'spam_predictions.csv');
const content = readFileSync(FILE, 'utf8');
const CELLS = ['format=html&sender_tld=country_code', 'format=html&sender_tld=generic', 'format=plain&sender_tld=country_code', 'format=plain&sender_tld=generic'];

let env: CallerEnv & { url: string };
before(async () => {
  const callerEnv = await startCallerEnv();
  env = Object.assign(callerEnv, { url: await callerEnv.serve() });
});
after(async () => {
  await closeEvaluateFilePool();
  await env?.stop();
});

test('the file endpoint: query intersections=a,b and the JSON body give the same worst cells; a bad pair is a 400 naming it', async () => {
  const query = new URLSearchParams({ slices: 'format,sender_tld', intersections: 'sender_tld,format', bootstrap: '20' });
  const res = await fetch(`${env.url}/api/reports/evaluate-file?${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.tokens.operator}`, 'content-type': 'text/csv' },
    body: content,
  });
  const text = await res.text();
  assert.equal(res.status, 200, text.slice(0, 500));
  const streamed = JSON.parse(text) as { packet: { intersections: { attributes: string[]; metric: string; rules: string[]; worst: { cell: string; support: number }[] }[] } };
  const viaJson = await env.clients.operator.reports.evaluateFile.mutate({ content, slices: ['format', 'sender_tld'], intersections: [['sender_tld', 'format']], bootstrap: 20 });
  assert.deepEqual(streamed, JSON.parse(JSON.stringify(viaJson)));
  const [report] = streamed.packet.intersections;
  // Asked for in either order, evaluated in code-unit order; no rule: ranked by accuracy's lower bound.
  assert.deepEqual(report!.attributes, ['format', 'sender_tld']);
  assert.equal(report!.metric, 'accuracy');
  assert.deepEqual(report!.rules, []);
  assert.deepEqual(report!.worst.map((w) => [w.cell, w.support]), [[CELLS[0], 56], [CELLS[1], 255], [CELLS[2], 198], [CELLS[3], 1002]]);

  const one = await fetch(`${env.url}/api/reports/evaluate-file?intersections=format`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.tokens.operator}`, 'content-type': 'text/csv' },
    body: content,
  });
  assert.equal(one.status, 400);
  assert.match(await one.text(), /an intersection is two columns/);
  const unknown = await fetch(`${env.url}/api/reports/evaluate-file?intersections=format,language`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.tokens.operator}`, 'content-type': 'text/csv' },
    body: content,
  });
  assert.equal(unknown.status, 400);
  assert.match(await unknown.text(), /--intersections names 'language', which is not a column/);
});

test("a policy's intersection rule gets its cells without being asked; retrain eval --intersections shows the same and exits 6 on the failed gate", () => {
  const policy = gatePolicySchema.parse({
    rules: [
      { kind: 'bound', id: 'format-accuracy', metric: 'accuracy', slices: { attribute: 'format', value: '*' }, min: 0.93 },
      { kind: 'bound', id: 'generic-tld-accuracy', metric: 'accuracy', slices: { attribute: 'sender_tld', value: 'generic' }, min: 0.93 },
      { kind: 'bound', id: 'html-generic', metric: 'accuracy', slices: { attributes: { format: 'html', sender_tld: 'generic' } }, min: 0.93 },
    ],
  });
  const local = evaluatePredictionsFile(content, { slices: ['format', 'sender_tld'], policy, B: 20 });
  assert.deepEqual(local.packet.judgement.rules.map((r) => [r.id, r.outcome]), [
    ['format-accuracy', 'passed'],
    ['generic-tld-accuracy', 'passed'],
    ['html-generic', 'failed'],
  ]);
  const report = local.packet.intersections![0]!;
  assert.deepEqual(report.rules, ['html-generic']);
  assert.deepEqual(report.worst.find((w) => w.cell === CELLS[1])!.outcome, 'failed');

  const dir = mkdtempSync(path.join(tmpdir(), 'retrain-eval-'));
  const policyFile = path.join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(policy));
  const cli = path.join(import.meta.dirname, '..', '..', 'bin', 'retrain.ts');
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', cli, 'eval', FILE, '--slices', 'format,sender_tld', '--bootstrap', '20', ...args], { encoding: 'utf8' });
  const json = run('--policy', policyFile, '--intersections', 'format,sender_tld', '--json');
  assert.equal(json.status, 6, json.stderr);
  const doc = JSON.parse(json.stdout) as { intersections: typeof local.packet.intersections };
  assert.deepEqual(doc.intersections, JSON.parse(JSON.stringify(local.packet.intersections)));
  const table = run('--policy', policyFile);
  assert.match(table.stdout, /Worst cells of format × sender_tld by accuracy \(lowest lower bound; judged by html-generic; 5 cells, 1 below minimum support\)/);
  assert.match(table.stdout, /format=html&sender_tld=generic\s+255\s+95\.7 \[ 92\.4, 97\.6\]\s+failed/);
  const bad = run('--intersections', 'format,format');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--intersections 'format,format' names format twice/);
});
