// openDb(): PostgreSQL through postgres.js when DATABASE_URL is set, embedded PGlite under .data/pg otherwise.
// The same drizzle-kit migrations run on both at open, so every process sees the schema it expects.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema';

export { schema };
export type Schema = typeof schema;
/** The driver-neutral drizzle database: code and tests are written once against this type. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle of the same shape; query helpers accept either. */
export type DbOrTx = Parameters<Parameters<Db['transaction']>[0]>[0] | Db;

export interface OpenedDb {
  db: Db;
  driver: 'pglite' | 'postgres';
  /** Where the data lives: the PGlite folder or the URL without its password. */
  location: string;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const migrationsFolder = path.join(here, 'migrations');

export interface OpenDbOptions {
  /** postgres:// URL; defaults to DATABASE_URL. */
  url?: string;
  /** PGlite data folder; 'memory://' for a throwaway database. Defaults to <RETRAIN_DATA_DIR or .data>/pg. */
  pgliteDir?: string;
  /** Apply migrations at open (default true). */
  migrate?: boolean;
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.RETRAIN_DATA_DIR ?? path.join(here, '..', '.data');
}

export async function openDb(opts: OpenDbOptions = {}): Promise<OpenedDb> {
  const url = opts.url ?? (opts.pgliteDir ? undefined : process.env.DATABASE_URL);
  const migrate = opts.migrate ?? true;
  if (url) {
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const client = postgres(url, { max: 10, onnotice: () => {} });
    const db = drizzle(client, { schema });
    if (migrate) {
      const { migrate: run } = await import('drizzle-orm/postgres-js/migrator');
      await run(db, { migrationsFolder });
    }
    return {
      db: db as unknown as Db,
      driver: 'postgres',
      location: url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@'),
      close: () => client.end({ timeout: 5 }),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const dir = opts.pgliteDir ?? path.join(defaultDataDir(), 'pg');
  if (!dir.startsWith('memory://')) mkdirSync(dir, { recursive: true });
  const client = await PGlite.create(dir);
  const db = drizzle(client, { schema });
  if (migrate) {
    const { migrate: run } = await import('drizzle-orm/pglite/migrator');
    await run(db, { migrationsFolder });
  }
  return {
    db: db as unknown as Db,
    driver: 'pglite',
    location: dir,
    close: () => client.close(),
  };
}
