// openDb(): PostgreSQL through postgres.js for a URL, embedded PGlite for a folder. The caller says which
// (temporal-config/env.ts databaseLocation reads DATABASE_URL and RETRAIN_DATA_DIR). The same drizzle-kit
// migrations run on both at open, so every process sees the schema it expects.
//
// PGlite is one process's database: a second process opening the same folder gets its own in-memory
// Postgres over the same files, and what it writes is lost or corrupts the first's (neither sees the
// other's pages). So openDb takes an exclusive lock beside the folder (<dir>.lock, created with O_EXCL)
// before PGlite opens it, records who holds it (pid, host, command, the API URL once it serves one),
// and removes it on close or exit. A lock whose process is gone is taken over. PostgreSQL needs none.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
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
  /** The PGlite folder's lock (null for PostgreSQL and memory://); closing releases it. */
  lock: DataDirLock | null;
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
      lock: null,
      close: () => client.end({ timeout: 5 }),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const dir = opts.pgliteDir;
  const inMemory = dir.startsWith('memory://');
  // Taken before PGlite touches the folder: PGlite itself does not notice a second process.
  const lock = inMemory ? null : acquireDataDirLock(dir);
  try {
    if (!inMemory) mkdirSync(dir, { recursive: true });
    const client = await PGlite.create(dir);
    const db = drizzle(client, { schema });
    if (migrate) {
      const { migrate: run } = await import('drizzle-orm/pglite/migrator');
      await run(db, { migrationsFolder }).catch(async (err: unknown) => {
        await client.close().catch(() => {});
        throw err;
      });
    }
    return {
      db: db as unknown as Db,
      driver: 'pglite',
      location: dir,
      lock,
      close: () => client.close().finally(() => lock?.release()),
    };
  } catch (err) {
    lock?.release();
    throw err;
  }
}

// ───────────────────────────── the PGlite folder's lock ─────────────────────────────

/** What a lock file says about the process holding the folder. */
export interface DataDirLockHolder {
  pid: number;
  hostname: string;
  /** Linux: the process's start time in clock ticks since boot (/proc/<pid>/stat field 22), so a reused pid is not taken for the holder. */
  procStart: string | null;
  startedAt: string;
  /** The command line the holder was started with, e.g. `retrain up --port 4300`. */
  command: string;
  /** Where the holder serves the API, once it does (null for a worker or a one-off command). */
  apiUrl: string | null;
  /** Tells this holder's file from a successor's. */
  nonce: string;
}

export interface DataDirLock {
  file: string;
  holder: DataDirLockHolder;
  /** Records where this process serves the API, for commands that find the folder held. */
  setApiUrl(url: string): void;
  /** Removes the lock file if it is still this process's; idempotent. */
  release(): void;
}

/** The folder is held by another live process: `holder` says which, `dir` which folder. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
  constructor(
    readonly dir: string,
    readonly lockFile: string,
    readonly holder: DataDirLockHolder,
  ) {
    super(
      `${dir} is in use by another process: ${describeHolder(holder)}. PGlite is a single-process database; ` +
        `stop that process first, or use PostgreSQL (DATABASE_URL) to run several processes on one database.` +
        (holder.hostname === os.hostname() ? '' : ` (The lock ${lockFile} was taken on host ${holder.hostname}; if that process is gone, delete the file.)`),
    );
  }
}

/** `retrain up --port 4300 (pid 1234, since 2026-01-01T00:00:00.000Z, API at http://127.0.0.1:4300)`. */
export function describeHolder(h: DataDirLockHolder): string {
  const where = h.hostname === os.hostname() ? `pid ${h.pid}` : `pid ${h.pid} on ${h.hostname}`;
  return `${h.command || 'a process'} (${where}, since ${h.startedAt}${h.apiUrl ? `, API at ${h.apiUrl}` : ''})`;
}

export const lockFileOf = (dir: string): string => `${path.resolve(dir)}.lock`;

/** Linux: a process's start time (field 22 of /proc/<pid>/stat); null elsewhere or when gone. */
function procStartOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function parseHolder(text: string | null): DataDirLockHolder | null {
  if (!text) return null;
  try {
    const h = JSON.parse(text) as Partial<DataDirLockHolder>;
    if (typeof h.pid !== 'number' || typeof h.nonce !== 'string' || typeof h.hostname !== 'string') return null;
    return {
      pid: h.pid,
      hostname: h.hostname,
      procStart: typeof h.procStart === 'string' ? h.procStart : null,
      startedAt: typeof h.startedAt === 'string' ? h.startedAt : '?',
      command: typeof h.command === 'string' ? h.command : '',
      apiUrl: typeof h.apiUrl === 'string' ? h.apiUrl : null,
      nonce: h.nonce,
    };
  } catch {
    return null;
  }
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Whether the process a lock names still runs. A lock from another host cannot be checked: held. */
function holderAlive(h: DataDirLockHolder): boolean {
  if (h.hostname !== os.hostname()) return true;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // The pid runs; on Linux make sure it is the same process, not a later one given the same pid.
  if (h.procStart !== null) {
    const now = procStartOf(h.pid);
    if (now !== null && now !== h.procStart) return false;
  }
  return true;
}

/** The live process holding a PGlite folder, or null when none does (no lock, or a stale one). */
export function dataDirHolder(dir: string): DataDirLockHolder | null {
  const holder = parseHolder(readText(lockFileOf(dir)));
  return holder && holderAlive(holder) ? holder : null;
}

const releaseAtExit = new Set<DataDirLock>();
let exitHookInstalled = false;

/**
 * Removes the lock file if it still holds `staleText`, holding `<lock>.takeover` (taken with O_EXCL) while
 * it checks and removes: no other process removes a lock meanwhile, and no process can replace an existing
 * file with O_EXCL, so what is removed is the stale record. False when another process holds the guard.
 * A guard left by a process that died inside these few statements is removed once it is 5 s old.
 */
function removeStale(file: string, staleText: string): boolean {
  const guard = `${file}.takeover`;
  let fd: number;
  try {
    fd = openSync(guard, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      if (Date.now() - statSync(guard).mtimeMs > 5_000) unlinkSync(guard);
    } catch {
      /* released meanwhile */
    }
    return false;
  }
  closeSync(fd);
  try {
    if (readText(file) === staleText) unlinkSync(file);
  } finally {
    unlinkSync(guard);
  }
  return true;
}

/**
 * Takes the folder's lock or throws DataDirLockedError naming the live holder. A stale lock (its process
 * gone) is removed under a guard and taken over; when processes race for a stale lock, one gets it.
 */
export function acquireDataDirLock(dir: string): DataDirLock {
  const file = lockFileOf(dir);
  mkdirSync(path.dirname(file), { recursive: true });
  const holder: DataDirLockHolder = {
    pid: process.pid,
    hostname: os.hostname(),
    procStart: procStartOf(process.pid),
    startedAt: new Date().toISOString(),
    command: ['retrain', ...process.argv.slice(2)].join(' '),
    apiUrl: null,
    nonce: randomBytes(8).toString('hex'),
  };
  for (let attempt = 0; attempt < 100; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const text = readText(file);
      if (text === null) continue; // released meanwhile: try again
      const current = parseHolder(text);
      if (current === null) {
        // Being written by its creator right now, or left half-written by a crash: wait a moment first.
        let age = 0;
        try {
          age = Date.now() - statSync(file).mtimeMs;
        } catch {
          continue;
        }
        if (age < 2_000) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
          continue;
        }
      } else if (holderAlive(current)) {
        throw new DataDirLockedError(dir, file, current);
      }
      // Stale: removed under the takeover guard, after checking it is still the stale record. Moving it
      // aside unguarded let a racer move away the lock another racer had just taken, and a third take
      // the name while it was away: two holders.
      if (!removeStale(file, text)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(holder));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const ours = (): boolean => parseHolder(readText(file))?.nonce === holder.nonce;
    const lock: DataDirLock = {
      file,
      holder,
      setApiUrl(url: string) {
        if (!ours()) return;
        holder.apiUrl = url;
        const tmp = `${file}.tmp-${process.pid}`;
        writeFileSync(tmp, JSON.stringify(holder));
        renameSync(tmp, file); // atomic: a reader sees the old record or the new one
      },
      release() {
        if (!releaseAtExit.delete(lock)) return;
        try {
          if (ours()) unlinkSync(file);
        } catch {
          /* already gone */
        }
      },
    };
    releaseAtExit.add(lock);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const l of [...releaseAtExit]) l.release();
      });
    }
    return lock;
  }
  throw new Error(`could not take the lock ${file}: it kept changing hands; try again`);
}
