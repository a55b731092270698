// Gate policies: versioned documents per model; the highest version is in force.
import { desc, eq } from 'drizzle-orm';
import type { Db, DbOrTx } from './index';
import { gatePolicies } from './schema';

export interface StoredPolicy {
  version: number;
  document: unknown;
  createdBy: string;
  createdAt: Date;
}

const policyColumns = { version: gatePolicies.version, document: gatePolicies.document, createdBy: gatePolicies.createdBy, createdAt: gatePolicies.createdAt };

/** The gate policy in force for a model: its highest version, or null when it has none. */
export async function currentPolicy(db: DbOrTx, modelId: number): Promise<StoredPolicy | null> {
  const [row] = await db.select(policyColumns).from(gatePolicies).where(eq(gatePolicies.modelId, modelId)).orderBy(desc(gatePolicies.version)).limit(1);
  return row ?? null;
}

/** Every version of a model's policy, newest first. */
export function policyVersions(db: DbOrTx, modelId: number): Promise<StoredPolicy[]> {
  return db.select(policyColumns).from(gatePolicies).where(eq(gatePolicies.modelId, modelId)).orderBy(desc(gatePolicies.version));
}

/** Stores a new policy version (the next integer) for a model. */
export async function addPolicyVersion(db: DbOrTx, modelId: number, document: unknown, createdBy: string): Promise<number> {
  const current = await currentPolicy(db, modelId);
  const version = (current?.version ?? 0) + 1;
  await db.insert(gatePolicies).values({ modelId, version, document, createdBy });
  return version;
}

/** Stores a new policy version in its own transaction, so two concurrent writers cannot take one number. */
export function setPolicy(db: Db, modelId: number, document: unknown, createdBy: string): Promise<number> {
  return db.transaction((tx) => addPolicyVersion(tx, modelId, document, createdBy));
}
