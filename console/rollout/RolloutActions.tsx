// Steering a live rollout: roll back, promote now, pause, resume, each with a reason, each offered only to
// the roles the server allows (api/routers/runs ROLLOUT_ROLES, checked against it at compile time) and
// only when the phase allows it. The workflow's validators still decide; their refusal is shown as said.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ReasonForm, type ReasonAction } from '../components/ReasonForm';
import { useSession } from '../session';
import { useTRPC } from '../trpc';
import { controlsFor, ROLES, type RolloutControl } from './controls';
import type { RolloutStatus } from './specs';

export function RolloutActions({ runId, status, requestedBy }: { runId: string; status: RolloutStatus; requestedBy: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { identity, can } = useSession();
  const rollback = useMutation(trpc.runs.rollback.mutationOptions());
  const promoteNow = useMutation(trpc.runs.promoteNow.mutationOptions());
  const pause = useMutation(trpc.runs.pause.mutationOptions());
  const resume = useMutation(trpc.runs.resume.mutationOptions());
  const all: Record<RolloutControl, ReasonAction> = {
    rollback: { label: 'Roll back', danger: true, run: (reason) => rollback.mutateAsync({ runId, reason }) },
    'promote-now': { label: 'Promote now', run: (reason) => promoteNow.mutateAsync({ runId, reason }) },
    pause: { label: 'Pause', run: (reason) => pause.mutateAsync({ runId, reason }) },
    resume: { label: 'Resume', run: (reason) => resume.mutateAsync({ runId, reason }) },
  };
  // Four eyes: whoever requested the run does not promote it early (the server also checks token issuers).
  const mine = identity.subject === requestedBy;
  const offered = controlsFor(status).filter((c) => ROLES[c].some((r) => can(r)) && !(c === 'promote-now' && mine));
  if (offered.length === 0) return null;
  return (
    <ReasonForm
      title="Steer this rollout"
      actions={offered.map((c) => all[c])}
      onDone={() => queryClient.invalidateQueries({ queryKey: trpc.runs.rollout.queryKey({ runId }) })}
    />
  );
}
