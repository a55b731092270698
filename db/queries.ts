// Small query helpers shared by activities and the API that belong to no one concept; queries about
// one concept live in that concept's module (models, runs, policies, gates, reports, auditLog, ...).
import { and, asc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { datasetSnapshotMembers, examples } from './schema';


/** Rows of db.execute: postgres.js returns an array, PGlite a { rows } object. */
export function resultRows<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows?: T[] }).rows ?? []);
}

/** A snapshot's members of one split with their inputs and slices, in example order. */
export async function snapshotMembers(db: DbOrTx, snapshotId: number, split: 'train' | 'heldout') {
  return db
    .select({
      exampleId: datasetSnapshotMembers.exampleId,
      externalId: examples.externalId,
      label: datasetSnapshotMembers.label,
      input: examples.input,
      slices: examples.slices,
    })
    .from(datasetSnapshotMembers)
    .innerJoin(examples, eq(examples.id, datasetSnapshotMembers.exampleId))
    .where(and(eq(datasetSnapshotMembers.snapshotId, snapshotId), eq(datasetSnapshotMembers.split, split)))
    .orderBy(asc(datasetSnapshotMembers.exampleId));
}

/** How many of a snapshot's labels came from each source (import, annotation, feedback, model): a version's lineage. */
export async function snapshotLabelSources(db: DbOrTx, snapshotId: number): Promise<Record<string, number>> {
  const rows = resultRows<{ source: string; n: string }>(
    await db.execute(sql`select e.label_source as source, count(*)::text as n from dataset_snapshot_members m
      join examples e on e.id = m.example_id where m.snapshot_id = ${snapshotId} group by 1 order by 1`),
  );
  return Object.fromEntries(rows.map((r) => [r.source, Number(r.n)]));
}
