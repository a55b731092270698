// Alerts to a configured webhook: recorded once per alert key, signed with HMAC-SHA256, one delivery
// attempt per call. The retry schedule (backoff, limits) is the calling workflow's activity retry policy:
// a retryable failure throws an ordinary Error, a refusal a non-retryable ApplicationFailure, and every
// attempt is counted in the row. Once delivered, a retried activity or a replay never sends again.
// Every attempt applies db/webhooks.ts's rules again (the policy may have been stored before them, or
// the allowlist changed since): a secretEnv outside RETRAIN_WEBHOOK_SECRET_* is never read, and the
// webhook's host is resolved, judged, and connected to at the very address that was judged, so a name
// that resolves elsewhere a moment later (DNS rebinding) cannot move the request. Redirects are not
// followed.
import { lookup } from 'node:dns/promises';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { and, eq, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/index';
import { writeAudit } from '../db/auditLog';
import { alerts, models, type AlertKind, type AlertStatus } from '../db/schema';
import { DEFAULT_ALERT_SECRET_ENV, checkWebhookDestination, secretEnvRefusal, type ResolvedAddress, type Resolver } from '../analysis/webhookDestinations';
import { listWebhookDestinations } from '../db/webhooks';

export type { AlertKind, AlertStatus } from '../db/schema';
export { DEFAULT_ALERT_SECRET_ENV, WEBHOOK_SECRET_ENV_PREFIX } from '../analysis/webhookDestinations';

export const ALERT_TIMEOUT_MS = 10_000;
export const ALERT_HEADERS = {
  timestamp: 'x-retrain-timestamp',
  signature: 'x-retrain-signature',
  delivery: 'x-retrain-delivery',
} as const;

export interface AlertWebhook {
  url: string;
  /** Name of the environment variable holding the HMAC secret (never the secret itself). */
  secretEnv?: string;
}

export interface SendAlertInput {
  /** The caller's idempotency key, e.g. `${workflowId}:${step}`. */
  alertKey: string;
  modelId: number;
  kind: AlertKind;
  severity: string;
  summary: string;
  payload: Record<string, unknown>;
  /** Null when no webhook is configured: the alert is recorded as pending and nothing is sent. */
  webhook: AlertWebhook | null;
}

export interface SendAlertResult {
  alertId: number;
  status: AlertStatus;
  attempts: number;
  delivered: boolean;
}

/** The JSON body POSTed to the webhook; identical on every attempt of one alert. */
export interface AlertBody {
  id: number;
  alertKey: string;
  kind: AlertKind;
  severity: string;
  summary: string;
  model: { id: number; name: string };
  payload: unknown;
  createdAt: string;
}

export interface AlertActivityOptions {
  /** How webhook host names are resolved (the system resolver unless a test stands in for DNS). */
  resolve?: Resolver;
  now?: () => Date;
  /** Per-attempt timeout; 10 s unless a test shortens it. */
  timeoutMs?: number;
}

/** `sha256=<hex HMAC-SHA256 of "${timestamp}.${body}">`, the value of the x-retrain-signature header. */
export function signAlert(secret: string, timestamp: number | string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

export type AlertVerification = { ok: true; timestamp: number } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * For receivers: checks the signature headers against the raw body, in constant time, and rejects
 * timestamps more than toleranceSeconds away from now (replayed or delayed deliveries).
 */
export function verifyAlertSignature(
  secret: string,
  headers: HeaderSource,
  body: string | Uint8Array,
  toleranceSeconds = 300,
  now: Date = new Date(),
): AlertVerification {
  const timestamp = header(headers, ALERT_HEADERS.timestamp);
  const signature = header(headers, ALERT_HEADERS.signature);
  if (timestamp === undefined || signature === undefined) return { ok: false, reason: 'missing' };
  const given = /^sha256=([0-9a-f]{64})$/i.exec(signature.trim());
  if (!/^\d{1,12}$/.test(timestamp) || !given) return { ok: false, reason: 'malformed' };
  const ts = Number(timestamp);
  if (Math.abs(Math.floor(now.getTime() / 1000) - ts) > toleranceSeconds) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(signAlert(secret, timestamp, body).slice('sha256='.length), 'hex');
  const actual = Buffer.from(given[1]!, 'hex');
  return timingSafeEqual(expected, actual) ? { ok: true, timestamp: ts } : { ok: false, reason: 'mismatch' };
}

/** The most of a receiver's answer kept (its first 200 characters go into the row). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs the body to the URL over a connection to `pinned` (an address the destination check allowed):
 * the lookup the socket asks for answers with that address, whatever DNS says now; TLS still verifies
 * the URL's host name. No agent (no pooled socket to another address), no redirects.
 */
function postPinned(url: URL, pinned: ResolvedAddress, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<{ status: number; text: string }> {
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup, agent: false, signal }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < MAX_RESPONSE_BYTES) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
      // A receiver that hangs up (or a timeout) mid-answer: a network failure, not a hang.
      res.on('close', () => {
        if (!res.complete) reject(signal.aborted ? (signal.reason as Error) : new Error('the receiver closed the connection before its answer ended'));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every address a host name has, as the system resolver (and so a connection) sees them. */
const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

const errorText = (err: unknown): string => {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
};

export function createAlertActivities({ db }: { db: Db }, opts: AlertActivityOptions = {}) {
  const resolve = opts.resolve ?? systemResolver;
  const now = opts.now ?? (() => new Date());
  const timeoutMs = opts.timeoutMs ?? ALERT_TIMEOUT_MS;

  const result = (row: { id: number; status: AlertStatus; attempts: number }): SendAlertResult => ({
    alertId: row.id,
    status: row.status,
    attempts: row.attempts,
    delivered: row.status === 'delivered',
  });

  /** Records an outcome unless the alert was delivered meanwhile (an overlapping attempt won). */
  async function recordFailure(id: number, set: { lastError: string; lastStatus?: number | null; status?: AlertStatus }) {
    await db
      .update(alerts)
      .set({ status: set.status ?? 'failed', lastError: set.lastError.slice(0, 1000), lastStatus: set.lastStatus ?? null })
      .where(and(eq(alerts.id, id), ne(alerts.status, 'delivered')));
  }

  return {
    /**
     * Records the alert (once per alertKey) and makes one delivery attempt. Returns delivered: false
     * without throwing when no webhook is configured; throws an Error on a retryable failure (5xx, 408,
     * 429, network error, timeout, a name that does not resolve) and a non-retryable ApplicationFailure
     * when the receiver refuses the alert (other 4xx), secretEnv is not a webhook secret variable
     * (AlertSecretEnvRefused), the secret is missing, the URL is unusable, or its destination is not
     * public and not on the admin's allowlist (WebhookDestinationRefused).
     */
    async sendAlert(input: SendAlertInput): Promise<SendAlertResult> {
      const [model] = await db.select({ id: models.id, name: models.name }).from(models).where(eq(models.id, input.modelId)).limit(1);
      if (!model) throw ApplicationFailure.nonRetryable(`model ${input.modelId} not found`, 'NotFound');

      await db
        .insert(alerts)
        .values({
          alertKey: input.alertKey,
          modelId: input.modelId,
          kind: input.kind,
          severity: input.severity,
          summary: input.summary,
          payload: input.payload,
          targetUrl: input.webhook?.url ?? null,
        })
        .onConflictDoNothing({ target: alerts.alertKey });
      const [row] = await db.select().from(alerts).where(eq(alerts.alertKey, input.alertKey)).limit(1);
      if (!row) throw new Error(`alert ${input.alertKey} was not recorded`);
      if (row.status === 'delivered') return result(row);

      if (!input.webhook) {
        await recordFailure(row.id, { lastError: 'no webhook configured', lastStatus: null, status: 'pending' });
        return { alertId: row.id, status: 'pending', attempts: row.attempts, delivered: false };
      }

      const secretEnv = input.webhook.secretEnv ?? DEFAULT_ALERT_SECRET_ENV;
      // Checked before the variable is read: a policy stored before the rule may name any variable.
      const refusedEnv = secretEnvRefusal(secretEnv);
      if (refusedEnv) {
        await recordFailure(row.id, { lastError: refusedEnv });
        throw ApplicationFailure.nonRetryable(refusedEnv, 'AlertSecretEnvRefused');
      }
      // Each policy names its own variable, so no start-up schema can list it: read when the alert is sent.
      const secret = process.env[secretEnv];
      if (!secret) {
        // Never send unsigned: a receiver could not tell the alert from a forgery.
        const message = `webhook secret ${secretEnv} is not set; alert not sent unsigned`;
        await recordFailure(row.id, { lastError: message });
        throw ApplicationFailure.nonRetryable(message, 'AlertSecretMissing');
      }
      const destination = await checkWebhookDestination(input.webhook.url, await listWebhookDestinations(db), { resolve });
      if (destination.verdict === 'refused') {
        await recordFailure(row.id, { lastError: destination.reason });
        throw ApplicationFailure.nonRetryable(destination.reason, destination.code === 'bad_url' ? 'BadWebhookUrl' : 'WebhookDestinationRefused');
      }
      if (destination.verdict === 'unresolved') {
        // DNS may answer on a later attempt; the retry policy decides how long to keep asking.
        const message = `delivery failed: ${destination.reason}`;
        await recordFailure(row.id, { lastError: message, lastStatus: null });
        throw new Error(`alert ${row.alertKey}: ${message}`);
      }
      const { url, addresses } = destination;

      // Count the attempt before sending, so a crash mid-request is still on record.
      const [counted] = await db
        .update(alerts)
        .set({ attempts: sql`${alerts.attempts} + 1`, targetUrl: url.href })
        .where(and(eq(alerts.id, row.id), ne(alerts.status, 'delivered')))
        .returning({ attempts: alerts.attempts });
      if (!counted) {
        const [done] = await db.select().from(alerts).where(eq(alerts.id, row.id)).limit(1);
        return result(done!);
      }
      const attempt = counted.attempts;

      const body = JSON.stringify({
        id: row.id,
        alertKey: row.alertKey,
        kind: row.kind,
        severity: row.severity,
        summary: row.summary,
        model,
        payload: row.payload,
        createdAt: row.createdAt.toISOString(),
      } satisfies AlertBody);
      const timestamp = Math.floor(now().getTime() / 1000);

      let status: number;
      let responseText = '';
      try {
        const res = await postPinned(
          url,
          addresses[0]!,
          {
            'content-type': 'application/json',
            [ALERT_HEADERS.timestamp]: String(timestamp),
            [ALERT_HEADERS.signature]: signAlert(secret, timestamp, body),
            [ALERT_HEADERS.delivery]: `${row.alertKey}:${attempt}`,
          },
          body,
          // A redirect is not followed (it would re-send the signed alert elsewhere): it counts as a failed attempt.
          AbortSignal.timeout(timeoutMs),
        );
        status = res.status;
        responseText = res.text;
      } catch (err) {
        const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
        const message = timedOut ? `no response within ${timeoutMs} ms` : `delivery failed: ${errorText(err)}`;
        await recordFailure(row.id, { lastError: message, lastStatus: null });
        throw new Error(`alert ${row.alertKey} attempt ${attempt}: ${message}`);
      }

      if (status >= 200 && status < 300) {
        return db.transaction(async (tx) => {
          const [delivered] = await tx
            .update(alerts)
            .set({ status: 'delivered', deliveredAt: now(), lastStatus: status, lastError: null })
            .where(and(eq(alerts.id, row.id), ne(alerts.status, 'delivered')))
            .returning();
          if (!delivered) {
            const [done] = await tx.select().from(alerts).where(eq(alerts.id, row.id)).limit(1);
            return result(done!);
          }
          await writeAudit(tx, {
            actor: 'workflow',
            action: 'alert.deliver',
            target: `model:${row.modelId}`,
            details: { alertId: row.id, alertKey: row.alertKey, kind: row.kind, severity: row.severity, host: url.host, attempts: delivered.attempts, httpStatus: status },
          });
          return result(delivered);
        });
      }

      const excerpt = responseText.trim().slice(0, 200);
      const message = `webhook answered HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`;
      await recordFailure(row.id, { lastError: message, lastStatus: status });
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        // The receiver refused this alert; sending it again would be refused again.
        throw ApplicationFailure.nonRetryable(`alert ${row.alertKey} attempt ${attempt}: ${message}`, 'AlertRejected', { status });
      }
      throw new Error(`alert ${row.alertKey} attempt ${attempt}: ${message}`);
    },
  };
}

export type AlertActivities = ReturnType<typeof createAlertActivities>;
