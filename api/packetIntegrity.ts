// A stored approval packet is served and signed only when it still hashes to the hash stored beside it:
// activities/retraining evaluateVersions hashed it as sha256 over its canonical JSON. The database
// refuses changes to gate_results (migration 0011); this catches whatever got past that (a superuser,
// a restored dump) when the packet is read.
import { createHash } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { canonicalJson } from '../analysis/canonicalJson';

/** The packet's content hash, as evaluateVersions computes it. */
export function packetHashOf(packet: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(packet)).digest('hex')}`;
}

/** Throws CONFLICT, naming both hashes, when a stored packet no longer matches its stored hash. */
export function verifyStoredPacket(runId: string, gate: { packet: unknown; packetHash: string | null } | undefined): void {
  if (!gate || gate.packet === null || gate.packet === undefined || gate.packetHash === null) return;
  const computed = packetHashOf(gate.packet);
  if (computed !== gate.packetHash) {
    throw new TRPCError({
      code: 'CONFLICT',
      message: `the approval packet of run ${runId} was altered after it was stored: stored hash ${gate.packetHash}, the packet now hashes to ${computed}; it is not served or signed (tell the deployment's administrator)`,
    });
  }
}
