// One model: its routes (production, canary, shadow), its versions with the lineage of the one picked,
// its abstain band and review queue, its flywheel health as charts, and its gate policy's versions with what each changed; above them, what
// will not work yet (its warnings: no gate policy, say) as an alert.
import { useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { Link, useParams } from 'wouter';
import { Empty, Query } from '../components/states';
import { pct, shortHash, when } from '../format';
import { Flywheel } from '../models/Flywheel';
import { VersionLineage } from '../models/Lineage';
import { PolicyHistory } from '../models/PolicyHistory';
import { ReviewQueue } from '../models/ReviewQueue';
import { ModelWarnings } from '../models/Warnings';
import { useTRPC, type Outputs } from '../trpc';

type Model = Outputs['models']['get'];

export function ModelPage() {
  const { name = '' } = useParams<{ name: string }>();
  const trpc = useTRPC();
  const model = useQuery({ ...trpc.models.get.queryOptions({ name }), refetchInterval: 10_000 });
  return (
    <section>
      <h1>Model {name}</h1>
      <p>
        <Link href="/models">All models</Link> · <Link href={`/runs?model=${encodeURIComponent(name)}`}>Runs of {name}</Link>
      </p>
      <Query q={model} what="the model">
        {(m) => <ModelView m={m} />}
      </Query>
    </section>
  );
}

function ModelView({ m }: { m: Model }) {
  return (
    <>
      <ModelWarnings model={m.name} warnings={m.warnings} />
      {m.description && <p>{m.description}</p>}
      <dl className="facts">
        <dt>Trainer</dt>
        <dd>
          {m.trainer.name} on {m.trainer.taskQueue}
        </dd>
        <dt>Examples</dt>
        <dd>{m.examples}</dd>
        <dt>Champion</dt>
        <dd>{m.aliases.champion === null ? 'none' : `v${m.aliases.champion}`}</dd>
        <dt>Challenger</dt>
        <dd>{m.aliases.challenger === null ? 'none' : `v${m.aliases.challenger}`}</dd>
        <dt>Gate policy</dt>
        <dd>{m.policyVersion === null ? 'none' : `v${m.policyVersion}`}</dd>
      </dl>
      <h2>Routes</h2>
      {m.routes.length === 0 ? (
        <Empty>No version serves yet.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Route</th>
              <th scope="col">Version</th>
              <th scope="col" className="num">
                Weight
              </th>
              <th scope="col">Since</th>
            </tr>
          </thead>
          <tbody>
            {m.routes.map((r) => (
              <tr key={r.kind}>
                <th scope="row">{r.kind}</th>
                <td>v{r.version}</td>
                <td className="num">{r.kind === 'production' ? '—' : pct(r.weight, 0)}</td>
                <td>{when(r.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Versions</h2>
      <Versions m={m} />
      <h2>Abstain band and review queue</h2>
      <ReviewQueue model={m.name} hasProduction={m.routes.some((r) => r.kind === 'production')} />
      <h2>Flywheel health</h2>
      <Flywheel model={m.name} />
      <h2>Gate policy versions</h2>
      <PolicyHistory model={m.name} />
    </>
  );
}

function Versions({ m }: { m: Model }) {
  const id = useId();
  const newest = m.versions.length === 0 ? null : Math.max(...m.versions.map((v) => v.version));
  const [picked, setPicked] = useState<number | null>(null);
  const shown = picked ?? m.aliases.champion ?? newest;
  if (m.versions.length === 0 || shown === null) return <Empty>No version trained yet: start a run.</Empty>;
  return (
    <>
      <table>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Trainer</th>
            <th scope="col">Artifact</th>
            <th scope="col">Run</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {[...m.versions].reverse().map((v) => (
            <tr key={v.id}>
              <th scope="row">v{v.version}</th>
              <td>
                <span className={`badge ${v.status}`}>{v.status.replace('_', ' ')}</span>
              </td>
              <td>{v.trainer}</td>
              <td className="hash">{shortHash(v.artifactHash)}</td>
              <td>{v.runId ? <Link href={`/runs/${encodeURIComponent(v.runId)}`}>{v.runId}</Link> : '—'}</td>
              <td>{when(v.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <label htmlFor={`${id}-lineage`}>Lineage of version</label>
      <select id={`${id}-lineage`} value={shown} onChange={(e) => setPicked(Number(e.target.value))}>
        {[...m.versions].reverse().map((v) => (
          <option key={v.id} value={v.version}>
            v{v.version} ({v.status.replace('_', ' ')})
          </option>
        ))}
      </select>
      <VersionLineage model={m.name} version={shown} />
    </>
  );
}
