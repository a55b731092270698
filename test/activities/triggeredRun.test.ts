// A run a schedule or a drift monitor starts (recordTriggeredRun) gathers the evidence its model's gate
// policy judges, as one started by runs.start does: without the held_out rule's time split, a scheduled
// run would freeze a random split and the gate would fail it closed for want of a design it never asked for.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createAuditActivities } from '../../activities/audits';
import type { OpenedDb } from '../../db/index';
import { registerModel } from '../../db/models';
import { openFileDatabase } from '../fileDatabase';

let opened: OpenedDb;
before(async () => {
  opened = await openFileDatabase();
});
after(() => opened.close());

const rules = [
  { kind: 'bound', id: 'auc', metric: 'auc', slices: 'overall', min: 0.5 },
  { kind: 'human_approval', id: 'sign-off' },
];

async function triggered(name: string, extraRules: object[]) {
  const model = await registerModel(opened.db, { name, description: '', createdBy: 'test', gatePolicy: { description: 'test', rules: [...rules, ...extraRules] } });
  const activities = createAuditActivities({ db: opened.db });
  return activities.recordTriggeredRun({
    modelId: model!.id,
    model: name,
    trigger: 'drift',
    requestedBy: 'schedule:test',
    key: `wf-${name}`,
    approvalTimeoutSeconds: 60,
    trainingTaskQueue: 'training',
  });
}

test("a triggered run takes its policy's held_out window and saturation design", async () => {
  const run = await triggered('scheduled-time-split', [
    { kind: 'held_out', id: 'future', design: 'time', newest: '14d' },
    { kind: 'saturation', id: 'more-data', seeds: 2 },
  ]);
  assert.equal(run.created, true);
  assert.deepEqual(run.input.heldOut, { kind: 'time', newest: '14d' });
  assert.equal(run.input.saturation?.seeds, 2);
});

test('a policy without those rules gives a triggered run neither', async () => {
  const run = await triggered('scheduled-plain', []);
  assert.equal(run.input.heldOut, undefined);
  assert.equal(run.input.saturation, undefined);
});
