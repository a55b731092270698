// A held-out set from the future, at the router and database layers: runs.start takes the held-out
// option (or its policy's held_out rule's) into the workflow's input; freezing a time-split snapshot
// holds out the newest window against one cut (the same cut analysis/heldOutDesign computes), leaves
// undated examples out, records the design on the snapshot row, and its training lines carry ageDays
// from the cut; a held_out rule fails closed on a snapshot that was not time-split.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { timeSplit } from '../../analysis/heldOutDesign';
import { gatePolicySchema, judgePolicy, type PolicyEvidence } from '../../analysis/policy';
import { datasetSnapshotMembers, datasetSnapshots, examples } from '../../db/schema';
import { freezeLabelledExamples, heldOutDesignOf, TooFewLabelledExamples } from '../../db/snapshots';
import { exampleLinesInIdOrder, snapshotMemberKeys, snapshotSplitCount } from '../../db/trainerData';
import { RUN_WORKFLOW_TYPE, type RetrainingRunInput } from '../../workflows/messages';
import { startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv;
let modelId: number;
const model = `timesplit-${uid()}`;
const DAY = 86_400_000;
const t0 = Date.parse('2026-01-01T00:00:00Z');
// 100 dated examples one a day (day 0 .. 99), random split column every 4th, and 5 undated ones.
const rows = Array.from({ length: 100 }, (_, i) => ({
  externalId: `e-${String(i).padStart(3, '0')}`,
  input: { body: `mail ${i}` },
  label: (i % 2) as 0 | 1,
  split: (i % 4 === 0 ? 'heldout' : 'train') as 'train' | 'heldout',
  observedAt: new Date(t0 + i * DAY).toISOString(),
}));
const undated = Array.from({ length: 5 }, (_, i) => ({ externalId: `u-${i}`, input: { body: `undated ${i}` }, label: (i % 2) as 0 | 1, split: 'train' as const }));

before(async () => {
  env = await startCallerEnv();
  ({ id: modelId } = await env.clients.operator.models.register.mutate({ name: model, gatePolicy: { rules: [{ kind: 'human_approval' }] } }));
  await env.clients.operator.models.importExamples.mutate({ name: model, examples: [...rows, ...undated] });
});
after(() => env?.stop());

const startArgs = (runId: string) => env.temporal.calls.find((c) => c.kind === 'start' && c.name === RUN_WORKFLOW_TYPE && c.id === runId)!.args![0] as RetrainingRunInput;

test('runs.start: the held-out option goes into the run; without one the policy held_out rule gives it; a bad window is refused', async () => {
  const asked = await env.clients.operator.runs.start.mutate({ model, heldOut: { kind: 'time', newest: '14d' } });
  assert.deepEqual(startArgs(asked.runId).heldOut, { kind: 'time', newest: '14d' });
  const plain = await env.clients.operator.runs.start.mutate({ model });
  assert.equal(startArgs(plain.runId).heldOut, undefined);
  await env.clients.operator.gates.setPolicy.mutate({ model, policy: { rules: [{ kind: 'held_out', design: 'time', newest: 0.2 }, { kind: 'human_approval' }] } });
  const byPolicy = await env.clients.operator.runs.start.mutate({ model });
  assert.deepEqual(startArgs(byPolicy.runId).heldOut, { kind: 'time', newest: 0.2 });
  await assert.rejects(env.clients.operator.runs.start.mutate({ model, heldOut: { kind: 'time', newest: '30 days' } as never }), /duration such as '30d'/);
  await assert.rejects(env.clients.operator.runs.start.mutate({ model, heldOut: { kind: 'time', newest: 1 } as never }));
});

test('a time split by window: held out from the newest minus 30 days, undated left out, the design on the snapshot, ages from the cut', async () => {
  const snap = await freezeLabelledExamples(env.db, { modelId, runId: `r-window-${uid()}`, heldOut: { kind: 'time', newest: '30d' } });
  // Newest is day 99: the cut is day 69; days 69..99 held out (31), days 0..68 train (69).
  const expected = timeSplit(rows.map((r) => Date.parse(r.observedAt)), '30d');
  assert.equal(expected.cut, t0 + 69 * DAY);
  assert.equal(snap.heldoutCount, 31);
  assert.equal(snap.trainCount, 69);
  const design = await heldOutDesignOf(env.db, snap.snapshotId);
  assert.deepEqual(design, {
    kind: 'time',
    newest: '30d',
    cutAt: new Date(t0 + 69 * DAY).toISOString(),
    trainCount: 69,
    heldoutCount: 31,
    undated: 5,
    selectedLeftOut: 0,
    trainFrom: new Date(t0).toISOString(),
    trainTo: new Date(t0 + 68 * DAY).toISOString(),
    heldOutFrom: new Date(t0 + 69 * DAY).toISOString(),
    heldOutTo: new Date(t0 + 99 * DAY).toISOString(),
  });
  const [row] = await env.db.select().from(datasetSnapshots).where(eq(datasetSnapshots.id, snap.snapshotId));
  assert.equal(row!.asOf?.toISOString(), new Date(t0 + 69 * DAY).toISOString());
  // Every member is on the side the pure definition puts it; no undated example is a member.
  const members = await env.db
    .select({ split: datasetSnapshotMembers.split, externalId: examples.externalId })
    .from(datasetSnapshotMembers)
    .innerJoin(examples, eq(examples.id, datasetSnapshotMembers.exampleId))
    .where(eq(datasetSnapshotMembers.snapshotId, snap.snapshotId));
  assert.equal(members.length, 100);
  const side = new Map(members.map((m) => [m.externalId, m.split]));
  rows.forEach((r, i) => assert.equal(side.get(r.externalId), expected.sides[i], r.externalId));
  // Training lines carry their age at the cut; held-out lines carry none.
  const train = await exampleLinesInIdOrder(env.db, { snapshotId: snap.snapshotId, split: 'train', withLabel: true, offset: 0, limit: 1000 });
  const ages = new Map(train.map((l) => { const j = JSON.parse(l.line) as { externalId: string; ageDays?: number }; return [j.externalId, j.ageDays]; }));
  assert.equal(ages.get('e-000'), 69);
  assert.equal(ages.get('e-068'), 1);
  const heldout = await exampleLinesInIdOrder(env.db, { snapshotId: snap.snapshotId, split: 'heldout', withLabel: false, offset: 0, limit: 1000 });
  assert.ok(heldout.every((l) => !('ageDays' in JSON.parse(l.line))));
});

test('a time split by fraction matches the pure cut; the split-column design is recorded too; a window holding too few is refused', async () => {
  const snap = await freezeLabelledExamples(env.db, { modelId, runId: `r-fraction-${uid()}`, heldOut: { kind: 'time', newest: 0.25 } });
  const expected = timeSplit(rows.map((r) => Date.parse(r.observedAt)), 0.25);
  assert.equal(snap.heldoutCount, expected.sides.filter((s) => s === 'heldout').length);
  assert.equal(snap.heldoutCount, 25);
  assert.equal((await heldOutDesignOf(env.db, snap.snapshotId))?.kind, 'time');
  const random = await freezeLabelledExamples(env.db, { modelId, runId: `r-split-${uid()}` });
  assert.deepEqual(await heldOutDesignOf(env.db, random.snapshotId), { kind: 'split', trainCount: 80, heldoutCount: 25, selectedLeftOut: 0 });
  // Ages in a split-column snapshot count from the newest example (day 99).
  const [row] = await env.db.select().from(datasetSnapshots).where(eq(datasetSnapshots.id, random.snapshotId));
  assert.equal(row!.asOf?.toISOString(), new Date(t0 + 99 * DAY).toISOString());
  await assert.rejects(freezeLabelledExamples(env.db, { modelId, runId: `r-tiny-${uid()}`, heldOut: { kind: 'time', newest: '2d' } }), TooFewLabelledExamples);
});

test('a held_out rule passes a time-split snapshot and fails closed on a split-column one or none recorded', () => {
  const policy = gatePolicySchema.parse({ rules: [{ kind: 'held_out', id: 'future', design: 'time' }] });
  const evidence = (heldOutDesign: PolicyEvidence['heldOutDesign']): PolicyEvidence => ({ slices: [], deltas: null, fairness: [], thresholds: [], heldOutDesign });
  const time = judgePolicy(policy, evidence({ kind: 'time', newest: '30d', cutAt: '2026-03-11T00:00:00.000Z', trainCount: 69, heldoutCount: 31, undated: 5, trainFrom: '', trainTo: '', heldOutFrom: '', heldOutTo: '' }));
  assert.equal(time.decision, 'approved');
  assert.match(time.rules[0]!.detail, /31 held-out examples observed from 2026-03-11/);
  const split = judgePolicy(policy, evidence({ kind: 'split', trainCount: 80, heldoutCount: 25 }));
  assert.equal(split.decision, 'failed');
  assert.match(split.rules[0]!.detail, /not a time split/);
  assert.equal(judgePolicy(policy, evidence(null)).decision, 'failed');
  assert.equal(judgePolicy(policy, { slices: [], deltas: null, fairness: [], thresholds: [] }).decision, 'failed');
  // onFail ask: a human decides instead.
  const ask = gatePolicySchema.parse({ rules: [{ kind: 'held_out', design: 'time', onFail: 'ask' }] });
  assert.equal(judgePolicy(ask, evidence({ kind: 'split', trainCount: 80, heldoutCount: 25 })).decision, 'needs_approval');
});

test("the data plane's recency halves: the newest and the oldest floor(dated / 2) training rows by observedAt, the same size, disjoint", async () => {
  const snap = await freezeLabelledExamples(env.db, { modelId, runId: `r-halves-${uid()}` });
  // The split-column snapshot's training rows: 75 dated (days not divisible by 4) and 5 undated; halves of 37.
  assert.equal(await snapshotSplitCount(env.db, snap.snapshotId, 'train'), 80);
  assert.equal(await snapshotSplitCount(env.db, snap.snapshotId, 'train', null, 'newest'), 37);
  assert.equal(await snapshotSplitCount(env.db, snap.snapshotId, 'train', null, 'oldest'), 37);
  const newest = (await snapshotMemberKeys(env.db, snap.snapshotId, 'train', null, 'newest')).externalIds.sort();
  const oldest = (await snapshotMemberKeys(env.db, snap.snapshotId, 'train', null, 'oldest')).externalIds.sort();
  const dated = rows.filter((r) => r.split === 'train').map((r) => r.externalId).sort();
  assert.deepEqual(oldest, dated.slice(0, 37));
  assert.deepEqual(newest, dated.slice(-37));
  const lines = await exampleLinesInIdOrder(env.db, { snapshotId: snap.snapshotId, split: 'train', window: 'newest', withLabel: true, offset: 0, limit: 1000 });
  assert.deepEqual(lines.map((l) => (JSON.parse(l.line) as { externalId: string }).externalId).sort(), newest);
});

test('a label the model or a user selected trains but never joins the held-out set: left out on the held-out side, counted', async () => {
  // Day 95 (time: held out) and day 97 (split column: heldout) are feedback corrections; day 10 (train on both) is a review.
  const select = (externalId: string, by: 'user' | 'model') =>
    env.db
      .update(examples)
      .set({ labelSelection: { by, how: by === 'user' ? 'feedback:correction' : 'abstain-band', inclusionProbability: by === 'user' ? null : 1 } })
      .where(and(eq(examples.modelId, modelId), eq(examples.externalId, externalId)));
  await select('e-095', 'user');
  await select('e-096', 'user');
  await select('e-010', 'model');
  const membersOf = async (snapshotId: number) =>
    new Map(
      (await env.db.select({ externalId: examples.externalId, split: datasetSnapshotMembers.split }).from(datasetSnapshotMembers).innerJoin(examples, eq(examples.id, datasetSnapshotMembers.exampleId)).where(eq(datasetSnapshotMembers.snapshotId, snapshotId))).map((m) => [m.externalId, m.split]),
    );

  const time = await freezeLabelledExamples(env.db, { modelId, runId: `r-selected-time-${uid()}`, heldOut: { kind: 'time', newest: '30d' } });
  const timeMembers = await membersOf(time.snapshotId);
  assert.equal(timeMembers.has('e-095'), false, 'a user-selected label in the newest window is left out');
  assert.equal(timeMembers.has('e-096'), false);
  assert.equal(timeMembers.get('e-010'), 'train', 'a model-selected label before the cut trains');
  // The cut is placed among the designed labels: newest designed is day 99, so the cut stays at day 69; 31 - 2 held out.
  assert.deepEqual([time.trainCount, time.heldoutCount], [69, 29]);
  const timeDesign = await heldOutDesignOf(env.db, time.snapshotId);
  assert.equal(timeDesign?.kind === 'time' && timeDesign.selectedLeftOut, 2);

  const split = await freezeLabelledExamples(env.db, { modelId, runId: `r-selected-split-${uid()}` });
  const splitMembers = await membersOf(split.snapshotId);
  // e-096 is on the split column's held-out side (96 % 4 = 0): left out; e-095 is a training row and trains.
  assert.equal(splitMembers.has('e-096'), false);
  assert.equal(splitMembers.get('e-095'), 'train');
  const splitDesign = await heldOutDesignOf(env.db, split.snapshotId);
  assert.equal(splitDesign?.kind === 'split' && splitDesign.selectedLeftOut, 1);
  assert.equal(split.heldoutCount, 24);
});
