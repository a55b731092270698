// THE PLANTED SCRIPT. An e-mail in the annotation queue carries a script, an onerror handler, remote
// images, a stylesheet, an @import, a frame, a form, a refresh, a base, media and a tracked link, all
// pointing at a beacon server this test runs. It is shown to an annotator through the real /annotate
// page, and the test proves that nothing in it ran or loaded: the beacon heard nothing (though the
// browser can reach it), no dialog opened, the page's name, title and messages are untouched, no
// console line came from the script; and the mail is still readable as text under "Show source".
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { issueToken } from '../../db/tokens';
import { startTestEnv, uid, type TestEnv } from '../helpers';
import { plantBatch } from './annotationBatch';
import { checkPage, launchBrowser, newPage, noBrowser, signIn, visible } from './browser';

let env: TestEnv;
let browser: Browser;
let beacon: http.Server;
let beaconUrl: string;
const heard: string[] = [];

before(async () => {
  beacon = http.createServer((req, res) => {
    heard.push(req.url ?? '');
    res.setHeader('Content-Type', 'text/html');
    res.end('<p>beacon</p>');
  });
  await new Promise<void>((resolve) => beacon.listen(0, '127.0.0.1', resolve));
  beaconUrl = `http://127.0.0.1:${(beacon.address() as AddressInfo).port}`;
  env = await startTestEnv();
  if (!noBrowser) browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await env?.stop();
  await new Promise((resolve) => beacon?.close(resolve));
});

const READABLE = 'Your parcel is waiting at the depot';

/** The e-mail: every way an HTML body could run code or reach out, each to its own beacon path. */
const planted = (b: string) => `<html><head><base href="${b}/base/"><link rel="stylesheet" href="${b}/link-stylesheet">
<style>@import url("${b}/style-import"); @font-face { font-family: x; src: url("${b}/font"); } body { background: url("${b}/style-background"); font-family: x; }</style>
<meta http-equiv="refresh" content="0;url=${b}/meta-refresh"></head>
<body><p>${READABLE}. Track it below.</p>
<script>window.top.name = 'PLANTED'; top.document.title = 'PLANTED'; parent.postMessage('PLANTED-script', '*'); console.log('PLANTED-script-ran'); alert('PLANTED'); fetch('${b}/script-fetch'); new Image().src = '${b}/script-image';</script>
<img src="x" onerror="console.log('PLANTED-onerror-ran'); parent.postMessage('PLANTED-onerror', '*'); alert('PLANTED-onerror')">
<img src="${b}/img" alt="tracking pixel">
<div style="background-image: url('${b}/inline-style')">styled</div>
<iframe src="${b}/iframe" title="inner"></iframe>
<form action="${b}/form" method="post"><input name="q" value="1" aria-label="q"><button>Confirm delivery</button></form>
<object data="${b}/object"></object><embed src="${b}/embed">
<video poster="${b}/video-poster" src="${b}/video"></video><audio src="${b}/audio" autoplay></audio>
<svg width="10" height="10"><image href="${b}/svg-image" width="10" height="10"/><a href="${b}/svg-link"><text y="10">s</text></a></svg>
<a href="${b}/link" ping="${b}/ping">Track your parcel</a>
<meta http-equiv="refresh" content="0;url=${b}/meta-refresh-body">
</body></html>`;

test('a planted script in an e-mail never runs, nothing in it loads, and it stays readable as text', { skip: noBrowser ?? false, timeout: 120_000 }, async () => {
  const html = planted(beaconUrl);
  await plantBatch(env, [{ externalId: `planted-${uid()}`, input: { subject: 'Parcel notice', body: html } }]);
  const subject = `ann-planted-${uid()}`;
  const { token } = await issueToken(env.services.opened.db, { subject, role: 'annotator', createdBy: 'test' });
  await env.clients.operator.annotation.registerAnnotator.mutate({ subject });

  const page = await newPage(browser);
  const dialogs: string[] = [];
  const consoleLines: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('console', (m) => consoleLines.push(m.text()));
  // Before any page script: note every message posted to the top window (the CSP does not govern this).
  await page.addInitScript(() => {
    const w = globalThis as unknown as { __messages: string[]; addEventListener(t: string, f: (e: { data: unknown }) => void): void };
    w.__messages = [];
    w.addEventListener('message', (e) => w.__messages.push(String(e.data)));
  });

  await signIn(page, env.url, token, subject);
  const response = await page.goto(`${env.url}/annotate`);
  const csp = response?.headers()['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'self'(;|$)/, `the /annotate page's CSP: ${csp}`);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /script-src[^;]*(unsafe|\*)/);

  await visible(page.getByRole('heading', { name: /^Task \d+/ }));
  const frameElement = page.getByTitle('body, drawn without scripts or remote content');
  await visible(frameElement);
  assert.equal(await frameElement.getAttribute('sandbox'), '', 'the frame is sandboxed with no permissions');
  // Drawing it loaded nothing, and did not navigate the frame (a refresh would have).
  await page.waitForLoadState('networkidle');
  assert.equal(heard.length, 0, `drawing the mail reached the beacon: ${heard.join(', ')}`);
  const frame = (await frameElement.elementHandle())!;
  const inner = await frame.contentFrame();
  assert.ok(inner, 'the frame has a document');
  // The mail is drawn: its text is there (the frame's document, not the page's).
  await inner
    .getByText(READABLE)
    .waitFor({ state: 'visible', timeout: 30_000 })
    .catch(() => assert.fail(`the mail is not drawn in its frame: it navigated to ${inner.url()}`));
  // A person clicks what the mail offers: the form's button and the link. Neither leaves the frame.
  await inner.getByRole('button', { name: 'Confirm delivery' }).click();
  await inner.getByText('Track your parcel').click();
  await page.waitForLoadState('networkidle');

  // Nothing reached the beacon, though the browser can: a page of its own loads it (the control).
  assert.equal(heard.length, 0, `the beacon heard the mail: ${heard.join(', ')}`);
  const control = await newPage(browser);
  await control.goto(`${beaconUrl}/control`);
  await control.close();
  assert.ok(heard.includes('/control'), 'the beacon hears the browser when a page really loads it');
  const heardBefore = heard.length;

  assert.deepEqual(dialogs, [], 'no dialog opened');
  const top = await page.evaluate(() => {
    const w = globalThis as unknown as { name: string; document: { title: string }; __messages: string[] };
    return { name: w.name, title: w.document.title, messages: w.__messages };
  });
  assert.deepEqual(top, { name: '', title: 'retrain console', messages: [] }, 'the top page is as it was');
  assert.deepEqual(
    consoleLines.filter((l) => l.includes('PLANTED')),
    [],
    'no console line from the planted code',
  );
  assert.deepEqual(page.errors, []);
  // The frame is still the mail, not a page it navigated to.
  await inner.getByText(READABLE).waitFor({ state: 'visible' });

  // Readable as text: the source, escaped, script and all.
  await checkPage(page, 'annotate-planted-rendered');
  await page.getByRole('button', { name: 'Show source' }).click();
  const source = page.getByRole('region', { name: 'body, source' });
  await visible(source);
  const text = await source.innerText();
  assert.ok(text.includes("<script>window.top.name = 'PLANTED'"), 'the script is shown as text');
  assert.ok(text.includes(`<img src="${beaconUrl}/img"`), 'so is the tracking pixel');
  await checkPage(page, 'annotate-planted-source');
  assert.equal(heard.length, heardBefore, `the beacon heard: ${heard.slice(heardBefore).join(', ')}`);
  process.stdout.write(`# blocked, as the browser reported it: ${consoleLines.filter((l) => /sandbox|Content Security Policy|Blocked/i.test(l)).length} console lines\n`);
});
