// models.importExamples' shortcut past zod (api/schemas withPlainPath, plainExampleBatch): it may say yes
// only to what the zod schema accepts and returns equal, and must say yes to ordinary batches (or it saves
// nothing). Every input here goes both ways: through the schema alone and through the shortcut.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { importExamplesInput, MAX_IMPORT_BATCH } from '../../api/routers/models';
import { exampleInput, modelName, plainExampleBatch } from '../../api/schemas';

const zodOnly = z.strictObject({ name: modelName, examples: z.array(exampleInput).min(1).max(MAX_IMPORT_BATCH) });

const ok = (i: number): Record<string, unknown> => ({
  externalId: `row-${i}`,
  input: { text: `w${i} free`, n: i, ok: i % 2 === 0, none: null },
  label: i % 2 === 0 ? 1 : 0,
  slices: { lang: 'en', tld: 'edu' },
  split: i % 5 === 0 ? 'heldout' : 'train',
});

/** Ordinary batches: the shortcut must take these. */
const ordinary: [string, () => unknown][] = [
  ['a batch as the bench sends it', () => ({ name: 'spam-filter', examples: Array.from({ length: 50 }, (_, i) => ok(i)) })],
  ['label null, no slices, an observedAt with an offset', () => ({ name: 'm1', examples: [{ ...ok(1), label: null, slices: undefined, observedAt: '2026-03-01T10:00:00+02:00' }] })],
  ['no slices key at all', () => ({ name: 'm1', examples: [(({ slices: _, ...rest }) => rest)(ok(1))] })],
  ['the limits exactly', () => ({ name: 'm'.repeat(63), examples: [{ ...ok(1), externalId: 'x'.repeat(300), input: { ['k'.repeat(64)]: 't'.repeat(200_000) }, slices: { ['s'.repeat(64)]: 'v'.repeat(200) } }] })],
  ['empty input and slices', () => ({ name: 'm1', examples: [{ ...ok(1), input: {}, slices: {} }] })],
  ['the most examples a batch may have', () => ({ name: 'm1', examples: Array.from({ length: MAX_IMPORT_BATCH }, (_, i) => ok(i)) })],
];

const one = (change: Record<string, unknown>) => () => ({ name: 'm1', examples: [ok(0), { ...ok(1), ...change }] });
class Point {
  x = 1;
}
/** Unusual or bad inputs: the shortcut may pass these on only if zod would accept them unchanged. */
const unusual: [string, () => unknown][] = [
  ['label 2', one({ label: 2 })],
  ['label "1"', one({ label: '1' })],
  ['label true', one({ label: true })],
  ['label -0', one({ label: -0 })],
  ['label missing', () => ({ name: 'm1', examples: [(({ label: _, ...rest }) => rest)(ok(1))] })],
  ['split test', one({ split: 'test' })],
  ['externalId empty', one({ externalId: '' })],
  ['externalId 301 characters', one({ externalId: 'x'.repeat(301) })],
  ['externalId a number', one({ externalId: 7 })],
  ['an unknown key', one({ weight: 2 })],
  ['an unknown key set to undefined', one({ weight: undefined })],
  ['observedAt without an offset', one({ observedAt: '2026-03-01T10:00:00' })],
  ['observedAt a date alone', one({ observedAt: '2026-03-01' })],
  ['observedAt yesterday', one({ observedAt: 'yesterday' })],
  ['observedAt a number', one({ observedAt: 5 })],
  ['observedAt undefined', one({ observedAt: undefined })],
  ['input a string', one({ input: 'just text' })],
  ['input an array', one({ input: ['a'] })],
  ['input null', one({ input: null })],
  ['input without a prototype', one({ input: Object.assign(Object.create(null), { body: 'x' }) })],
  ['input a class instance', one({ input: new Point() })],
  ['input a Date', one({ input: new Date(0) })],
  ['an input field name of 65 characters', one({ input: { ['k'.repeat(65)]: 'x' } })],
  ['an input text of 200,001 characters', one({ input: { body: 't'.repeat(200_001) } })],
  ['an input text with a NUL', one({ input: { body: 'a\u0000b' } })],
  ['an input value NaN', one({ input: { n: NaN } })],
  ['an input value Infinity', one({ input: { n: Infinity } })],
  ['an input value an object', one({ input: { n: { deep: 1 } } })],
  ['an input value an array', one({ input: { n: [1] } })],
  ['an input value undefined', one({ input: { n: undefined } })],
  ['an input value a bigint', one({ input: { n: 1n } })],
  ['an input value a Date', one({ input: { n: new Date(0) } })],
  ['an input field __proto__ as JSON.parse makes it', () => JSON.parse(`{"name":"m1","examples":[{"externalId":"p","input":{"__proto__":"x"},"label":1,"slices":{},"split":"train"}]}`)],
  ['an example key __proto__ as JSON.parse makes it', () => JSON.parse(`{"name":"m1","examples":[{"externalId":"p","input":{},"label":1,"slices":{},"split":"train","__proto__":{}}]}`)],
  ['a slice value of 201 characters', one({ slices: { lang: 'v'.repeat(201) } })],
  ['a slice name of 65 characters', one({ slices: { ['s'.repeat(65)]: 'v' } })],
  ['a slice value a number', one({ slices: { lang: 3 } })],
  ['slices null', one({ slices: null })],
  ['slices an array', one({ slices: [] })],
  ['an example null', () => ({ name: 'm1', examples: [ok(0), null] })],
  ['an example an array', () => ({ name: 'm1', examples: [ok(0), [1]] })],
  ['an example a class instance', () => ({ name: 'm1', examples: [Object.assign(new Point(), ok(0))] })],
  ['a hole in the batch', () => ({ name: 'm1', examples: [ok(0), , ok(2)] })],
  ['an empty batch', () => ({ name: 'm1', examples: [] })],
  ['one example too many', () => ({ name: 'm1', examples: Array.from({ length: MAX_IMPORT_BATCH + 1 }, (_, i) => ok(i)) })],
  ['examples not an array', () => ({ name: 'm1', examples: { 0: ok(0) } })],
  ['a bad model name', () => ({ name: 'UPPER', examples: [ok(0)] })],
  ['no model name', () => ({ examples: [ok(0)] })],
  ['an unknown key beside name', () => ({ name: 'm1', examples: [ok(0)], dryRun: true })],
  ['the input null', () => null],
  ['the input an array', () => [ok(0)]],
];

for (const [what, make] of ordinary) {
  test(`the shortcut takes an ordinary batch: ${what}; what it passes on equals zod's output`, () => {
    const input = make();
    assert.equal(plainExampleBatch(input, MAX_IMPORT_BATCH), true, 'the shortcut says yes');
    const expected = zodOnly.parse(make());
    const got = importExamplesInput.parse(input);
    assert.equal(got, input, 'passed on as it is, not copied');
    assert.deepEqual(got, expected);
  });
}

for (const [what, make] of unusual) {
  test(`the shortcut never takes what zod would not take unchanged: ${what}`, () => {
    const byZod = zodOnly.safeParse(make());
    const input = make();
    const plain = plainExampleBatch(input, MAX_IMPORT_BATCH);
    if (plain) {
      assert.ok(byZod.success, `the shortcut took what zod refuses: ${byZod.error?.message}`);
      assert.deepEqual(input, byZod.data);
    }
    // Through the procedure's schema: the same answer as zod's, the same issues when refused.
    const viaShortcut = importExamplesInput.safeParse(make());
    const parsed = (() => {
      try {
        return { ok: true as const, data: importExamplesInput.parse(make()) };
      } catch (err) {
        return { ok: false as const, err };
      }
    })();
    assert.equal(parsed.ok, byZod.success, `accepted by the procedure's schema: ${parsed.ok}, by zod: ${byZod.success}`);
    if (!parsed.ok) {
      assert.ok(parsed.err instanceof z.ZodError, 'a refusal is a ZodError (a 400 with field errors)');
      assert.deepEqual(parsed.err.issues, byZod.error!.issues);
    } else assert.deepEqual(parsed.data, byZod.data);
    assert.equal(viaShortcut.success, byZod.success);
  });
}

test('the shortcut takes the bad cases only where zod accepts them unchanged (it is not a check that always says no)', () => {
  const taken = unusual.filter(([, make]) => plainExampleBatch(make(), MAX_IMPORT_BATCH)).map(([what]) => what);
  assert.deepEqual(taken, ['label -0', 'observedAt undefined']);
});
