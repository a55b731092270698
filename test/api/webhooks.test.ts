// Webhooks at the API edge: audits.create holds a policy's webhook to db/webhooks.ts's rules (a secretEnv
// named RETRAIN_WEBHOOK_SECRET_*; a public destination, or one an admin allowed), and the allowlist is
// the admin's to write (webhooks.allowDestination / removeDestination) and anyone's to read. Through the
// router in-process over a stub Temporal client: a refused audit never reaches Temporal and writes
// nothing; an accepted one reaches schedule.create (which the stub refuses: schedules themselves are
// test/api/audits.test.ts's, on the real server).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { and, eq } from 'drizzle-orm';
import type { ApiClient } from '../../api/client';
import type { AppRouter } from '../../api/router';
import { auditLog } from '../../db/schema';
import { assertNothingWritten, fingerprint, startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv;
let model: string;
const hourly = { interval: { everySeconds: 3600 } };
const reaudit = { maxFprIncrease: 0.05, maxFairnessGap: 0.1 };

before(async () => {
  env = await startCallerEnv();
  model = `hooked-${uid()}`;
  await env.clients.operator.models.register.mutate({ name: model });
});
after(async () => {
  await env?.stop();
});

type ClientError = TRPCClientError<AppRouter>;
async function refusal(call: () => Promise<unknown>, code: string, what: string): Promise<ClientError> {
  try {
    const result = await call();
    assert.fail(`${what}: expected ${code}, got ${JSON.stringify(result).slice(0, 300)}`);
  } catch (err) {
    assert.ok(err instanceof TRPCClientError, `${what}: ${String(err)}`);
    assert.equal(err.data?.code, code, `${what}: ${err.message}`);
    return err as ClientError;
  }
}

const create = (c: ApiClient, webhook: { url: string; secretEnv?: string }) => c.audits.create.mutate({ model, id: `a-${uid()}`, spec: hourly, policy: { ...reaudit, webhook } });

/** Refused with 400, naming why, before Temporal was asked, with nothing written. */
async function expectRefused(webhook: { url: string; secretEnv?: string }, reason: RegExp) {
  const what = JSON.stringify(webhook);
  const before = await fingerprint(env.db);
  const asked = env.temporal.of('scheduleCreate').length;
  const err = await refusal(() => create(env.clients.operator, webhook), 'BAD_REQUEST', what);
  assert.equal(err.data?.httpStatus, 400, what);
  assert.match(err.message, reason, what);
  assert.equal(env.temporal.of('scheduleCreate').length, asked, `${what}: Temporal was not asked`);
  await assertNothingWritten(env.db, before, what);
}

/** Passed every webhook check: the router went on to create the schedule (which the stub refuses). */
async function expectAccepted(webhook: { url: string; secretEnv?: string }) {
  const asked = env.temporal.of('scheduleCreate').length;
  await create(env.clients.operator, webhook).catch(() => {});
  const calls = env.temporal.of('scheduleCreate');
  assert.equal(calls.length, asked + 1, `${JSON.stringify(webhook)} reached Temporal`);
  const args = (calls.at(-1)!.options as { action: { args: [{ policy: { webhook: unknown } }] } }).action.args;
  assert.deepEqual(args[0].policy.webhook, webhook);
}

test('a secretEnv outside RETRAIN_WEBHOOK_SECRET_* is refused with a 400 naming the field; the default and the prefix are accepted', async () => {
  for (const secretEnv of ['DATABASE_URL', 'TEMPORAL_API_KEY', 'RETRAIN_TOKEN', 'HOME', 'RETRAIN_WEBHOOK_SECRET_']) {
    await expectRefused({ url: 'https://hooks.example.com/x', secretEnv }, new RegExp(`secretEnv '${secretEnv}' is not a webhook secret variable.*RETRAIN_WEBHOOK_SECRET_`));
    const err = await refusal(() => create(env.clients.operator, { url: 'https://hooks.example.com/x', secretEnv }), 'BAD_REQUEST', secretEnv);
    assert.ok((err.data?.fieldErrors as Record<string, string[]>).policy?.length, 'names policy');
  }
  await expectAccepted({ url: 'https://8.8.8.8/x', secretEnv: 'RETRAIN_WEBHOOK_SECRET_TEAM' });
  await expectAccepted({ url: 'https://8.8.8.8/x', secretEnv: 'RETRAIN_ALERT_WEBHOOK_SECRET' });
  await expectAccepted({ url: 'https://8.8.8.8/x' });
});

test('loopback, private, link-local, CGNAT, IPv4-in-IPv6 and names resolving to loopback are refused unless an admin lists them', async () => {
  const secretEnv = 'RETRAIN_WEBHOOK_SECRET_TEAM';
  await expectRefused({ url: 'http://127.0.0.1:5432', secretEnv }, /127\.0\.0\.1:5432 is a loopback address.*not on the webhook allowlist/);
  await expectRefused({ url: 'http://[::1]:8080/x', secretEnv }, /loopback/);
  await expectRefused({ url: 'http://[::ffff:127.0.0.1]/x', secretEnv }, /loopback \(IPv4 127\.0\.0\.1 inside IPv6\)/);
  await expectRefused({ url: 'http://2130706433/x', secretEnv }, /127\.0\.0\.1:80 is a loopback address/);
  await expectRefused({ url: 'http://10.1.2.3/x', secretEnv }, /private/);
  await expectRefused({ url: 'https://192.168.1.10/x', secretEnv }, /private/);
  await expectRefused({ url: 'http://169.254.169.254/latest/meta-data', secretEnv }, /link-local/);
  await expectRefused({ url: 'http://100.64.0.1/x', secretEnv }, /CGNAT/);
  await expectRefused({ url: 'http://[fd12::1]/x', secretEnv }, /unique-local/);
  await expectRefused({ url: 'http://0.0.0.0:4300/x', secretEnv }, /unspecified/);
  // A name: resolved by the system resolver, as a delivery would.
  await expectRefused({ url: 'http://localhost:4300/x', secretEnv }, /localhost:4300 is a loopback address \(localhost resolves to/);
  // Public addresses need no entry.
  await expectAccepted({ url: 'https://1.1.1.1/hook', secretEnv });
  await expectAccepted({ url: 'https://[2606:4700::1111]/hook', secretEnv });
});

test('an admin lists a destination (address and port, range, or name); listed URLs are accepted, unlisted ports still refused; removal refuses again', async () => {
  const admin = env.clients.admin;
  const secretEnv = 'RETRAIN_WEBHOOK_SECRET_TEAM';
  const byAddress = await admin.webhooks.allowDestination.mutate({ host: '127.0.0.1', port: 4311, note: 'the on-call receiver' });
  assert.deepEqual([byAddress.host, byAddress.port, byAddress.note], ['127.0.0.1', 4311, 'the on-call receiver']);
  await expectAccepted({ url: 'http://127.0.0.1:4311/alerts', secretEnv });
  // The same address through a name resolving to it, and through IPv4-in-IPv6.
  await expectAccepted({ url: 'http://localhost:4311/alerts', secretEnv });
  await expectAccepted({ url: 'http://[::ffff:127.0.0.1]:4311/alerts', secretEnv });
  await expectRefused({ url: 'http://127.0.0.1:5432/', secretEnv }, /not on the webhook allowlist/);

  const range = await admin.webhooks.allowDestination.mutate({ host: '10.20.0.0/16' });
  assert.equal(range.port, null);
  await expectAccepted({ url: 'https://10.20.3.4:8443/hook', secretEnv });
  await expectRefused({ url: 'https://10.21.3.4/hook', secretEnv }, /private/);

  const byName = await admin.webhooks.allowDestination.mutate({ host: 'Alerts.Internal', port: 443 });
  assert.equal(byName.host, 'alerts.internal');
  await expectAccepted({ url: 'https://alerts.internal/hook', secretEnv });

  // Listing again is a conflict; everyone who reads audits can read the list.
  await refusal(() => admin.webhooks.allowDestination.mutate({ host: '127.0.0.1', port: 4311 }), 'CONFLICT', 'listed twice');
  const listed = await env.clients.viewer.webhooks.destinations.query();
  assert.deepEqual(
    listed.map((d) => [d.host, d.port]),
    [
      ['10.20.0.0/16', null],
      ['127.0.0.1', 4311],
      ['alerts.internal', 443],
    ],
  );

  // Every write is in the audit log, with who made it.
  const logged = await env.db.select().from(auditLog).where(and(eq(auditLog.action, 'webhooks.allowDestination'), eq(auditLog.actor, env.identities.admin.subject)));
  assert.equal(logged.length, 3);

  const removed = await admin.webhooks.removeDestination.mutate({ id: byAddress.id });
  assert.equal(removed.host, '127.0.0.1');
  await expectRefused({ url: 'http://127.0.0.1:4311/alerts', secretEnv }, /loopback/);
  await refusal(() => admin.webhooks.removeDestination.mutate({ id: byAddress.id }), 'NOT_FOUND', 'removed twice');
});

test('only an admin writes the allowlist: operator, approver and viewer are FORBIDDEN and write nothing', async () => {
  for (const who of ['operator', 'approver', 'viewer'] as const) {
    const client = env.clients[who];
    const before = await fingerprint(env.db);
    await refusal(() => client.webhooks.allowDestination.mutate({ host: '192.168.0.0/16' }), 'FORBIDDEN', `${who} allows`);
    await refusal(() => client.webhooks.removeDestination.mutate({ id: 1 }), 'FORBIDDEN', `${who} removes`);
    await assertNothingWritten(env.db, before, `${who} writing the allowlist`);
  }
  // No token at all.
  await refusal(() => env.client(null).webhooks.destinations.query(), 'UNAUTHORIZED', 'anonymous read');
});

test('webhooks.check says what audits.create would decide, and why', async () => {
  const op = env.clients.operator;
  const loop = await op.webhooks.check.query({ url: 'http://127.0.0.1:5432/' });
  assert.equal(loop.verdict, 'refused');
  assert.match(loop.reason!, /loopback/);
  const pub = await op.webhooks.check.query({ url: 'https://1.1.1.1/x' });
  assert.deepEqual([pub.verdict, pub.addresses, pub.listed], ['allowed', ['1.1.1.1'], false]);
  assert.equal((await op.webhooks.check.query({ url: 'ftp://1.1.1.1/x' })).verdict, 'refused');
});

test('over REST: a secretEnv of DATABASE_URL is HTTP 400 with the reason, and nothing is written', async () => {
  const url = await env.serve();
  const before = await fingerprint(env.db);
  const res = await fetch(`${url}/api/audits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.tokens.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, spec: hourly, policy: { ...reaudit, webhook: { url: 'https://hooks.example.com/x', secretEnv: 'DATABASE_URL' } } }),
  });
  assert.equal(res.status, 400);
  assert.match(await res.text(), /secretEnv 'DATABASE_URL' is not a webhook secret variable/);
  await assertNothingWritten(env.db, before, 'REST audits.create with DATABASE_URL');
});
