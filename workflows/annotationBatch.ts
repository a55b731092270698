// annotationBatch: waits for k labels per task (plus adjudication where they disagree) until every task is
// resolved or the deadline passes. The database is the source of truth: the API writes labels there and
// signals this workflow, which only decides WHEN to look. A periodic sweep takes back expired
// assignments (so someone else gets the task) and recounts, so a lost signal delays nothing for longer
// than one sweep, and a worker crash loses no label (labels never pass through workflow state). Every
// label is a signal in the history, so a large batch continues as new before its history grows past
// Temporal's limits, carrying only its deadline and its signal count.
import { CancellationScope, condition, continueAsNew, isCancellation, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  batchProgressQuery,
  labelSubmittedSignal,
  type AnnotationBatchInput,
  type AnnotationBatchResult,
  type BatchProgress,
} from './messages';
import { annotationSweepActivities as activities } from './proxies';

/** Events after which a batch continues as new when its input names no other limit. */
const CONTINUE_AFTER_EVENTS = 10_000;

export async function annotationBatch(input: AnnotationBatchInput): Promise<AnnotationBatchResult> {
  const deadlineMs = input.continued ? new Date(input.continued.deadline).getTime() : Date.now() + input.deadlineSeconds * 1000;
  // Sweep at least twice per assignment lifetime so an expired task waits at most half of it.
  const sweepMs = Math.max(1000, (input.assignmentSeconds * 1000) / 2);
  let progress: BatchProgress = { tasks: input.tasks, open: input.tasks, adjudication: 0, done: 0, labels: 0, reassigned: 0 };
  let signals = input.continued?.signals ?? 0;
  // Tasks the API reported as resolved since the last recount; only a recount (activity) decides completion.
  const resolved = new Set<number>();

  setHandler(labelSubmittedSignal, (s) => {
    signals++;
    if (s.taskStatus === 'done') resolved.add(s.taskId);
  });
  setHandler(batchProgressQuery, () => ({ ...progress, signals, deadline: new Date(deadlineMs).toISOString() }));

  const finished = (p: BatchProgress) => p.open === 0 && p.adjudication === 0;
  try {
    await waitForLabels();
  } catch (err) {
    // A cancelled batch stops serving tasks; the labels it has stay in the database.
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => activities.closeAnnotationBatch({ batchId: input.batchId, closedBy: 'cancelled' }));
    }
    throw err;
  }
  const closedBy = finished(progress) ? 'complete' : 'deadline';
  progress = await activities.closeAnnotationBatch({ batchId: input.batchId, closedBy });
  return { batchId: input.batchId, closedBy, progress, signals };

  async function waitForLabels(): Promise<void> {
    for (;;) {
      // Cleared before the sweep: a label reported while it runs still counts toward the next wake-up.
      resolved.clear();
      progress = await activities.sweepAnnotationBatch({ batchId: input.batchId });
      if (finished(progress)) break;
      const remaining = deadlineMs - Date.now();
      if (remaining <= 0) break;
      // A long history goes on in a fresh run: the tasks, labels and assignments are in the database, the
      // signals only hints, so a hint that arrives in between costs at most one sweep. (patched: only
      // batches that grow this long take the new path, so recorded histories replay as before.)
      const info = workflowInfo();
      if ((info.continueAsNewSuggested || info.historyLength > (input.continueAfterEvents ?? CONTINUE_AFTER_EVENTS)) && patched('annotation-continue-as-new')) {
        await continueAsNew<typeof annotationBatch>({ ...input, continued: { deadline: new Date(deadlineMs).toISOString(), signals } });
      }
      // Wake early only when signals say every task may be resolved (a race can over-count: that costs
      // one extra recount); otherwise the sweep timer paces the recounts, keeping history small.
      await condition(() => resolved.size + progress.done >= progress.tasks, Math.min(sweepMs, remaining));
    }
  }
}
