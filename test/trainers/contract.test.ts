// The contract's JSON Schemas (what a trainer in another language is written from) are the zod schemas
// the control plane checks with, written out: the committed files are what the generator writes today,
// they compile, and they accept what the control plane and the built-in trainer really send and answer.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { builtinDescription } from '../../trainers/builtin';
import { contractJsonSchemas, SCHEMA_DIR } from '../../trainers/contract/generate';

const ajv = new Ajv2020({ strict: false, allErrors: true });
const schemas = contractJsonSchemas();
const validator = (name: string) => ajv.getSchema(JSON.parse(schemas[`${name}.schema.json`]!).$id) ?? ajv.compile(JSON.parse(schemas[`${name}.schema.json`]!));

test('the committed JSON Schemas are the generated ones (npm run contract:schemas)', () => {
  for (const [file, text] of Object.entries(schemas)) {
    assert.equal(readFileSync(path.join(SCHEMA_DIR, file), 'utf8'), text, `${file} is stale`);
  }
  assert.equal(Object.keys(schemas).length, 8);
});

test("the built-in trainer's description follows describe.output, and its params schema compiles", () => {
  const valid = validator('describe.output');
  assert.ok(valid(builtinDescription), JSON.stringify(valid.errors));
  const params = ajv.compile(builtinDescription.paramsSchema);
  assert.ok(params({ epochs: 3, ngramMax: 1 }));
  assert.equal(params({ epochs: 0 }), false);
  assert.equal(params({ unknown: 1 }), false, 'no params outside the schema');
});

test('a train input and a score input as the control plane builds them follow the schemas; a wrong one does not', () => {
  const sha = `sha256:${'0'.repeat(64)}`;
  const model = { id: 1, name: 'm', features: [{ name: 'age', kind: 'number', missing: false }], labelSet: { kind: 'binary', labels: [0, 1] } };
  const train = {
    contractVersion: 1,
    jobKey: 'run-1/candidate',
    model,
    params: { C: 1 },
    seed: 1,
    data: { train: { url: 'http://127.0.0.1:4300/api/trainer/snapshots/1/examples?split=train', rows: 10, labelled: true } },
    artifactStore: { url: 'http://127.0.0.1:4300/api/trainer/artifacts' },
  };
  const trainOk = validator('train.input');
  assert.ok(trainOk(train), JSON.stringify(trainOk.errors));
  assert.equal(trainOk({ ...train, seed: -1 }), false);
  assert.equal(trainOk({ ...train, extra: 1 }), false, 'closed objects');
  const score = {
    contractVersion: 1,
    jobKey: 'run-1/score/v1/heldout',
    model,
    artifact: { uri: `retrain-store:${sha}`, sha256: sha, size: 10 },
    data: { examples: { url: 'http://127.0.0.1:4300/api/trainer/snapshots/1/examples?split=heldout', rows: 5, labelled: false } },
    scores: { url: 'http://127.0.0.1:4300/api/trainer/score-sets/run-1%2Fscore' },
    artifactStore: { url: 'http://127.0.0.1:4300/api/trainer/artifacts' },
  };
  const scoreOk = validator('score.input');
  assert.ok(scoreOk(score), JSON.stringify(scoreOk.errors));
  assert.equal(scoreOk({ ...score, artifact: { ...score.artifact, sha256: 'md5:x' } }), false);
  const line = validator('data.score-line');
  assert.ok(line({ exampleId: 3, score: 0.25 }));
  assert.equal(line({ exampleId: 3, score: 1.5 }), false);
});

test("the built-in trainer's name is the one the database defaults models to", async () => {
  const { BUILTIN_TRAINER_NAME } = await import('../../db/schema');
  assert.equal(builtinDescription.name, BUILTIN_TRAINER_NAME);
});
