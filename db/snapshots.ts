// Dataset snapshots: a run's labelled examples frozen in the database itself, whatever their number
// (a million rows are never carried through the process; the content hash is computed where they are).
import { eq, sql } from 'drizzle-orm';
import type { Db } from './index';
import { resultRows } from './queries';
import { datasetSnapshots } from './schema';

export interface FrozenSnapshot {
  snapshotId: number;
  contentHash: string;
  trainCount: number;
  heldoutCount: number;
}

export class TooFewLabelledExamples extends Error {
  constructor(
    readonly trainCount: number,
    readonly heldoutCount: number,
  ) {
    super(`${trainCount} labelled training and ${heldoutCount} held-out examples; at least ${TooFewLabelledExamples.MIN} of each are needed`);
  }
  static readonly MIN = 10;
}

/** The run's snapshot, if it froze one. */
export async function snapshotOfRun(db: Db, runId: string): Promise<FrozenSnapshot | null> {
  const [s] = await db.select().from(datasetSnapshots).where(eq(datasetSnapshots.runId, runId));
  return s ? { snapshotId: s.id, contentHash: s.contentHash, trainCount: s.trainCount, heldoutCount: s.heldoutCount } : null;
}

/**
 * Freezes a model's labelled examples as the run's snapshot, in one transaction: the members copied by
 * one statement (so they are one consistent set), then the content hash (sha256 of `externalId \t label
 * \t split` lines in external-id order, as it has always been computed) and the counts read from them.
 * Throws TooFewLabelledExamples (nothing written) below the minimum.
 */
export async function freezeLabelledExamples(db: Db, input: { modelId: number; runId: string }): Promise<FrozenSnapshot> {
  return db.transaction(async (tx) => {
    const [snap] = await tx.insert(datasetSnapshots).values({ modelId: input.modelId, runId: input.runId, contentHash: '', trainCount: 0, heldoutCount: 0 }).returning({ id: datasetSnapshots.id });
    if (!snap) throw new Error('snapshot insert returned nothing');
    await tx.execute(sql`
      insert into dataset_snapshot_members (snapshot_id, example_id, split, label)
      select ${snap.id}, e.id, e.split, e.label from examples e where e.model_id = ${input.modelId} and e.label is not null`);
    const [facts] = resultRows<{ hash: string | null; train: string; heldout: string }>(
      await tx.execute(sql`
        select encode(sha256(convert_to(coalesce(string_agg(e.external_id || E'\t' || m.label || E'\t' || m.split, E'\n' order by e.external_id), ''), 'UTF8')), 'hex') as hash,
               count(*) filter (where m.split = 'train')::text as train,
               count(*) filter (where m.split = 'heldout')::text as heldout
        from dataset_snapshot_members m join examples e on e.id = m.example_id
        where m.snapshot_id = ${snap.id}`),
    );
    const trainCount = Number(facts?.train ?? 0);
    const heldoutCount = Number(facts?.heldout ?? 0);
    if (trainCount < TooFewLabelledExamples.MIN || heldoutCount < TooFewLabelledExamples.MIN) throw new TooFewLabelledExamples(trainCount, heldoutCount);
    const contentHash = `sha256:${facts!.hash}`;
    await tx.update(datasetSnapshots).set({ contentHash, trainCount, heldoutCount }).where(eq(datasetSnapshots.id, snap.id));
    return { snapshotId: snap.id, contentHash, trainCount, heldoutCount };
  });
}
