// The console's browser rig: Debian's Chromium driven by playwright-core (its own browser download fails
// here), sign-in as a person does it, an axe-core scan per page, and a screenshot per page kept as a CI
// artifact under .data/ci/console/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

const require = createRequire(import.meta.url);

/** Debian's chromium (CHROMIUM_PATH overrides); .ci/run installs it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Why browser tests cannot run here, or null. In CI a missing browser fails the tests; elsewhere
 * (`npm test` on a machine without chromium) they are skipped with this reason.
 */
export const noBrowser: string | null = existsSync(CHROMIUM_PATH)
  ? null
  : process.env.CI
    ? null // let launch fail loudly: CI installs chromium
    : `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`;

export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '..', '..', '.data', 'ci', 'console');

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // As root, without a sandbox; no background networking: this machine's network is closed.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** A fresh page (its own context: no shared storage) with console errors collected. */
export async function newPage(browser: Browser): Promise<Page & { errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = (await context.newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(err.message));
  return page;
}

/** Signs in through the sign-in form with `token`, and waits for the page to say who is signed in. */
export async function signIn(page: Page, baseUrl: string, token: string, subject: string): Promise<void> {
  await page.goto(baseUrl);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await visible(page.getByText(`Signed in as ${subject}`));
}

/** Waits until the locator is visible (a web-first assertion: no fixed sleeps). */
export async function visible(locator: Locator, timeout = 30_000): Promise<Locator> {
  await locator.first().waitFor({ state: 'visible', timeout });
  return locator;
}

/** Waits until no element matches the locator. */
export async function gone(locator: Locator, timeout = 30_000): Promise<void> {
  await locator.first().waitFor({ state: 'detached', timeout });
}

/** Asserts the locator stays absent: nothing matches it once the page has settled. */
export async function absent(page: Page, locator: Locator, what: string): Promise<void> {
  await page.waitForLoadState('networkidle');
  assert.equal(await locator.count(), 0, `${what} should not be offered`);
}

let axeSource: string | undefined;

/**
 * axe-core's scan of the page as it is; fails on any serious or critical violation, naming each with
 * the elements it found. axe is evaluated over the DevTools protocol, which the page's CSP does not govern.
 */
export async function axeScan(page: Page, name: string): Promise<void> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => JSON.stringify(n.target)) }));
  });
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `axe found serious violations on ${name}: ${JSON.stringify(serious, null, 2)}`);
}

/** Saves a full-page screenshot under .data/ci/console/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Every page gets both: a scan and a screenshot. */
export async function checkPage(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  await axeScan(page, name);
}
