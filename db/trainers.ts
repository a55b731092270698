// Trainers the control plane knows (trainer contract): what each said of itself (trainer.describe)
// when it was registered, and the task queue its worker serves.
import { asc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from './index';
import { trainers } from './schema';

/** What a trainer says about itself (trainers/contract trainerDescription; db/ imports nothing outside itself). */
export interface StoredTrainerDescription {
  name: string;
  version: string;
  codeDigest: string;
  paramsSchema: Record<string, unknown>;
  labelSets: string[];
  featureKinds: string[];
  [key: string]: unknown;
}

export type TrainerRow = Omit<typeof trainers.$inferSelect, 'description'> & { description: StoredTrainerDescription };

/** Records a trainer's description and queue, replacing what an earlier registration of the same name said. */
export async function upsertTrainer(db: DbOrTx, input: { description: StoredTrainerDescription; taskQueue: string; registeredBy: string }): Promise<TrainerRow> {
  const values = {
    name: input.description.name,
    version: input.description.version,
    codeDigest: input.description.codeDigest,
    taskQueue: input.taskQueue,
    description: input.description,
    registeredBy: input.registeredBy,
  };
  const [row] = await db
    .insert(trainers)
    .values(values)
    .onConflictDoUpdate({ target: trainers.name, set: { ...values, registeredAt: sql`now()` } })
    .returning();
  return row as TrainerRow;
}

export async function trainerByName(db: DbOrTx, name: string): Promise<TrainerRow | null> {
  const [row] = await db.select().from(trainers).where(eq(trainers.name, name)).limit(1);
  return (row as TrainerRow | undefined) ?? null;
}

export async function listTrainers(db: DbOrTx): Promise<TrainerRow[]> {
  return (await db.select().from(trainers).orderBy(asc(trainers.name))) as TrainerRow[];
}
