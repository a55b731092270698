/**
 * Graceful shutdown on SIGINT/SIGTERM: handlers run once, newest first (so a worker registered after
 * the dev server is stopped before it), then the process exits 0. A second signal while shutting
 * down exits immediately with 130.
 */
type Handler = (signal: string) => Promise<void>;

const handlers: Handler[] = [];
let installed = false;
let shuttingDown = false;

async function runHandlers(signal: string): Promise<void> {
  for (const handler of [...handlers].reverse()) {
    try {
      await handler(signal);
    } catch (err) {
      process.stderr.write(`shutdown handler failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (shuttingDown) {
    process.stderr.write(`received ${signal} again, exiting immediately\n`);
    process.exit(130);
  }
  shuttingDown = true;
  process.stderr.write(`received ${signal}, shutting down (send it again to force)\n`);
  void runHandlers(signal).finally(() => process.exit(0));
}

export function onShutdown(handler: (signal: string) => Promise<void>): void {
  handlers.push(handler);
  if (installed) return;
  installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
