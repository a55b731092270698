// A batch for the console's annotation tests, put straight into the database as a run would leave it
// (a model, its unlabelled examples, an open batch, one task per example, some of them gold), with its
// annotationBatch workflow started so labels close it. Lighter than a run: nothing is trained.
import { uid, type TestEnv } from '../helpers';
import { annotationBatches, annotationTasks, examples, models } from '../../db/schema';
import type { AnnotationBatchInput } from '../../workflows/messages';

export interface PlantedItem {
  externalId: string;
  input: Record<string, string>;
  /** Set for a gold item: the label it must get. */
  gold?: number;
}

export async function plantBatch(env: TestEnv, items: PlantedItem[], opts: { startWorkflow?: boolean; deadlineSeconds?: number } = {}) {
  const db = env.services.opened.db;
  const [m] = await db.insert(models).values({ name: `annotate-${uid()}`, createdBy: 'test' }).returning();
  const rows = await db
    .insert(examples)
    .values(items.map((e) => ({ modelId: m!.id, externalId: e.externalId, input: e.input, label: null, slices: {}, split: 'train' as const })))
    .returning({ id: examples.id, externalId: examples.externalId });
  const batchId = `batch-console-${uid()}`;
  const deadlineSeconds = opts.deadlineSeconds ?? 900;
  await db.insert(annotationBatches).values({ id: batchId, modelId: m!.id, specVersion: 1, overlap: 1, goldShare: 0, deadline: new Date(Date.now() + deadlineSeconds * 1000), createdBy: 'test' });
  const tasks = await db
    .insert(annotationTasks)
    .values(
      rows.map((r) => {
        const item = items.find((i) => i.externalId === r.externalId)!;
        return item.gold === undefined
          ? { batchId, exampleId: r.id, stratum: 'remainder', inclusionProbability: 1 }
          : { batchId, exampleId: r.id, stratum: 'gold', inclusionProbability: 1, isGold: 1, goldLabel: item.gold };
      }),
    )
    .returning({ id: annotationTasks.id, exampleId: annotationTasks.exampleId });
  if (opts.startWorkflow) {
    await env.services.client.workflow.start('annotationBatch', {
      taskQueue: env.services.taskQueues.control,
      workflowId: batchId,
      args: [{ batchId, modelId: m!.id, tasks: tasks.length, deadlineSeconds, assignmentSeconds: 600 } satisfies AnnotationBatchInput],
    });
  }
  const externalIdOfTask = new Map(tasks.map((t) => [t.id, rows.find((r) => r.id === t.exampleId)!.externalId]));
  return { model: m!.name, modelId: m!.id, batchId, tasks, externalIdOfTask };
}
