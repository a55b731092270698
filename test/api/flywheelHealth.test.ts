// Flywheel health through the API: two weeks of traffic and feedback planted in the database, the
// endpoint's counts checked against the same counts taken in JavaScript from the planted rows, the
// staleness alert on a planted rise in corrections, an under-covered slice, the self-label alert.
import assert from 'node:assert/strict';
import { Rng } from '../../analysis/random';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { CORRECTION_KINDS, COVERAGE_KINDS, EXPLICIT_KINDS, flywheelHealth, type FlywheelInput } from '../../analysis/flywheel';
import { datasetSnapshotMembers, datasetSnapshots, examples, feedbackEvents, modelVersions, predictions, type LabelSource } from '../../db/schema';
import { startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv & { url: string };
let model: string;

const FROM = '2026-10-18T00:00:00.000Z';
const TO = '2026-11-01T00:00:00.000Z';
const fromMs = Date.parse(FROM);
const toMs = Date.parse(TO);
const BUCKETS = 7;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string }).code : undefined);

interface Pred {
  requestId: string;
  at: number;
  attributes: Record<string, string>;
}
interface Event {
  key: string;
  requestId: string | null;
  kind: string;
  at: number;
  attributes: Record<string, string>;
}

const preds: Pred[] = [];
const events: Event[] = [];
const labelRows: { source: LabelSource; label: 0 | 1 | null }[] = [];
let latestSnapshotId = 0;
const latestTrain: Record<string, number> = { import: 50, annotation: 15, feedback: 10, model: 25 };

function plant() {
  // Seeded, so the planted data are the same on every run.
  const rng = new Rng(20261101);
  const r = () => rng.next();
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const attrs = (): Record<string, string> => {
    const u = r();
    const a: Record<string, string> = { lang: u < 0.6 ? 'en' : u < 0.85 ? 'de' : 'fr', channel: r() < 0.5 ? 'web' : 'mobile' };
    if (r() < 0.1) a.tier = 'gold';
    return a;
  };
  // 300 requests a day for 14 days in the window, plus requests just before and after it.
  for (let day = 0; day < 14; day++) {
    for (let i = 0; i < 300; i++) preds.push({ requestId: `r-${day}-${i}`, at: fromMs + day * DAY + Math.floor(r() * DAY), attributes: attrs() });
  }
  for (let i = 0; i < 100; i++) preds.push({ requestId: `early-${i}`, at: fromMs - 2 * HOUR + Math.floor(r() * 2 * HOUR), attributes: attrs() });
  for (let i = 0; i < 100; i++) preds.push({ requestId: `late-${i}`, at: toMs + Math.floor(r() * DAY), attributes: attrs() });

  let n = 0;
  const emit = (p: Pred | null, kind: string, at: number, attributes: Record<string, string>) =>
    events.push({ key: `fb-${n++}`, requestId: p?.requestId ?? null, kind, at, attributes });
  for (const p of preds) {
    const day = Math.floor((p.at - fromMs) / DAY);
    const de = p.attributes.lang === 'de';
    // de gets a tenth of the explicit feedback and a fifth of the corrections: under-covered.
    const explicitP = de ? 0.01 : 0.1;
    // Corrections rise in the last two days (the last bucket): 5% -> 12%.
    const correctionP = (day >= 12 ? 0.12 : 0.05) * (de ? 0.2 : 1);
    const own = () => (r() < 0.1 ? {} : { ...p.attributes }); // some senders attach no attributes
    const later = () => p.at + Math.floor(r() * 2 * HOUR);
    if (r() < explicitP) {
      emit(p, pick(EXPLICIT_KINDS), later(), own());
      if (r() < 0.2) emit(p, pick(EXPLICIT_KINDS), later(), own()); // a second one on the same request
    }
    if (r() < correctionP) {
      emit(p, pick(CORRECTION_KINDS), later(), own());
      if (r() < 0.2) emit(p, pick(CORRECTION_KINDS), later(), own());
    }
    if (r() < 0.5) emit(p, 'dwell', later(), own()); // passive: not counted anywhere
    if (r() < 0.02) emit(p, 'retry', later(), own());
  }
  // Overrides that name no request: counted for coverage (by their own attributes), never linked to traffic.
  for (let i = 0; i < 50; i++) emit(null, 'override', fromMs + Math.floor(r() * 14 * DAY), { lang: 'en' });

  const sources: [LabelSource, number][] = [
    ['import', 150],
    ['annotation', 60],
    ['feedback', 30],
    ['model', 60],
  ];
  for (const [source, count] of sources) for (let i = 0; i < count; i++) labelRows.push({ source, label: (i % 2) as 0 | 1 });
  for (let i = 0; i < 20; i++) labelRows.push({ source: 'model', label: null }); // unlabelled: not in the mix
}

before(async () => {
  plant();
  // The router in-process; HTTP is served too, for the REST route's query-string handling.
  const callerEnv = await startCallerEnv();
  env = Object.assign(callerEnv, { url: await callerEnv.serve() });
  const db = env.db;
  model = `spam-${uid()}`;
  const { id: modelId } = await env.clients.operator.models.register.mutate({ name: model });
  const [version] = await db
    .insert(modelVersions)
    .values({ modelId, version: 1, trainer: 'test', params: {}, artifact: new Uint8Array([1]), artifactHash: 'sha256:x', status: 'production' })
    .returning({ id: modelVersions.id });
  const versionId = version!.id;

  for (let i = 0; i < preds.length; i += 1000) {
    await db.insert(predictions).values(
      preds.slice(i, i + 1000).map((p, j) => ({
        modelId,
        versionId,
        requestId: p.requestId,
        score: ((i + j) % 100) / 100,
        decision: (i + j) % 100 >= 50 ? 1 : 0,
        attributes: p.attributes,
        occurredAt: new Date(p.at),
        loggedBy: 'test',
      })),
    );
  }
  for (let i = 0; i < events.length; i += 1000) {
    await db.insert(feedbackEvents).values(
      events.slice(i, i + 1000).map((e) => ({
        modelId,
        versionId,
        idempotencyKey: e.key,
        requestId: e.requestId,
        kind: e.kind as (typeof COVERAGE_KINDS)[number],
        value: {},
        attributes: e.attributes,
        occurredAt: new Date(e.at),
        ingestedBy: 'test',
      })),
    );
  }

  const ids = await db
    .insert(examples)
    .values(labelRows.map((l, i) => ({ modelId, externalId: `ex-${i}`, input: { body: `x${i}` }, label: l.label, split: 'train' as const, labelSource: l.source })))
    .returning({ id: examples.id, labelSource: examples.labelSource, label: examples.label });
  const bySource = (s: LabelSource) => ids.filter((e) => e.labelSource === s && e.label !== null).map((e) => e.id);
  const snapshot = async (runId: string, createdAt: string, train: Record<string, number>, heldoutModel: number) => {
    const [s] = await db
      .insert(datasetSnapshots)
      .values({ modelId, runId: `${runId}-${uid()}`, contentHash: 'sha256:s', trainCount: 0, heldoutCount: 0, createdAt: new Date(createdAt) })
      .returning({ id: datasetSnapshots.id });
    const members: (typeof datasetSnapshotMembers.$inferInsert)[] = Object.entries(train).flatMap(([source, count]) =>
      bySource(source as LabelSource)
        .slice(0, count)
        .map((exampleId) => ({ snapshotId: s!.id, exampleId, split: 'train' as const, label: 0 })),
    );
    // Held-out members come from the end of the model-labelled list, so they never collide with training ones.
    members.push(...bySource('model').slice(-heldoutModel).map((exampleId) => ({ snapshotId: s!.id, exampleId, split: 'heldout' as const, label: 1 })));
    await db.insert(datasetSnapshotMembers).values(members);
    return s!.id;
  };
  await snapshot('run-old', '2026-10-01T00:00:00Z', { import: 100 }, 10);
  latestSnapshotId = await snapshot('run-latest', '2026-10-20T00:00:00Z', latestTrain, 30);
  // Frozen after the window's end: not the window's latest snapshot.
  await snapshot('run-future', '2026-11-10T00:00:00Z', { model: 30 }, 5);
});

after(async () => {
  await env?.stop();
});

/** The counts the endpoint should find, taken from the planted rows with plain JavaScript. */
function expectedInput(slices?: string[]): FlywheelInput {
  const inWindow = (t: number) => t >= fromMs && t < toMs;
  const traffic = preds.filter((p) => inWindow(p.at));
  const explicitSet = new Set<string>(EXPLICIT_KINDS);
  const correctionSet = new Set<string>(CORRECTION_KINDS);
  const coverageSet = new Set<string>(COVERAGE_KINDS);
  const explicitReq = new Set(events.filter((e) => e.requestId && explicitSet.has(e.kind) && e.at >= fromMs).map((e) => e.requestId!));
  const correctedReq = new Set(events.filter((e) => e.requestId && correctionSet.has(e.kind) && e.at >= fromMs).map((e) => e.requestId!));
  const span = toMs - fromMs;
  const buckets = Array.from({ length: BUCKETS }, (_, i) => ({ start: new Date(fromMs + Math.floor((i * span) / BUCKETS)).toISOString(), traffic: 0, corrections: 0 }));
  for (const p of traffic) {
    const b = buckets[Math.floor(((p.at - fromMs) * BUCKETS) / span)]!;
    b.traffic++;
    if (correctedReq.has(p.requestId)) b.corrections++;
  }
  const keys = slices ?? [...new Set(traffic.flatMap((p) => Object.keys(p.attributes)))];
  const windowEvents = events.filter((e) => inWindow(e.at) && coverageSet.has(e.kind));
  const sliceCounts = keys.map((attribute) => {
    const t = new Map<string, number>();
    const f = new Map<string, number>();
    for (const p of traffic) if (attribute in p.attributes) t.set(p.attributes[attribute]!, (t.get(p.attributes[attribute]!) ?? 0) + 1);
    for (const e of windowEvents) if (attribute in e.attributes) f.set(e.attributes[attribute]!, (f.get(e.attributes[attribute]!) ?? 0) + 1);
    return {
      attribute,
      traffic: [...t.values()].reduce((a, b) => a + b, 0),
      feedback: [...f.values()].reduce((a, b) => a + b, 0),
      values: [...t].map(([value, n]) => ({ value, traffic: n, feedback: f.get(value) ?? 0 })),
      valuesOmitted: 0,
    };
  });
  const overall = new Map<string, number>();
  for (const l of labelRows) if (l.label !== null) overall.set(l.source, (overall.get(l.source) ?? 0) + 1);
  return {
    explicit: { requests: traffic.length, withExplicit: traffic.filter((p) => explicitReq.has(p.requestId)).length },
    slices: sliceCounts,
    buckets,
    labels: {
      overall: [...overall].map(([source, count]) => ({ source, count })),
      latestSnapshot: {
        id: latestSnapshotId,
        createdAt: '2026-10-20T00:00:00.000Z',
        train: Object.entries(latestTrain).map(([source, count]) => ({ source, count })),
        // Planted without a label_mix (as snapshots frozen before mixes were): read from the members, no selection = design.
        joint: Object.entries(latestTrain).map(([source, count]) => ({ source, by: null, count })),
      },
    },
  };
}

test('the endpoint counts what was planted, and judges it: staleness alert, under-covered slice, self-labelling', async () => {
  const got = await env.clients.viewer.feedback.health.query({ model, from: FROM, to: TO, buckets: BUCKETS });
  const want = flywheelHealth(expectedInput());
  assert.equal(got.model, model);
  assert.deepEqual(got.window, { from: FROM, to: TO, buckets: BUCKETS, bucketSeconds: (14 * 86400) / BUCKETS });
  assert.equal(got.attributesOmitted, 0);
  // Every number, interval, status and alert: the SQL aggregation equals the JavaScript count.
  assert.deepEqual(got.explicitRate, want.explicitRate);
  assert.deepEqual(got.overrideTrend, want.overrideTrend);
  assert.deepEqual(got.labelSources, want.labelSources);
  assert.deepEqual(got.settings, want.settings);
  assert.deepEqual(got.alerts, want.alerts);
  // Coverage: attribute order is alphabetical in both; values largest traffic first.
  assert.deepEqual(got.coverage, want.coverage);

  // The planted facts, read off the answer.
  const { staleness } = got.overrideTrend;
  assert.equal(staleness.status, 'alert', staleness.detail);
  assert.ok(staleness.p! < 0.01 && staleness.relativeRise! >= 0.25, staleness.detail);
  assert.ok(got.overrideTrend.slope! > 0);
  // z by hand: latest bucket vs the earlier ones pooled.
  const last = got.overrideTrend.buckets[BUCKETS - 1]!;
  const n0 = got.overrideTrend.buckets.slice(0, -1).reduce((s, b) => s + b.traffic, 0);
  const x0 = got.overrideTrend.buckets.slice(0, -1).reduce((s, b) => s + b.corrections, 0);
  const pooled = (last.corrections + x0) / (last.traffic + n0);
  const z = (last.corrections / last.traffic - x0 / n0) / Math.sqrt(pooled * (1 - pooled) * (1 / last.traffic + 1 / n0));
  assert.ok(Math.abs(staleness.z! - z) < 1e-12, `z ${staleness.z} vs ${z}`);

  assert.equal(got.explicitRate.requests, 4200);
  assert.ok(got.explicitRate.rate! > 0.05 && got.explicitRate.rate! < 0.1);
  assert.deepEqual(
    got.coverage.under.map((u) => `${u.attribute}=${u.value}`),
    ['lang=de'],
  );
  assert.deepEqual(
    got.coverage.attributes.map((a) => a.attribute),
    ['channel', 'lang', 'tier'],
  );
  assert.equal(got.feedback.events - got.feedback.linkedToTraffic >= 50, true, 'the 50 overrides without a request id are not linked');

  assert.equal(got.labelSources.latestSnapshot?.snapshotId, latestSnapshotId, 'the snapshot frozen after the window is not used');
  assert.equal(got.labelSources.selfLabelShare, 0.25);
  assert.equal(got.labelSources.selfLabelAlert, true);
  assert.equal(got.labelSources.overall.total, 300, 'unlabelled examples are not in the mix');
  assert.ok(got.alerts.some((a) => a.startsWith('staleness:')));
});

test('slices can be chosen; the REST route answers the same', async () => {
  const viewerToken = env.tokens.viewer;
  const trpc = await env.clients.viewer.feedback.health.query({ model, from: FROM, to: TO, buckets: BUCKETS, slices: ['lang', 'nope'] });
  const want = flywheelHealth(expectedInput(['lang', 'nope']));
  assert.deepEqual(trpc.coverage, want.coverage);
  assert.deepEqual(
    trpc.coverage.attributes.map((a) => [a.attribute, a.traffic]),
    [
      ['lang', 4200],
      ['nope', 0],
    ],
  );
  const qs = new URLSearchParams({ from: FROM, to: TO, buckets: String(BUCKETS) });
  qs.append('slices', 'lang');
  qs.append('slices', 'nope');
  const res = await fetch(`${env.url}/api/models/${model}/feedback/health?${qs}`, { headers: { authorization: `Bearer ${viewerToken}` } });
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(await res.json(), trpc);
  // A single slice in the query string is a one-element list.
  const one = await fetch(`${env.url}/api/models/${model}/feedback/health?from=${FROM}&to=${TO}&slices=lang`, { headers: { authorization: `Bearer ${viewerToken}` } });
  assert.equal(one.status, 200, await one.clone().text());
  assert.deepEqual(((await one.json()) as typeof trpc).coverage.attributes.map((a) => a.attribute), ['lang']);
});

test('the default window is the last 28 days ending now, in 7 buckets', async () => {
  const t0 = Date.now();
  const got = await env.clients.viewer.feedback.health.query({ model });
  const to = Date.parse(got.window.to);
  assert.ok(to >= t0 - 1000 && to <= Date.now() + 1000);
  assert.equal(to - Date.parse(got.window.from), 28 * DAY);
  assert.equal(got.window.buckets, 7);
  assert.equal(got.overrideTrend.buckets.length, 7);
});

test('roles and bad input: unknown model NOT_FOUND, bad dates and bucket counts BAD_REQUEST, ingest FORBIDDEN', async () => {
  const viewer = env.clients.viewer.feedback.health;
  await assert.rejects(viewer.query({ model: `nope-${uid()}`, from: FROM, to: TO }), (err) => codeOf(err) === 'NOT_FOUND');
  await assert.rejects(viewer.query({ model, from: 'yesterday', to: TO }), (err) => codeOf(err) === 'BAD_REQUEST');
  await assert.rejects(viewer.query({ model, from: '2026-10-18', to: TO }), (err) => codeOf(err) === 'BAD_REQUEST');
  await assert.rejects(viewer.query({ model, from: TO, to: FROM }), (err) => {
    assert.equal(codeOf(err), 'BAD_REQUEST');
    assert.match((err as Error).message, /must be before/);
    return true;
  });
  await assert.rejects(viewer.query({ model, from: FROM, to: FROM }), (err) => codeOf(err) === 'BAD_REQUEST');
  await assert.rejects(viewer.query({ model, buckets: 1 }), (err) => codeOf(err) === 'BAD_REQUEST');
  await assert.rejects(viewer.query({ model, buckets: 91 }), (err) => codeOf(err) === 'BAD_REQUEST');
  await assert.rejects(viewer.query({ model, slices: Array.from({ length: 21 }, (_, i) => `k${i}`) }), (err) => codeOf(err) === 'BAD_REQUEST');
  const rest = await fetch(`${env.url}/api/models/${model}/feedback/health?from=not-a-date`, { headers: { authorization: `Bearer ${env.tokens.viewer}` } });
  assert.equal(rest.status, 400);
  const { client: ingest } = await env.as(`sender-${uid()}`, 'ingest');
  await assert.rejects(ingest.feedback.health.query({ model }), (err) => codeOf(err) === 'FORBIDDEN');
});
