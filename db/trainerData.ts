// PROVISIONAL: the data plane's SQL (h-dataplane replaces this file with the full module).
import { and, count, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { datasetSnapshotMembers, scoreSets } from './schema';
import { resultRows } from './queries';

export async function ensurePendingScoreSet(
  db: DbOrTx,
  set: { jobKey: string; snapshotId: number; split: 'train' | 'heldout'; artifactSha256: string; versionId: number | null; expectedRows: number },
): Promise<{ id: number; status: 'pending' | 'complete' }> {
  await db.insert(scoreSets).values(set).onConflictDoNothing({ target: scoreSets.jobKey });
  const [row] = await db.select({ id: scoreSets.id, status: scoreSets.status }).from(scoreSets).where(eq(scoreSets.jobKey, set.jobKey));
  return row!;
}

export async function completedScoreSet(db: DbOrTx, jobKey: string) {
  const [row] = await db.select().from(scoreSets).where(and(eq(scoreSets.jobKey, jobKey), eq(scoreSets.status, 'complete')));
  if (!row?.scores || !row.contentHash) return null;
  const b = row.scores;
  return { id: row.id, scores: new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), contentHash: row.contentHash, versionId: row.versionId };
}

export async function snapshotSplitCount(db: DbOrTx, snapshotId: number, split: 'train' | 'heldout', excludeBatchId?: string | null): Promise<number> {
  if (excludeBatchId) {
    const [r] = resultRows<{ n: string }>(
      await db.execute(sql`select count(*)::text as n from dataset_snapshot_members m where m.snapshot_id = ${snapshotId} and m.split = ${split}
        and m.example_id not in (select example_id from aggregated_labels where batch_id = ${excludeBatchId})`),
    );
    return Number(r?.n ?? 0);
  }
  const [r] = await db.select({ n: count() }).from(datasetSnapshotMembers).where(and(eq(datasetSnapshotMembers.snapshotId, snapshotId), eq(datasetSnapshotMembers.split, split)));
  void inArray;
  return Number(r?.n ?? 0);
}
