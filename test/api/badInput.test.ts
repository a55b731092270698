// Bad input to every procedure gets BAD_REQUEST, names the field, and writes nothing. Plus the other
// refusals a client meets: no token (UNAUTHORIZED), wrong role (FORBIDDEN), unknown model (NOT_FOUND),
// duplicate model (CONFLICT). All through the router in-process (createCaller, errors shaped by the app's
// error formatter); the HTTP adapter's share (REST status codes, bearer tokens, the OpenAPI document)
// is test/api/http.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { TRPCError } from '@trpc/server';
import { eq } from 'drizzle-orm';
import type { ApiClient } from '../../api/client';
import { appRouter, type AppRouter } from '../../api/router';
import { assertNothingWritten as nothingWritten, fingerprint as fingerprintOf, startCallerEnv, type CallerEnv, type Who } from '../caller';
import { models } from '../../db/schema';
import { uid } from '../helpers';

let env: CallerEnv;
/** A registered model with a few examples, so "valid model, bad everything else" inputs reach their field check. */
let model: string;
const validRunId = 'run-nobody-0000-abcdef';
/** A well-formed packet hash (gates.approve requires the one the approver read). */
const anyHash = `sha256:${'0'.repeat(64)}`;

before(async () => {
  env = await startCallerEnv();
  model = `bad-input-${uid()}`;
  await env.clients.operator.models.register.mutate({ name: model, description: 'bad input target' });
  await env.clients.operator.models.importExamples.mutate({ name: model, examples: [example('seed-1'), example('seed-2', 0)] });
});
after(async () => {
  await env?.stop();
});

function example(externalId: string, label: 0 | 1 | null = 1) {
  return { externalId, input: { subject: 'hello', body: 'world' }, label, slices: {}, split: 'train' as const };
}

const goodPolicy = {
  minSliceSupport: 10,
  rules: [
    { kind: 'bound' as const, metric: 'fpr' as const, slices: 'overall' as const, max: 0.1 },
    { kind: 'human_approval' as const },
  ],
};
const withRule = (rule: Record<string, unknown>) => ({ ...goodPolicy, rules: [rule] });
const hourly = { interval: { everySeconds: 3600 } };
const reaudit = { maxFprIncrease: 0.05, maxFairnessGap: 0.1 };

const fingerprint = () => fingerprintOf(env.db);
const assertNothingWritten = (before: Awaited<ReturnType<typeof fingerprint>>, what: string) => nothingWritten(env.db, before, what);

// ---- error helpers -----------------------------------------------------------------------------------

type ClientError = TRPCClientError<AppRouter>;

async function expectError(call: () => Promise<unknown>, code: string, what: string): Promise<ClientError> {
  let result: unknown;
  try {
    result = await call();
  } catch (err) {
    assert.ok(err instanceof TRPCClientError, `${what}: expected a TRPCClientError, got ${String(err)}`);
    const e = err as ClientError;
    assert.equal(e.data?.code, code, `${what}: expected ${code}, got ${e.data?.code}: ${e.message}`);
    return e;
  }
  assert.fail(`${what}: expected ${code} but the call succeeded with ${JSON.stringify(result)?.slice(0, 300)}`);
}

/** The error names the field: a field-level message under its key, or the field's name in the message. */
function assertNamesField(err: ClientError, field: string, what: string) {
  const fieldErrors = err.data?.fieldErrors as Record<string, string[] | undefined> | undefined;
  const named = (fieldErrors?.[field]?.length ?? 0) > 0 || err.message.includes(field);
  assert.ok(named, `${what}: the error does not name '${field}': fieldErrors=${JSON.stringify(fieldErrors)} message=${err.message.slice(0, 400)}`);
}

// ---- bad input, procedure by procedure ------------------------------------------------------------

interface BadCase {
  /** What is wrong with the input. */
  what: string;
  /** The field the error must name. */
  field: string;
  call: (c: ApiClient) => Promise<unknown>;
}

// Inputs are deliberately outside the declared types; `as never` gets them past the compiler to the server.
const bad = (x: unknown) => x as never;

const cases: Record<string, { who: Who; cases: BadCase[] }> = {
  health: {
    who: 'viewer',
    cases: [{ what: 'unknown key', field: 'verbose', call: (c) => c.health.query(bad({ verbose: true })) }],
  },
  'models.register': {
    who: 'operator',
    cases: [
      { what: 'bad model name', field: 'name', call: (c) => c.models.register.mutate({ name: `Bad Name ${uid()}` }) },
      { what: 'name of the wrong type', field: 'name', call: (c) => c.models.register.mutate(bad({ name: 42 })) },
      { what: 'missing name', field: 'name', call: (c) => c.models.register.mutate(bad({ description: 'x' })) },
      { what: 'unknown key', field: 'owner', call: (c) => c.models.register.mutate(bad({ name: `ok-${uid()}`, owner: 'me' })) },
      {
        what: 'policy with a proportion > 1',
        field: 'gatePolicy',
        call: (c) => c.models.register.mutate({ name: `ok-${uid()}`, gatePolicy: withRule({ kind: 'bound', metric: 'fpr', slices: 'overall', max: 1.5 }) } as never),
      },
      {
        what: 'policy with an unknown key',
        field: 'gatePolicy',
        call: (c) => c.models.register.mutate(bad({ name: `ok-${uid()}`, gatePolicy: { ...goodPolicy, minAuc: 0.9 } })),
      },
      { what: 'description too long', field: 'description', call: (c) => c.models.register.mutate({ name: `ok-${uid()}`, description: 'x'.repeat(2001) }) },
      { what: 'a trainer nobody registered', field: 'trainer', call: (c) => c.models.register.mutate({ name: `ok-${uid()}`, trainer: { name: 'acme/never-registered' } }) },
      { what: 'a time-to-start under 5 s', field: 'trainer', call: (c) => c.models.register.mutate({ name: `ok-${uid()}`, trainer: { name: 'builtin/hashed-logreg', timeToStartSeconds: 1 } }) },
      { what: 'a feature of an unknown kind', field: 'features', call: (c) => c.models.register.mutate(bad({ name: `ok-${uid()}`, features: [{ name: 'age', kind: 'integer' }] })) },
      {
        what: 'a feature declared twice',
        field: 'features',
        call: (c) => c.models.register.mutate({ name: `ok-${uid()}`, features: [{ name: 'age', kind: 'number' }, { name: 'age', kind: 'number' }] } as never),
      },
    ],
  },
  'models.configureTrainer': {
    who: 'operator',
    cases: [
      { what: 'bad model name', field: 'name', call: (c) => c.models.configureTrainer.mutate({ name: 'X', trainer: { name: 'builtin/hashed-logreg' } }) },
      { what: 'no trainer', field: 'trainer', call: (c) => c.models.configureTrainer.mutate(bad({ name: model })) },
      { what: 'a trainer nobody registered', field: 'trainer', call: (c) => c.models.configureTrainer.mutate({ name: model, trainer: { name: 'acme/never-registered' } }) },
      { what: 'an unknown key in the trainer', field: 'trainer', call: (c) => c.models.configureTrainer.mutate(bad({ name: model, trainer: { name: 'builtin/hashed-logreg', queue: 'q' } })) },
    ],
  },
  'trainers.register': {
    who: 'operator',
    cases: [
      { what: 'no task queue', field: 'taskQueue', call: (c) => c.trainers.register.mutate(bad({})) },
      { what: 'a task queue with spaces', field: 'taskQueue', call: (c) => c.trainers.register.mutate({ taskQueue: 'my queue' }) },
      { what: 'a time-to-start of 0', field: 'timeToStartSeconds', call: (c) => c.trainers.register.mutate({ taskQueue: 'q-1', timeToStartSeconds: 0 }) },
      { what: 'an unknown key', field: 'name', call: (c) => c.trainers.register.mutate(bad({ taskQueue: 'q-1', name: 'acme/x' })) },
    ],
  },
  'trainers.list': {
    who: 'viewer',
    cases: [{ what: 'unknown key', field: 'page', call: (c) => c.trainers.list.query(bad({ page: 2 })) }],
  },
  'trainers.get': {
    who: 'viewer',
    cases: [
      { what: 'a name with spaces', field: 'name', call: (c) => c.trainers.get.query({ name: 'a b' }) },
      { what: 'name of the wrong type', field: 'name', call: (c) => c.trainers.get.query(bad({ name: 7 })) },
    ],
  },
  'models.list': {
    who: 'viewer',
    cases: [{ what: 'unknown key', field: 'page', call: (c) => c.models.list.query(bad({ page: 2 })) }],
  },
  'models.get': {
    who: 'viewer',
    cases: [
      { what: 'bad model name', field: 'name', call: (c) => c.models.get.query({ name: 'X' }) },
      { what: 'name of the wrong type', field: 'name', call: (c) => c.models.get.query(bad({ name: ['a', 'b'] })) },
      { what: 'unknown key', field: 'withExamples', call: (c) => c.models.get.query(bad({ name: model, withExamples: true })) },
    ],
  },
  'gates.setPolicy': {
    who: 'operator',
    cases: [
      { what: 'a bound > 1', field: 'policy', call: (c) => c.gates.setPolicy.mutate({ model, policy: withRule({ kind: 'bound', metric: 'fpr', slices: 'overall', max: 1.01 }) as never }) },
      { what: 'a negative margin', field: 'policy', call: (c) => c.gates.setPolicy.mutate({ model, policy: withRule({ kind: 'no_regression', metric: 'accuracy', slices: 'overall', margin: -0.1 }) as never }) },
      { what: 'an unknown rule kind', field: 'policy', call: (c) => c.gates.setPolicy.mutate(bad({ model, policy: withRule({ kind: 'telepathy' }) })) },
      { what: 'a bound with neither min nor max', field: 'policy', call: (c) => c.gates.setPolicy.mutate(bad({ model, policy: withRule({ kind: 'bound', metric: 'fpr', slices: 'overall' }) })) },
      { what: 'no rules', field: 'policy', call: (c) => c.gates.setPolicy.mutate(bad({ model, policy: { rules: [] } })) },
      { what: 'bad model name', field: 'model', call: (c) => c.gates.setPolicy.mutate({ model: '-nope', policy: goodPolicy }) },
    ],
  },
  'gates.getPolicy': {
    who: 'viewer',
    cases: [
      { what: 'bad model name', field: 'model', call: (c) => c.gates.getPolicy.query({ model: 'X' }) },
      { what: 'unknown key', field: 'version', call: (c) => c.gates.getPolicy.query(bad({ model, version: 'latest' })) },
    ],
  },
  'gates.policyHistory': {
    who: 'viewer',
    cases: [{ what: 'model of the wrong type', field: 'model', call: (c) => c.gates.policyHistory.query(bad({ model: 7 })) }],
  },
  'models.importExamples': {
    who: 'operator',
    cases: [
      { what: 'a body with a NUL character (PostgreSQL cannot store it)', field: 'examples', call: (c) => c.models.importExamples.mutate({ name: model, examples: [{ ...example('n-1'), input: { body: 'a\u0000b' } }] }) },
      { what: 'a batch with label 2', field: 'examples', call: (c) => c.models.importExamples.mutate(bad({ name: model, examples: [example('a-1'), { ...example('a-2'), label: 2 }] })) },
      {
        what: 'too many examples (2001)',
        field: 'examples',
        call: (c) => c.models.importExamples.mutate({ name: model, examples: Array.from({ length: 2001 }, (_, i) => example(`many-${i}`)) }),
      },
      { what: 'an empty batch', field: 'examples', call: (c) => c.models.importExamples.mutate({ name: model, examples: [] }) },
      { what: 'an unknown split', field: 'examples', call: (c) => c.models.importExamples.mutate(bad({ name: model, examples: [{ ...example('s-1'), split: 'test' }] })) },
      { what: 'an unknown key in an example', field: 'examples', call: (c) => c.models.importExamples.mutate(bad({ name: model, examples: [{ ...example('k-1'), weight: 2 }] })) },
      { what: 'a bad observedAt', field: 'examples', call: (c) => c.models.importExamples.mutate({ name: model, examples: [{ ...example('d-1'), observedAt: 'yesterday' }] }) },
      { what: 'input of the wrong type', field: 'examples', call: (c) => c.models.importExamples.mutate(bad({ name: model, examples: [{ ...example('t-1'), input: 'just text' }] })) },
      // A model without a feature schema takes text fields only (analysis/featureSchema).
      { what: 'a number in a text-only model', field: 'body', call: (c) => c.models.importExamples.mutate({ name: model, examples: [example('v-1'), { ...example('v-2'), input: { subject: 'hi', body: 42 } }] }) },
      // Valid per example, refused for the batch: the router's own check, before any insert.
      { what: 'an externalId twice in one batch', field: 'externalId', call: (c) => c.models.importExamples.mutate({ name: model, examples: [example('dup-1'), example('dup-1', 0)] }) },
      { what: 'bad model name', field: 'name', call: (c) => c.models.importExamples.mutate({ name: 'UPPER', examples: [example('n-1')] }) },
    ],
  },
  'models.rollback': {
    who: 'approver',
    cases: [
      { what: 'reason too short', field: 'reason', call: (c) => c.models.rollback.mutate({ name: model, reason: 'no' }) },
      { what: 'reason only blanks', field: 'reason', call: (c) => c.models.rollback.mutate({ name: model, reason: '     ' }) },
      { what: 'missing reason', field: 'reason', call: (c) => c.models.rollback.mutate(bad({ name: model })) },
      { what: 'bad model name', field: 'name', call: (c) => c.models.rollback.mutate({ name: 'a b', reason: 'a valid reason' }) },
    ],
  },
  'runs.start': {
    who: 'operator',
    cases: [
      { what: 'bad model name', field: 'model', call: (c) => c.runs.start.mutate({ model: 'Bad_Model' }) },
      { what: 'unknown trigger', field: 'trigger', call: (c) => c.runs.start.mutate(bad({ model, trigger: 'cron' })) },
      { what: 'trainer params out of range', field: 'trainerParams', call: (c) => c.runs.start.mutate({ model, trainerParams: { epochs: 0 } }) },
      { what: 'unknown trainer param', field: 'trainerParams', call: (c) => c.runs.start.mutate(bad({ model, trainerParams: { dropout: 0.5 } })) },
      { what: 'approval timeout of 0', field: 'approvalTimeoutSeconds', call: (c) => c.runs.start.mutate({ model, approvalTimeoutSeconds: 0 }) },
      { what: 'approval timeout as text', field: 'approvalTimeoutSeconds', call: (c) => c.runs.start.mutate(bad({ model, approvalTimeoutSeconds: '60' })) },
      { what: 'shadow rule limit above 1', field: 'rollout', call: (c) => c.runs.start.mutate({ model, rollout: { shadowSeconds: 60, shadowRules: { maxNewBlockRate: 5 } } }) },
      { what: 'unknown shadow rule', field: 'rollout', call: (c) => c.runs.start.mutate(bad({ model, rollout: { shadowSeconds: 60, shadowRules: { maxFlips: 0.1 } } })) },
      { what: 'unknown key', field: 'priority', call: (c) => c.runs.start.mutate(bad({ model, priority: 'high' })) },
    ],
  },
  'runs.get': {
    who: 'viewer',
    cases: [
      { what: 'bad run id', field: 'runId', call: (c) => c.runs.get.query({ runId: 'not-a-run' }) },
      { what: 'run id of the wrong type', field: 'runId', call: (c) => c.runs.get.query(bad({ runId: 7 })) },
    ],
  },
  'runs.wait': {
    who: 'viewer',
    cases: [
      { what: 'bad run id', field: 'runId', call: (c) => c.runs.wait.query({ runId: 'not-a-run' }) },
      { what: 'a timeout of 0', field: 'timeoutSeconds', call: (c) => c.runs.wait.query({ runId: 'run-x', timeoutSeconds: 0 }) },
      { what: 'a timeout above 60 s', field: 'timeoutSeconds', call: (c) => c.runs.wait.query({ runId: 'run-x', timeoutSeconds: 61 }) },
      { what: 'an unknown until', field: 'until', call: (c) => c.runs.wait.query(bad({ runId: 'run-x', until: 'promoted' })) },
    ],
  },
  'runs.list': {
    who: 'viewer',
    cases: [
      { what: 'limit 0', field: 'limit', call: (c) => c.runs.list.query({ limit: 0 }) },
      { what: 'limit above 500', field: 'limit', call: (c) => c.runs.list.query({ limit: 501 }) },
      { what: 'unknown status', field: 'status', call: (c) => c.runs.list.query(bad({ status: 'done' })) },
      { what: 'bad model name', field: 'model', call: (c) => c.runs.list.query({ model: 'NO' }) },
      { what: 'unknown key', field: 'offset', call: (c) => c.runs.list.query(bad({ offset: 10 })) },
    ],
  },
  'session.whoami': {
    who: 'viewer',
    cases: [{ what: 'unknown key', field: 'subject', call: (c) => c.session.whoami.query(bad({ subject: 'someone-else' })) }],
  },
  'session.gateEligibility': {
    who: 'viewer',
    cases: [
      { what: 'bad run id', field: 'runId', call: (c) => c.session.gateEligibility.query({ runId: 'nope' }) },
      { what: 'unknown key', field: 'subject', call: (c) => c.session.gateEligibility.query(bad({ runId: validRunId, subject: 'someone-else' })) },
    ],
  },
  'gates.list': {
    who: 'viewer',
    cases: [{ what: 'unknown key', field: 'model', call: (c) => c.gates.list.query(bad({ model })) }],
  },
  'gates.approve': {
    who: 'approver',
    cases: [
      { what: 'bad run id', field: 'runId', call: (c) => c.gates.approve.mutate({ runId: 'nope', reason: 'looks good to me', packetHash: anyHash }) },
      { what: 'reason too short', field: 'reason', call: (c) => c.gates.approve.mutate({ runId: validRunId, reason: 'ok', packetHash: anyHash }) },
      { what: 'missing reason', field: 'reason', call: (c) => c.gates.approve.mutate(bad({ runId: validRunId, packetHash: anyHash })) },
      { what: 'missing packet hash', field: 'packetHash', call: (c) => c.gates.approve.mutate(bad({ runId: validRunId, reason: 'read it, fine' })) },
      { what: 'packet hash not a sha256', field: 'packetHash', call: (c) => c.gates.approve.mutate({ runId: validRunId, reason: 'read it, fine', packetHash: 'abc' }) },
      { what: 'unknown key', field: 'decision', call: (c) => c.gates.approve.mutate(bad({ runId: validRunId, reason: 'fine by me', packetHash: anyHash, decision: 'approve' })) },
    ],
  },
  'gates.reject': {
    who: 'approver',
    cases: [
      { what: 'reason only blanks', field: 'reason', call: (c) => c.gates.reject.mutate({ runId: validRunId, reason: '  \n ' }) },
      { what: 'reason too long', field: 'reason', call: (c) => c.gates.reject.mutate({ runId: validRunId, reason: 'x'.repeat(2001) }) },
      { what: 'bad run id', field: 'runId', call: (c) => c.gates.reject.mutate({ runId: 'RUN-1', reason: 'not good enough' }) },
    ],
  },
  'feedback.health': {
    who: 'viewer',
    cases: [
      { what: 'bad model name', field: 'model', call: (c) => c.feedback.health.query({ model: 'No' }) },
      { what: 'a date that is not ISO 8601', field: 'from', call: (c) => c.feedback.health.query({ model, from: 'yesterday' }) },
      { what: 'one bucket', field: 'buckets', call: (c) => c.feedback.health.query({ model, buckets: 1 }) },
      { what: '91 buckets', field: 'buckets', call: (c) => c.feedback.health.query({ model, buckets: 91 }) },
      { what: '21 slices', field: 'slices', call: (c) => c.feedback.health.query({ model, slices: Array.from({ length: 21 }, (_, i) => `k${i}`) }) },
      { what: 'unknown key', field: 'verbose', call: (c) => c.feedback.health.query(bad({ model, verbose: true })) },
    ],
  },
  'feedback.labelling': {
    who: 'viewer',
    cases: [
      { what: 'bad model name', field: 'model', call: (c) => c.feedback.labelling.query({ model: 'No' }) },
      { what: 'unknown key', field: 'kinds', call: (c) => c.feedback.labelling.query(bad({ model, kinds: [] })) },
    ],
  },
  'feedback.setLabelling': {
    who: 'operator',
    cases: [
      { what: 'a kind that cannot be a label', field: 'kinds', call: (c) => c.feedback.setLabelling.mutate(bad({ model, kinds: ['thumbs'] })) },
      { what: 'no kinds list', field: 'kinds', call: (c) => c.feedback.setLabelling.mutate(bad({ model })) },
      { what: 'bad model name', field: 'model', call: (c) => c.feedback.setLabelling.mutate({ model: 'No', kinds: [] }) },
    ],
  },
  'feedback.ingest': {
    who: 'admin',
    cases: [
      { what: 'an empty batch', field: 'events', call: (c) => c.feedback.ingest.mutate({ model, events: [] }) },
      {
        what: 'a version beyond PostgreSQL integer',
        field: 'events',
        call: (c) => c.feedback.ingest.mutate(bad({ model, events: [{ kind: 'thumbs', up: true, idempotencyKey: `k-${uid()}`, version: 2 ** 31, occurredAt: '2026-01-01T00:00:00Z' }] })),
      },
      {
        what: 'a rating of 7',
        field: 'events',
        call: (c) => c.feedback.ingest.mutate(bad({ model, events: [{ kind: 'rating', rating: 7, idempotencyKey: 'k1', version: 1, occurredAt: '2026-01-01T00:00:00Z' }] })),
      },
      {
        what: 'an unknown kind',
        field: 'events',
        call: (c) => c.feedback.ingest.mutate(bad({ model, events: [{ kind: 'telepathy', idempotencyKey: 'k1', version: 1, occurredAt: '2026-01-01T00:00:00Z' }] })),
      },
      { what: 'bad model name', field: 'model', call: (c) => c.feedback.ingest.mutate(bad({ model: 'No', events: [] })) },
    ],
  },
  'models.serving': {
    who: 'viewer',
    cases: [
      { what: 'bad model name', field: 'name', call: (c) => c.models.serving.query({ name: 'No' }) },
      { what: 'unknown key', field: 'version', call: (c) => c.models.serving.query(bad({ name: model, version: 2 })) },
    ],
  },
  'runs.rollout': {
    who: 'viewer',
    cases: [{ what: 'bad run id', field: 'runId', call: (c) => c.runs.rollout.query({ runId: 'nope' }) }],
  },
  'runs.rollback': {
    who: 'approver',
    cases: [
      { what: 'reason too short', field: 'reason', call: (c) => c.runs.rollback.mutate({ runId: validRunId, reason: 'x' }) },
      { what: 'bad run id', field: 'runId', call: (c) => c.runs.rollback.mutate({ runId: 'RUN', reason: 'bad canary' }) },
    ],
  },
  'runs.promoteNow': {
    who: 'approver',
    cases: [{ what: 'missing reason', field: 'reason', call: (c) => c.runs.promoteNow.mutate(bad({ runId: validRunId })) }],
  },
  'runs.pause': {
    who: 'operator',
    cases: [{ what: 'unknown key', field: 'until', call: (c) => c.runs.pause.mutate(bad({ runId: validRunId, reason: 'lunch break', until: 'later' })) }],
  },
  'runs.resume': {
    who: 'operator',
    cases: [{ what: 'reason of the wrong type', field: 'reason', call: (c) => c.runs.resume.mutate(bad({ runId: validRunId, reason: 42 })) }],
  },
  'models.resolve': {
    who: 'viewer',
    cases: [
      { what: 'empty request key', field: 'requestKey', call: (c) => c.models.resolve.query({ name: model, requestKey: '' }) },
      { what: 'bad model name', field: 'name', call: (c) => c.models.resolve.query({ name: 'No', requestKey: 'k' }) },
    ],
  },
  'review.queue': {
    who: 'viewer',
    cases: [{ what: 'bad model name', field: 'name', call: (c) => c.review.queue.query({ name: 'No' }) }],
  },
  'review.abstainReport': {
    who: 'viewer',
    cases: [
      { what: 'version 0', field: 'version', call: (c) => c.review.abstainReport.query({ name: model, version: 0 }) },
      { what: 'bad model name', field: 'name', call: (c) => c.review.abstainReport.query({ name: 'No' }) },
    ],
  },
  'models.lineage': {
    who: 'viewer',
    cases: [
      { what: 'version 0', field: 'version', call: (c) => c.models.lineage.query({ name: model, version: 0 }) },
      { what: 'a version beyond PostgreSQL integer', field: 'version', call: (c) => c.models.lineage.query({ name: model, version: 2 ** 31 }) },
      { what: 'version as words', field: 'version', call: (c) => c.models.lineage.query(bad({ name: model, version: 'latest' })) },
    ],
  },
  'models.predict': {
    who: 'admin',
    cases: [
      { what: 'an empty batch', field: 'requests', call: (c) => c.models.predict.mutate({ name: model, requests: [] }) },
      {
        what: 'a request without a valid occurredAt',
        field: 'requests',
        call: (c) => c.models.predict.mutate(bad({ name: model, requests: [{ requestId: 'r1', input: { body: 'x' }, attributes: {}, occurredAt: 'yesterday' }] })),
      },
      {
        what: 'a request id twice in one batch',
        field: 'requestId',
        call: (c) =>
          c.models.predict.mutate({ name: model, requests: [0, 1].map(() => ({ requestId: 'r1', input: { body: 'x' }, attributes: {}, occurredAt: '2026-01-01T00:00:00Z' })) }),
      },
      { what: 'bad model name', field: 'name', call: (c) => c.models.predict.mutate(bad({ name: 'No', requests: [] })) },
    ],
  },
  'serving.logPredictions': {
    who: 'admin',
    cases: [
      { what: 'an empty batch', field: 'requests', call: (c) => c.serving.logPredictions.mutate({ name: model, requests: [] }) },
      {
        what: 'a score above 1',
        field: 'score',
        call: (c) => c.serving.logPredictions.mutate({ name: model, requests: [{ requestId: 'r1', version: 1, score: 1.5, attributes: {}, occurredAt: '2026-01-01T00:00:00Z' }] }),
      },
      {
        what: 'a request id twice in one batch',
        field: 'requestId',
        call: (c) => c.serving.logPredictions.mutate({ name: model, requests: [0, 1].map(() => ({ requestId: 'r1', version: 1, score: 0.5, attributes: {}, occurredAt: '2026-01-01T00:00:00Z' })) }),
      },
      {
        what: 'a version the model does not have',
        field: 'version',
        call: (c) => c.serving.logPredictions.mutate({ name: model, requests: [{ requestId: 'r1', version: 7, score: 0.5, attributes: {}, occurredAt: '2026-01-01T00:00:00Z' }] }),
      },
      { what: 'bad model name', field: 'name', call: (c) => c.serving.logPredictions.mutate(bad({ name: 'No', requests: [] })) },
    ],
  },
  'annotation.registerAnnotator': {
    who: 'operator',
    cases: [
      { what: 'subject with spaces', field: 'subject', call: (c) => c.annotation.registerAnnotator.mutate({ subject: 'ann smith' }) },
      { what: 'attribute value not text', field: 'attributes', call: (c) => c.annotation.registerAnnotator.mutate(bad({ subject: 'ann-1', attributes: { language: 3 } })) },
    ],
  },
  'annotation.getSpec': {
    who: 'viewer',
    cases: [{ what: 'bad model name', field: 'model', call: (c) => c.annotation.getSpec.query({ model: 'No' }) }],
  },
  'annotation.setSpec': {
    who: 'operator',
    cases: [
      { what: 'guidelines too short', field: 'guidelines', call: (c) => c.annotation.setSpec.mutate({ model, guidelines: 'be nice' }) },
      { what: 'one label only', field: 'labels', call: (c) => c.annotation.setSpec.mutate({ model, guidelines: 'x'.repeat(30), labels: ['spam'] }) },
      { what: 'affects with no values', field: 'affects', call: (c) => c.annotation.setSpec.mutate({ model, guidelines: 'x'.repeat(30), affects: { format: [] } }) },
    ],
  },
  'annotation.next': {
    who: 'admin',
    cases: [{ what: 'unknown key', field: 'batch', call: (c) => c.annotation.next.mutate(bad({ batch: 'b1' })) }],
  },
  'annotation.submit': {
    who: 'admin',
    cases: [
      { what: 'negative label', field: 'label', call: (c) => c.annotation.submit.mutate({ taskId: 1, label: -1, specVersion: 1 }) },
      { what: 'missing spec version', field: 'specVersion', call: (c) => c.annotation.submit.mutate(bad({ taskId: 1, label: 0 })) },
      { what: 'task id 0', field: 'taskId', call: (c) => c.annotation.submit.mutate({ taskId: 0, label: 0, specVersion: 1 }) },
    ],
  },
  'annotation.skip': {
    who: 'admin',
    cases: [{ what: 'task id as text', field: 'taskId', call: (c) => c.annotation.skip.mutate(bad({ taskId: 'first' })) }],
  },
  'annotation.batch': {
    who: 'viewer',
    cases: [{ what: 'empty batch id', field: 'batchId', call: (c) => c.annotation.batch.query({ batchId: '' }) }],
  },
  'annotation.aggregated': {
    who: 'viewer',
    cases: [{ what: 'batch id too long', field: 'batchId', call: (c) => c.annotation.aggregated.query({ batchId: 'b'.repeat(201) }) }],
  },
  'annotation.annotators': {
    who: 'viewer',
    cases: [{ what: 'bad model name', field: 'model', call: (c) => c.annotation.annotators.query({ model: 'No' }) }],
  },
  'annotation.poolBias': {
    who: 'viewer',
    cases: [
      { what: 'a floor of 0', field: 'minAccuracy', call: (c) => c.annotation.poolBias.query({ model, minAccuracy: 0 }) },
      { what: 'empty batch id', field: 'batchId', call: (c) => c.annotation.poolBias.query({ model, batchId: '' }) },
    ],
  },
  'annotation.batches': {
    who: 'viewer',
    cases: [
      { what: 'limit 0', field: 'limit', call: (c) => c.annotation.batches.query({ model, limit: 0 }) },
      { what: 'bad model name', field: 'model', call: (c) => c.annotation.batches.query({ model: 'No' }) },
    ],
  },
  'reports.evaluateFile': {
    who: 'operator',
    cases: [
      { what: 'empty content', field: 'content', call: (c) => c.reports.evaluateFile.mutate({ content: '' }) },
      { what: 'a threshold above 1', field: 'threshold', call: (c) => c.reports.evaluateFile.mutate({ content: 'label,score\n1,0.5\n', threshold: 2 }) },
      { what: 'a row whose score is not a number', field: 'score', call: (c) => c.reports.evaluateFile.mutate({ content: 'label,score\n1,0.5\n0,high\n' }) },
      { what: 'a slice column that does not exist', field: 'nope', call: (c) => c.reports.evaluateFile.mutate({ content: 'label,score\n1,0.5\n', slices: ['nope'] }) },
      { what: 'an unknown format', field: 'format', call: (c) => c.reports.evaluateFile.mutate(bad({ content: 'label,score\n1,0.5\n', format: 'xlsx' })) },
    ],
  },
  'gates.dryRun': {
    who: 'viewer',
    cases: [
      { what: 'bad run id', field: 'runId', call: (c) => c.gates.dryRun.query({ runId: 'nope' }) },
      { what: 'a policy with no rules', field: 'policy', call: (c) => c.gates.dryRun.query(bad({ runId: validRunId, policy: { rules: [] } })) },
    ],
  },
  'reports.saturation': {
    who: 'viewer',
    cases: [{ what: 'bad run id', field: 'runId', call: (c) => c.reports.saturation.query({ runId: 'not a run' }) }],
  },
  'reports.get': {
    who: 'viewer',
    cases: [
      { what: 'bad run id', field: 'runId', call: (c) => c.reports.get.query({ runId: '../etc/passwd' }) },
      { what: 'unknown key', field: 'format', call: (c) => c.reports.get.query(bad({ runId: validRunId, format: 'pdf' })) },
    ],
  },
  'audits.create': {
    who: 'operator',
    cases: [
      { what: 'bad model name', field: 'model', call: (c) => c.audits.create.mutate({ model: 'No', spec: hourly, policy: reaudit }) },
      { what: 'bad id', field: 'id', call: (c) => c.audits.create.mutate({ model, id: 'Audit One', spec: hourly, policy: reaudit }) },
      { what: 'both cron and interval', field: 'spec', call: (c) => c.audits.create.mutate({ model, spec: { cron: '0 3 * * *', interval: { everySeconds: 3600 } }, policy: reaudit }) },
      { what: 'neither cron nor interval', field: 'spec', call: (c) => c.audits.create.mutate({ model, spec: { timezone: 'UTC' }, policy: reaudit }) },
      { what: 'a cron that is not cron-shaped', field: 'spec', call: (c) => c.audits.create.mutate({ model, spec: { cron: 'every night' }, policy: reaudit }) },
      { what: 'a cron firing every second', field: 'spec', call: (c) => c.audits.create.mutate({ model, spec: { cron: '* * * * * * *' }, policy: reaudit }) },
      { what: 'an interval under a minute', field: 'spec', call: (c) => c.audits.create.mutate({ model, spec: { interval: { everySeconds: 10 } }, policy: reaudit }) },
      { what: 'an unknown time zone', field: 'spec', call: (c) => c.audits.create.mutate({ model, spec: { cron: '0 3 * * *', timezone: 'Mars/Olympus' }, policy: reaudit }) },
      { what: 'an unknown overlap policy', field: 'overlap', call: (c) => c.audits.create.mutate(bad({ model, spec: hourly, policy: reaudit, overlap: 'queue' })) },
      { what: 'a catch-up window of 0', field: 'catchupWindowSeconds', call: (c) => c.audits.create.mutate({ model, spec: hourly, policy: reaudit, catchupWindowSeconds: 0 }) },
      { what: 'a window of 0 days', field: 'windowDays', call: (c) => c.audits.create.mutate({ model, spec: hourly, policy: reaudit, windowDays: 0 }) },
      { what: 'an FPR increase above 1', field: 'policy', call: (c) => c.audits.create.mutate({ model, spec: hourly, policy: { ...reaudit, maxFprIncrease: 1.5 } }) },
      { what: 'a missing fairness bound', field: 'policy', call: (c) => c.audits.create.mutate(bad({ model, spec: hourly, policy: { maxFprIncrease: 0.1 } })) },
      { what: 'a webhook that is not http(s)', field: 'policy', call: (c) => c.audits.create.mutate({ model, spec: hourly, policy: { ...reaudit, webhook: { url: 'ftp://example.com/x' } } }) },
      { what: 'a secretEnv that is not a variable name', field: 'policy', call: (c) => c.audits.create.mutate({ model, spec: hourly, policy: { ...reaudit, webhook: { url: 'https://example.com/x', secretEnv: 'my secret' } } }) },
      { what: 'a secretEnv that is no webhook secret (DATABASE_URL)', field: 'policy', call: (c) => c.audits.create.mutate({ model, spec: hourly, policy: { ...reaudit, webhook: { url: 'https://example.com/x', secretEnv: 'DATABASE_URL' } } }) },
      { what: 'a webhook to loopback that no admin allowed', field: 'policy', call: (c) => c.audits.create.mutate({ model, spec: hourly, policy: { ...reaudit, webhook: { url: 'http://127.0.0.1:5432/' } } }) },
      { what: 'an unknown policy key', field: 'policy', call: (c) => c.audits.create.mutate(bad({ model, spec: hourly, policy: { ...reaudit, maxAuc: 0.9 } })) },
      { what: 'unknown key', field: 'owner', call: (c) => c.audits.create.mutate(bad({ model, spec: hourly, policy: reaudit, owner: 'me' })) },
      { what: 'an unknown kind', field: 'kind', call: (c) => c.audits.create.mutate(bad({ model, kind: 'fairness_check', spec: hourly, policy: reaudit })) },
      { what: 'a re-audit policy on a drift monitor', field: 'policy', call: (c) => c.audits.create.mutate(bad({ model, kind: 'drift_monitor', spec: hourly, policy: reaudit })) },
      { what: 'a drift monitor with an override rise above 1', field: 'policy', call: (c) => c.audits.create.mutate({ model, kind: 'drift_monitor', spec: hourly, policy: { maxOverrideRise: 2 } }) },
      { what: 'a drift policy on a re-audit', field: 'policy', call: (c) => c.audits.create.mutate(bad({ model, spec: hourly, policy: { maxPsi: 0.2, maxOverrideRise: 0.05 } })) },
    ],
  },
  'audits.list': {
    who: 'viewer',
    cases: [
      { what: 'bad model name', field: 'model', call: (c) => c.audits.list.query({ model: 'No' }) },
      { what: 'unknown key', field: 'paused', call: (c) => c.audits.list.query(bad({ paused: true })) },
    ],
  },
  'audits.describe': {
    who: 'viewer',
    cases: [
      { what: 'bad id', field: 'id', call: (c) => c.audits.describe.query({ id: '../etc' }) },
      { what: 'id of the wrong type', field: 'id', call: (c) => c.audits.describe.query(bad({ id: 7 })) },
    ],
  },
  'audits.pause': {
    who: 'operator',
    cases: [
      { what: 'reason too short', field: 'reason', call: (c) => c.audits.pause.mutate({ id: 'some-audit', reason: 'no' }) },
      { what: 'missing reason', field: 'reason', call: (c) => c.audits.pause.mutate(bad({ id: 'some-audit' })) },
      { what: 'bad id', field: 'id', call: (c) => c.audits.pause.mutate({ id: 'A', reason: 'maintenance window' }) },
    ],
  },
  'audits.resume': {
    who: 'operator',
    cases: [{ what: 'reason only blanks', field: 'reason', call: (c) => c.audits.resume.mutate({ id: 'some-audit', reason: '    ' }) }],
  },
  'audits.trigger': {
    who: 'operator',
    cases: [
      { what: 'unknown key', field: 'overlap', call: (c) => c.audits.trigger.mutate(bad({ id: 'some-audit', overlap: 'skip' })) },
      { what: 'bad id', field: 'id', call: (c) => c.audits.trigger.mutate({ id: 'x'.repeat(101) }) },
    ],
  },
  'audits.backfill': {
    who: 'operator',
    cases: [
      { what: 'a from that is not ISO 8601', field: 'from', call: (c) => c.audits.backfill.mutate({ id: 'some-audit', from: 'last week', to: '2026-01-02T00:00:00Z' }) },
      { what: 'to before from', field: 'to', call: (c) => c.audits.backfill.mutate({ id: 'some-audit', from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }) },
      { what: 'to in the future', field: 'to', call: (c) => c.audits.backfill.mutate({ id: 'some-audit', from: '2026-01-01T00:00:00Z', to: '2999-01-01T00:00:00Z' }) },
      { what: 'a range over 366 days', field: 'from', call: (c) => c.audits.backfill.mutate({ id: 'some-audit', from: '2020-01-01T00:00:00Z', to: '2022-01-01T00:00:00Z' }) },
      { what: 'an unknown overlap policy', field: 'overlap', call: (c) => c.audits.backfill.mutate(bad({ id: 'some-audit', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', overlap: 'all' })) },
    ],
  },
  'audits.reports': {
    who: 'viewer',
    cases: [
      { what: 'bad model name', field: 'model', call: (c) => c.audits.reports.query({ model: 'No' }) },
      { what: 'an unknown kind', field: 'kind', call: (c) => c.audits.reports.query(bad({ model, kind: 'weekly' })) },
      { what: 'alertsOnly not true/false', field: 'alertsOnly', call: (c) => c.audits.reports.query(bad({ model, alertsOnly: 'yes' })) },
      { what: 'a limit of 0', field: 'limit', call: (c) => c.audits.reports.query({ model, limit: 0 }) },
      { what: 'bad audit id', field: 'auditId', call: (c) => c.audits.reports.query({ model, auditId: 'A B' }) },
    ],
  },
  'audits.report': {
    who: 'viewer',
    cases: [
      { what: 'a report id of 0', field: 'reportId', call: (c) => c.audits.report.query({ reportId: 0 }) },
      { what: 'a report id beyond PostgreSQL integer', field: 'reportId', call: (c) => c.audits.report.query({ reportId: 9007199254740990 }) },
      { what: 'a report id that is not a number', field: 'reportId', call: (c) => c.audits.report.query(bad({ reportId: 'latest' })) },
    ],
  },
  'audits.alerts': {
    who: 'viewer',
    cases: [
      { what: 'bad model name', field: 'model', call: (c) => c.audits.alerts.query({ model: 'No' }) },
      { what: 'an unknown status', field: 'status', call: (c) => c.audits.alerts.query(bad({ model, status: 'lost' })) },
      { what: 'an unknown kind', field: 'kind', call: (c) => c.audits.alerts.query(bad({ model, kind: 'pager' })) },
      { what: 'a limit over 1000', field: 'limit', call: (c) => c.audits.alerts.query({ model, limit: 5000 }) },
    ],
  },
  'audits.delete': {
    who: 'operator',
    cases: [
      { what: 'missing id', field: 'id', call: (c) => c.audits.delete.mutate(bad({})) },
      { what: 'id with a slash', field: 'id', call: (c) => c.audits.delete.mutate({ id: 'a/b' }) },
    ],
  },
  'admin.createToken': {
    who: 'admin',
    cases: [
      { what: 'unknown role', field: 'role', call: (c) => c.admin.createToken.mutate(bad({ subject: `s-${uid()}`, role: 'superuser' })) },
      { what: 'subject too short', field: 'subject', call: (c) => c.admin.createToken.mutate({ subject: 'a', role: 'viewer' }) },
      { what: 'subject with spaces', field: 'subject', call: (c) => c.admin.createToken.mutate({ subject: 'bob smith', role: 'viewer' }) },
      { what: 'unknown key', field: 'expiresAt', call: (c) => c.admin.createToken.mutate(bad({ subject: `s-${uid()}`, role: 'viewer', expiresAt: '2030-01-01' })) },
    ],
  },
  'admin.listTokens': {
    who: 'admin',
    cases: [{ what: 'unknown key', field: 'includeRevoked', call: (c) => c.admin.listTokens.query(bad({ includeRevoked: true })) }],
  },
  'admin.revokeToken': {
    who: 'admin',
    cases: [
      { what: 'negative id', field: 'id', call: (c) => c.admin.revokeToken.mutate({ id: -1 }) },
      { what: 'an id beyond PostgreSQL integer', field: 'id', call: (c) => c.admin.revokeToken.mutate({ id: 2 ** 31 }) },
      { what: 'fractional id', field: 'id', call: (c) => c.admin.revokeToken.mutate({ id: 1.5 }) },
      { what: 'id as non-numeric text', field: 'id', call: (c) => c.admin.revokeToken.mutate(bad({ id: 'abc' })) },
      { what: 'missing id', field: 'id', call: (c) => c.admin.revokeToken.mutate(bad({})) },
    ],
  },
  'webhooks.destinations': {
    who: 'viewer',
    cases: [{ what: 'unknown key', field: 'host', call: (c) => c.webhooks.destinations.query(bad({ host: 'x' })) }],
  },
  'webhooks.allowDestination': {
    who: 'admin',
    cases: [
      { what: 'a host with a space', field: 'host', call: (c) => c.webhooks.allowDestination.mutate({ host: 'alerts internal' }) },
      { what: 'a CIDR prefix too long', field: 'host', call: (c) => c.webhooks.allowDestination.mutate({ host: '10.0.0.0/33' }) },
      { what: 'a URL instead of a host', field: 'host', call: (c) => c.webhooks.allowDestination.mutate({ host: 'https://alerts.internal/x' }) },
      { what: 'port 0', field: 'port', call: (c) => c.webhooks.allowDestination.mutate({ host: '127.0.0.1', port: 0 }) },
      { what: 'port above 65535', field: 'port', call: (c) => c.webhooks.allowDestination.mutate({ host: '127.0.0.1', port: 70000 }) },
      { what: 'unknown key', field: 'scheme', call: (c) => c.webhooks.allowDestination.mutate(bad({ host: '127.0.0.1', scheme: 'http' })) },
    ],
  },
  'webhooks.removeDestination': {
    who: 'admin',
    cases: [
      { what: 'negative id', field: 'id', call: (c) => c.webhooks.removeDestination.mutate({ id: -1 }) },
      { what: 'missing id', field: 'id', call: (c) => c.webhooks.removeDestination.mutate(bad({})) },
    ],
  },
  'webhooks.check': {
    who: 'operator',
    cases: [
      { what: 'missing url', field: 'url', call: (c) => c.webhooks.check.query(bad({})) },
      { what: 'url too long', field: 'url', call: (c) => c.webhooks.check.query({ url: `https://example.com/${'x'.repeat(2000)}` }) },
    ],
  },
  'admin.auditLog': {
    who: 'admin',
    cases: [
      { what: 'limit above 1000', field: 'limit', call: (c) => c.admin.auditLog.query({ limit: 5000 }) },
      { what: 'limit 0', field: 'limit', call: (c) => c.admin.auditLog.query({ limit: 0 }) },
      { what: 'target too long', field: 'target', call: (c) => c.admin.auditLog.query({ target: 'x'.repeat(201) }) },
      { what: 'unknown key', field: 'actor', call: (c) => c.admin.auditLog.query(bad({ actor: 'someone' })) },
    ],
  },
};

describe('bad input gets BAD_REQUEST, names the field and writes nothing', () => {
  test('every procedure in the app router has bad-input cases here', () => {
    assert.deepEqual(Object.keys(cases).sort(), Object.keys(appRouter._def.procedures).sort());
  });

  for (const [procedure, { who, cases: list }] of Object.entries(cases)) {
    test(`${procedure} (as ${who})`, async () => {
      const client = env.clients[who];
      for (const c of list) {
        const what = `${procedure}: ${c.what}`;
        const before = await fingerprint();
        const err = await expectError(() => c.call(client), 'BAD_REQUEST', what);
        assertNamesField(err, c.field, what);
        assert.equal(err.data?.httpStatus, 400, `${what}: HTTP status`);
        await assertNothingWritten(before, what);
      }
    });
  }

  // A wrong type that coercion turns into a valid value: `{ id: true }` is Number(true) = 1, which would
  // revoke token 1 (typically the bootstrap admin). An array `[id]` coerces the same way. Uses an id that
  // exists nowhere, so it is harmless while the bug stands: it then answers NOT_FOUND instead of BAD_REQUEST.
  test('admin.revokeToken: an id of the wrong type (array, boolean) is refused, not coerced', async () => {
    const before = await fingerprint();
    const err = await expectError(() => env.clients.admin.admin.revokeToken.mutate(bad({ id: [987654] })), 'BAD_REQUEST', 'revokeToken id [987654]');
    assertNamesField(err, 'id', 'revokeToken id [987654]');
    await assertNothingWritten(before, 'revokeToken id [987654]');
  });
});

// ---- who may call, and other refusals -----------------------------------------------------------------

describe('authentication, roles and other refusals', () => {
  test('no identity: UNAUTHORIZED, checked before the input, nothing written', async () => {
    const anonymous = env.client(null);
    const before = await fingerprint();
    await expectError(() => anonymous.models.list.query(), 'UNAUTHORIZED', 'models.list without a token');
    await expectError(() => anonymous.models.register.mutate({ name: `anon-${uid()}` }), 'UNAUTHORIZED', 'models.register without a token');
    // Authentication comes before input validation: bad input without a token is still UNAUTHORIZED.
    await expectError(() => anonymous.runs.start.mutate({ model: 'BAD NAME' }), 'UNAUTHORIZED', 'runs.start without a token');
    await assertNothingWritten(before, 'calls without a token');
  });

  test('a viewer starting a run is FORBIDDEN and writes nothing', async () => {
    const before = await fingerprint();
    const err = await expectError(() => env.clients.viewer.runs.start.mutate({ model }), 'FORBIDDEN', 'viewer runs.start');
    assert.match(err.message, /viewer/);
    assert.match(err.message, /operator/, 'the message names the role it needs');
    // Other writes a viewer may not make.
    await expectError(() => env.clients.viewer.models.register.mutate({ name: `viewer-${uid()}` }), 'FORBIDDEN', 'viewer models.register');
    await expectError(() => env.clients.viewer.models.rollback.mutate({ name: model, reason: 'viewer tries' }), 'FORBIDDEN', 'viewer models.rollback');
    await expectError(() => env.clients.viewer.gates.approve.mutate({ runId: validRunId, reason: 'viewer tries', packetHash: anyHash }), 'FORBIDDEN', 'viewer gates.approve');
    // The operator starts runs but does not sign off gates or roll back.
    await expectError(() => env.clients.operator.models.rollback.mutate({ name: model, reason: 'operator tries' }), 'FORBIDDEN', 'operator models.rollback');
    await expectError(() => env.clients.operator.gates.reject.mutate({ runId: validRunId, reason: 'operator tries' }), 'FORBIDDEN', 'operator gates.reject');
    await assertNothingWritten(before, 'forbidden calls');
  });

  test('an operator creating a token is FORBIDDEN and writes nothing', async () => {
    const before = await fingerprint();
    const err = await expectError(() => env.clients.operator.admin.createToken.mutate({ subject: `sneaky-${uid()}`, role: 'admin' }), 'FORBIDDEN', 'operator admin.createToken');
    assert.match(err.message, /admin/);
    await expectError(() => env.clients.operator.admin.listTokens.query(), 'FORBIDDEN', 'operator admin.listTokens');
    await expectError(() => env.clients.approver.admin.revokeToken.mutate({ id: 1 }), 'FORBIDDEN', 'approver admin.revokeToken');
    await expectError(() => env.clients.viewer.admin.auditLog.query(), 'FORBIDDEN', 'viewer admin.auditLog');
    await assertNothingWritten(before, 'operator admin calls');
  });

  test('an unknown model is NOT_FOUND, the message names it, and nothing is written', async () => {
    const missing = `no-such-model-${uid()}`;
    const before = await fingerprint();
    for (const [what, call] of [
      ['models.get', () => env.clients.viewer.models.get.query({ name: missing })],
      ['gates.setPolicy', () => env.clients.operator.gates.setPolicy.mutate({ model: missing, policy: goodPolicy })],
      ['models.importExamples', () => env.clients.operator.models.importExamples.mutate({ name: missing, examples: [example('nf-1')] })],
      ['models.rollback', () => env.clients.approver.models.rollback.mutate({ name: missing, reason: 'nothing to see' })],
      ['runs.start', () => env.clients.operator.runs.start.mutate({ model: missing })],
    ] as const) {
      const err = await expectError(call, 'NOT_FOUND', what);
      assert.ok(err.message.includes(missing), `${what}: the message names the model: ${err.message}`);
    }
    await assertNothingWritten(before, 'calls on an unknown model');

    // Unknown runs, too.
    const unknownRun = `run-${missing}-0`;
    for (const [what, call] of [
      ['runs.get', () => env.clients.viewer.runs.get.query({ runId: unknownRun })],
      ['reports.get', () => env.clients.viewer.reports.get.query({ runId: unknownRun })],
      ['gates.approve', () => env.clients.approver.gates.approve.mutate({ runId: unknownRun, reason: 'looks fine', packetHash: anyHash })],
    ] as const) {
      const err = await expectError(call, 'NOT_FOUND', what);
      assert.ok(err.message.includes(unknownRun), `${what}: the message names the run: ${err.message}`);
    }
    await assertNothingWritten(before, 'calls on an unknown run');
  });

  test('an admin revoking the token the request is made with is CONFLICT, and the token still works', async () => {
    const before = await fingerprint();
    const err = await expectError(() => env.clients.admin.admin.revokeToken.mutate({ id: env.identities.admin.tokenId }), 'CONFLICT', 'revoking the token in use');
    assert.match(err.message, /another admin token/);
    await assertNothingWritten(before, 'revoking the token in use');
    assert.ok(Array.isArray(await env.clients.admin.admin.listTokens.query()));
  });

  test('registering a model twice is CONFLICT and the second attempt writes nothing', async () => {
    const name = `twice-${uid()}`;
    await env.clients.operator.models.register.mutate({ name, description: 'first' });
    const before = await fingerprint();
    const err = await expectError(() => env.clients.operator.models.register.mutate({ name, description: 'second' }), 'CONFLICT', 'second register');
    assert.ok(err.message.includes(name));
    await assertNothingWritten(before, 'duplicate register');
    assert.equal((await env.clients.viewer.models.get.query({ name })).description, 'first');
  });

  test('a rollback with no earlier production version is CONFLICT and writes nothing', async () => {
    const before = await fingerprint();
    const err = await expectError(() => env.clients.approver.models.rollback.mutate({ name: model, reason: 'nothing to roll back' }), 'CONFLICT', 'rollback');
    assert.ok(err.message.includes(model));
    await assertNothingWritten(before, 'rollback without history');
  });

  test('a successful mutation is audited once, and the "nothing written" check sees inserts and updates (its control)', async () => {
    const before = await fingerprint();
    const name = `audited-${uid()}`;
    await env.clients.operator.models.register.mutate({ name });
    const now = await fingerprint();
    assert.equal(now.rows.models, before.rows.models! + 1);
    assert.equal(now.rows.audit_log, before.rows.audit_log! + 1);
    await assert.rejects(assertNothingWritten(before, 'a registration'), /row count of (models|audit_log) changed/, 'the check sees an insert');
    // An update that leaves every count as it was is seen too.
    const beforeUpdate = await fingerprint();
    await env.db.update(models).set({ description: 'changed behind the API' }).where(eq(models.name, name));
    await assert.rejects(assertNothingWritten(beforeUpdate, 'an update'), /rows of models were inserted or updated/, 'the check sees an update');
    const entries = await env.clients.admin.admin.auditLog.query({ target: name });
    assert.deepEqual(entries.map((e) => e.action), ['models.register']);
  });
});

// ---- strings PostgreSQL cannot store ----------------------------------------------------------------

// A NUL or half a surrogate pair fails in PostgreSQL (text and jsonb alike). One middleware on every
// procedure refuses them before validation, wherever they sit, naming where. The client's JSON round
// trip keeps them: JSON.stringify escapes a lone surrogate and JSON.parse restores it.
const UNSTORABLE: [string, string][] = [
  ['a NUL', 'spam\u0000'],
  ['a lone high surrogate', 'caf\uD83D'],
  ['a lone low surrogate', '\uDE00 ok'],
];

describe('NUL and lone surrogates in any string are BAD_REQUEST, name the place, and write nothing', () => {
  for (const [what, s] of UNSTORABLE) {
    test(`${what}: in a field, an array element's field, a record value and a record key`, async () => {
      const { operator } = env.clients;
      const places: [string, string, () => Promise<unknown>][] = [
        ['a field', 'description', () => operator.models.register.mutate({ name: `nul-${uid()}`, description: s })],
        ['an array element’s field', 'examples', () => operator.models.importExamples.mutate({ name: model, examples: [example('ok-1'), { ...example('ok-2'), externalId: s }] })],
        ['a record value', 'examples', () => operator.models.importExamples.mutate({ name: model, examples: [{ ...example('ok-3'), input: { subject: s, body: 'b' } }] })],
        ['a record key', 'examples', () => operator.models.importExamples.mutate({ name: model, examples: [{ ...example('ok-4'), slices: { [s]: 'x' } }] })],
        ['a query input', 'model', () => env.clients.viewer.runs.list.query({ model: s })],
      ];
      for (const [place, field, call] of places) {
        const label = `${what} in ${place}`;
        const before = await fingerprint();
        const err = await expectError(call, 'BAD_REQUEST', label);
        assertNamesField(err, field, label);
        assert.match(err.message, /cannot be stored/, `${label}: says why`);
        await assertNothingWritten(before, label);
      }
    });
  }

  test('the path in the message reaches the string: examples[1].externalId, examples[0].slices.<key>', async () => {
    const err = await expectError(
      () => env.clients.operator.models.importExamples.mutate({ name: model, examples: [example('ok-5'), { ...example('ok-6'), externalId: 'a\u0000' }] }),
      'BAD_REQUEST',
      'NUL in examples[1].externalId',
    );
    assert.match(err.message, /examples\[1\]\.externalId/);
    const keyErr = await expectError(
      () => env.clients.operator.models.importExamples.mutate({ name: model, examples: [{ ...example('ok-7'), slices: { ['k\uD800']: 'v' } }] }),
      'BAD_REQUEST',
      'lone surrogate in a slices key',
    );
    assert.match(keyErr.message, /is a key that contains a lone UTF-16 surrogate/);
  });

  test('every procedure runs the check, public ones too: a NUL inside an array in the input is refused before anything else', async () => {
    const identity = env.identities.admin;
    const before = await fingerprint();
    for (const [name, procedure] of Object.entries(appRouter._def.procedures)) {
      const type = (procedure as { _def: { type: 'query' | 'mutation' } })._def.type;
      let fn: unknown = env.client(identity);
      for (const p of name.split('.')) fn = (fn as Record<string, unknown>)[p];
      const call = (fn as Record<'query' | 'mutate', (i: unknown) => Promise<unknown>>)[type === 'query' ? 'query' : 'mutate'];
      const err = await expectError(() => call({ probe: ['fine', { deeper: ['x\u0000'] }] }), 'BAD_REQUEST', `${name} with a NUL`);
      assert.match(err.message, /probe\[1\]\.deeper\[0\].*cannot be stored|cannot be stored.*probe\[1\]\.deeper\[0\]/, `${name}: names the place: ${err.message}`);
    }
    await assertNothingWritten(before, 'every procedure with a NUL');
  });

  test('well-formed text is untouched: a surrogate pair (an emoji), tabs and newlines are stored', async () => {
    const name = `emoji-${uid()}`;
    await env.clients.operator.models.register.mutate({ name, description: 'ok \uD83D\uDE00\ttab\nline' });
    const got = await env.clients.viewer.models.get.query({ name });
    assert.equal((got as { description: string }).description, 'ok \uD83D\uDE00\ttab\nline');
  });

  test('a deeply nested input is walked without recursion (no stack overflow, still a 400)', async () => {
    let deep: unknown = 'x\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    // The caller itself, not the client shape: JSON.stringify would overflow on this before the server saw it.
    await assert.rejects(
      () => env.caller(env.identities.operator).models.register({ name: `d-${uid()}`, description: deep as string }),
      (err: unknown) => err instanceof TRPCError && err.code === 'BAD_REQUEST' && /cannot be stored/.test(err.message),
    );
  });
});
