// Each test file gets a database of its own: with DATABASE_URL, a fresh PostgreSQL database on that
// server (so test files can run side by side and a "nothing written" check sees only its own file's
// rows); without it, in-memory PGlite. Worker processes a file spawns are handed the same URL.
// The databases are left behind: CI's server is thrown away; on a long-lived server drop `t_*`.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openDb, type OpenDbOptions, type OpenedDb } from '../db/index';

let ownUrl: Promise<string> | undefined;

/** This file's PostgreSQL database URL (created on first use), or undefined without DATABASE_URL. */
export function fileDatabaseUrl(): Promise<string | undefined> {
  const server = process.env.DATABASE_URL;
  if (!server) return Promise.resolve(undefined);
  ownUrl ??= (async () => {
    const name = `t_${randomBytes(6).toString('hex')}`;
    const admin = postgres(server, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`create database ${name}`);
    } finally {
      await admin.end({ timeout: 5 });
    }
    const url = new URL(server);
    url.pathname = `/${name}`;
    return url.toString();
  })();
  return ownUrl;
}

/** Where this file's database is, as openDb takes it. */
export async function fileDatabaseLocation(): Promise<OpenDbOptions> {
  const url = await fileDatabaseUrl();
  return url ? { url } : { pgliteDir: 'memory://' };
}

/** Opens (and migrates) this file's database. */
export async function openFileDatabase(): Promise<OpenedDb> {
  return openDb(await fileDatabaseLocation());
}
