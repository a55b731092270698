// Every version of a model's gate policy, and what the selected version changed from the one before it.
import { useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { Empty, Query } from '../components/states';
import { when } from '../format';
import { useTRPC, type Outputs } from '../trpc';
import { describeChange, policyDiff } from './policyDiff';

type PolicyVersion = Outputs['gates']['policyHistory'][number];

export function PolicyHistory({ model }: { model: string }) {
  const trpc = useTRPC();
  const q = useQuery(trpc.gates.policyHistory.queryOptions({ model }));
  return <Query q={q} what="policy versions">{(versions) => (versions.length === 0 ? <Empty>No gate policy: no run of this model is approved until one is set.</Empty> : <Versions versions={versions} />)}</Query>;
}

function Versions({ versions }: { versions: PolicyVersion[] }) {
  const id = useId();
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  const latest = sorted[sorted.length - 1]!.version;
  const [picked, setPicked] = useState<number | null>(null);
  const selected = sorted.find((v) => v.version === (picked ?? latest)) ?? sorted[sorted.length - 1]!;
  const previous = sorted.filter((v) => v.version < selected.version).pop() ?? null;
  const changes = previous ? policyDiff(previous.policy, selected.policy) : [];
  return (
    <>
      <table>
        <caption className="hint">{sorted.length} policy versions</caption>
        <thead>
          <tr>
            <th scope="col" className="num">
              Version
            </th>
            <th scope="col" className="num">
              Rules
            </th>
            <th scope="col">Set by</th>
            <th scope="col">When</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((v) => (
            <tr key={v.version}>
              <td className="num">v{v.version}</td>
              <td className="num">{v.policy.rules.length}</td>
              <td>{v.createdBy}</td>
              <td>{when(v.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <label htmlFor={`${id}-v`}>Policy version to compare with the one before</label>
      <select id={`${id}-v`} value={selected.version} onChange={(e) => setPicked(Number(e.target.value))}>
        {sorted.map((v) => (
          <option key={v.version} value={v.version}>
            v{v.version}
          </option>
        ))}
      </select>
      <h3>
        {previous ? `Changes from v${previous.version} to v${selected.version}` : `v${selected.version} is the first version`}
      </h3>
      {previous &&
        (changes.length === 0 ? (
          <Empty>No change in the policy document.</Empty>
        ) : (
          <ul aria-label={`Changes from v${previous.version} to v${selected.version}`} className="diff">
            {changes.map((c) => (
              <li key={`${c.kind}:${c.path}`} className={c.kind}>
                {describeChange(c)}
              </li>
            ))}
          </ul>
        ))}
      <details>
        <summary>Policy v{selected.version} as stored</summary>
        <pre className="input-text">{JSON.stringify(selected.policy, null, 2)}</pre>
      </details>
    </>
  );
}
