// The alert activity on a real database against a real local webhook receiver (node:http on 127.0.0.1),
// without Temporal: the receiver verifies every signature with verifyAlertSignature and records what it
// got. One delivery attempt per call; a retried call never sends a delivered alert again; refusals are
// non-retryable; every attempt is counted in the row. The receiver is on loopback, so this file lists it
// on the webhook allowlist as an admin would; the delivery-time checks (secretEnv prefix, destination
// allowlist, the pinned address) are tested at the end.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { and, eq } from 'drizzle-orm';
import { createAlertActivities, signAlert, verifyAlertSignature, type AlertBody, type SendAlertInput } from '../../activities/alerts';
import { type OpenedDb } from '../../db/index';
import { addWebhookDestination } from '../../db/webhooks';
import { openFileDatabase } from '../fileDatabase';
import { alerts, auditLog, models } from '../../db/schema';

const SECRET_ENV = 'RETRAIN_WEBHOOK_SECRET_TEST';
const SECRET = 'test-secret-do-not-use';

/**
 * The signature as documented for receivers: `sha256=` + hex HMAC-SHA256 of "<timestamp>.<raw body>"
 * with the shared secret. Computed here with createHmac, never with signAlert, so a change to the signed
 * string (which would break every real receiver) fails this file.
 */
const documentedSignature = (secret: string, timestamp: number | string, body: string) => `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: AlertBody;
  verified: boolean;
}

/** Alert keys unique to this run of the file: on a PostgreSQL database that outlives it, a stored key would be a retry. */
const RUN = Date.now().toString(36);
const alertKey = (name: string) => `wf-${RUN}-${name}:alert`;

let opened: OpenedDb;
let server: Server;
let baseUrl: string;
let modelId: number;
const received: Received[] = [];
/** Status codes the receiver answers with, in order; 200 once empty. */
let script: number[] = [];
let delayMs = 0;

before(async () => {
  process.env[SECRET_ENV] = SECRET;
  opened = await openFileDatabase();
  const [m] = await opened.db.insert(models).values({ name: `alerts-${Date.now().toString(36)}`, createdBy: 'test' }).returning();
  modelId = m!.id;

  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const verified = verifyAlertSignature(SECRET, req.headers, raw).ok;
      received.push({ path: req.url ?? '', headers: req.headers, raw, body: JSON.parse(raw) as AlertBody, verified });
      const status = verified ? (script.shift() ?? 200) : 401;
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `no (${status})`);
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Loopback is refused unless listed: the receiver's port, and port 1 (nothing listens there).
  for (const port of [(server.address() as AddressInfo).port, 1]) await addWebhookDestination(opened.db, { host: '127.0.0.1', port, createdBy: 'test' });
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await opened.close();
  delete process.env[SECRET_ENV];
});

beforeEach(() => {
  received.length = 0;
  script = [];
  delayMs = 0;
});

const input = (alertKey: string, over: Partial<SendAlertInput> = {}): SendAlertInput => ({
  alertKey,
  modelId,
  kind: 'bias_reaudit',
  severity: 'critical',
  summary: 'gap in false-positive rate for sender_tld=cc crossed the policy',
  payload: { slice: 'sender_tld=cc', gap: 0.12, ci: [0.07, 0.17], policyMaxGap: 0.05 },
  webhook: { url: `${baseUrl}/hooks/${encodeURIComponent(alertKey)}`, secretEnv: SECRET_ENV },
  ...over,
});

const rowOf = async (alertKey: string) => (await opened.db.select().from(alerts).where(eq(alerts.alertKey, alertKey)))[0]!;
const auditsOf = async (alertId: number) =>
  (await opened.db.select().from(auditLog).where(and(eq(auditLog.action, 'alert.deliver'), eq(auditLog.target, `model:${modelId}`)))).filter(
    (a) => (a.details as { alertId?: number }).alertId === alertId,
  );

const isNonRetryable = (type: string) => (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable && err.type === type;
const isRetryable = (pattern: RegExp) => (err: unknown) =>
  err instanceof Error && !(err instanceof ApplicationFailure && err.nonRetryable) && pattern.test(err.message);

test('delivers once, signed and recorded; a second call with the same key sends nothing', async () => {
  const { sendAlert } = createAlertActivities({ db: opened.db });
  const key = alertKey('bias-1');
  const first = await sendAlert(input(key));
  assert.deepEqual([first.status, first.attempts, first.delivered], ['delivered', 1, true]);

  assert.equal(received.length, 1);
  const got = received[0]!;
  assert.ok(got.verified, 'the receiver verified the signature');
  assert.equal(got.headers['content-type'], 'application/json');
  assert.equal(got.headers['x-retrain-delivery'], `${key}:1`);
  assert.match(String(got.headers['x-retrain-signature']), /^sha256=[0-9a-f]{64}$/);
  assert.equal(got.headers['x-retrain-signature'], documentedSignature(SECRET, String(got.headers['x-retrain-timestamp']), got.raw), 'signed as documented');
  assert.deepEqual(Object.keys(got.body).sort(), ['alertKey', 'createdAt', 'id', 'kind', 'model', 'payload', 'severity', 'summary']);
  assert.equal(got.body.id, first.alertId);
  assert.equal(got.body.alertKey, key);
  assert.equal(got.body.kind, 'bias_reaudit');
  assert.equal(got.body.model.id, modelId);
  assert.deepEqual(got.body.payload, input(key).payload);

  const row = await rowOf(key);
  assert.equal(row.status, 'delivered');
  assert.equal(row.attempts, 1);
  assert.equal(row.lastStatus, 200);
  assert.equal(row.lastError, null);
  assert.ok(row.deliveredAt instanceof Date);
  assert.equal(row.targetUrl, input(key).webhook!.url);
  assert.equal((await auditsOf(first.alertId)).length, 1);

  // A retried activity or a replay: same key, even with a changed summary → nothing sent, first row returned.
  const again = await sendAlert(input(key, { summary: 'something else' }));
  assert.deepEqual(again, first);
  assert.equal(received.length, 1);
  assert.equal((await rowOf(key)).summary, input(key).summary);
  assert.equal((await auditsOf(first.alertId)).length, 1);
});

test('500, 500, then 200: two retryable throws with attempts 1 and 2, delivered on the third call', async () => {
  const { sendAlert } = createAlertActivities({ db: opened.db });
  const key = alertKey('bias-2');
  script = [500, 500];

  await assert.rejects(sendAlert(input(key)), isRetryable(/attempt 1: webhook answered HTTP 500/));
  let row = await rowOf(key);
  assert.deepEqual([row.status, row.attempts, row.lastStatus], ['failed', 1, 500]);
  assert.match(row.lastError!, /HTTP 500/);

  await assert.rejects(sendAlert(input(key)), isRetryable(/attempt 2: webhook answered HTTP 500/));
  row = await rowOf(key);
  assert.deepEqual([row.status, row.attempts, row.lastStatus], ['failed', 2, 500]);

  const third = await sendAlert(input(key));
  assert.deepEqual([third.status, third.attempts, third.delivered], ['delivered', 3, true]);
  row = await rowOf(key);
  assert.deepEqual([row.status, row.attempts, row.lastStatus, row.lastError], ['delivered', 3, 200, null]);

  // Every attempt carried the same signed body and its own delivery id.
  assert.equal(received.length, 3);
  assert.ok(received.every((r) => r.verified));
  assert.deepEqual(
    received.map((r) => r.headers['x-retrain-delivery']),
    [`${key}:1`, `${key}:2`, `${key}:3`],
  );
  assert.equal(new Set(received.map((r) => r.raw)).size, 1);
  assert.equal((await auditsOf(third.alertId)).length, 1);

  await sendAlert(input(key));
  assert.equal(received.length, 3, 'delivered alerts are never sent again');
});

test('429 and 408 are retryable; other 4xx are a non-retryable refusal', async () => {
  const { sendAlert } = createAlertActivities({ db: opened.db });
  script = [429, 408];
  await assert.rejects(sendAlert(input(alertKey('bias-3'))), isRetryable(/HTTP 429/));
  await assert.rejects(sendAlert(input(alertKey('bias-3'))), isRetryable(/HTTP 408/));
  assert.equal((await rowOf(alertKey('bias-3'))).attempts, 2);

  script = [400];
  await assert.rejects(sendAlert(input(alertKey('bias-4'))), isNonRetryable('AlertRejected'));
  const row = await rowOf(alertKey('bias-4'));
  assert.deepEqual([row.status, row.attempts, row.lastStatus], ['failed', 1, 400]);
  assert.match(row.lastError!, /HTTP 400/);
  assert.equal(received.length, 3);
});

test('a receiver that does not answer in time or cannot be reached: retryable, attempt recorded without status', async () => {
  const { sendAlert } = createAlertActivities({ db: opened.db }, { timeoutMs: 100 });
  delayMs = 1000;
  await assert.rejects(sendAlert(input(alertKey('bias-5'))), isRetryable(/no response within 100 ms/));
  let row = await rowOf(alertKey('bias-5'));
  assert.deepEqual([row.status, row.attempts, row.lastStatus], ['failed', 1, null]);

  // Nothing listens on port 1 of 127.0.0.1.
  const refused = input(alertKey('bias-6'), { webhook: { url: 'http://127.0.0.1:1/hook', secretEnv: SECRET_ENV } });
  await assert.rejects(sendAlert(refused), isRetryable(/delivery failed/));
  row = await rowOf(alertKey('bias-6'));
  assert.deepEqual([row.status, row.attempts, row.lastStatus], ['failed', 1, null]);
});

test('no webhook configured: recorded as pending, nothing sent, nothing thrown', async () => {
  const { sendAlert } = createAlertActivities({ db: opened.db });
  const out = await sendAlert(input(alertKey('drift-1'), { kind: 'drift', webhook: null }));
  assert.deepEqual([out.status, out.attempts, out.delivered], ['pending', 0, false]);
  const row = await rowOf(alertKey('drift-1'));
  assert.deepEqual([row.status, row.attempts, row.lastError, row.targetUrl], ['pending', 0, 'no webhook configured', null]);
  assert.equal(received.length, 0);
});

test('missing secret: refuses to send unsigned (non-retryable), error recorded, nothing sent', async () => {
  const { sendAlert } = createAlertActivities({ db: opened.db });
  const missing = 'RETRAIN_WEBHOOK_SECRET_TEST_THAT_IS_NOT_SET';
  delete process.env[missing];
  await assert.rejects(
    sendAlert(input(alertKey('bias-7'), { webhook: { url: `${baseUrl}/hook`, secretEnv: missing } })),
    isNonRetryable('AlertSecretMissing'),
  );
  const row = await rowOf(alertKey('bias-7'));
  assert.deepEqual([row.status, row.attempts], ['failed', 0]);
  assert.match(row.lastError!, new RegExp(`${missing} is not set`));
  assert.ok(!row.lastError!.includes(SECRET));
  assert.equal(received.length, 0);
});

test('signAlert gives the documented signature: a known answer, for a text and a byte body', () => {
  const body = JSON.stringify({ id: 7, summary: 'gap crossed the policy' });
  const expected = documentedSignature('s3cret', 1767225600, body);
  assert.equal(signAlert('s3cret', 1767225600, body), expected);
  assert.equal(signAlert('s3cret', '1767225600', Buffer.from(body)), expected);
  assert.notEqual(signAlert('s3cret', 1767225601, body), expected, 'the timestamp is part of the signed string');
});

test('verifyAlertSignature rejects a tampered body, a wrong secret, a stale or future timestamp and missing headers', () => {
  const body = JSON.stringify({ id: 1, summary: 'gap crossed the policy' });
  const now = new Date('2026-03-01T12:00:00Z');
  const ts = Math.floor(now.getTime() / 1000);
  const headers = { 'x-retrain-timestamp': String(ts), 'x-retrain-signature': documentedSignature(SECRET, ts, body) };

  assert.deepEqual(verifyAlertSignature(SECRET, headers, body, 300, now), { ok: true, timestamp: ts });
  // The same check through a fetch Headers object and a raw byte body.
  assert.equal(verifyAlertSignature(SECRET, new Headers(headers), Buffer.from(body), 300, now).ok, true);

  assert.deepEqual(verifyAlertSignature(SECRET, headers, body.replace('gap', 'gaq'), 300, now), { ok: false, reason: 'mismatch' });
  assert.deepEqual(verifyAlertSignature('another-secret', headers, body, 300, now), { ok: false, reason: 'mismatch' });
  // The timestamp is signed too: moving it (within the tolerance) breaks the signature.
  assert.deepEqual(verifyAlertSignature(SECRET, { ...headers, 'x-retrain-timestamp': String(ts + 1) }, body, 300, now), { ok: false, reason: 'mismatch' });

  const stale = ts - 301;
  const staleHeaders = { 'x-retrain-timestamp': String(stale), 'x-retrain-signature': documentedSignature(SECRET, stale, body) };
  assert.deepEqual(verifyAlertSignature(SECRET, staleHeaders, body, 300, now), { ok: false, reason: 'stale' });
  assert.equal(verifyAlertSignature(SECRET, staleHeaders, body, 600, now).ok, true);
  const future = ts + 301;
  assert.deepEqual(
    verifyAlertSignature(SECRET, { 'x-retrain-timestamp': String(future), 'x-retrain-signature': documentedSignature(SECRET, future, body) }, body, 300, now),
    { ok: false, reason: 'stale' },
  );

  assert.deepEqual(verifyAlertSignature(SECRET, { 'x-retrain-timestamp': String(ts) }, body, 300, now), { ok: false, reason: 'missing' });
  assert.deepEqual(verifyAlertSignature(SECRET, { ...headers, 'x-retrain-signature': 'sha256=abc' }, body, 300, now), { ok: false, reason: 'malformed' });
  assert.deepEqual(verifyAlertSignature(SECRET, { ...headers, 'x-retrain-timestamp': 'yesterday' }, body, 300, now), { ok: false, reason: 'malformed' });
});

test('the activity signs with the injected clock; a receiver with the real clock rejects a stale delivery', async () => {
  const { sendAlert } = createAlertActivities({ db: opened.db }, { now: () => new Date(Date.now() - 3_600_000) });
  // The receiver answers 401 to an unverified delivery: a refusal, not retried.
  await assert.rejects(sendAlert(input(alertKey('bias-8'))), isNonRetryable('AlertRejected'));
  assert.equal(received.length, 1);
  assert.equal(received[0]!.verified, false);
  assert.equal(verifyAlertSignature(SECRET, received[0]!.headers, received[0]!.raw, 7200).ok, true, 'only the age was wrong');
  assert.equal((await rowOf(alertKey('bias-8'))).lastStatus, 401);
});

test('a secretEnv outside RETRAIN_WEBHOOK_SECRET_* is never read: refused (non-retryable), recorded, nothing sent', async () => {
  // A policy stored before the rule: the API refuses this name now, the activity still must.
  const { sendAlert } = createAlertActivities({ db: opened.db });
  process.env.RETRAIN_TEST_NOT_A_WEBHOOK_SECRET = 'do-not-sign-with-me';
  try {
    for (const [name, secretEnv] of [['env-1', 'DATABASE_URL'], ['env-2', 'RETRAIN_TEST_NOT_A_WEBHOOK_SECRET']] as const) {
      await assert.rejects(sendAlert(input(alertKey(name), { webhook: { url: `${baseUrl}/hook`, secretEnv } })), isNonRetryable('AlertSecretEnvRefused'));
      const row = await rowOf(alertKey(name));
      assert.deepEqual([row.status, row.attempts], ['failed', 0]);
      assert.match(row.lastError!, new RegExp(`secretEnv '${secretEnv}' is not a webhook secret variable.*RETRAIN_WEBHOOK_SECRET_`));
    }
  } finally {
    delete process.env.RETRAIN_TEST_NOT_A_WEBHOOK_SECRET;
  }
  assert.equal(received.length, 0);
});

test('a stored webhook to an unlisted loopback, private or metadata address is refused at delivery (non-retryable), recorded with the reason', async () => {
  const { sendAlert } = createAlertActivities({ db: opened.db });
  const port = new URL(baseUrl).port;
  const cases = [
    ['dest-1', `http://127.0.0.1:5432/`, /127\.0\.0\.1:5432 is a loopback address/],
    // The receiver's address on a port nobody listed.
    ['dest-2', `http://127.0.0.1:${Number(port) + 1}/hook`, /loopback address.*not on the webhook allowlist/],
    // IPv4 inside IPv6 is judged as the IPv4 address it carries (listed for the receiver's port only).
    ['dest-3', `http://[::ffff:127.0.0.1]:${Number(port) + 1}/hook`, /loopback \(IPv4 127\.0\.0\.1 inside IPv6\)/],
    ['dest-4', 'http://169.254.169.254/latest/meta-data', /link-local/],
    ['dest-5', 'https://10.20.30.40/hook', /private/],
    // A name resolving to loopback (this machine's resolver: localhost is 127.0.0.1 or ::1).
    ['dest-6', `http://localhost:${Number(port) + 1}/hook`, /loopback address \(localhost resolves to (127\.0\.0\.1|::1)\)/],
  ] as const;
  for (const [name, url, reason] of cases) {
    await assert.rejects(sendAlert(input(alertKey(name), { webhook: { url, secretEnv: SECRET_ENV } })), isNonRetryable('WebhookDestinationRefused'), url);
    const row = await rowOf(alertKey(name));
    assert.deepEqual([row.status, row.attempts], ['failed', 0], url);
    assert.match(row.lastError!, reason);
  }
  assert.equal(received.length, 0);
});

test('delivery connects to the address it checked: a name that resolves to public first and loopback later never reaches loopback', async () => {
  // A resolver standing in for a rebinding DNS server: the check sees a public address. Were the
  // request to look the name up again, it would get the (unlisted) receiver on loopback.
  let lookups = 0;
  const resolve = async () => {
    lookups += 1;
    return lookups === 1 ? [{ address: '192.0.2.1' as string, family: 4 as const }] : [{ address: '127.0.0.1', family: 4 as const }];
  };
  const port = new URL(baseUrl).port;
  // 192.0.2.0/24 is a documentation range (refused): list it, so the check passes as if it were public.
  await addWebhookDestination(opened.db, { host: '192.0.2.0/24', createdBy: 'test' });
  const { sendAlert } = createAlertActivities({ db: opened.db }, { resolve, timeoutMs: 1000 });
  await assert.rejects(sendAlert(input(alertKey('rebind-1'), { webhook: { url: `http://rebind.test:${port}/hook`, secretEnv: SECRET_ENV } })), isRetryable(/attempt 1: (no response|delivery failed)/));
  assert.equal(lookups, 1, 'resolved once, by the check');
  assert.equal(received.length, 0, 'the loopback receiver was never reached');

  // The same name resolving to loopback from the start is refused (it is not listed by name).
  const loopback = createAlertActivities({ db: opened.db }, { resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
  await assert.rejects(loopback.sendAlert(input(alertKey('rebind-2'), { webhook: { url: `http://rebind.test:${Number(port) + 1}/hook`, secretEnv: SECRET_ENV } })), isNonRetryable('WebhookDestinationRefused'));
  // Listed by name (any port), it is delivered to the address it resolved to.
  await addWebhookDestination(opened.db, { host: 'rebind.test', createdBy: 'test' });
  const delivered = await loopback.sendAlert(input(alertKey('rebind-3'), { webhook: { url: `http://rebind.test:${port}/hook`, secretEnv: SECRET_ENV } }));
  assert.equal(delivered.status, 'delivered');
  assert.equal(received.length, 1);
  assert.equal(received[0]!.headers.host, `rebind.test:${port}`, 'the request still names the URL host');
});

test('a name that does not resolve is a retryable failure; a redirect is not followed', async () => {
  const { sendAlert } = createAlertActivities({ db: opened.db }, { resolve: async () => Promise.reject(Object.assign(new Error('not found'), { code: 'ENOTFOUND' })) });
  await assert.rejects(sendAlert(input(alertKey('dns-1'), { webhook: { url: 'https://alerts.invalid/hook', secretEnv: SECRET_ENV } })), isRetryable(/alerts\.invalid does not resolve \(ENOTFOUND\)/));
  assert.equal((await rowOf(alertKey('dns-1'))).status, 'failed');

  const plain = createAlertActivities({ db: opened.db });
  script = [302];
  await assert.rejects(plain.sendAlert(input(alertKey('redirect-1'))), isRetryable(/HTTP 302/));
  assert.equal(received.length, 1, 'sent once, to the listed receiver only');
});
