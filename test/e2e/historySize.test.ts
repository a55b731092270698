// No workflow or activity payload may carry data that grows with the dataset: a run on 50,000 examples
// (the annotation stage, the saturation check, the gate with a human sign-off, a shadow window and a
// canary step) keeps every payload in its own history and in its children's under 256 KB. Data travels
// by reference (ids of rows the activities stored); the workflows see counts, hashes and short lists.
// The data is synthetic mail with a `sender_domain` slice whose values grow with the data, as real
// sender domains do (400 in the labelled set, where a policy bounds FPR per domain; 1,500 new ones in
// the shadow window's 3,000 requests): every per-slice list grows with it. (More labelled domains make
// the paired bootstrap of evaluateVersions the slow part of this test.)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { Rng } from '../../analysis/random';
import protos from '@temporalio/proto';
import { examples, models, predictions, routes, runs, shadowPredictions } from '../../db/schema';
import { type AnnotationBatchInput, type AnnotationBatchResult } from '../../workflows/messages';
import type { CorpusEmail } from '../../demo/corpus';
import { annotatorClient, approveAsRead, continuingAnnotationBatch, logTraffic, startTestEnv, uid, waitFor, waitForStatus, type TestEnv } from '../helpers';

const EXAMPLES = 50_000;
const TRAFFIC = 4_000;
const SHADOWED = 3_000;
/** Sender domains of the labelled mail; the shadow window's traffic brings new senders, one per two requests. */
const DOMAINS = EXAMPLES / 125;
const SHADOW_DOMAINS = SHADOWED / 2;
const LIMIT = 256 * 1024;

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.stop();
});

/** A seeded uniform stream on [0, 1), from the project's one generator. */
function rng(seed: number): () => number {
  const g = new Rng(seed);
  return () => g.next();
}

const SPAMMY = ['free', 'winner', 'viagra', 'cash', 'offer', 'click', 'prize', 'loan', 'cheap', 'deal', 'urgent', 'bonus'];
const HAMMY = ['meeting', 'report', 'patch', 'thanks', 'review', 'lunch', 'agenda', 'build', 'release', 'notes', 'invoice', 'draft'];
const COMMON = ['the', 'a', 'you', 'we', 'today', 'please', 'this', 'for', 'and', 'now', 'your', 'team'];

/** Synthetic mail: 30% spam, words mostly from its class's vocabulary, slices as the corpus adapter names them plus a sender domain. */
function syntheticEmails(n: number, prefix: string, seed: number, domains = DOMAINS): CorpusEmail[] {
  const r = rng(seed);
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: n }, (_, i) => {
    const label = (r() < 0.3 ? 1 : 0) as 0 | 1;
    const own = label === 1 ? SPAMMY : HAMMY;
    const other = label === 1 ? HAMMY : SPAMMY;
    const words = Array.from({ length: 12 }, () => (r() < 0.55 ? pick(COMMON) : r() < 0.85 ? pick(own) : pick(other)));
    const domain = `${prefix}-d${i % domains}.example`;
    const html = r() < (label === 1 ? 0.6 : 0.2);
    const countryCode = r() < 0.3;
    return {
      externalId: `${prefix}-${i}`,
      label,
      sentAt: null,
      input: { subject: words.slice(0, 4).join(' '), from_domain: domain, content_type: html ? 'text/html' : 'text/plain', charset: 'ascii', body: words.join(' ') },
      slices: {
        corpus_group: label === 1 ? 'spam' : r() < 0.2 ? 'hard_ham' : 'easy_ham',
        format: html ? 'html' : 'plain',
        sender_tld: countryCode ? 'country_code' : 'generic',
        sender_domain: domain,
      },
    } as unknown as CorpusEmail;
  });
}

interface PayloadSize {
  bytes: number;
  workflowId: string;
  eventId: number;
  eventType: string;
  what: string;
}

/** Every payload of a history (inputs, results, signals, updates, markers, memo, search attributes), with where it sits. */
function payloadsOf(workflowId: string, history: protos.temporal.api.history.v1.IHistory): PayloadSize[] {
  const activityOf = new Map<string, string>();
  const out: PayloadSize[] = [];
  for (const event of history.events ?? []) {
    const eventId = Number(event.eventId);
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) activityOf.set(String(eventId), scheduled.activityType?.name ?? '?');
    const ref =
      event.activityTaskCompletedEventAttributes?.scheduledEventId ??
      event.activityTaskFailedEventAttributes?.scheduledEventId ??
      event.activityTaskTimedOutEventAttributes?.scheduledEventId ??
      event.activityTaskStartedEventAttributes?.scheduledEventId;
    const activity = scheduled?.activityType?.name ?? (ref !== undefined && ref !== null ? activityOf.get(String(ref)) : undefined);
    const child =
      event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ??
      event.childWorkflowExecutionCompletedEventAttributes?.workflowType?.name ??
      event.childWorkflowExecutionStartedEventAttributes?.workflowType?.name;
    const eventType = protos.temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? String(event.eventType);
    const walk = (node: unknown, path: string) => {
      if (!node || typeof node !== 'object') return;
      if (node instanceof Uint8Array) return;
      const p = node as { data?: unknown; metadata?: unknown };
      if (p.data instanceof Uint8Array && p.metadata && typeof p.metadata === 'object') {
        const meta = Object.values(p.metadata as Record<string, Uint8Array>).reduce((a, v) => a + (v?.length ?? 0), 0);
        out.push({ bytes: p.data.length + meta, workflowId, eventId, eventType, what: [activity ?? child ?? '', path].filter(Boolean).join(' ') });
        return;
      }
      for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
    };
    walk(event, '');
  }
  return out;
}

async function historyOf(workflowId: string) {
  const history = await env.services.client.workflow.getHandle(workflowId).fetchHistory();
  const bytes = protos.temporal.api.history.v1.History.encode(history).finish().length;
  const children = (history.events ?? []).flatMap((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? []);
  return { workflowId, history, bytes, children };
}

test('a retraining run on 50,000 examples keeps every payload of its histories under 256 KB', { timeout: 600_000 }, async (t) => {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const db = env.services.opened.db;
  const { operator, approver } = env.clients;
  const model = `spam-${uid()}`;
  await operator.models.register.mutate({
    name: model,
    description: 'a 50k-example spam filter',
    gatePolicy: {
      minSliceSupport: 10,
      rules: [
        { kind: 'bound', id: 'overall-fpr', metric: 'fpr', slices: 'overall', max: 0.2 },
        // One check per sender domain: thousands of slices, most of them thin.
        { kind: 'bound', id: 'domain-fpr', metric: 'fpr', slices: { attribute: 'sender_domain', value: '*' }, max: 0.5, onFail: 'ask' },
        { kind: 'human_approval', id: 'sign-off' },
      ],
    },
  });
  const [m] = await db.select().from(models).where(eq(models.name, model));
  const modelId = m!.id;
  const mails = syntheticEmails(EXAMPLES, 'mail', 11);
  const r = rng(5);
  for (let i = 0; i < mails.length; i += 2000) {
    await db.insert(examples).values(
      mails.slice(i, i + 2000).map((e) => ({ modelId, externalId: e.externalId, input: e.input, label: e.label, slices: { ...e.slices } as Record<string, string>, split: r() < 0.3 ? ('heldout' as const) : ('train' as const) })),
    );
  }
  t.diagnostic(`${EXAMPLES} examples loaded (${elapsed()})`);
  const trainerParams = { epochs: 1, dimsLog2: 14, ngramMax: 1 as const };

  // v1, the champion the shadow window and the canary compare with.
  const first = await operator.runs.start.mutate({ model, trigger: 'bootstrap', trainerParams });
  await waitForStatus(env, first.runId, ['awaiting_approval', 'rejected', 'failed'], 240_000);
  await approveAsRead(approver, first.runId, 'bootstrap of the 50k model');
  assert.equal((await waitForStatus(env, first.runId, ['promoted', 'rejected', 'failed'])).status, 'promoted');
  t.diagnostic(`v1 promoted (${elapsed()})`);

  // Production traffic for the annotation pool (unlabelled examples answered by v1).
  const traffic = syntheticEmails(TRAFFIC, 'traffic', 12);
  const truth = new Map(traffic.map((e) => [e.externalId, e.label]));
  await logTraffic(env, model, traffic);
  const annotator = await annotatorClient(env, `ann-${uid()}`);

  const second = await operator.runs.start.mutate({
    model,
    trainerParams,
    annotation: { budget: 30, overlap: 1, goldShare: 0, deadlineSeconds: 300, assignmentSeconds: 60, seed: 3 },
    saturation: { fractions: [0.05, 0.1, 0.2, 1], seeds: 2 },
    rollout: { shadowSeconds: 3, steps: [{ weight: 0.5, analysisSeconds: 1 }] },
  });
  const runId = second.runId;
  // The annotator labels every task the batch hands out, until the run has moved past annotation.
  let labelled = 0;
  await waitFor(
    'the annotation batch to be labelled',
    async () => {
      for (let { task } = await annotator.annotation.next.mutate({}); task; { task } = await annotator.annotation.next.mutate({})) {
        await annotator.annotation.submit.mutate({ taskId: task.taskId, label: truth.get(task.example.externalId) ?? 0, specVersion: task.spec.version });
        labelled++;
      }
      const [run] = await db.select().from(runs).where(eq(runs.id, runId));
      return labelled > 0 && run && !['queued', 'sampling', 'annotating'].includes(run.step) ? run : false;
    },
    240_000,
  );
  t.diagnostic(`${labelled} tasks labelled (${elapsed()})`);
  await waitForStatus(env, runId, ['awaiting_approval', 'rejected', 'failed'], 300_000);
  await approveAsRead(approver, runId, 'reviewed the domain slices');
  t.diagnostic(`v2 approved (${elapsed()})`);

  // The shadow window: v1 answered, v2 scored silently, on traffic spread over the domains.
  const candidate = await waitFor('the shadow route', async () => {
    const [shadow] = await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'shadow')));
    return shadow?.versionId ?? null;
  });
  const [route] = await db.select().from(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'production')));
  const tag = uid();
  const now = new Date();
  const shadowed = syntheticEmails(SHADOWED, `shadow-${tag}`, 13, SHADOW_DOMAINS);
  for (let i = 0; i < shadowed.length; i += 2000) {
    const chunk = shadowed.slice(i, i + 2000);
    await db.insert(predictions).values(chunk.map((e) => ({ modelId, versionId: route!.versionId, requestId: e.externalId, score: e.label ? 0.9 : 0.1, decision: e.label, attributes: { ...e.slices } as Record<string, string>, occurredAt: now, loggedBy: 'test' })));
    await db.insert(shadowPredictions).values(chunk.map((e) => ({ modelId, versionId: candidate, requestId: e.externalId, score: e.label ? 0.9 : 0.1, decision: e.label, attributes: { ...e.slices } as Record<string, string>, occurredAt: now })));
  }
  // The canary window has no traffic: inconclusive, paused for a human, who promotes at once.
  await waitFor('the rollout to pause or end', async () => {
    const s = await env.clients.viewer.runs.rollout.query({ runId }).catch(() => null);
    return s && (s.phase === 'paused' || s.outcome) ? s : null;
  });
  const status = await env.clients.viewer.runs.rollout.query({ runId });
  if (status.phase === 'paused') await approver.runs.promoteNow.mutate({ runId, reason: 'the 50k canary was inconclusive by design' });
  const done = await waitForStatus(env, runId, ['promoted', 'rolled_back', 'rejected', 'failed'], 60_000);
  t.diagnostic(`run ${runId} ${done.status} (${elapsed()})`);

  // Every history: both runs and every child they started.
  const seen = new Map<string, Awaited<ReturnType<typeof historyOf>>>();
  const queue = [first.runId, runId];
  while (queue.length) {
    const id = queue.shift()!;
    if (seen.has(id)) continue;
    const h = await historyOf(id);
    seen.set(id, h);
    queue.push(...h.children);
  }
  assert.ok([...seen.keys()].some((id) => id.startsWith('batch-')), 'the annotation batch ran');
  assert.ok([...seen.keys()].some((id) => id.startsWith('saturation-')), 'the saturation check ran');
  assert.ok([...seen.keys()].some((id) => id.startsWith('rollout-')), 'the rollout ran');
  const all = [...seen.values()].flatMap((h) => payloadsOf(h.workflowId, h.history));
  for (const h of seen.values()) {
    const own = all.filter((p) => p.workflowId === h.workflowId);
    const largest = own.reduce((a, p) => Math.max(a, p.bytes), 0);
    t.diagnostic(`${h.workflowId}: ${h.history.events?.length ?? 0} events, ${h.bytes} history bytes, ${own.length} payloads, largest ${largest} bytes`);
  }
  const biggest = [...all].sort((a, b) => b.bytes - a.bytes);
  for (const p of biggest.slice(0, 8)) t.diagnostic(`${p.bytes} bytes: ${p.workflowId} #${p.eventId} ${p.eventType} ${p.what}`);
  assert.ok(done.status === 'promoted', `the run ended ${done.status}: ${JSON.stringify(done.result)}`);
  assert.ok(biggest[0]!.bytes < LIMIT, `largest payload ${biggest[0]!.bytes} bytes (${biggest[0]!.workflowId} ${biggest[0]!.eventType} ${biggest[0]!.what}) >= ${LIMIT}`);
});

test('an annotation batch whose history grows (a signal per label) continues as new, keeping its deadline and its count', { timeout: 120_000 }, async () => {
  const client = env.services.client;
  const { batchId, handle, tasks, result: done } = await continuingAnnotationBatch(env, {
    mails: syntheticEmails(40, `cont-${uid()}`, 21),
    continueAfterEvents: 60,
    rounds: 4,
    hintTasks: 20,
    actor: 'ann-test',
  });
  const result = done as AnnotationBatchResult;
  assert.equal(result.closedBy, 'complete');
  assert.equal(result.progress.done, tasks.length);
  const first = await client.workflow.getHandle(batchId, handle.firstExecutionRunId).fetchHistory();
  const last = first.events!.at(-1)!;
  assert.equal(protos.temporal.api.enums.v1.EventType[last.eventType!], 'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW', 'the first run continued as new');
  const carried = JSON.parse(Buffer.from(last.workflowExecutionContinuedAsNewEventAttributes!.input!.payloads![0]!.data!).toString()) as AnnotationBatchInput;
  assert.equal(new Date(carried.continued!.deadline).getTime() > Date.now(), true, 'the deadline goes with it');
  assert.ok(first.events!.length < 200, `the first run's history stayed short: ${first.events!.length} events`);
  assert.ok(result.signals >= 80 + tasks.length - 20, `signals are counted across runs (${result.signals}); a hint that arrives just as a run hands over may be dropped`);
  const described = await client.workflow.getHandle(batchId).describe();
  assert.notEqual(described.runId, handle.firstExecutionRunId, 'the batch finished in a later run');
});
