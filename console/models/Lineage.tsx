// One version's lineage (models.lineage): artifact, trainer, snapshot, gate, approval, deployments.
import { useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { Empty, Query } from '../components/states';
import { shortHash, when } from '../format';
import { useTRPC, type Outputs } from '../trpc';

type Lineage = Outputs['models']['lineage'];

export function VersionLineage({ model, version }: { model: string; version: number }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.models.lineage.queryOptions({ name: model, version }));
  return <Query q={q} what={`the lineage of v${version}`}>{(l) => <LineageView l={l} />}</Query>;
}

function LineageView({ l }: { l: Lineage }) {
  return (
    <>
      <dl className="facts" aria-label={`Lineage of v${l.version}`}>
        <dt>Status</dt>
        <dd>
          <span className={`badge ${l.status}`}>{l.status.replace('_', ' ')}</span>
        </dd>
        <dt>Artifact</dt>
        <dd>
          <span className="hash" title={l.artifact.sha256}>
            {shortHash(l.artifact.sha256)}
          </span>
          {l.artifact.uri ? ` at ${l.artifact.uri}` : ' (in the version row)'}
          {l.artifact.size !== null ? `, ${l.artifact.size} bytes` : ''}
        </dd>
        <dt>Trainer</dt>
        <dd>
          {l.trainer.name}
          {l.trainer.version ? ` ${l.trainer.version}` : ''}
          {l.trainer.taskQueue ? ` on ${l.trainer.taskQueue}` : ''}
          {l.trainer.codeDigest ? `, code ${shortHash(l.trainer.codeDigest)}` : ''}
        </dd>
        <dt>Params</dt>
        <dd>
          <code>{JSON.stringify(l.params)}</code>
        </dd>
        <dt>Parent</dt>
        <dd>{l.parentVersion === null ? 'none' : `v${l.parentVersion}`}</dd>
        <dt>Run</dt>
        <dd>{l.runId ? <Link href={`/runs/${encodeURIComponent(l.runId)}`}>{l.runId}</Link> : 'none (loaded by hand)'}</dd>
        <dt>Snapshot</dt>
        <dd>
          {l.snapshot ? (
            <>
              #{l.snapshot.id}, <span className="hash">{shortHash(l.snapshot.contentHash)}</span>: {l.snapshot.trainCount} train, {l.snapshot.heldoutCount} held out
            </>
          ) : (
            'none'
          )}
        </dd>
        <dt>Label sources</dt>
        <dd>{l.labelSources ? Object.entries(l.labelSources).map(([s, n]) => `${s} ${n}`).join(', ') || 'none' : '—'}</dd>
        <dt>Saturation</dt>
        <dd>{l.saturation ? l.saturation.verdict : 'not checked'}</dd>
        <dt>Gate</dt>
        <dd>
          {l.gate ? (
            <>
              <span className={`badge ${l.gate.decision}`}>{l.gate.decision.replace('_', ' ')}</span> under policy v{l.gate.policyVersion ?? '—'}
            </>
          ) : (
            'not judged'
          )}
        </dd>
        <dt>Approval</dt>
        <dd>{l.approval ? `${l.approval.decision} by ${l.approval.approver}: ${l.approval.reason}` : 'none'}</dd>
        <dt>Created</dt>
        <dd>{when(l.createdAt)}</dd>
      </dl>
      <h3>Deployments of v{l.version}</h3>
      {l.deployments.length === 0 ? (
        <Empty>Never promoted or rolled back.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">By</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {l.deployments.map((d, i) => (
              <tr key={i}>
                <td>{when(d.createdAt)}</td>
                <td>{d.action}</td>
                <td>{d.actor}</td>
                <td>{d.reason || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
