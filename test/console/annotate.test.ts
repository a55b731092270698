// The annotator's workspace, driven by the keyboard alone: an annotator signs in, skips one task with a
// reason (typing it fires no shortcut), labels the rest with the number keys until nothing waits for
// them, and the database holds exactly the labels they pressed; the batch closes once a colleague takes
// the skipped task. Operators read the batch and the annotators' quality on /annotation; a viewer
// reads the same page and is offered nothing to do.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { annotationAssignments, annotationBatches, labels } from '../../db/schema';
import { issueToken } from '../../db/tokens';
import { loadCorpus, type CorpusEmail } from '../../demo/corpus';
import { annotatorClient, startTestEnv, uid, waitFor, type TestEnv } from '../helpers';
import { plantBatch } from './annotationBatch';
import { checkPage, launchBrowser, newPage, noBrowser, signIn, visible } from './browser';

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

/** The number of the task whose heading is on the page (the page's own words: "Task 12"). */
async function shownTask(page: Page): Promise<number> {
  const heading = page.getByRole('heading', { name: /^Task \d+/ });
  await visible(heading);
  return Number(/^Task (\d+)/.exec(await heading.innerText())![1]);
}

const isFocused = (page: Page, name: RegExp | string, role: 'heading' | 'textbox') => page.getByRole(role, { name }).evaluate((el) => el === el.ownerDocument.activeElement);

test('an annotator labels a batch with the keyboard only, and operators and viewers read its quality', { skip: noBrowser ?? false, timeout: 240_000 }, async () => {
  const db = env.services.opened.db;
  // Five mails, HTML and plain, spam and ham; two are gold.
  const corpus = loadCorpus();
  const pick = (pred: (e: CorpusEmail) => boolean, n: number) => corpus.filter(pred).slice(0, n);
  const mails = [...pick((e) => e.slices.format === 'html' && e.label === 1, 2), ...pick((e) => e.slices.format === 'plain' && e.label === 0, 2), ...pick((e) => e.slices.format === 'plain' && e.label === 1, 1)];
  assert.equal(mails.length, 5);
  const truth = new Map(mails.map((m) => [m.externalId, m.label]));
  const isGold = (i: number) => i === 0 || i === 2;
  const gold = new Set(mails.filter((_, i) => isGold(i)).map((m) => m.externalId));
  const planted = await plantBatch(
    env,
    mails.map((m, i) => ({ externalId: m.externalId, input: m.input, ...(isGold(i) ? { gold: m.label } : {}) })),
    { startWorkflow: true },
  );

  const subject = `ann-keys-${uid()}`;
  const { token } = await issueToken(db, { subject, role: 'annotator', createdBy: 'test' });
  await env.clients.operator.annotation.registerAnnotator.mutate({ subject, attributes: { language: 'en' } });

  const page = await newPage(browser);
  await signIn(page, env.url, token, subject);
  // An annotator's start page is the workspace.
  await visible(page.getByRole('heading', { name: 'Label', level: 1 }));
  const first = await shownTask(page);
  await visible(page.getByText('Batch: 0 of 5 tasks done'));
  await visible(page.getByText('Guidelines, version 1'));
  assert.equal(await isFocused(page, /^Task \d+/, 'heading'), true, 'the task heading has focus');
  await checkPage(page, 'annotate-workspace');

  // Into the reason field by Tab (past the two label buttons); typing there fires no shortcut.
  for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
  assert.equal(await isFocused(page, 'Reason for skipping (optional)', 'textbox'), true, 'three Tabs reach the reason field');
  await page.keyboard.type('s1 2 language I do not read');
  assert.equal(await shownTask(page), first, 'typing s, 1, 2 in a field neither skipped nor labelled');
  assert.equal((await db.select().from(labels).where(eq(labels.annotator, subject))).length, 0);
  // Esc leaves the field for the task, where S skips it.
  await page.keyboard.press('Escape');
  assert.equal(await isFocused(page, new RegExp(`^Task ${first}\\b`), 'heading'), true, 'Esc returns focus to the task');
  await page.keyboard.press('s');
  await page.getByRole('heading', { name: new RegExp(`^Task ${first}\\b`) }).waitFor({ state: 'detached' });
  const [skipped] = await db
    .select()
    .from(annotationAssignments)
    .where(and(eq(annotationAssignments.taskId, first), eq(annotationAssignments.annotator, subject)));
  assert.equal(skipped?.status, 'skipped');

  // The rest with the number keys: 1 = ham, 2 = spam.
  const pressed = new Map<number, number>();
  for (let guard = 0; guard < 10; guard++) {
    const done = page.getByRole('heading', { name: 'Nothing to label' });
    await visible(page.getByRole('heading', { name: /^(Task \d+|Nothing to label)/ }));
    if (await done.isVisible()) break;
    const taskId = await shownTask(page);
    assert.equal(await isFocused(page, new RegExp(`^Task ${taskId}\\b`), 'heading'), true, `task ${taskId} has focus when it arrives`);
    const label = truth.get(planted.externalIdOfTask.get(taskId)!)!;
    await page.keyboard.press(String(label + 1));
    pressed.set(taskId, label);
    await page.getByRole('heading', { name: new RegExp(`^Task ${taskId}\\b`) }).waitFor({ state: 'detached' });
  }
  await visible(page.getByRole('heading', { name: 'Nothing to label' }));
  assert.equal(pressed.size, 4, 'four tasks labelled (the fifth was skipped)');
  await visible(page.getByText('You labelled 4 tasks in this session.'));
  assert.equal(await isFocused(page, 'Nothing to label', 'heading'), true);
  await checkPage(page, 'annotate-done');

  // The database holds exactly what was pressed.
  const stored = await db.select().from(labels).where(eq(labels.annotator, subject));
  assert.equal(stored.length, pressed.size);
  for (const l of stored) assert.equal(l.label, pressed.get(l.taskId), `task ${l.taskId}`);
  assert.deepEqual(new Set(stored.map((l) => l.taskId)), new Set(pressed.keys()));

  // A colleague takes the skipped task; the batch is complete and its workflow closes it.
  const colleague = await annotatorClient(env, `ann-api-${uid()}`);
  const { task } = await colleague.annotation.next.mutate({});
  assert.equal(task?.taskId, first);
  await colleague.annotation.submit.mutate({ taskId: first, label: truth.get(task.example.externalId)!, specVersion: task.spec.version });
  await waitFor('the batch to close', async () => (await db.select().from(annotationBatches).where(eq(annotationBatches.id, planted.batchId)))[0]?.status !== 'open', 60_000);
  // Asking again on the page: still nothing.
  await page.keyboard.press('Tab');
  await page.getByRole('button', { name: 'Check for new tasks' }).press('Enter');
  await visible(page.getByRole('heading', { name: 'Nothing to label' }));

  // The operator's page: the batch, complete, and both annotators with their gold accuracy.
  const operator = await newPage(browser);
  await signIn(operator, env.url, env.tokens.operator!, (await env.clients.operator.session.whoami.query()).subject);
  await operator.goto(`${env.url}/annotation?model=${encodeURIComponent(planted.model)}`);
  await visible(operator.getByRole('heading', { name: 'Annotation', level: 1 }));
  const batchRow = operator.getByRole('row', { name: new RegExp(planted.batchId) });
  await visible(batchRow.getByText('complete'));
  assert.match(await batchRow.innerText(), /5 \/ 5/);
  const annotatorRow = operator.getByRole('row', { name: new RegExp(subject) });
  await visible(annotatorRow);
  const goldDone = [...pressed.keys()].filter((t) => gold.has(planted.externalIdOfTask.get(t)!)).length;
  assert.ok(goldDone >= 1);
  assert.ok((await annotatorRow.innerText()).includes(`100.0% (${goldDone}/${goldDone})`), `every gold item right: ${await annotatorRow.innerText()}`);
  await visible(operator.getByRole('img', { name: 'Gold accuracy per annotator with 95% intervals' }));
  await checkPage(operator, 'annotation-ops-operator');

  // A viewer reads the same page; the only button offered is Sign out.
  const viewer = await newPage(browser);
  await signIn(viewer, env.url, env.tokens.viewer!, (await env.clients.viewer.session.whoami.query()).subject);
  await viewer.goto(`${env.url}/annotation?model=${encodeURIComponent(planted.model)}`);
  await visible(viewer.getByRole('row', { name: new RegExp(planted.batchId) }).getByText('complete'));
  await visible(viewer.getByRole('row', { name: new RegExp(subject) }));
  await viewer.waitForLoadState('networkidle');
  assert.deepEqual(await viewer.getByRole('button').allInnerTexts(), ['Sign out']);
  await checkPage(viewer, 'annotation-ops-viewer');
  for (const p of [page, operator, viewer]) assert.deepEqual(p.errors, []);
});
