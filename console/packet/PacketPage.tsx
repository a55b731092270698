// The approval packet on a page of its own (/runs/:runId/packet): a link an approver can share.
import { Link } from 'wouter';
import { PacketView } from './PacketView';

export function PacketPage({ params }: { params: { runId: string } }) {
  const runId = params.runId;
  return (
    <section>
      <h1>Approval packet of {runId}</h1>
      <p>
        <Link href={`/runs/${encodeURIComponent(runId)}`}>Back to the run</Link>
      </p>
      <PacketView runId={runId} />
    </section>
  );
}
