// The HTTP adapter over the same router: tRPC at /trpc and REST at /api map refusals to status codes
// (400, 401, 403, 404, 409), read the bearer token from the Authorization header, and the OpenAPI
// document lists every procedure. What each procedure refuses is proven once, in-process, in
// badInput.test.ts; here only what HTTP adds. The server runs over the caller layer's database and
// stub Temporal: no procedure called here reaches a workflow.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { createApiClient } from '../../api/client';
import { appRouter, type AppRouter } from '../../api/router';
import { assertNothingWritten as nothingWritten, fingerprint as fingerprintOf, startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv & { url: string };
let model: string;
const validRunId = 'run-nobody-0000-abcdef';

before(async () => {
  const callerEnv = await startCallerEnv();
  env = Object.assign(callerEnv, { url: await callerEnv.serve() });
  model = `http-${uid()}`;
  await env.clients.operator.models.register.mutate({ name: model, description: 'http target' });
});
after(async () => {
  await env?.stop();
});

function example(externalId: string, label: 0 | 1 | null = 1) {
  return { externalId, input: { subject: 'hello', body: 'world' }, label, slices: {}, split: 'train' as const };
}
const withRule = (rule: Record<string, unknown>) => ({ minSliceSupport: 10, rules: [rule] });
const fingerprint = () => fingerprintOf(env.db);
const assertNothingWritten = (before: Awaited<ReturnType<typeof fingerprint>>, what: string) => nothingWritten(env.db, before, what);

async function expectError(call: () => Promise<unknown>, code: string, what: string): Promise<TRPCClientError<AppRouter>> {
  try {
    const result = await call();
    assert.fail(`${what}: expected ${code} but the call succeeded with ${JSON.stringify(result)?.slice(0, 300)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.ok(err instanceof TRPCClientError, `${what}: expected a TRPCClientError, got ${String(err)}`);
    assert.equal(err.data?.code, code, `${what}: expected ${code}, got ${err.data?.code}: ${err.message}`);
    return err as TRPCClientError<AppRouter>;
  }
}

async function rest(method: string, path: string, opts: { token?: string | null; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? env.tokens.admin : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${env.url}/api${path}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
  const text = await res.text();
  return { status: res.status, text };
}

describe('REST: bad input is HTTP 400 and writes nothing', () => {
  const restCases: { what: string; method: string; path: () => string; token: () => string; body?: () => unknown; field: string }[] = [
    { what: 'POST /models with a bad name', method: 'POST', path: () => '/models', token: () => env.tokens.operator, body: () => ({ name: 'Has Spaces' }), field: 'name' },
    { what: 'POST /models with an unknown key', method: 'POST', path: () => '/models', token: () => env.tokens.operator, body: () => ({ name: `ok-${uid()}`, colour: 'red' }), field: 'colour' },
    {
      what: 'PUT /models/{name}/policy with a proportion > 1',
      method: 'PUT',
      path: () => `/models/${model}/policy`,
      token: () => env.tokens.operator,
      body: () => ({ policy: withRule({ kind: 'no_regression', metric: 'accuracy', slices: 'overall', margin: 2 }) }),
      field: 'policy',
    },
    {
      what: 'POST /models/{name}/examples with label 2',
      method: 'POST',
      path: () => `/models/${model}/examples`,
      token: () => env.tokens.operator,
      body: () => ({ examples: [{ ...example('rest-1'), label: 2 }] }),
      field: 'examples',
    },
    { what: 'POST /models/{name}/rollback with a short reason', method: 'POST', path: () => `/models/${model}/rollback`, token: () => env.tokens.approver, body: () => ({ reason: 'x' }), field: 'reason' },
    { what: 'POST /runs with a bad model name', method: 'POST', path: () => '/runs', token: () => env.tokens.operator, body: () => ({ model: 'NOPE!' }), field: 'model' },
    { what: 'GET /runs?limit=0', method: 'GET', path: () => '/runs?limit=0', token: () => env.tokens.viewer, field: 'limit' },
    { what: 'GET /runs?limit=abc', method: 'GET', path: () => '/runs?limit=abc', token: () => env.tokens.viewer, field: 'limit' },
    { what: 'GET /runs/{runId} with a bad run id', method: 'GET', path: () => '/runs/not-a-run', token: () => env.tokens.viewer, field: 'runId' },
    { what: 'GET /models?foo=1 (unknown key)', method: 'GET', path: () => '/models?foo=1', token: () => env.tokens.viewer, field: 'foo' },
    { what: 'POST /gates/{runId}/approve with a short reason', method: 'POST', path: () => `/gates/${validRunId}/approve`, token: () => env.tokens.approver, body: () => ({ reason: 'k' }), field: 'reason' },
    { what: 'GET /reports/{runId} with a bad run id', method: 'GET', path: () => '/reports/RUN', token: () => env.tokens.viewer, field: 'runId' },
    { what: 'POST /admin/tokens with an unknown role', method: 'POST', path: () => '/admin/tokens', token: () => env.tokens.admin, body: () => ({ subject: `s-${uid()}`, role: 'root' }), field: 'role' },
    { what: 'DELETE /admin/tokens/abc', method: 'DELETE', path: () => '/admin/tokens/abc', token: () => env.tokens.admin, field: 'id' },
    {
      what: 'POST /audits with both cron and interval',
      method: 'POST',
      path: () => '/audits',
      token: () => env.tokens.operator,
      body: () => ({ model, spec: { cron: '0 3 * * *', interval: { everySeconds: 3600 } }, policy: { maxFprIncrease: 0.05, maxFairnessGap: 0.1 } }),
      field: 'spec',
    },
    { what: 'POST /audits/{id}/backfill with to before from', method: 'POST', path: () => '/audits/some-audit/backfill', token: () => env.tokens.operator, body: () => ({ from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }), field: 'to' },
    { what: 'GET /admin/audit-log?limit=100000', method: 'GET', path: () => '/admin/audit-log?limit=100000', token: () => env.tokens.admin, field: 'limit' },
  ];
  for (const c of restCases) {
    test(c.what, async () => {
      const before = await fingerprint();
      const res = await rest(c.method, c.path(), { token: c.token(), ...(c.body ? { body: c.body() } : {}) });
      assert.equal(res.status, 400, `${c.what}: ${res.text.slice(0, 400)}`);
      assert.ok(res.text.includes(c.field), `${c.what}: the body does not name '${c.field}': ${res.text.slice(0, 400)}`);
      await assertNothingWritten(before, c.what);
    });
  }
});


test('tRPC over HTTP: a bad input is 400 with the field-level errors the formatter adds', async () => {
  const client = createApiClient(env.url, env.tokens.operator);
  const before = await fingerprint();
  const err = await expectError(() => client.models.register.mutate({ name: 'Bad Name' }), 'BAD_REQUEST', 'models.register with a bad name');
  assert.equal(err.data?.httpStatus, 400);
  assert.ok(((err.data?.fieldErrors as Record<string, string[]> | undefined)?.name?.length ?? 0) > 0, `fieldErrors name 'name': ${JSON.stringify(err.data)}`);
  await assertNothingWritten(before, 'models.register with a bad name over tRPC');
});

test('tRPC: a body that is not JSON is 400 and writes nothing', async () => {
  const before = await fingerprint();
  const res = await fetch(`${env.url}/trpc/models.register`, { method: 'POST', headers: { authorization: `Bearer ${env.tokens.operator}`, 'content-type': 'application/json' }, body: '{"name": "half' });
  assert.equal(res.status, 400, await res.text());
  await assertNothingWritten(before, 'a tRPC body that is not JSON');
});

// trpc-to-openapi hands a JSON parse error on as an internal error; the server's REST edge parses the
// body first and answers 400 with what was wrong.
test('REST: a body that is not JSON is 400, says so, and writes nothing', async () => {
  const before = await fingerprint();
  const res = await fetch(`${env.url}/api/models`, { method: 'POST', headers: { authorization: `Bearer ${env.tokens.operator}`, 'content-type': 'application/json' }, body: '{"name": "half' });
  const text = await res.text();
  assert.equal(res.status, 400, text);
  assert.match(text, /not valid JSON/);
  await assertNothingWritten(before, 'a REST body that is not JSON');
});

describe('REST: what trpc-to-openapi would answer with a 500 is a 400 at the edge, and writes nothing', () => {
  const send = (method: string, path: string, body?: string, token: string | null = env.tokens.operator) =>
    fetch(`${env.url}/api${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
  const cases: [what: string, method: string, path: () => string, body: string | undefined, says: RegExp][] = [
    ['a truncated body', 'POST', () => '/models', '{"name":', /not valid JSON/],
    ['an empty body where fields are required', 'POST', () => '/models', '', /name/],
    ['a body that is only whitespace', 'POST', () => `/models/${model}/examples`, '  \n ', /examples/],
    ['a form body sent as JSON', 'POST', () => '/runs', 'model=x', /not valid JSON/],
    ['NaN', 'POST', () => '/models', '{"name":"nan-model","description":NaN}', /NaN or Infinity/],
    ['Infinity in a nested array', 'POST', () => `/models/${model}/feedback`, '{"events":[{"value":Infinity}]}', /NaN or Infinity/],
    ['-Infinity', 'PUT', () => `/models/${model}/policy`, '{"policy":{"minSliceSupport":-Infinity}}', /NaN or Infinity/],
    ['?constructor on a GET', 'GET', () => '/models?constructor=1', undefined, /'constructor'/],
    ['?__proto__ on a GET', 'GET', () => '/runs?__proto__=1', undefined, /'__proto__'/],
    ['?toString on a GET with path parameters', 'GET', () => `/models/${model}?toString=1`, undefined, /'toString'/],
    ['?hasOwnProperty on a POST', 'POST', () => '/models?hasOwnProperty=1', JSON.stringify({ name: `proto-${uid()}` }), /'hasOwnProperty'/],
    ['an encoded ?%5F%5Fproto%5F%5F on a POST', 'POST', () => '/runs?%5F%5Fproto%5F%5F=1', JSON.stringify({ model }), /'__proto__'/],
    ['a NUL in a field', 'POST', () => '/models', JSON.stringify({ name: `nul-${uid()}`, description: 'a\u0000b' }), /description/],
    ['a lone surrogate in an array element', 'POST', () => `/models/${model}/examples`, JSON.stringify({ examples: [example('ok-1'), { ...example('ok-2'), externalId: 'x\uD800' }] }), /externalId/],
    ['a NUL in a record value', 'POST', () => `/models/${model}/examples`, JSON.stringify({ examples: [{ ...example('ok-3'), input: { subject: '\u0000' } }] }), /subject/],
    ['a lone low surrogate in a record key', 'POST', () => `/models/${model}/examples`, JSON.stringify({ examples: [{ ...example('ok-4'), slices: { ['\uDC00k']: 'v' } }] }), /slices/],
    ['a NUL in a query value', 'GET', () => `/runs?model=${encodeURIComponent('a\u0000')}`, undefined, /cannot be stored/],
    ['a lone surrogate, UTF-8 encoded, in a path parameter', 'GET', () => '/models/m%ED%A0%80', undefined, /name/],
    ['a NUL in a path parameter', 'POST', () => '/models/a%00b/examples', JSON.stringify({ examples: [example('ok-5')] }), /name/],
    ['a malformed percent-escape in a path parameter', 'GET', () => '/models/m%E0%A4%A', undefined, /name/],
  ];
  for (const [what, method, path, body, says] of cases) {
    test(`${method} with ${what}: 400`, async () => {
      const before = await fingerprint();
      const res = await send(method, path(), body);
      const text = await res.text();
      assert.equal(res.status, 400, `${what}: ${text.slice(0, 400)}`);
      assert.match(text, says, `${what}: the message says what was wrong`);
      assert.equal((JSON.parse(text) as { code: string }).code, 'BAD_REQUEST');
      await assertNothingWritten(before, what);
    });
  }

  test('a malformed body without a token is 401: a caller without a token learns nothing about input', async () => {
    const res = await send('POST', '/models', '{"name":', null);
    assert.equal(res.status, 401, await res.text());
    assert.equal((await send('GET', '/models?constructor=1', undefined, 'rt_not-a-token')).status, 401);
  });

  test('an empty body where no field is required is no body: the path parameters are the input', async () => {
    const res = await send('GET', `/models/${model}`);
    assert.equal(res.status, 200);
    // A POST without a body needs no content type: the operation answers (here: no such audit), not a 415.
    const bare = await fetch(`${env.url}/api/audits/no-such-audit/trigger`, { method: 'POST', headers: { authorization: `Bearer ${env.tokens.operator}` } });
    assert.equal(bare.status, 404, await bare.text());
    // A method the REST face does not serve is 405 with Allow, not a failure of the adapter.
    // (fetch refuses to send TRACE, which is why the adapter, building a fetch Request, failed on it.)
    for (const path of ['/api/models', '/trpc/models.list']) {
      const trace = await new Promise<http.IncomingMessage>((resolve, reject) =>
        http.request(`${env.url}${path}`, { method: 'TRACE', headers: { authorization: `Bearer ${env.tokens.operator}` } }, resolve).on('error', reject).end(),
      );
      trace.resume();
      assert.equal(trace.statusCode, 405, `TRACE ${path}`);
      assert.match(String(trace.headers.allow), /POST/);
    }
  });

  test('tRPC over HTTP: NaN and a lone surrogate are 400 too', async () => {
    const before = await fingerprint();
    for (const body of ['{"name":"x","description":NaN}', JSON.stringify({ name: `s-${uid()}`, description: '\uD800' })]) {
      const res = await fetch(`${env.url}/trpc/models.register`, { method: 'POST', headers: { authorization: `Bearer ${env.tokens.operator}`, 'content-type': 'application/json' }, body });
      assert.equal(res.status, 400, await res.text());
    }
    await assertNothingWritten(before, 'tRPC bodies with NaN and a lone surrogate');
  });
});

describe('REST status codes and tokens', () => {
  test('no token: UNAUTHORIZED over tRPC, 401 over REST, nothing written', async () => {
    const anonymous = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${env.url}/trpc`, transformer: superjson })] });
    const before = await fingerprint();
    await expectError(() => anonymous.models.list.query(), 'UNAUTHORIZED', 'models.list without a token');
    await expectError(() => anonymous.models.register.mutate({ name: `anon-${uid()}` }), 'UNAUTHORIZED', 'models.register without a token');
    // Authentication comes before input validation: bad input without a token is still UNAUTHORIZED.
    await expectError(() => anonymous.runs.start.mutate({ model: 'BAD NAME' }), 'UNAUTHORIZED', 'runs.start without a token');
    const garbage = createApiClient(env.url, 'rt_not-a-real-token');
    await expectError(() => garbage.runs.list.query(), 'UNAUTHORIZED', 'runs.list with an unknown token');

    for (const [method, path] of [
      ['GET', '/models'],
      ['POST', '/runs'],
      ['GET', '/admin/audit-log'],
    ] as const) {
      const res = await rest(method, path, { token: null, ...(method === 'POST' ? { body: { model } } : {}) });
      assert.equal(res.status, 401, `${method} ${path} without a token: ${res.text.slice(0, 200)}`);
    }
    const malformed = await fetch(`${env.url}/api/models`, { headers: { authorization: `Token ${env.tokens.admin}` } });
    assert.equal(malformed.status, 401, 'a non-Bearer scheme is no token');
    await assertNothingWritten(before, 'calls without a token');
  });

  test('a revoked token is UNAUTHORIZED', async () => {
    const { admin } = env.clients;
    const created = await admin.admin.createToken.mutate({ subject: `revoked-${uid()}`, role: 'operator' });
    const client = createApiClient(env.url, created.token);
    assert.ok(Array.isArray(await client.models.list.query()), 'the token works before it is revoked');
    await admin.admin.revokeToken.mutate({ id: created.id });

    const before = await fingerprint();
    await expectError(() => client.models.list.query(), 'UNAUTHORIZED', 'models.list with a revoked token');
    await expectError(() => client.models.register.mutate({ name: `revoked-${uid()}` }), 'UNAUTHORIZED', 'models.register with a revoked token');
    const res = await rest('GET', '/models', { token: created.token });
    assert.equal(res.status, 401);
    await assertNothingWritten(before, 'calls with a revoked token');
    // Revoking twice: the token is no longer active.
    await expectError(() => admin.admin.revokeToken.mutate({ id: created.id }), 'NOT_FOUND', 'revoking a revoked token');
    assert.ok(!(await admin.admin.listTokens.query()).some((t) => t.id === created.id), 'not listed as active');
  });


  test('FORBIDDEN is 403, NOT_FOUND 404 (naming the model), CONFLICT 409', async () => {
    const before = await fingerprint();
    assert.equal((await rest('POST', '/runs', { token: env.tokens.viewer, body: { model } })).status, 403);
    assert.equal((await rest('POST', '/admin/tokens', { token: env.tokens.operator, body: { subject: `sneaky-${uid()}`, role: 'admin' } })).status, 403);
    const missing = `no-such-model-${uid()}`;
    const notFound = await rest('GET', `/models/${missing}`, { token: env.tokens.viewer });
    assert.equal(notFound.status, 404);
    assert.ok(notFound.text.includes(missing));
    assert.equal((await rest('POST', '/models', { token: env.tokens.operator, body: { name: model } })).status, 409);
    await assertNothingWritten(before, 'refused REST calls');
  });
});

// ---- the OpenAPI document ---------------------------------------------------------------------------

test('openapi.json lists a path and method for every procedure', async () => {
  const res = await fetch(`${env.url}/openapi.json`);
  assert.equal(res.status, 200);
  const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.match(doc.openapi, /^3\./);
  const expected: [string, string][] = [
    ['get', '/health'],
    ['get', '/session'],
    ['get', '/session/gate-eligibility/{runId}'],
    ['post', '/models'],
    ['get', '/models'],
    ['get', '/models/{name}'],
    ['put', '/models/{model}/policy'],
    ['get', '/models/{model}/policy'],
    ['get', '/models/{model}/policy/versions'],
    ['post', '/models/{name}/examples'],
    ['post', '/models/{name}/rollback'],
    ['post', '/runs'],
    ['get', '/runs'],
    ['get', '/runs/{runId}'],
    ['get', '/runs/{runId}/wait'],
    ['get', '/gates'],
    ['post', '/gates/{runId}/approve'],
    ['post', '/gates/{runId}/reject'],
    ['get', '/reports/{runId}'],
    ['post', '/reports/evaluate-file'],
    ['post', '/models/{model}/feedback'],
    ['post', '/gates/{runId}/dry-run'],
    ['post', '/admin/tokens'],
    ['get', '/admin/tokens'],
    ['delete', '/admin/tokens/{id}'],
    ['get', '/admin/audit-log'],
    ['get', '/models/{name}/serving'],
    ['post', '/models/{name}/predict'],
    ['post', '/models/{name}/predictions'],
    ['put', '/annotation/annotators/{subject}'],
    ['get', '/models/{model}/annotation-spec'],
    ['put', '/models/{model}/annotation-spec'],
    ['post', '/annotation/tasks/next'],
    ['post', '/annotation/tasks/{taskId}/label'],
    ['post', '/annotation/tasks/{taskId}/skip'],
    ['get', '/annotation/batches/{batchId}'],
    ['get', '/models/{model}/annotation-batches'],
    ['get', '/annotation/batches/{batchId}/labels'],
    ['get', '/models/{model}/feedback/health'],
    ['put', '/models/{model}/feedback/labelling'],
    ['get', '/models/{model}/feedback/labelling'],
    ['get', '/models/{model}/annotators'],
    ['get', '/models/{model}/annotation-pool-bias'],
    ['get', '/reports/{runId}/saturation'],
    ['get', '/models/{name}/resolve'],
    ['get', '/models/{name}/review'],
    ['get', '/models/{name}/abstain-report'],
    ['get', '/runs/{runId}/rollout'],
    ['post', '/runs/{runId}/rollout/rollback'],
    ['post', '/runs/{runId}/rollout/promote-now'],
    ['post', '/runs/{runId}/rollout/pause'],
    ['post', '/runs/{runId}/rollout/resume'],
    ['get', '/models/{name}/versions/{version}'],
    ['post', '/audits'],
    ['get', '/audits'],
    ['get', '/audits/{id}'],
    ['post', '/audits/{id}/pause'],
    ['post', '/audits/{id}/resume'],
    ['post', '/audits/{id}/trigger'],
    ['post', '/audits/{id}/backfill'],
    ['delete', '/audits/{id}'],
    ['get', '/models/{model}/audit-reports'],
    ['get', '/audit-reports/{reportId}'],
    ['get', '/models/{model}/alerts'],
    ['get', '/webhooks/destinations'],
    ['post', '/webhooks/destinations'],
    ['delete', '/webhooks/destinations/{id}'],
    ['get', '/webhooks/check'],
    ['post', '/models/{name}/trainer'],
    ['post', '/trainers'],
    ['get', '/trainers'],
    ['get', '/trainers/{name}'],
    // The trainer contract's data plane (api/trainerData.ts, streamed outside tRPC).
    ['get', '/trainer/snapshots/{snapshotId}/examples'],
    ['put', '/trainer/score-sets/{jobKey}'],
    ['put', '/trainer/artifacts/{sha256}'],
    ['get', '/trainer/artifacts/{sha256}'],
  ];
  for (const [method, path] of expected) {
    assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is missing from openapi.json (paths: ${Object.keys(doc.paths).join(', ')})`);
  }
  // And, derived from the router itself, so a new procedure without an OpenAPI route is caught.
  for (const [name, procedure] of Object.entries(appRouter._def.procedures)) {
    const meta = (procedure as { _def: { meta?: { openapi?: { method: string; path: string } } } })._def.meta?.openapi;
    assert.ok(meta, `${name} has no openapi meta`);
    assert.ok(doc.paths[meta.path]?.[meta.method.toLowerCase()], `${name}: ${meta.method} ${meta.path} is missing from openapi.json`);
  }
  assert.equal(Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0), expected.length, 'no unexpected operations');
});
