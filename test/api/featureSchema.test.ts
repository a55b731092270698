// A model declares its trainer and its features, and both are checked at the edge, through real HTTP:
// params against the trainer's JSON Schema (ajv), feature kinds against what the trainer supports,
// examples against the feature schema. Each refusal is a 400 naming the field (and the example) and
// leaves the database as it was: every table's row count, and no row inserted or updated. Runs on
// PGlite, and on PostgreSQL with DATABASE_URL. No worker: the run started here is terminated unrun.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { eq } from 'drizzle-orm';
import { examples, modelVersions, models, runs } from '../../db/schema';
import { upsertTrainer } from '../../db/trainers';
import { assertNothingWritten, fingerprint } from '../caller';
import { startTestEnv, uid, type TestEnv } from '../helpers';

let env: TestEnv;
const suffix = uid();
const trainer = `acme/tabular-${suffix}`;
const queue = `tabular-${suffix}`;
const features = [
  { name: 'age', kind: 'number' as const },
  { name: 'workclass', kind: 'category' as const, missing: true },
  { name: 'married', kind: 'boolean' as const },
];
const paramsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { C: { type: 'number', exclusiveMinimum: 0 }, maxDepth: { type: 'integer', minimum: 1 }, estimator: { enum: ['logistic', 'gbm'] } },
};

before(async () => {
  env = await startTestEnv({ worker: false });
  // Registered directly (trainers.register, which asks a live worker, is test/api/trainers.test.ts).
  await upsertTrainer(env.services.opened.db, {
    description: { contractVersion: 1, name: trainer, version: '2.0.1', codeDigest: `sha256:${'cd'.repeat(32)}`, paramsSchema, labelSets: ['binary'], featureKinds: ['number', 'category', 'boolean'] },
    taskQueue: queue,
    registeredBy: 'test',
  });
});
after(async () => {
  await env?.stop();
});

const db = () => env.services.opened.db;

/** The call fails with 400 whose message says every one of `names`, and nothing is written. */
async function refused(call: () => Promise<unknown>, names: (string | RegExp)[], what: string): Promise<string> {
  const before = await fingerprint(db());
  let message = '';
  try {
    await call();
    assert.fail(`${what}: accepted`);
  } catch (err) {
    assert.ok(err instanceof TRPCClientError, `${what}: ${String(err)}`);
    assert.equal((err.data as { httpStatus?: number; code: string }).code, 'BAD_REQUEST', `${what}: ${err.message}`);
    message = err.message;
  }
  for (const n of names) assert.match(message, typeof n === 'string' ? new RegExp(n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : n, `${what}: ${message}`);
  await assertNothingWritten(db(), before, what);
  return message;
}

const count = async (table: typeof models | typeof examples | typeof runs) => (await db().select().from(table)).length;

test('a model declares its trainer, params and features; get and list show them', async () => {
  const name = `adult-${suffix}`;
  await env.clients.operator.models.register.mutate({ name, trainer: { name: trainer, params: { C: 0.5, maxDepth: 3 }, timeToStartSeconds: 45 }, features });
  const [row] = await db().select().from(models).where(eq(models.name, name));
  assert.equal(row?.trainerName, trainer);
  assert.equal(row?.trainerQueue, queue, "the trainer's registered queue");
  assert.deepEqual(row?.trainerParams, { C: 0.5, maxDepth: 3 });
  assert.equal(row?.trainerTimeToStartSeconds, 45);
  assert.deepEqual(row?.featureSchema, features.map((f) => ({ missing: false, ...f })));

  const got = await env.clients.viewer.models.get.query({ name });
  assert.deepEqual(got.trainer, { name: trainer, taskQueue: queue, params: { C: 0.5, maxDepth: 3 }, timeToStartSeconds: 45 });
  assert.deepEqual(got.features, row?.featureSchema);
  const listed = (await env.clients.viewer.models.list.query()).find((m) => m.name === name);
  assert.deepEqual(listed?.trainer, got.trainer);

  // Without a trainer: the built-in one on the control plane's training queue, no params, text fields.
  const plain = `plain-${suffix}`;
  await env.clients.operator.models.register.mutate({ name: plain });
  const p = await env.clients.viewer.models.get.query({ name: plain });
  assert.deepEqual(p.trainer, { name: 'builtin/hashed-logreg', taskQueue: env.services.taskQueues.training, params: {}, timeToStartSeconds: 600 });
  assert.equal(p.features, null);
});

test('bad params, an unregistered trainer and unsupported feature kinds are 400s naming the field, and nothing is written', async () => {
  const op = env.clients.operator;
  const name = `refused-${suffix}`;
  const modelsBefore = await count(models);
  await refused(() => op.models.register.mutate({ name, trainer: { name: trainer, params: { C: 0 } }, features }), ['trainer.params.C must be > 0', trainer], 'C = 0');
  await refused(() => op.models.register.mutate({ name, trainer: { name: trainer, params: { gamma: 1 } }, features }), ["trainer.params.gamma is not a param the trainer's schema allows"], 'an unknown param');
  await refused(() => op.models.register.mutate({ name, trainer: { name: trainer, params: { maxDepth: 1.5, estimator: 'svm' } }, features }), ['trainer.params.maxDepth must be integer', 'trainer.params.estimator must be one of'], 'two bad params');
  await refused(() => op.models.register.mutate({ name, trainer: { name: 'acme/unheard-of' }, features }), ["trainer 'acme/unheard-of' is not registered", 'trainers.register'], 'an unregistered trainer');
  await refused(
    () => op.models.register.mutate({ name, trainer: { name: trainer }, features: [...features, { name: 'notes', kind: 'text' }] }),
    ['features:', 'not text (notes)'],
    'a text feature for a trainer of numbers, categories and booleans',
  );
  await refused(() => op.models.register.mutate({ name, trainer: { name: trainer } }), ['features:', 'text ((text fields))'], 'no feature schema (text fields) for a trainer without text');
  // The built-in trainer takes text: before its worker registers it, nothing about it can be checked; after, the kinds are refused.
  await refused(() => op.models.register.mutate({ name, features }), [/^features: trainer 'builtin\/hashed-logreg' supports|^trainer.name: the built-in trainer 'builtin\/hashed-logreg' is not registered yet/], 'number features for the built-in trainer');
  await refused(() => op.models.register.mutate({ name, trainer: { name: trainer, timeToStartSeconds: 4 } as never, features }), ['timeToStartSeconds'], 'a time-to-start under 5 s');
  assert.equal(await count(models), modelsBefore, 'no model row');
});

test('examples are checked against the feature schema: one bad value refuses the whole batch, naming index, externalId and field', async () => {
  const name = `examples-${suffix}`;
  await env.clients.operator.models.register.mutate({ name, trainer: { name: trainer }, features });
  const [m] = await db().select().from(models).where(eq(models.name, name));
  const rows = async () => (await db().select().from(examples).where(eq(examples.modelId, m!.id))).length;
  const ok = (externalId: string, input: Record<string, string | number | boolean | null> = { age: 39, workclass: 'State-gov', married: false }) => ({
    externalId,
    input,
    label: 1 as const,
    slices: { sex: 'Male' },
    split: 'train' as const,
  });
  const good = [ok('g-1'), ok('g-2', { age: 50.5, married: true }), ok('g-3', { age: 0, workclass: null, married: true })];
  assert.deepEqual(await env.clients.operator.models.importExamples.mutate({ name, examples: good }), { inserted: 3, duplicates: 0 });
  assert.equal(await rows(), 3);
  const [stored] = await db().select().from(examples).where(eq(examples.externalId, 'g-2'));
  assert.deepEqual(stored?.input, { age: 50.5, married: true }, 'numbers and booleans stored as JSON numbers and booleans');

  const cases: [string, Record<string, string | number | boolean | null>, string[]][] = [
    ['a number as a string', { age: '39', married: false }, ["field 'age'", 'finite number']],
    ['a boolean as a string', { age: 39, married: 'true' }, ["field 'married'", 'true or false']],
    ['a category as a number', { age: 39, workclass: 7, married: false }, ["field 'workclass'", 'a string']],
    ['an unknown field', { age: 39, married: false, income: 5 }, ["field 'income' is not in the model's feature schema"]],
    ['a required field missing', { age: 39 }, ["field 'married' is missing"]],
    ['null where missing is not allowed', { age: null, married: false }, ["field 'age' is null"]],
  ];
  for (const [what, input, names] of cases) {
    // A valid example first: all or nothing.
    await refused(() => env.clients.operator.models.importExamples.mutate({ name, examples: [ok(`n-${what}`), { ...ok('bad-1'), input }] }), ['examples[1]', "externalId 'bad-1'", ...names], what);
  }
  assert.equal(await rows(), 3, 'nothing of the refused batches');

  // A model without a feature schema takes strings only, as before.
  const plain = `text-only-${suffix}`;
  await env.clients.operator.models.register.mutate({ name: plain });
  await refused(
    () => env.clients.operator.models.importExamples.mutate({ name: plain, examples: [{ ...ok('t-1'), input: { subject: 'hi', body: 'there' } }, { ...ok('t-2'), input: { subject: 'hi', body: 3 } }] }),
    ['examples[1]', "externalId 't-2'", "field 'body' must be a string"],
    'a number for a text-only model',
  );
});

test('configureTrainer changes params and time-to-start under the same checks; runs.start merges its params over them, checked the same way', async () => {
  const name = `configured-${suffix}`;
  await env.clients.operator.models.register.mutate({ name, trainer: { name: trainer, params: { maxDepth: 3 } }, features, gatePolicy: { rules: [{ kind: 'human_approval' }] } });
  const changed = await env.clients.operator.models.configureTrainer.mutate({ name, trainer: { name: trainer, params: { maxDepth: 5, estimator: 'gbm' }, timeToStartSeconds: 900 } });
  assert.deepEqual(changed.trainer, { name: trainer, taskQueue: queue, params: { maxDepth: 5, estimator: 'gbm' }, timeToStartSeconds: 900 });
  // Params carry over when only the time-to-start changes.
  await env.clients.operator.models.configureTrainer.mutate({ name, trainer: { name: trainer, timeToStartSeconds: 60 } });
  const [row] = await db().select().from(models).where(eq(models.name, name));
  assert.deepEqual(row?.trainerParams, { maxDepth: 5, estimator: 'gbm' });
  assert.equal(row?.trainerTimeToStartSeconds, 60);

  await refused(() => env.clients.operator.models.configureTrainer.mutate({ name, trainer: { name: trainer, params: { C: -1 } } }), ['trainer.params.C must be > 0'], 'configure with C = -1');
  await refused(() => env.clients.operator.models.configureTrainer.mutate({ name, trainer: { name: 'builtin/hashed-logreg', params: { epochs: 3 } } }), ['builtin/hashed-logreg'], 'the built-in trainer before it is registered');

  const runsBefore = await count(runs);
  await refused(() => env.clients.operator.runs.start.mutate({ model: name, trainerParams: { C: 0 } }), ['trainerParams.C must be > 0'], 'a run with C = 0');
  await refused(() => env.clients.operator.runs.start.mutate({ model: name, trainerParams: { dropout: 0.1 } }), ["trainerParams.dropout is not a param the trainer's schema allows"], 'a run with an unknown param');
  assert.equal(await count(runs), runsBefore);

  const { runId } = await env.clients.operator.runs.start.mutate({ model: name, trainerParams: { C: 2 } });
  try {
    const [run] = await db().select().from(runs).where(eq(runs.id, runId));
    assert.deepEqual((run?.params as { trainerParams?: unknown }).trainerParams, { maxDepth: 5, estimator: 'gbm', C: 2 }, "the run's params over the model's");
    const started = await env.services.client.workflow.getHandle(runId).fetchHistory();
    const input = started.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
    assert.deepEqual(JSON.parse(Buffer.from(input!).toString('utf8')).trainerParams, { maxDepth: 5, estimator: 'gbm', C: 2 });
  } finally {
    await env.services.client.workflow.getHandle(runId).terminate('test over').catch(() => {});
  }
});

test('lineage names the trainer, its params, the artifact and the label sources, and is null-safe for a version from before the contract', async () => {
  const name = `lineage-${suffix}`;
  const { id: modelId } = await env.clients.operator.models.register.mutate({ name, trainer: { name: trainer }, features });
  const old = Buffer.from('pre-contract artifact bytes');
  await db().insert(modelVersions).values({ modelId, version: 1, trainer: 'hashed-logreg@1', params: { epochs: 3 }, artifact: old, artifactHash: `sha256:${'0'.repeat(64)}`, status: 'retired' });
  await db().insert(modelVersions).values({
    modelId,
    version: 2,
    trainer,
    params: { C: 0.5 },
    artifactHash: `sha256:${'1'.repeat(64)}`,
    artifactUri: 's3://acme-models/adult/v2.joblib',
    artifactSize: 123_456,
    trainerVersion: '2.0.1',
    codeDigest: `sha256:${'cd'.repeat(32)}`,
    trainerQueue: queue,
    labelSources: { import: 900, annotation: 80, feedback: 20 },
    status: 'candidate',
  });
  const v1 = await env.clients.viewer.models.lineage.query({ name, version: 1 });
  assert.deepEqual(v1.trainer, { name: 'hashed-logreg@1', version: null, codeDigest: null, taskQueue: null });
  assert.deepEqual(v1.artifact, { uri: null, sha256: `sha256:${'0'.repeat(64)}`, size: old.length });
  assert.equal(v1.labelSources, null);
  assert.deepEqual(v1.params, { epochs: 3 });

  const v2 = await env.clients.viewer.models.lineage.query({ name, version: 2 });
  assert.deepEqual(v2.trainer, { name: trainer, version: '2.0.1', codeDigest: `sha256:${'cd'.repeat(32)}`, taskQueue: queue });
  assert.deepEqual(v2.params, { C: 0.5 });
  assert.deepEqual(v2.artifact, { uri: 's3://acme-models/adult/v2.joblib', sha256: `sha256:${'1'.repeat(64)}`, size: 123_456 });
  assert.deepEqual(v2.labelSources, { import: 900, annotation: 80, feedback: 20 });
  assert.equal(v2.snapshot, null);
  assert.equal(v2.gate, null);
  assert.equal(v2.approval, null);
});
