// The sign-off: for a run waiting for a human, an approver who may decide gets Approve and Reject with a
// reason (the approval carries the packet hash shown on this page: what they read); anyone else who
// could approve is told why not (the server's reason: four eyes, status); viewers get no controls.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ReasonForm } from '../components/ReasonForm';
import { Query } from '../components/states';
import { when } from '../format';
import { useSession } from '../session';
import { useTRPC, type Outputs } from '../trpc';
import type { Run } from './steps';

type Approval = NonNullable<Outputs['reports']['get']['approval']>;

export function Decision({ run, packetHash, approval }: { run: Run; packetHash: string | null; approval: Approval | null }) {
  const { can } = useSession();
  if (approval) return <Decided approval={approval} />;
  if (run.status !== 'awaiting_approval') return null;
  if (!can('approver')) {
    return (
      <section aria-labelledby="decision-h">
        <h2 id="decision-h">Decision</h2>
        <p className="hint">This run waits for an approver&apos;s sign-off.</p>
      </section>
    );
  }
  return <SignOff runId={run.runId} packetHash={packetHash} />;
}

function Decided({ approval }: { approval: Approval }) {
  return (
    <section aria-labelledby="decision-h">
      <h2 id="decision-h">Decision</h2>
      <p>
        <span className={`badge ${approval.decision}`}>{approval.decision}</span> by <strong>{approval.approver}</strong> on {when(approval.createdAt)}: {approval.reason}
      </p>
      {approval.reportHash && (
        <p className="hint">
          Signed packet <code className="hash">{approval.reportHash}</code>
        </p>
      )}
    </section>
  );
}

function SignOff({ runId, packetHash }: { runId: string; packetHash: string | null }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const eligibility = useQuery(trpc.session.gateEligibility.queryOptions({ runId }));
  const approve = useMutation(trpc.gates.approve.mutationOptions());
  const reject = useMutation(trpc.gates.reject.mutationOptions());
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.runs.pathKey() }),
      queryClient.invalidateQueries({ queryKey: trpc.reports.get.queryKey({ runId }) }),
      queryClient.invalidateQueries({ queryKey: trpc.session.gateEligibility.queryKey({ runId }) }),
    ]);
  return (
    <section aria-labelledby="decision-h">
      <h2 id="decision-h">Decision</h2>
      <Query q={eligibility} what="whether you may decide">
        {(e) =>
          !e.allowed ? (
            <p className="panel" role="note">
              You cannot decide this gate: {e.reason}
            </p>
          ) : !packetHash ? (
            <p className="hint">The approval packet is not stored yet; a decision waits for it.</p>
          ) : (
            <>
              <p className="hint">
                Your decision is bound to packet <code className="hash">{packetHash}</code>, the one shown on this page.
              </p>
              <ReasonForm
                title="Sign off"
                actions={[
                  { label: 'Approve', run: (reason) => approve.mutateAsync({ runId, reason, packetHash }) },
                  { label: 'Reject', danger: true, run: (reason) => reject.mutateAsync({ runId, reason, packetHash }) },
                ]}
                onDone={() => void refresh()}
              />
            </>
          )
        }
      </Query>
    </section>
  );
}
