// A snapshot records who chose its training labels (label_mix), computed in the database when it is
// frozen: the same record analysis/labelSelection builds from the grouped counts, unchanged when an
// example's label changes later, and shown in the version's lineage.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { labelMixOf } from '../../analysis/labelSelection';
import { examples, modelVersions, type LabelSelection, type LabelSource } from '../../db/schema';
import { freezeLabelledExamples, labelMixFromMembers, labelMixOfSnapshot } from '../../db/snapshots';
import { startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv;
let modelId: number;
const model = `labelmix-${uid()}`;
const user = (i: number): LabelSelection => ({ by: 'user', how: 'feedback:correction', inclusionProbability: null, requestId: `r${i}`, version: 1 });
const band: LabelSelection = { by: 'model', how: 'abstain-band', inclusionProbability: 1 };
// 40 train + 12 held-out: 20 imported, 8 annotated, 7 feedback (user), 5 reviewed (model); held-out all imported.
const plan: { n: number; source: LabelSource; selection: (i: number) => LabelSelection | null; split: 'train' | 'heldout' }[] = [
  { n: 20, source: 'import', selection: () => null, split: 'train' },
  { n: 8, source: 'annotation', selection: () => null, split: 'train' },
  { n: 7, source: 'feedback', selection: user, split: 'train' },
  { n: 5, source: 'review', selection: () => band, split: 'train' },
  { n: 12, source: 'import', selection: () => null, split: 'heldout' },
];

before(async () => {
  env = await startCallerEnv();
  ({ id: modelId } = await env.clients.operator.models.register.mutate({ name: model, gatePolicy: { rules: [{ kind: 'human_approval' }] } }));
  let k = 0;
  await env.db.insert(examples).values(
    plan.flatMap((p) =>
      Array.from({ length: p.n }, (_, i) => ({ modelId, externalId: `x-${k++}`, input: { body: `m${i}` }, label: i % 2, split: p.split, labelSource: p.source, labelSelection: p.selection(i) })),
    ),
  );
});
after(() => env?.stop());

test('freezing records the training mix; later label changes leave the record alone; lineage shows it', async () => {
  const snap = await freezeLabelledExamples(env.db, { modelId, runId: `run-${uid()}` });
  const mix = await labelMixOfSnapshot(env.db, snap.snapshotId);
  const expected = labelMixOf([
    { source: 'import', by: null, count: 20 },
    { source: 'annotation', by: null, count: 8 },
    { source: 'feedback', by: 'user', count: 7 },
    { source: 'review', by: 'model', count: 5 },
  ]);
  assert.deepEqual(mix, expected);
  assert.deepEqual(mix?.bySelector, { design: 28, user: 7, model: 5 });
  assert.equal(mix?.train, snap.trainCount);

  // A feedback correction on an imported training example after the freeze: the record stays; the members now say otherwise.
  await env.db.update(examples).set({ labelSource: 'feedback', labelSelection: user(99) }).where(and(eq(examples.modelId, modelId), eq(examples.externalId, 'x-0')));
  assert.deepEqual(await labelMixOfSnapshot(env.db, snap.snapshotId), expected);
  assert.equal((await labelMixFromMembers(env.db, snap.snapshotId)).bySource.feedback, 8);

  await env.db.insert(modelVersions).values({ modelId, version: 1, trainer: 'test', params: {}, artifact: new Uint8Array([1]), artifactHash: 'sha256:x', status: 'candidate', snapshotId: snap.snapshotId });
  const lineage = await env.clients.viewer.models.lineage.query({ name: model, version: 1 });
  assert.deepEqual(lineage.snapshot?.labelMix, expected);
});
