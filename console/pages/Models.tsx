// Models: each family with the versions serving it (production, canary and its weight, shadow), how many
// versions it has, and its trainer; a marker on a model with warnings (no gate policy, say).
import { useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { Empty, Query } from '../components/states';
import { pct } from '../format';
import { WarningsMarker } from '../models/Warnings';
import { useTRPC, type Outputs } from '../trpc';

type ModelRow = Outputs['models']['list'][number];

export function ModelsPage() {
  const trpc = useTRPC();
  const models = useQuery({ ...trpc.models.list.queryOptions(), refetchInterval: 10_000 });
  return (
    <section>
      <h1>Models</h1>
      <Query q={models} what="models">
        {(rows) => (rows.length === 0 ? <Empty>No model is registered yet (models.register, or retrain models register).</Empty> : <ModelsTable rows={rows} />)}
      </Query>
    </section>
  );
}

const version = (v: number | null) => (v === null ? '—' : `v${v}`);

function ModelsTable({ rows }: { rows: ModelRow[] }) {
  return (
    <table>
      <caption className="hint">{rows.length} models</caption>
      <thead>
        <tr>
          <th scope="col">Model</th>
          <th scope="col">Production</th>
          <th scope="col">Canary</th>
          <th scope="col">Shadow</th>
          <th scope="col" className="num">
            Versions
          </th>
          <th scope="col">Trainer</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((m) => (
          <tr key={m.name}>
            <th scope="row">
              <Link href={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
              {m.description && <div className="hint">{m.description}</div>}
              <WarningsMarker model={m.name} warnings={m.warnings} />
            </th>
            <td>{version(m.productionVersion)}</td>
            <td>{m.canaryVersion === null ? '—' : `${version(m.canaryVersion)} at ${pct(m.canaryWeight, 0)}`}</td>
            <td>{version(m.shadowVersion)}</td>
            <td className="num">{m.versions}</td>
            <td>
              {m.trainer.name} <span className="hint">({m.trainer.taskQueue})</span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
