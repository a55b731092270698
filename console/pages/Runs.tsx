// Runs, newest first, filtered by model, status and trigger (the filters live in the address, so a
// filtered list can be shared; a token never does).
import { useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'wouter';
import { Empty, Query } from '../components/states';
import { when } from '../format';
import { useTRPC, type Inputs, type Outputs } from '../trpc';

type RunRow = Outputs['runs']['list'][number];
type Trigger = NonNullable<Exclude<Inputs['runs']['list'], void | undefined>['trigger']>;

// The filters' choices, listed here because the console imports only types from api/; a status or
// trigger the API adds and this list lacks fails the build (the checks below), not the page.
const STATUSES = ['running', 'awaiting_approval', 'promoted', 'rejected', 'failed', 'cancelled', 'rolled_back'] as const satisfies readonly RunRow['status'][];
const TRIGGERS = ['manual', 'bootstrap', 'schedule', 'drift', 'feedback'] as const satisfies readonly Trigger[];
type Covers<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : false;
export const filtersCoverTheApi: [Covers<RunRow['status'], (typeof STATUSES)[number]>, Covers<Trigger, (typeof TRIGGERS)[number]>] = [true, true];

const oneOf = <T extends string>(values: readonly T[], v: string | null): T | undefined => values.find((x) => x === v);

export function RunsPage() {
  const trpc = useTRPC();
  const [params, setParams] = useSearchParams();
  const model = params.get('model') || undefined;
  const status = oneOf(STATUSES, params.get('status'));
  const trigger = oneOf(TRIGGERS, params.get('trigger'));
  const models = useQuery(trpc.models.list.queryOptions());
  const runs = useQuery({ ...trpc.runs.list.queryOptions({ model, status, trigger, limit: 100 }), refetchInterval: 5_000 });
  const set = (key: string, value: string) =>
    setParams((p) => {
      if (value) p.set(key, value);
      else p.delete(key);
      return p;
    });
  return (
    <section>
      <h1>Runs</h1>
      <form className="filters" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label htmlFor="f-model">Model</label>
          <select id="f-model" value={model ?? ''} onChange={(e) => set('model', e.target.value)}>
            <option value="">All models</option>
            {models.data?.map((m) => (
              <option key={m.name} value={m.name}>
                {m.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-status">Status</label>
          <select id="f-status" value={status ?? ''} onChange={(e) => set('status', e.target.value)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-trigger">Trigger</label>
          <select id="f-trigger" value={trigger ?? ''} onChange={(e) => set('trigger', e.target.value)}>
            <option value="">Any trigger</option>
            {TRIGGERS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </div>
      </form>
      <Query q={runs} what="runs">
        {(rows) => (rows.length === 0 ? <Empty>No runs match these filters.</Empty> : <RunsTable rows={rows} />)}
      </Query>
    </section>
  );
}

function RunsTable({ rows }: { rows: RunRow[] }) {
  return (
    <table>
      <caption className="hint">{rows.length} runs, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Model</th>
          <th scope="col">Status</th>
          <th scope="col">Step</th>
          <th scope="col">Trigger</th>
          <th scope="col">Requested by</th>
          <th scope="col" className="num">
            Candidate
          </th>
          <th scope="col">Started</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.runId}>
            <td>
              <Link href={`/runs/${encodeURIComponent(r.runId)}`}>{r.runId}</Link>
            </td>
            <td>{r.model}</td>
            <td>
              <span className={`badge ${r.status}`}>{r.status.replace('_', ' ')}</span>
            </td>
            <td>{r.step}</td>
            <td>{r.trigger}</td>
            <td>{r.requestedBy}</td>
            <td className="num">{r.candidateVersion === null ? '—' : `v${r.candidateVersion}`}</td>
            <td>{when(r.startedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
