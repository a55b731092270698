// The error formatter shows Temporal's failures (typed TemporalFailure) and hides every other
// internal error, whatever its message says.
import superjson, { type SuperJSONResult } from 'superjson';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { createContextInner, publicProcedure, router, type ApiDeps } from '../../api/trpc';
import { temporalFailure, updateRefusal } from '../../api/workflowUpdates';

const probe = router({
  temporalRefused: publicProcedure.query(() => {
    throw temporalFailure('Temporal refused to start the run: connection refused', new Error('connection refused'));
  }),
  updateLost: publicProcedure.query(() => {
    throw updateRefusal(new Error('deadline exceeded'), 'the rollout pause');
  }),
  // Before, a message starting with 'Temporal' was shown whatever threw it.
  unexpected: publicProcedure.query(() => {
    throw new Error('Temporal-looking text from a database error: password=hunter2');
  }),
  // What postgres.js throws while PostgreSQL restarts (SQLSTATE 57P03), wrapped as drizzle wraps it.
  databaseDown: publicProcedure.query(() => {
    throw new Error('Failed query: select 1 from models', { cause: Object.assign(new Error('the database system is starting up'), { code: '57P03' }) });
  }),
  connectionRefused: publicProcedure.query(() => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  }),
  // A database error that is not about reaching it stays an internal error.
  constraint: publicProcedure.query(() => {
    throw new Error('Failed query', { cause: Object.assign(new Error('duplicate key value'), { code: '23505' }) });
  }),
});

async function errorOf(path: string): Promise<{ message: string; code: string; httpStatus: number }> {
  const res = await fetchRequestHandler({
    endpoint: '/trpc',
    req: new Request(`http://test/trpc/${path}`),
    router: probe,
    createContext: () => createContextInner({} as ApiDeps, null),
  });
  // The wire carries the error through the router's transformer (superjson), as a tRPC client reads it.
  const body = { error: superjson.deserialize<{ message: string; data: { code: string; httpStatus: number } }>(((await res.json()) as { error: SuperJSONResult }).error) };
  return { message: body.error.message, code: body.error.data.code, httpStatus: body.error.data.httpStatus };
}

test("Temporal's failures are shown with their message, as 500s", async () => {
  assert.deepEqual(await errorOf('temporalRefused'), {
    message: 'Temporal refused to start the run: connection refused',
    code: 'INTERNAL_SERVER_ERROR',
    httpStatus: 500,
  });
  assert.deepEqual(await errorOf('updateLost'), {
    message: 'the rollout pause could not be delivered: deadline exceeded',
    code: 'INTERNAL_SERVER_ERROR',
    httpStatus: 500,
  });
});

test('any other internal error is hidden, even when its message starts with Temporal', async () => {
  assert.deepEqual(await errorOf('unexpected'), { message: 'internal error: the server log has the details', code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 });
});

test('a database that cannot be reached is a 503 that says to retry, not a 500; other database errors stay 500s', async () => {
  for (const path of ['databaseDown', 'connectionRefused']) {
    const got = await errorOf(path);
    assert.deepEqual([got.code, got.httpStatus], ['SERVICE_UNAVAILABLE', 503], path);
    assert.match(got.message, /cannot be reached right now.*retry shortly/);
    assert.doesNotMatch(got.message, /5432|starting up|select/);
  }
  assert.deepEqual(await errorOf('constraint'), { message: 'internal error: the server log has the details', code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 });
});
