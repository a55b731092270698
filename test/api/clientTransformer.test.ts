// The API client's transformer skips superjson's walk for inputs that are plain JSON already. What it sends
// must be what superjson sends: for every value here, plain or not, the wire form is superjson's own, and
// a value superjson refuses is still refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import superjson from 'superjson';
import { plainJson } from '../../api/client';

const shared = { a: 1 };
const sparse = [1, , 3];
class Point {
  constructor(public x: number) {}
}
const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { a: 'x' });
let deep: unknown = 'leaf';
for (let i = 0; i < 100; i++) deep = { d: deep };

const plain: [string, unknown][] = [
  ['a string', 'x'],
  ['null', null],
  ['a batch of events', { model: 'm', events: Array.from({ length: 50 }, (_, i) => ({ requestId: `r${i}`, kind: 'override', decision: i % 2, at: '2026-01-01T00:00:00.000Z', slices: { tld: 'com' } })) }],
  ['an object with no prototype', nullProto],
  ['zero and negative numbers', [0, -1.5, 1e300]],
];
const annotated: [string, unknown][] = [
  ['a Date', { at: new Date(0) }],
  ['undefined in an object', { a: undefined }],
  ['NaN', [NaN]],
  ['Infinity', { x: -Infinity }],
  ['-0', { x: -0 }],
  ['a Map', new Map([['a', 1]])],
  ['a Set', { s: new Set([1]) }],
  ['a bigint', { n: 10n }],
  ['an object reached twice', { p: shared, q: shared }],
];
/** Not annotated by superjson, but not walked by the check either: taking superjson's path costs only time. */
const toSuperjsonAnyway: [string, unknown][] = [
  ['a sparse array', sparse],
  ['a class instance (superjson sends an unregistered class as its fields)', { p: new Point(1) }],
  ['nesting deeper than the check walks', deep],
];
const refused: [string, unknown][] = [
  ['a __proto__ key', JSON.parse('{"a": {"__proto__": {"polluted": true}}}')],
  ['a constructor key', { a: { constructor: 1 } }],
  ['a prototype key', { prototype: 'x' }],
];

test('a plain JSON input goes over the wire as superjson sends it, with no annotations', () => {
  for (const [what, v] of plain) {
    assert.equal(plainJson(v), true, what);
    const sj = superjson.serialize(v);
    assert.equal(sj.meta, undefined, `${what}: superjson annotates nothing`);
    assert.equal(JSON.stringify({ json: v }), JSON.stringify(sj), what);
  }
});

test('an input superjson annotates takes superjson\'s path, so its annotations are kept', () => {
  for (const [what, v] of annotated) {
    assert.equal(plainJson(v), false, what);
    assert.notEqual(superjson.serialize(v).meta, undefined, `${what}: superjson annotates it`);
  }
  for (const [what, v] of toSuperjsonAnyway) assert.equal(plainJson(v), false, what);
});

test('an input with a key superjson refuses is refused still', () => {
  for (const [what, v] of refused) {
    assert.equal(plainJson(v), false, what);
    assert.throws(() => superjson.serialize(v), /prototype pollution/, what);
  }
});
