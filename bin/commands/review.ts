// `retrain review <model>`: the review queue of abstained requests (what waits for a person, what is late)
// and how well the SLA is kept, as GET /models/{name}/review answers it.
import type { Command } from 'commander';
import { api, output, pct, withClient, type ClientOpts } from '../cli';

const dur = (s: number | null) => (s === null ? 'n/a' : s < 120 ? `${s.toFixed(0)}s` : s < 7200 ? `${(s / 60).toFixed(1)}min` : `${(s / 3600).toFixed(1)}h`);

export function registerReviewCommand(program: Command): void {
  withClient(program.command('review <model>').description("the model's review queue of abstained requests: pending, overdue, reviewed within the SLA, time to review"))
    .action(async (model: string, o: ClientOpts) => {
      const q = await api(o).review.queue.query({ name: model });
      output(o, q, () => {
        const w = q.withinSla;
        return [
          `${q.model}: review queue (SLA ${dur(q.slaSeconds)})`,
          `  pending ${q.pending} (overdue ${q.overdue})${q.oldestPendingDueAt ? `, oldest due ${q.oldestPendingDueAt}` : ''}`,
          `  reviewed ${q.reviewed}; within SLA ${w.count}/${w.n} = ${pct(w.interval.estimate)} [${pct(w.interval.lower)}, ${pct(w.interval.upper)}]`,
          `  time to review: median ${dur(q.medianSecondsToReview)}, p90 ${dur(q.p90SecondsToReview)}`,
        ].join('\n');
      });
    });
}
