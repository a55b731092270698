// Signing in: the token goes in a form (never the address bar), every page says who is signed in and
// their role, what the role may not do is not offered, and the pages come with a CSP without inline script.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startTestEnv, type TestEnv } from '../helpers';
import { absent, checkPage, launchBrowser, newPage, noBrowser, signIn, visible } from './browser';

let env: TestEnv;
let browser: Browser;
before(async () => {
  env = await startTestEnv();
  if (!noBrowser) browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await env?.stop();
});


test('a viewer signs in with a token, sees who they are, and the token is in no URL', { skip: noBrowser ?? false }, async () => {
  const page = await newPage(browser);
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(env.url);
  await checkPage(page, 'sign-in');
  const viewer = (await env.clients.viewer.session.whoami.query()).subject;
  await signIn(page, env.url, env.tokens.viewer!, viewer);
  await visible(page.getByRole('heading', { name: 'Runs' }));
  assert.match(await page.getByText(`Signed in as ${viewer}`).innerText(), /\(viewer\)/);
  await checkPage(page, 'runs');
  // The viewer may label nothing: no Label page in the navigation.
  await absent(page, page.getByRole('link', { name: 'Label' }), 'the Label page');
  for (const url of [page.url(), ...requests]) assert.ok(!url.includes(env.tokens.viewer!), `a token in ${url}`);
  assert.deepEqual(page.errors, []);
});

test('a bad token is refused with the server’s reason, and nothing is kept', { skip: noBrowser ?? false }, async () => {
  const page = await newPage(browser);
  await page.goto(env.url);
  await page.getByLabel('API token').fill('not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await visible(page.getByRole('alert'));
  assert.match(await page.getByRole('alert').innerText(), /token/i);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
});

test('every console page is served with a CSP that allows no inline script', async () => {
  for (const path of ['/', '/runs/some-run', '/assets/console.js']) {
    const res = await fetch(`${env.url}${path}`);
    assert.equal(res.status, 200, path);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/, `${path}: ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline[^;]*;?\s*$|script-src[^;]*unsafe/, `${path}: ${csp}`);
  }
  // The script goes gzipped to a browser that takes it, whole to one that does not.
  const raw = await new Promise<{ encoding: string | undefined; bytes: number }>((resolve, reject) => {
    http.get(`${env.url}/assets/console.js`, { headers: { 'accept-encoding': 'identity' } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length)).on('end', () => resolve({ encoding: res.headers['content-encoding'], bytes })).on('error', reject);
    });
  });
  assert.equal(raw.encoding, undefined);
  const gz = await fetch(`${env.url}/assets/console.js`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers.get('content-encoding'), 'gzip');
  assert.ok(Number(gz.headers.get('content-length')) < raw.bytes / 2, `gzipped ${gz.headers.get('content-length')} of ${raw.bytes} bytes`);
  assert.equal((await gz.text()).length > 0, true);
  const unknownAsset = await fetch(`${env.url}/assets/nope.js`);
  assert.equal(unknownAsset.status, 404);
});
