// Examples against a model's feature schema, and params against a trainer's JSON Schema: the pure checks
// the API runs at the edge (analysis/featureSchema.ts, analysis/paramsSchema.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstExampleViolation, inputViolation, unsupportedFeatureKinds, type FeatureSpec } from '../../analysis/featureSchema';
import { checkParams, paramsSchemaProblem, paramsValidator } from '../../analysis/paramsSchema';

const adult: FeatureSpec[] = [
  { name: 'age', kind: 'number', missing: false },
  { name: 'workclass', kind: 'category', missing: true },
  { name: 'married', kind: 'boolean', missing: false },
  { name: 'notes', kind: 'text', missing: true },
];
const good = { age: 39, workclass: 'State-gov', married: false, notes: 'x' };

test('a value of each kind is accepted as its kind, and missing only where the schema allows it', () => {
  assert.equal(inputViolation(adult, good), null);
  assert.equal(inputViolation(adult, { age: 0, married: true }), null, 'optional fields may be left out');
  assert.equal(inputViolation(adult, { age: -1.5, married: true, workclass: null, notes: null }), null, 'or given as null');
});

test('each kind refuses the other types, naming the field', () => {
  const cases: [Record<string, string | number | boolean | null>, string, RegExp][] = [
    [{ ...good, age: '39' }, 'age', /number feature and must be a finite number, got "39"/],
    [{ ...good, age: true }, 'age', /finite number, got true/],
    [{ ...good, age: Number.NaN }, 'age', /finite number/],
    [{ ...good, age: Number.POSITIVE_INFINITY }, 'age', /finite number/],
    [{ ...good, married: 'yes' }, 'married', /boolean feature and must be true or false, got "yes"/],
    [{ ...good, married: 1 }, 'married', /true or false, got 1/],
    [{ ...good, workclass: 3 }, 'workclass', /category feature and must be a string/],
    [{ ...good, notes: false }, 'notes', /text feature and must be a string/],
    [{ ...good, married: null }, 'married', /is null, but the feature schema says it may not be missing/],
    [{ age: 1, workclass: 'x', notes: 'y' }, 'married', /field 'married' is missing/],
    [{ ...good, income: 5 }, 'income', /field 'income' is not in the model's feature schema \(its features: age, workclass, married, notes\)/],
  ];
  for (const [input, field, message] of cases) {
    const found = inputViolation(adult, input);
    assert.ok(found, `${JSON.stringify(input)} refused`);
    assert.equal(found.field, field);
    assert.match(found.problem, message);
    assert.match(found.problem, new RegExp(`'${field}'`), 'the problem names the field');
  }
});

test('without a feature schema every field is text: any other value is refused, naming the field', () => {
  assert.equal(inputViolation(null, { subject: 'hi', body: 'there' }), null);
  const found = inputViolation(null, { subject: 'hi', body: 3 });
  assert.equal(found?.field, 'body');
  assert.match(found!.problem, /must be a string \(this model declares no feature schema/);
  assert.equal(inputViolation(null, { subject: null })?.field, 'subject');
});

test('the first bad example of a batch is named by index and externalId', () => {
  const batch = [
    { externalId: 'a', input: good },
    { externalId: 'b', input: good },
    { externalId: 'c', input: { ...good, age: 'old' } },
    { externalId: 'd', input: { ...good, married: 'no' } },
  ];
  assert.deepEqual(firstExampleViolation(adult, batch.slice(0, 2)), null);
  const found = firstExampleViolation(adult, batch);
  assert.deepEqual({ index: found?.index, externalId: found?.externalId, field: found?.field }, { index: 2, externalId: 'c', field: 'age' });
});

test("feature kinds a trainer does not support are listed with the features that use them; a schema-less model uses text", () => {
  assert.deepEqual(unsupportedFeatureKinds(adult, ['number', 'category', 'boolean', 'text']), []);
  assert.deepEqual(unsupportedFeatureKinds(adult, ['number', 'category']), [
    { kind: 'boolean', features: ['married'] },
    { kind: 'text', features: ['notes'] },
  ]);
  assert.deepEqual(unsupportedFeatureKinds(null, ['text']), []);
  assert.deepEqual(unsupportedFeatureKinds(null, ['number']), [{ kind: 'text', features: ['(text fields)'] }]);
});

const sklearnParams = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  properties: {
    C: { type: 'number', exclusiveMinimum: 0 },
    estimator: { enum: ['logistic', 'gradient_boosting'] },
    maxDepth: { type: 'integer', minimum: 1, maximum: 32 },
    classWeights: { type: 'array', items: { type: 'number', minimum: 0 } },
  },
  required: ['estimator'],
};

test('params against a trainer schema: every problem named by its param, ajv compiling each schema once', () => {
  assert.deepEqual(checkParams(sklearnParams, { estimator: 'logistic', C: 0.5, maxDepth: 3 }), { ok: true, errors: [] });
  const check = checkParams(sklearnParams, { C: 0, maxDepth: 2.5, gamma: 1, classWeights: [1, -1] });
  assert.equal(check.ok, false);
  assert.deepEqual(new Set(check.errors), new Set([
    'params.estimator is required',
    "params.gamma is not a param the trainer's schema allows",
    'params.C must be > 0',
    'params.maxDepth must be integer',
    'params.classWeights[1] must be >= 0',
  ]));
  assert.deepEqual(checkParams(sklearnParams, { estimator: 'svm' }, 'trainer.params').errors, ['trainer.params.estimator must be one of ["logistic","gradient_boosting"]']);
  // Compiled once: a second schema object with the same text reuses the validator.
  assert.equal(paramsValidator(structuredClone(sklearnParams)), paramsValidator(sklearnParams));
  // Two trainers may share an $id without one refusing the other.
  assert.equal(paramsSchemaProblem({ $id: 'https://x/params', type: 'object' }), null);
  assert.equal(paramsSchemaProblem({ $id: 'https://x/params', type: 'object', properties: { a: { type: 'string' } } }), null);
});

test('a params schema that is not a JSON Schema is named as such', () => {
  assert.match(paramsSchemaProblem({ type: 'objekt' }) ?? '', /type/);
  assert.match(paramsSchemaProblem({ type: 'object', properties: { a: { minimum: 'zero' } } }) ?? '', /minimum/);
});
