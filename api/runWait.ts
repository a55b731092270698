// runs.wait: a long-poll on a run's status, so a client learns that a run reached its gate or finished
// without polling. The run's row is read every POLL_MS (one short query each time: no connection is held
// across the sleeps, so many waiting clients cost the pool nothing between reads), until the status
// satisfies what the caller waits for, the timeout passes, or the client goes away.
import { TRPCError } from '@trpc/server';
import type { RunStatus } from '../db/schema';
import type { Db } from '../db/index';
import { requireRun } from './lookups';
import type { RunRow } from '../db/runs';

/** What a caller waits for: `settled` (a finished status) or `gate` (awaiting approval, or finished). */
export const WAIT_UNTIL = ['settled', 'gate'] as const;
export type WaitUntil = (typeof WAIT_UNTIL)[number];

/** How often the row is read while waiting: a status change is seen within this long. */
export const POLL_MS = 300;

/** Whether a run in `status` is what a caller waiting `until` waits for. */
export function statusSatisfies(status: RunStatus, until: WaitUntil): boolean {
  if (status === 'running') return false;
  return until === 'gate' || status !== 'awaiting_approval';
}

/** Sleeps `ms`, or less when `signal` aborts first (then resolves at once). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Reads the run until its status satisfies `until` or `timeoutMs` passes; NOT_FOUND for an unknown run.
 * A client that disconnects (`signal` aborts) ends the wait: CLIENT_CLOSED_REQUEST, which nobody reads.
 * `step`, when given, is the step the caller last saw: the wait also ends when the run moved on from it,
 * so a client showing progress learns each step without polling.
 */
export async function waitForRun(
  db: Db,
  runId: string,
  opts: { until: WaitUntil; timeoutMs: number; step?: string | undefined; signal?: AbortSignal | undefined; pollMs?: number },
): Promise<{ row: RunRow; timedOut: boolean }> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const row = await requireRun(db, runId);
    if (statusSatisfies(row.run.status, opts.until) || (opts.step !== undefined && row.run.step !== opts.step)) return { row, timedOut: false };
    const left = deadline - Date.now();
    if (left <= 0) return { row, timedOut: true };
    await pause(Math.min(opts.pollMs ?? POLL_MS, left), opts.signal);
    if (opts.signal?.aborted) throw new TRPCError({ code: 'CLIENT_CLOSED_REQUEST', message: `the client stopped waiting for run '${runId}'` });
  }
}
