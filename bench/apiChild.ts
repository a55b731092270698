// A bench's API server as a child process of its own, so its RSS and CPU are its own: the bench's file
// run again with `flag`=1 in its environment serves the API on DATABASE_URL, prints its URL, and serves
// until its parent closes its stdin.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Client } from '@temporalio/client';
import { startApiServer } from '../api/server';
import { openDb } from '../db/index';

/** Whether this process is the child `flag` names. */
export const isApiChild = (flag: string): boolean => process.env[flag] === '1';

/** The child's part: serves until stdin closes, then exits. */
export async function serveAsApiChild(url: string): Promise<void> {
  const served = await openDb({ url, migrate: false });
  // The data plane never reaches Temporal; a lazy client that never connects is enough for the API.
  const server = await startApiServer({ db: served.db, temporal: new Client(), namespace: 'default', taskQueues: { control: 'control', training: 'training' }, defaultApprovalTimeoutSeconds: 60 });
  process.stdout.write(`${server.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void server.close().then(() => served.close()).then(() => process.exit(0)));
}

/** The parent's part: starts `benchFile` as the child and resolves once it serves. */
export async function startApiChild(benchFile: string, flag: string): Promise<{ url: string; process: ChildProcess; close(): void }> {
  const child = spawn(process.execPath, [...process.execArgv, benchFile], { env: { ...process.env, [flag]: '1' }, stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the API server exited (${code}) before serving`)));
  });
  return { url, process: child, close: () => void child.stdin!.end() };
}
