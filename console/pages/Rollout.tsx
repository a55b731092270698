// A run's rollout: where it is (phase, canary step and weight), the shadow window's comparison, every
// analysis window's judgement, and the controls the signed-in role may use in this phase. Polls until
// the rollout has ended.
import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'wouter';
import { Empty, ErrorState, Loading, Query } from '../components/states';
import { pct } from '../format';
import { RolloutActions } from '../rollout/RolloutActions';
import { AnalysisTable, ShadowComparison, WeightChart } from '../rollout/RolloutParts';
import type { RolloutStatus } from '../rollout/specs';
import { errorCode, useTRPC, type Outputs } from '../trpc';

const POLL_MS = 2_000;

export function RolloutPage() {
  const { runId = '' } = useParams<{ runId: string }>();
  const trpc = useTRPC();
  const run = useQuery({ ...trpc.runs.get.queryOptions({ runId }), refetchInterval: (q) => (q.state.data?.finishedAt ? false : 5_000) });
  const rollout = useQuery({
    ...trpc.runs.rollout.queryOptions({ runId }),
    retry: false,
    // Until it ends; a run that has not reached its rollout yet is asked again while it runs.
    refetchInterval: (q) => (q.state.data?.outcome != null || (q.state.error && run.data?.finishedAt) ? false : POLL_MS),
  });
  return (
    <section>
      <h1>Rollout of run {runId}</h1>
      <p>
        <Link href={`/runs/${encodeURIComponent(runId)}`}>Back to the run</Link>
      </p>
      <Query q={run} what="the run">
        {(r) =>
          rollout.isError ? (
            errorCode(rollout.error) === 'NOT_FOUND' ? (
              <Empty>
                Run {r.runId} ({r.model}) has no rollout {r.finishedAt ? `: it ended ${r.status.replace('_', ' ')} at step ${r.step}` : `yet: it is at step ${r.step}`}.
              </Empty>
            ) : (
              <ErrorState error={rollout.error} what="the rollout" />
            )
          ) : rollout.data ? (
            <RolloutView runId={runId} run={r} status={rollout.data} />
          ) : (
            <Loading what="the rollout" />
          )
        }
      </Query>
    </section>
  );
}

function RolloutView({ runId, run, status }: { runId: string; run: Outputs['runs']['get']; status: RolloutStatus }) {
  return (
    <>
      <dl className="facts" aria-label="Rollout state">
        <dt>Model</dt>
        <dd>
          <Link href={`/models/${encodeURIComponent(run.model)}`}>{run.model}</Link> v{run.candidateVersion ?? '—'} (requested by {run.requestedBy})
        </dd>
        <dt>Phase</dt>
        <dd>
          <span className={`badge ${status.outcome ?? ''}`}>{status.phase.replace('_', ' ')}</span>
        </dd>
        <dt>Canary step</dt>
        <dd>{status.step === 0 ? 'none yet' : status.step}</dd>
        <dt>Canary weight</dt>
        <dd>{pct(status.weight, 0)}</dd>
        {status.pausedBecause && (
          <>
            <dt>Paused because</dt>
            <dd>{status.pausedBecause}</dd>
          </>
        )}
        {status.outcome && (
          <>
            <dt>Outcome</dt>
            <dd>
              <span className={`badge ${status.outcome}`}>{status.outcome.replace('_', ' ')}</span> {status.reason}
            </dd>
          </>
        )}
      </dl>
      <RolloutActions runId={runId} status={status} requestedBy={run.requestedBy} />
      <h2>Shadow comparison</h2>
      <ShadowComparison shadow={status.shadow} />
      <h2>Canary weight</h2>
      <WeightChart status={status} />
      <h2>Analysis windows</h2>
      <AnalysisTable analyses={status.analyses} />
    </>
  );
}
