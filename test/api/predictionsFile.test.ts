// Bring-your-own-predictions files: good CSV and JSONL parse to typed arrays; bad ones name line and column.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_JSONL_LINE, PredictionsFileError, columnValues, csvRecords, parsePredictions, requireColumns } from '../../api/predictionsFile';

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

test('CSV reads as csv-parse read it: quotes, doubled quotes, commas and line breaks inside quotes, CRLF, a BOM, blank lines, spaces', () => {
  const text = '\uFEFFlabel, score ,note,lang\r\n1,0.9,"a, b",en\r\n\r\n0 , 0.25 ,"say ""hi""", de\r\n1,1,"two\nlines",en\r\n0,0,,"x"\r\n';
  const t = parsePredictions(text);
  const { records } = csvRecords(text);
  assert.equal(t.rows, records.length);
  assert.deepEqual([...t.labels], records.map((r) => Number(r.record.label)));
  assert.deepEqual([...t.scores], records.map((r) => Number(r.record.score)));
  for (const c of ['note', 'lang']) assert.deepEqual(columnValues(t, c), records.map((r) => r.record[c]), c);
  assert.deepEqual(columnValues(t, 'note'), ['a, b', 'say "hi"', 'two\nlines', '']);
  // A line break inside a quoted field still counts: the row after it is on line 8.
  assert.throws(() => parsePredictions(`${text}2,0.5,x,y\r\n`), (err) => err instanceof PredictionsFileError && err.line === 8 && err.column === 'label');
  // Blank lines of spaces are skipped too, LF or CRLF.
  assert.equal(parsePredictions('label,score\n  \n1,0.5\n\t\r\n0,0.5').rows, 2);
});

test('malformed quoting names its line', () => {
  fails('label,score,x\n1,0.5,"open\n', /line 2: a quoted field is not closed/, 2, null);
  fails('label,score,x\n1,0.5,"a"b\n', /line 2: a quoted field is followed by "b"/, 2, null);
  fails('label,score,x\n1,0.5,a"b\n', /line 2: a quote inside an unquoted field/, 2, null);
});

test('only the columns asked for are kept; limits on rows and distinct values name what to do', () => {
  const t = parsePredictions('label,score,a,b\n1,0.5,x,y\n', { keep: (names) => names.filter((n) => n === 'b') });
  assert.deepEqual(t.columnNames, ['a', 'b']);
  assert.deepEqual(t.attributes.map((a) => a.name), ['b']);
  const ids = ['label,score,id', ...Array.from({ length: 30 }, (_, i) => `1,0.5,id${i}`)].join('\n');
  assert.throws(() => parsePredictions(ids, { maxDistinct: 20 }), /line 22, column id: column 'id' has more than 20 distinct values, too many to slice by: name the columns to slice by/);
  assert.equal(parsePredictions(ids, { maxDistinct: 20, keep: () => [] }).rows, 30, 'a column not kept is not counted');
  assert.throws(() => parsePredictions(ids, { maxRows: 10, keep: () => [] }), /line 12: more than 10 rows/);
  // Past 256 values the codes widen to two bytes; values stay sorted.
  const many = parsePredictions(['label,score,v', ...Array.from({ length: 300 }, (_, i) => `0,0.1,${299 - i}`)].join('\n'));
  const v = many.attributes[0]!;
  assert.ok(v.codes instanceof Uint16Array);
  assert.deepEqual(columnValues(many, 'v').slice(0, 3), ['299', '298', '297']);
  assert.deepEqual(v.values.slice(0, 3), ['0', '1', '10']);
});

test('a JSONL line longer than a record can need is refused before it is parsed', () => {
  const long = `{"label":1,"score":0.5,"x":[${'0,'.repeat(MAX_JSONL_LINE / 2)}0]}`;
  fails(`{"label":1,"score":0.5}\n${long}\n`, /line 2: the line has \d+ characters, more than the 1000000 a record may have/, 2, null, 'x.jsonl');
});
