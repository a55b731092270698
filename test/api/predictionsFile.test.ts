// Bring-your-own-predictions files: good CSV and JSONL parse to typed arrays; bad ones name line and column.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PredictionsFileError, columnValues, parsePredictions, requireColumns } from '../../api/predictionsFile';

test('CSV with extra columns parses into labels, scores and string columns', () => {
  const t = parsePredictions('label,score,lang,source\n1,0.9,en,web\n0,0.1,de,\n0,0.45,en,app\n');
  assert.equal(t.rows, 3);
  assert.deepEqual([...t.labels], [1, 0, 0]);
  assert.deepEqual([...t.scores], [0.9, 0.1, 0.45]);
  assert.deepEqual(t.columnNames, ['lang', 'source']);
  assert.deepEqual(Object.fromEntries(t.columnNames.map((c) => [c, columnValues(t, c)])), { lang: ['en', 'de', 'en'], source: ['web', '', 'app'] });
  // Encoded as encodeAttribute encodes: values sorted, the narrowest code array.
  assert.deepEqual(t.attributes[0], { name: 'lang', codes: Uint8Array.from([1, 0, 1]), values: ['de', 'en'] });
});

test('JSONL is detected and parsed; the first object is the header', () => {
  const t = parsePredictions('{"label":1,"score":0.8,"group":"a"}\n\n{"label":0,"score":0.2,"group":"b"}\n', { fileName: 'p.jsonl' });
  assert.deepEqual([...t.labels], [1, 0]);
  assert.deepEqual(columnValues(t, 'group'), ['a', 'b']);
});

const fails = (text: string, pattern: RegExp, line: number | null, column: string | null, fileName?: string) =>
  assert.throws(
    () => parsePredictions(text, fileName ? { fileName } : {}),
    (err) => err instanceof PredictionsFileError && pattern.test(err.message) && err.line === line && err.column === column,
  );

test('bad files name the line and the column', () => {
  fails('label,score\n1,0.9\n2,0.5\n', /line 3, column label: label must be 0 or 1, got "2"/, 3, 'label');
  fails('label,score\n1,0.9\n0,1.5\n', /line 3, column score: score must be a number in \[0, 1\]/, 3, 'score');
  fails('label,score\n1,abc\n', /line 2, column score/, 2, 'score');
  fails('label,prob\n1,0.9\n', /no 'score' column \(found: label, prob\)/, 1, null);
  fails('label,score\n', /header but no rows/, null, null);
  fails('label,score,x\n1,0.5,a\n0,0.5\n', /line 3/, 3, null);
  fails('{"label":1,"score":0.5}\n{"label":1,"score":0.5\n', /line 2: not valid JSON/, 2, null, 'x.jsonl');
  fails('{"label":1,"score":0.5}\n[1,2]\n', /line 2: each line must be a JSON object/, 2, null, 'x.jsonl');
});

test('requireColumns names the missing column and lists what exists', () => {
  const t = parsePredictions('label,score,lang\n1,0.5,en\n');
  assert.throws(() => requireColumns(t, ['lang', 'country'], '--slices'), /--slices names 'country', which is not a column \(columns: lang\)/);
});
