// The approval packet as an approver reads it: what is judged and the hash they sign, every rule's
// outcome with its evidence, and each estimate beside its uncertainty and the policy's bound (slices,
// fairness gaps, differences from the champion, curves, the learning curve, untested segments).
// Fetches what it needs itself; the run page and the standalone packet page both draw it.
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Empty, ErrorState, Loading, Query } from '../components/states';
import { useTRPC } from '../trpc';
import { CalibrationSection } from './Calibration';
import { LearningCurveSection, PrSection } from './Curves';
import { IntersectionsSection } from './Intersections';
import { DeltasSection, FairnessSection, SlicesSection } from './Intervals';
import { insufficientSlices, type Packet, type Policy } from './model';
import { PacketHeader, RulesSection, UntestedSection } from './Summary';

export function PacketView({ runId }: { runId: string }) {
  const trpc = useTRPC();
  const report = useQuery(trpc.reports.get.queryOptions({ runId }));
  return (
    <Query q={report} what="the approval packet">
      {(r) =>
        r.packet === null ? (
          <Empty>No approval packet yet: the run has not been evaluated.</Empty>
        ) : (
          <PacketWithPolicy runId={runId} packet={r.packet} packetHash={r.packetHash} />
        )
      }
    </Query>
  );
}

/** The packet once the policy it was judged under is known (its bounds are drawn beside the estimates). */
function PacketWithPolicy({ runId, packet, packetHash }: { runId: string; packet: Packet; packetHash: string | null }) {
  const trpc = useTRPC();
  const history = useQuery({ ...trpc.gates.policyHistory.queryOptions({ model: packet.model }), enabled: packet.policyVersion !== null });
  if (packet.policyVersion !== null && history.isError) return <ErrorState error={history.error} what="the gate policy" />;
  if (packet.policyVersion !== null && history.isPending) return <Loading what="the gate policy" />;
  const policy = history.data?.find((p) => p.version === packet.policyVersion)?.policy ?? null;
  return <PacketSections runId={runId} packet={packet} packetHash={packetHash} policy={policy} />;
}

function PacketSections({ runId, packet, packetHash, policy }: { runId: string; packet: Packet; packetHash: string | null; policy: Policy | null }) {
  const flagged = useMemo(() => insufficientSlices(packet), [packet]);
  return (
    <div className="packet">
      <PacketHeader packet={packet} packetHash={packetHash} />
      <RulesSection packet={packet} />
      <SlicesSection packet={packet} policy={policy} flagged={flagged} />
      <IntersectionsSection packet={packet} />
      <FairnessSection packet={packet} policy={policy} />
      <DeltasSection packet={packet} policy={policy} flagged={flagged} />
      <PrSection packet={packet} />
      <CalibrationSection packet={packet} policy={policy} />
      <LearningSection runId={runId} packet={packet} />
      <UntestedSection packet={packet} />
    </div>
  );
}

function LearningSection({ runId, packet }: { runId: string; packet: Packet }) {
  const trpc = useTRPC();
  const had = packet.saturation !== undefined;
  const saturation = useQuery({ ...trpc.reports.saturation.queryOptions({ runId }), enabled: had });
  return (
    <section aria-labelledby="packet-learning">
      <h2 id="packet-learning">Learning curve</h2>
      {had ? (
        <Query q={saturation} what="the saturation report">
          {(s) => <LearningCurveSection saturation={s} />}
        </Query>
      ) : (
        <Empty>No saturation check: this run did not ask whether more data still helps.</Empty>
      )}
    </section>
  );
}
