// Placeholder of the approval packet's view (the "packet" helper writes the real one with its charts):
// the packet hash the approver signs and the policy's rule outcomes, from reports.get.
import { useQuery } from '@tanstack/react-query';
import { Empty, Query } from '../components/states';
import { useTRPC } from '../trpc';

export function PacketView({ runId }: { runId: string }) {
  const trpc = useTRPC();
  const report = useQuery(trpc.reports.get.queryOptions({ runId }));
  return (
    <section aria-labelledby="packet-h">
      <h2 id="packet-h">Approval packet</h2>
      <Query q={report} what="the approval packet">
        {(r) =>
          !r.packetHash ? (
            <Empty>No approval packet is stored for this run yet.</Empty>
          ) : (
            <>
              <p>
                Packet hash <code className="hash">{r.packetHash}</code>
              </p>
              {r.gate && (
                <table>
                  <caption className="hint">
                    Rules of policy version {r.gate.policyVersion ?? '—'}: {r.gate.decision.replace(/_/g, ' ')}
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">Rule</th>
                      <th scope="col">Outcome</th>
                      <th scope="col">Detail</th>
                    </tr>
                  </thead>
                  <tbody>
                    {r.gate.rules.map((rule) => (
                      <tr key={rule.id}>
                        <td>{rule.id}</td>
                        <td>
                          <span className={`badge ${rule.outcome}`}>{rule.outcome}</span>
                        </td>
                        <td>{rule.detail}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          )
        }
      </Query>
    </section>
  );
}
