// A model's served abstain band and its review queue (review.queue, review.abstainReport): what waits for a
// person and how well the SLA is kept, and the band before (the packet's prediction on held-out) beside
// after (served traffic), overall and per slice value.
import { useQuery } from '@tanstack/react-query';
import { Empty, Query } from '../components/states';
import { interval, pct } from '../format';
import { useTRPC, type Outputs as RouterOutputs } from '../trpc';

type Outputs = RouterOutputs['review'];
type Share = Outputs['queue']['withinSla'];
type Side = NonNullable<Outputs['abstainReport']['groups'][number]['before']>;

const seconds = (s: number | null) => (s === null ? '—' : s < 120 ? `${s.toFixed(0)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`);
const share = (s: Share) => `${s.count}/${s.n} = ${pct(s.interval.estimate)} ${interval(s.interval.lower, s.interval.upper)}`;

export function ReviewQueue({ model, hasProduction }: { model: string; hasProduction: boolean }) {
  const trpc = useTRPC();
  const queue = useQuery(trpc.review.queue.queryOptions({ name: model }));
  const report = useQuery({ ...trpc.review.abstainReport.queryOptions({ name: model }), enabled: hasProduction });
  return (
    <>
      <Query q={queue} what="the review queue">
        {(q) => (
          <p aria-label="Review queue">
            {q.items === 0
              ? `No abstained request has been queued for review (SLA ${seconds(q.slaSeconds)}).`
              : `Pending ${q.pending} (overdue ${q.overdue}); reviewed ${q.reviewed}, within the ${seconds(q.slaSeconds)} SLA ${share(q.withinSla)}; time to review: median ${seconds(q.medianSecondsToReview)}, p90 ${seconds(q.p90SecondsToReview)}.`}
          </p>
        )}
      </Query>
      {!hasProduction ? (
        <Empty>No production version: nothing serves, so nothing abstains.</Empty>
      ) : (
        <Query q={report} what="the abstain report">
          {(r) =>
            r.rule.abstain === null ? (
              <p>
                v{r.version} serves its threshold {r.rule.threshold.toFixed(3)} alone: {r.ruleFrozen ? 'its policy set no abstain band' : 'it was evaluated before decision rules were frozen'}.
              </p>
            ) : (
              <BandTable r={r} />
            )
          }
        </Query>
      )}
    </>
  );
}

function BandTable({ r }: { r: Outputs['abstainReport'] }) {
  const band = r.rule.abstain!;
  const cell = (side: Side | null, pick: (s: Side) => Share) => (side ? share(pick(side)) : '—');
  return (
    <table aria-label={`Abstain band of v${r.version}`}>
      <caption>
        v{r.version} answers &lsquo;abstain&rsquo; for scores in [{band.lower.toFixed(2)}, {band.upper.toFixed(2)}) and decides the rest at {r.rule.threshold.toFixed(3)}. Before: held-out
        {r.heldOutRows === null ? ' (scores not stored)' : ` (${r.heldOutRows} rows)`}; after: served requests, errors among those with a label chosen by design.
      </caption>
      <thead>
        <tr>
          <th scope="col">Slice</th>
          <th scope="col">Abstained before</th>
          <th scope="col">Abstained after</th>
          <th scope="col">Error outside before</th>
          <th scope="col">Error outside after</th>
        </tr>
      </thead>
      <tbody>
        {r.groups.map((g) => (
          <tr key={`${g.attribute ?? ''}=${g.value ?? ''}`}>
            <th scope="row">{g.attribute === null ? 'overall' : `${g.attribute}=${g.value}`}</th>
            <td>{cell(g.before, (s) => s.abstained)}</td>
            <td>{share(g.after.abstained)}</td>
            <td>{cell(g.before, (s) => s.errorOutside)}</td>
            <td>{share(g.after.errorOutside)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
