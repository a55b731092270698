// Bad input never gets a 5xx, proven two ways against the served REST API (real database, real Temporal,
// no worker: nothing the fuzzer starts ever runs):
//  1. a deterministic batch of malformed requests, the categories that used to reach a 500 (a body that
//     is not JSON, NaN/Infinity, query keys named on Object.prototype, NUL and lone surrogates in a field,
//     an array element, a record value or key, a path parameter), sent to every operation the OpenAPI
//     document lists: each is a 4xx and the database is exactly as it was (every table's row count, and
//     no row inserted or updated: test/caller.ts's fingerprint);
//  2. Schemathesis, the property-based fuzzer, from PyPI (pinned, installed once under .data/), over every
//     operation of /openapi.json with an admin token: no server error, every status declared, every
//     response body conforming to the document.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { issueToken } from '../../db/tokens';
import { runPip } from '../../temporal-config/pip';
import { assertNothingWritten, fingerprint } from '../caller';
import { startTestEnv, uid, type TestEnv } from '../helpers';

const SCHEMATHESIS = 'schemathesis==4.32.5';
const TARGET = path.resolve('.data', `pip-${SCHEMATHESIS.replace('==', '-')}`);
const WORK_DIR = path.resolve('.data', 'schemathesis');
/**
 * Test cases per operation in the fuzzing phase. The coverage phase (boundary and negative values of every
 * parameter and property, unexpected methods) does not depend on it and is most of the ~6,500 requests.
 */
const MAX_EXAMPLES = 5;
const SEED = 20261206;

let env: TestEnv;
/** The fuzzer's admin token. It reads token ids from GET /admin/tokens; admin.revokeToken refuses to revoke the token in use, so the run keeps its identity. */
let token: string;
const subject = `fuzz-${uid()}`;
let doc: { paths: Record<string, Record<string, object>> };

before(async () => {
  // No worker: runs the fuzzer starts stay queued on their own task queues, and nothing trains. A Temporal
  // of its own: the fuzzer follows the API's links, so from GET /audits it pauses, triggers and deletes
  // every schedule it is shown, and on a shared server that was other test files' audits (the console's
  // audits test lost its schedule to it mid-test in CI). Its server, and all it started, stop with it.
  env = await startTestEnv({ worker: false, temporalAddress: undefined });
  const db = env.services.opened.db;
  token = (await issueToken(db, { subject, role: 'admin', createdBy: 'fuzz.test' })).token;
  doc = (await (await fetch(`${env.url}/openapi.json`)).json()) as typeof doc;
});
after(async () => {
  await env?.stop();
});

// ---- 1. malformed requests to every operation: 4xx, and nothing written --------------------------------

interface Malformed {
  what: string;
  method: string;
  path: string;
  body?: string;
  /** Acceptable statuses: the edge's 400, or what the route itself says before reading input. */
  expect: number[];
}

const PROTOTYPE_KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
const UNSTORABLE: [string, string][] = [
  ['a NUL', 'a\u0000b'],
  ['a lone high surrogate', 'a\uD800b'],
  ['a lone low surrogate', '\uDC00'],
];

/** Percent-encodes as a client would put it on the wire: a lone surrogate as the three bytes of its code point (encodeURIComponent throws on it). */
function percentEncode(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else out += encodeURIComponent(ch);
  }
  return out;
}

function malformedRequests(): Malformed[] {
  const out: Malformed[] = [];
  for (const [template, operations] of Object.entries(doc.paths)) {
    for (const method of Object.keys(operations)) {
      const M = method.toUpperCase();
      const path = template.replace(/\{[^}]+\}/g, 'x1');
      const name = `${M} ${template}`;
      // trpc-to-openapi reads the input of every method but GET and DELETE from a JSON body, declared or not.
      const withBody = M !== 'GET' && M !== 'DELETE';
      for (const key of PROTOTYPE_KEYS) out.push({ what: `${name} ?${key}=1`, method: M, path: `${path}?${key}=1`, ...(withBody ? { body: '{}' } : {}), expect: [400] });
      for (const [what, s] of UNSTORABLE) {
        // In a path parameter: trpc-to-openapi does not decode it, so it arrives percent-encoded and is refused by
        // the parameter's pattern (400) or found nowhere (404).
        if (template.includes('{')) out.push({ what: `${name} with ${what} in a path parameter`, method: M, path: template.replace(/\{[^}]+\}/g, percentEncode(s)), ...(withBody ? { body: '{}' } : {}), expect: [400, 404] });
        if (!withBody) {
          out.push({ what: `${name} with ${what} in a query value`, method: M, path: `${path}?probe=${percentEncode(s)}`, expect: [400] });
          continue;
        }
        // JSON.stringify writes lone surrogates as \u escapes: the body is valid JSON and the string reaches the API.
        out.push({ what: `${name} with ${what} in a field`, method: M, path, body: JSON.stringify({ probe: s }), expect: [400] });
        out.push({ what: `${name} with ${what} in an array element`, method: M, path, body: JSON.stringify({ probe: ['ok', { deeper: [s] }] }), expect: [400] });
        out.push({ what: `${name} with ${what} in a record value`, method: M, path, body: JSON.stringify({ probe: { key: s } }), expect: [400] });
        out.push({ what: `${name} with ${what} in a record key`, method: M, path, body: JSON.stringify({ probe: { [s]: 1 } }), expect: [400] });
      }
      if (!withBody) continue;
      for (const [what, body] of [
        ['a truncated body', '{"name":'],
        ['a body that is not JSON', 'name=x'],
        ['NaN', '{"probe":NaN}'],
        ['Infinity', '{"probe":Infinity}'],
        ['-Infinity', '{"probe":[-Infinity]}'],
      ] as const) {
        out.push({ what: `${name} with ${what}`, method: M, path, body, expect: [400] });
      }
    }
  }
  return out;
}

test('malformed requests to every operation are refused with a 4xx, and the database is unchanged', async (t) => {
  const requests = malformedRequests();
  const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
  assert.ok(operations >= 50, `the document lists ${operations} operations`);
  const db = env.services.opened.db;
  const before = await fingerprint(db);
  const wrong: string[] = [];
  for (const r of requests) {
    const res = await fetch(`${env.url}/api${r.path}`, {
      method: r.method,
      headers: { authorization: `Bearer ${token}`, ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(r.body !== undefined ? { body: r.body } : {}),
    });
    const text = await res.text();
    if (!r.expect.includes(res.status)) wrong.push(`${r.what}: ${res.status} ${text.slice(0, 200)}`);
  }
  t.diagnostic(`${requests.length} malformed requests over ${operations} operations`);
  assert.deepEqual(wrong, [], `${wrong.length} of ${requests.length} malformed requests got an unexpected status`);
  await assertNothingWritten(db, before, 'the malformed requests');
});

// ---- 2. Schemathesis over the whole document --------------------------------------------------------------

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number }): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Schemathesis under .data/, installed by pip --target (no venv: Debian's python3 may lack it; --target also skips PEP 668's refusal). */
async function installSchemathesis(): Promise<void> {
  if (existsSync(path.join(TARGET, 'schemathesis', '__init__.py'))) return;
  mkdirSync(path.dirname(TARGET), { recursive: true });
  rmSync(TARGET, { recursive: true, force: true });
  const log: string[] = [];
  const { code, tail } = await runPip('python3', ['install', '--disable-pip-version-check', '--no-input', '--quiet', '--target', TARGET, SCHEMATHESIS], (m) => log.push(m));
  assert.equal(code, 0, `pip install ${SCHEMATHESIS} into ${TARGET} failed: ${tail.join(' | ')}`);
}

interface Report {
  running_time: number;
  operations: { total: number; selected: number; tested: number };
  test_cases: { generated: number; with_failures: number; errored: number };
  failures: { code: string; title: string; count: number; operations: string[] }[];
  errors: { title: string; count: number }[];
  phases: Record<string, { status: string }>;
}

test('Schemathesis: every operation, no server error, every response as the document declares', { timeout: 15 * 60_000 }, async (t) => {
  await installSchemathesis();
  mkdirSync(WORK_DIR, { recursive: true });
  const reportPath = path.join(WORK_DIR, `report-${uid()}.json`);
  const started = Date.now();
  const { code, out } = await run(
    'python3',
    [
      '-m',
      'schemathesis.cli',
      'run',
      `${env.url}/openapi.json`,
      '--header',
      `Authorization: Bearer ${token}`,
      '--checks',
      'not_a_server_error,status_code_conformance,response_schema_conformance',
      '--max-examples',
      String(MAX_EXAMPLES),
      '--seed',
      String(SEED),
      // Above runs.wait's longest long-poll (60 s): a wait on a run that does not move answers only then.
      '--request-timeout',
      '65',
      '--no-color',
      '--report',
      'json',
      '--report-json-path',
      reportPath,
    ],
    // Run in .data/schemathesis: its cache and Hypothesis's example database (which replays earlier failures first) live there.
    { env: { ...process.env, PYTHONPATH: TARGET, SCHEMATHESIS_TELEMETRY: 'false' }, cwd: WORK_DIR, timeoutMs: 12 * 60_000 },
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  assert.ok(existsSync(reportPath), `Schemathesis wrote no report (exit ${code}):\n${out.slice(-4000)}`);
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as Report;
  rmSync(reportPath, { force: true });
  const operations = `${report.operations.tested}/${report.operations.total}`;
  const failures = report.failures.reduce((n, f) => n + f.count, 0);
  const errors = report.errors.reduce((n, e) => n + e.count, 0);
  const totals = `Schemathesis: ${operations} operations, ${report.test_cases.generated} test cases, ${failures} failures, ${errors} errors, ${seconds}s (seed ${SEED}, ${MAX_EXAMPLES} examples per operation and phase)`;
  t.diagnostic(totals);
  const summary = out.slice(out.indexOf('=== FAILURES') >= 0 ? out.indexOf('=== FAILURES') - 40 : Math.max(0, out.length - 6000)).slice(0, 12000);
  assert.equal(failures, 0, `${totals}\n${report.failures.map((f) => `${f.code} ${f.title} x${f.count}: ${f.operations.join(', ')}`).join('\n')}\n${summary}`);
  assert.equal(errors, 0, `${totals}\n${summary}`);
  assert.equal(report.operations.tested, report.operations.total, `${totals}: every operation tested`);
  assert.equal(code, 0, `Schemathesis exited ${code}\n${summary}`);
});
