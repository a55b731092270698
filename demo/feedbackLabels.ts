// The demo's feedback-as-labels line: before the second act the engineer opts the spam model in, so the
// readers' corrections and overrides on the year's later mail become training labels (source 'feedback',
// selected by the user); after it, the drift-triggered run's snapshot shows each source's share, and the
// flywheel shows the share the model selected itself beside the share users selected.
import type { ApiClient } from '../api/client';

const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);

/** Runs `act` with the model opted in to feedback labels, then reports what they became. */
export async function withFeedbackLabels<T extends { retrainingRunId: string | null }>(
  opts: { engineer: ApiClient; model: string; say: (msg: string) => void },
  act: () => Promise<T>,
): Promise<T> {
  const { engineer, model, say } = opts;
  const set = await engineer.feedback.setLabelling.mutate({ model, kinds: ['correction', 'override'] });
  say(`\nml-engineer opts '${model}' in to feedback labels (${set.kinds.join(', ')}): from now on a reader's correction or override labels its e-mail (source feedback, selected by the user)`);
  const result = await act();

  say('\n11. feedback as labels: who chose the training labels');
  const runId = result.retrainingRunId;
  const packet = runId ? (await engineer.reports.get.query({ runId }).catch(() => null))?.packet : null;
  const mix = packet?.labelMix;
  if (mix) {
    // Largest first (jsonb keeps its own key order).
    const list = (counts: Record<string, number | undefined>) =>
      Object.entries(counts)
        .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
        .map(([k, n]) => `${k} ${n ?? 0} (${pct((n ?? 0) / Math.max(1, mix.train))})`)
        .join(', ');
    say(`  run ${runId}'s snapshot, ${mix.train} training labels: by source ${list(mix.bySource)}`);
    say(`  selected by: ${list(mix.bySelector)}`);
  }
  const health = await engineer.feedback.health.query({ model });
  const ls = health.labelSources;
  say(
    `  flywheel: self-selected share (source or selector 'model') ${pct(ls.selfLabelShare)} (limit ${pct(ls.selfLabelLimit)})${ls.selfLabelAlert ? ' ALERT' : ''}; ` +
      `user-selected (feedback) ${pct(ls.userSelectedShare)} of snapshot ${ls.latestSnapshot?.snapshotId ?? 'n/a'}'s training labels; ` +
      `a gate rule {kind: 'self_selected_share', selectors: ['model', 'user'], max} would cap both`,
  );
  return result;
}
