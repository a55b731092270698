// A client in another language, generated from the API's own OpenAPI document: openapi-python-client (PyPI,
// pinned; installed once under .data/ with pip --target, no venv) generates a Python package from
// /openapi.json of a real stack, and python_job.py runs the whole job with it: register a model with a gate
// policy, import ~400 e-mails of the real corpus, run, wait with runs.wait, approve as a second person,
// promote, again for a second version, roll back. What is asserted is what the database holds afterwards
// and the job's exit code; its output stays in .data/ci/python-client-job.log.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { and, asc, eq } from 'drizzle-orm';
import { loadCorpus } from '../../demo/corpus';
import { approvals, deploymentEvents, models, modelVersions, routes, runs } from '../../db/schema';
import { runPip } from '../../temporal-config/pip';
import { startTestEnv, toExampleInputs, uid, type TestEnv } from '../helpers';

const GENERATOR = 'openapi-python-client==0.29.1';
/** The generated client's own runtime dependencies besides httpx and attrs (which the generator brings). */
const RUNTIME = ['python-dateutil==2.9.0.post0'];
const TARGET = path.resolve('.data', `pip-${GENERATOR.replace('==', '-')}`);
const WORK = path.resolve('.data', 'python-client');
const PACKAGE_DIR = path.join(WORK, 'retrain_client');
const LOG = path.resolve('.data', 'ci', 'python-client-job.log');

let env: TestEnv;
before(async () => {
  await installGenerator();
  env = await startTestEnv();
});
after(async () => {
  await env?.stop();
});

/** The generator under .data/ by pip --target (as test/api/fuzz.test.ts installs Schemathesis). */
async function installGenerator(): Promise<void> {
  if (existsSync(path.join(TARGET, 'openapi_python_client', '__init__.py')) && existsSync(path.join(TARGET, 'dateutil'))) return;
  mkdirSync(path.dirname(TARGET), { recursive: true });
  rmSync(TARGET, { recursive: true, force: true });
  const { code, tail } = await runPip('python3', ['install', '--disable-pip-version-check', '--no-input', '--quiet', '--target', TARGET, GENERATOR, ...RUNTIME], () => {});
  assert.equal(code, 0, `pip install ${GENERATOR} into ${TARGET} failed: ${tail.join(' | ')}`);
}

function run(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number; onLine?: (line: string) => void }) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (opts.onLine) for (const line of d.toString().split('\n')) if (line.trim()) opts.onLine(line);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

test('the generated Python client registers, imports, runs, approves as a second person, promotes and rolls back', { timeout: 600_000 }, async () => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  mkdirSync(path.dirname(LOG), { recursive: true });
  const docFile = path.join(WORK, 'openapi.json');
  const res = await fetch(`${env.url}/openapi.json`);
  assert.equal(res.status, 200);
  writeFileSync(docFile, await res.text());

  // The generator's own tools (ruff formats the package) on PATH; the package is PACKAGE_DIR itself (--meta none).
  const pyEnv = { ...process.env, PYTHONPATH: TARGET, PATH: `${path.join(TARGET, 'bin')}:${process.env.PATH ?? ''}` };
  const g0 = Date.now();
  const generated = await run('python3', ['-m', 'openapi_python_client', 'generate', '--path', docFile, '--output-path', PACKAGE_DIR, '--meta', 'none'], { env: pyEnv, cwd: WORK, timeoutMs: 180_000 });
  const generationMs = Date.now() - g0;
  // What the generator said (its warnings name every schema it could not parse and what it left out).
  writeFileSync(path.join(WORK, 'generate.log'), generated.out + generated.err);
  const missing = ['models/models_register', 'models/models_import_examples', 'models/models_rollback', 'runs/runs_start', 'runs/runs_wait', 'reports/reports_get', 'gates/gates_approve'].filter(
    (op) => !existsSync(path.join(PACKAGE_DIR, 'api', `${op}.py`)),
  );
  if (generated.code !== 0 || missing.length > 0) {
    writeFileSync(LOG, `# openapi-python-client generate: exit ${generated.code} after ${generationMs} ms; not generated: ${missing.join(', ') || 'none'}\n${generated.out}${generated.err}`);
  }
  assert.equal(generated.code, 0, `openapi-python-client could not read the document (${LOG}):\n${(generated.out + generated.err).slice(0, 4000)}`);
  // Every operation the job uses was generated (the generator leaves out, with a warning, what it cannot parse).
  assert.deepEqual(missing, [], `operations the generator left out (${path.join(WORK, 'generate.log')})`);

  // ~400 e-mails of the real corpus (every 15th: both classes, every sender slice), as models.importExamples takes them.
  const examplesFile = path.join(WORK, 'examples.json');
  const emails = loadCorpus().filter((_, i) => i % 15 === 0);
  writeFileSync(examplesFile, JSON.stringify(toExampleInputs(emails)));

  const model = `pyclient-${uid()}`;
  const lines: string[] = [];
  const j0 = Date.now();
  const job = await run('python3', [path.resolve('test', 'clients', 'python_job.py')], {
    env: {
      ...process.env,
      PYTHONPATH: `${WORK}:${TARGET}`,
      RETRAIN_API_URL: `${env.url}/api`,
      RETRAIN_OPERATOR_TOKEN: env.tokens.operator!,
      RETRAIN_APPROVER_TOKEN: env.tokens.approver!,
      RETRAIN_MODEL: model,
      RETRAIN_EXAMPLES: examplesFile,
    },
    timeoutMs: 480_000,
    onLine: (l) => lines.push(l),
  });
  const jobMs = Date.now() - j0;
  writeFileSync(LOG, `# openapi-python-client generate: ${generationMs} ms; job: ${jobMs} ms; ${emails.length} e-mails; exit ${job.code}\n${job.out}${job.err ? `# stderr\n${job.err}` : ''}`);
  assert.equal(job.code, 0, `python_job.py exited ${job.code}:\n${job.out}\n${job.err}`);
  const steps = lines.map((l) => JSON.parse(l) as { step: string; status: string; runs?: string[] });
  assert.deepEqual(
    steps.map((s) => s.step),
    ['register', 'import', ...[1, 2].flatMap((n) => [`run${n}.start`, `run${n}.wait-gate`, `run${n}.approve`, `run${n}.promote`]), 'rollback', 'job'],
  );

  // What the database holds: two runs, each started by the operator, approved by the approver (four eyes),
  // promoted; production back on the first version, the second rolled back by the approver.
  const db = env.services.opened.db;
  const [m] = await db.select().from(models).where(eq(models.name, model));
  assert.ok(m, `model ${model} registered`);
  const runRows = await db.select().from(runs).where(eq(runs.modelId, m.id)).orderBy(asc(runs.startedAt));
  assert.deepEqual(runRows.map((r) => r.id), steps.at(-1)!.runs);
  for (const r of runRows) {
    assert.equal(r.status, 'promoted');
    assert.match(r.requestedBy, /^operator-/);
    const [a] = await db.select().from(approvals).where(eq(approvals.runId, r.id));
    assert.equal(a?.decision, 'approved');
    assert.match(a!.approver, /^approver-/);
    assert.notEqual(a!.approver, r.requestedBy);
  }
  const versions = await db.select().from(modelVersions).where(eq(modelVersions.modelId, m.id)).orderBy(asc(modelVersions.version));
  assert.deepEqual(
    versions.map((v) => [v.version, v.runId, v.status]),
    [
      [1, runRows[0]!.id, 'production'],
      [2, runRows[1]!.id, 'rolled_back'],
    ],
  );
  const [route] = await db.select().from(routes).where(and(eq(routes.modelId, m.id), eq(routes.kind, 'production')));
  assert.equal(route!.versionId, versions[0]!.id);
  const events = await db.select().from(deploymentEvents).where(eq(deploymentEvents.modelId, m.id)).orderBy(asc(deploymentEvents.id));
  assert.deepEqual(
    events.map((e) => [e.action, e.toVersionId]),
    [
      ['promote', versions[0]!.id],
      ['promote', versions[1]!.id],
      ['rollback', versions[0]!.id],
    ],
  );
  assert.match(events[2]!.actor, /^approver-/);
  process.stderr.write(`python client: generated in ${generationMs} ms, job ran in ${jobMs} ms (log: ${LOG})\n`);
});
