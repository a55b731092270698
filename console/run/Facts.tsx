// What a run is, in one list: model, status, trigger, who asked, when, the candidate, the gate and how it
// ended, with links to the model, the rollout and the workflow in Temporal's UI.
import { Link } from 'wouter';
import { when } from '../format';
import { useSession } from '../session';
import type { Outputs } from '../trpc';
import type { Run } from './steps';

export function Facts({ run, packetHash, rollout }: { run: Run; packetHash: string | null; rollout: Outputs['runs']['rollout'] | null }) {
  const { identity } = useSession();
  const { uiUrl, namespace } = identity.temporal;
  const result = run.result;
  return (
    <dl className="facts">
      <dt>Model</dt>
      <dd>
        <Link href={`/models/${encodeURIComponent(run.model)}`}>{run.model}</Link>
      </dd>
      <dt>Status</dt>
      <dd>
        <span className={`badge ${run.status}`}>{run.status.replace(/_/g, ' ')}</span>
      </dd>
      <dt>Trigger</dt>
      <dd>{run.trigger}</dd>
      <dt>Requested by</dt>
      <dd>{run.requestedBy}</dd>
      <dt>Started</dt>
      <dd>{when(run.startedAt)}</dd>
      <dt>Finished</dt>
      <dd>{run.finishedAt ? when(run.finishedAt) : 'not yet'}</dd>
      <dt>Candidate version</dt>
      <dd>{run.candidateVersion === null ? '—' : `v${run.candidateVersion}`}</dd>
      <dt>Gate decision</dt>
      <dd>{run.gateDecision ? <span className={`badge ${run.gateDecision}`}>{run.gateDecision.replace(/_/g, ' ')}</span> : '—'}</dd>
      <dt>Packet hash</dt>
      <dd>{packetHash ? <code className="hash">{packetHash}</code> : '—'}</dd>
      <dt>Result</dt>
      <dd>{result ? `${result.outcome ?? run.status}: ${result.reason}` : '—'}</dd>
      {rollout && (
        <>
          <dt>Rollout</dt>
          <dd>
            <Link href={`/runs/${encodeURIComponent(run.runId)}/rollout`}>Rollout of {run.runId}</Link> ({rollout.phase})
          </dd>
        </>
      )}
      {uiUrl && (
        <>
          <dt>Workflow</dt>
          <dd>
            <a href={`${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(run.runId)}`} target="_blank" rel="noreferrer">
              Open in Temporal UI
            </a>
          </dd>
        </>
      )}
    </dl>
  );
}
