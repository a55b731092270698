// The demo's review line: the production version serves an abstain band (the policy's abstainHalfWidth),
// so traffic inside it was answered 'abstain' and queued for a person; the annotator pool works review items
// before the sample. What the queue and the band look like once the pool has worked.
import type { ApiClient } from '../api/client';

const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const secs = (s: number | null) => (s === null ? 'n/a' : `${s.toFixed(1)} s`);

export async function reviewAct(opts: { api: ApiClient; model: string; say: (m: string) => void }): Promise<void> {
  const { api, model, say } = opts;
  const report = await api.review.abstainReport.query({ name: model });
  const queue = await api.review.queue.query({ name: model });
  const band = report.rule.abstain;
  const all = report.groups[0]!;
  if (!band) {
    say(`  review: v${report.version} serves its threshold alone (no abstain band in the policy it was gated under)`);
    return;
  }
  const before = all.before;
  say(
    `  abstain band [${band.lower.toFixed(2)}, ${band.upper.toFixed(2)}) of v${report.version}: ${all.after.abstained.count} of ${all.after.n} requests abstained (${pct(all.after.abstained.interval.estimate)}` +
      `${before ? `; the packet predicted ${pct(before.abstained.interval.estimate)} on held-out` : ''}), ` +
      `${queue.reviewed} reviewed by the pool (median ${secs(queue.medianSecondsToReview)}, p90 ${secs(queue.p90SecondsToReview)} after queueing), ${queue.pending} pending; ` +
      `within the ${queue.slaSeconds / 3600} h SLA ${queue.withinSla.count}/${queue.withinSla.n} (the replayed mail is dated years ago, so its due times had passed before it was served)`,
  );
}
