// One run: what it is, its steps as the workflow reports them (polled while it runs), its approval packet
// and the sign-off, which only an approver who may decide is offered.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { Link, useParams } from 'wouter';
import { Query } from '../components/states';
import { PacketView } from '../packet/PacketView';
import { Decision } from '../run/Decision';
import { Facts } from '../run/Facts';
import { Timeline } from '../run/Timeline';
import type { Run } from '../run/steps';
import { useTRPC } from '../trpc';

const POLL_MS = 2_000;

/** A run has a gate result once it was judged: a decision recorded, or the workflow holding one. */
const judged = (run: Run) => run.gateDecision !== null || run.live?.gate != null || run.status === 'awaiting_approval';

/** A run at its rollout step, or ended as one with a rollout can (promoted, rolled back). */
const mayHaveRollout = (run: Run) => run.live?.step === 'rolling_out' || run.status === 'rolled_back' || run.status === 'promoted';

export function RunPage() {
  const trpc = useTRPC();
  const { runId = '' } = useParams<{ runId: string }>();
  const run = useQuery({
    ...trpc.runs.get.queryOptions({ runId }),
    // Poll while the run runs (or waits for a sign-off); stop once it has finished.
    refetchInterval: (q) => (q.state.data && q.state.data.finishedAt !== null ? false : POLL_MS),
  });
  return (
    <section>
      <p className="hint">
        <Link href="/runs">All runs</Link>
      </p>
      <h1>Run {runId}</h1>
      <Query q={run} what="the run">
        {(r) => <RunBody run={r} />}
      </Query>
    </section>
  );
}

function RunBody({ run }: { run: Run }) {
  const trpc = useTRPC();
  const hasGate = judged(run);
  // The same query (and cache entry) the packet view reads: the hash the page shows is the hash signed.
  const report = useQuery({ ...trpc.reports.get.queryOptions({ runId: run.runId }), enabled: hasGate });
  const packetHash = report.data?.packetHash ?? null;
  // Whether the run has (had) a rollout: only its rollout workflow knows (without a plan a run promotes at once).
  const rollout = useQuery({ ...trpc.runs.rollout.queryOptions({ runId: run.runId }), enabled: mayHaveRollout(run), retry: false });
  const hadRollout = rollout.isSuccess ? true : rollout.isError ? false : null;
  // A decision made elsewhere (another approver, the deadline) changes the status: read the packet's decision again.
  const queryClient = useQueryClient();
  const { runId, status } = run;
  useEffect(() => {
    void queryClient.invalidateQueries({ queryKey: trpc.reports.get.queryKey({ runId }) });
  }, [queryClient, trpc, runId, status]);
  return (
    <>
      <Facts run={run} packetHash={packetHash} rollout={rollout.data ?? null} />
      <h2>Steps</h2>
      <Timeline run={run} hadRollout={hadRollout} />
      {run.status === 'awaiting_approval' && (
        <p className="panel">
          This run waits for a sign-off: the evidence is below, then <a href="#decision-h">the decision</a>.
        </p>
      )}
      {hasGate && <PacketView runId={run.runId} />}
      {(!hasGate || report.data) && <Decision run={run} packetHash={packetHash} approval={report.data?.approval ?? null} />}
    </>
  );
}
