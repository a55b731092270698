// What an approver does end to end, in steps and seconds: the CLI (`retrain gates list`, `gates show`,
// `saturation show`, `gates approve`, each a process as a person runs it) against the console in
// Debian's Chromium (sign in, the runs awaiting approval, the run with its packet drawn, a reason,
// Approve, the run promoted). Two runs of one model wait at the gate; each path signs off one. The time
// a person spends reading is not counted on either side: what is timed is what the tool makes them wait.
//
//   DATABASE_URL=postgres://... TEMPORAL_TEST_ADDRESS=127.0.0.1:7400 npx tsx bench/approverFlow.bench.ts
//
// Services as test/helpers.ts startTestEnv starts them; the browser is CHROMIUM_PATH or /usr/bin/chromium.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { registerModelWithData, startTestEnv, waitForStatus } from '../test/helpers';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '..');
const env = await startTestEnv();
const steps: { path: 'cli' | 'console'; step: string; ms: number }[] = [];
const timed = async <T>(p: 'cli' | 'console', step: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const value = await fn();
  steps.push({ path: p, step, ms: performance.now() - t0 });
  return value;
};

try {
  const model = await registerModelWithData(env);
  const first = await env.clients.operator.runs.start.mutate({ model });
  await waitForStatus(env, first.runId, ['awaiting_approval']);
  const second = await env.clients.operator.runs.start.mutate({ model });
  await waitForStatus(env, second.runId, ['awaiting_approval']);

  // The CLI: every command a process, as a person types them.
  const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'bin/retrain.ts', ...args, '--url', env.url, '--token', env.tokens.approver!], { cwd: repo, maxBuffer: 1 << 26 });
  await timed('cli', 'gates list', () => cli('gates', 'list'));
  await timed('cli', 'gates show <run>', () => cli('gates', 'show', first.runId));
  await timed('cli', 'saturation show <run>', () => cli('saturation', 'show', first.runId).catch(() => null));
  await timed('cli', 'gates approve <run> --reason', () => cli('gates', 'approve', first.runId, '--reason', 'evidence read in the terminal'));
  await timed('cli', 'until promoted', () => waitForStatus(env, first.runId, ['promoted'], 120_000));

  // The console.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const subject = (await env.clients.approver.session.whoami.query()).subject;
    await timed('console', 'open, sign in', async () => {
      await page.goto(env.url);
      await page.getByLabel('API token').fill(env.tokens.approver!);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText(`Signed in as ${subject}`).waitFor();
    });
    await timed('console', 'runs awaiting approval', async () => {
      await page.getByLabel('Status').selectOption('awaiting_approval');
      await page.getByRole('link', { name: second.runId }).waitFor();
    });
    await timed('console', 'the run with its packet drawn', async () => {
      await page.getByRole('link', { name: second.runId }).click();
      await page.getByRole('heading', { name: 'Approval packet' }).waitFor();
      await page.locator('figure svg').first().waitFor();
      await page.getByRole('button', { name: 'Approve' }).waitFor();
    });
    await timed('console', 'reason, Approve', async () => {
      await page.getByLabel('Reason').fill('evidence read in the console');
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.getByRole('status').filter({ hasText: 'done' }).waitFor();
    });
    await timed('console', 'until promoted', () => waitForStatus(env, second.runId, ['promoted'], 120_000));
  } finally {
    await browser.close();
  }

  const total = (p: 'cli' | 'console') => steps.filter((s) => s.path === p).reduce((a, s) => a + s.ms, 0);
  console.log('path     step                                   seconds');
  for (const s of steps) console.log(`${s.path.padEnd(8)} ${s.step.padEnd(38)} ${(s.ms / 1000).toFixed(2).padStart(7)}`);
  console.log(`cli total ${(total('cli') / 1000).toFixed(2)} s in ${steps.filter((s) => s.path === 'cli').length} steps; console total ${(total('console') / 1000).toFixed(2)} s in ${steps.filter((s) => s.path === 'console').length} steps; console/cli = ${(total('console') / total('cli')).toFixed(2)}`);
} finally {
  await env.stop();
}
