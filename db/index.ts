// openDb(): PostgreSQL through postgres.js for a URL, embedded PGlite for a folder. The caller says which
// (temporal-config/env.ts databaseLocation reads DATABASE_URL and RETRAIN_DATA_DIR). The same drizzle-kit
// migrations run on both at open, so every process sees the schema it expects.
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

/** A postgres:// URL, or a PGlite data folder ('memory://' for a throwaway database). */
export type OpenDbOptions = ({ url: string; pgliteDir?: undefined } | { pgliteDir: string; url?: undefined }) & {
  /** Apply migrations at open (default true). */
  migrate?: boolean;
};

export async function openDb(opts: OpenDbOptions): Promise<OpenedDb> {
  const migrate = opts.migrate ?? true;
  const { url } = opts;
  if (url !== undefined) {
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
  const dir = opts.pgliteDir;
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
