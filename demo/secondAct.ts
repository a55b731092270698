// The demo's second act: v2 is in production and the rest of the year's mail arrives. The team schedules,
// through the API, a weekly bias re-audit (against v2's pre-launch audit, on reviewed traffic) and a
// weekly drift monitor that may start a retraining run; alerts go to the team's webhook, signed. The
// schedules are backfilled over the weeks the traffic covers (the corpus is from 2002, so "every Monday
// since launch" is in the past: Temporal runs one audit per week as if it had fired then). The mail has
// drifted (far less HTML and spam, more bare-charset mail, fewer country-code senders): the monitors
// notice, and a retraining run starts by itself.
import { createServer, type Server } from 'node:http';
import { Presets, SingleBar } from 'cli-progress';
import type { ApiClient } from '../api/client';
import { verifyAlertSignature } from '../activities/alerts';
import type { CorpusEmail } from './corpus';
import { replayTraffic } from './traffic';

const WEEK_MS = 7 * 86_400_000;
/** Mondays 06:00 UTC: the cron both audits run on. */
const WEEKLY = '0 6 * * MON';
/** A webhook secret's variable must be named RETRAIN_WEBHOOK_SECRET_* (db/webhooks.ts). */
export const DEMO_ALERT_SECRET_ENV = 'RETRAIN_WEBHOOK_SECRET_DEMO';

export interface ReceivedAlert {
  kind: string;
  summary: string;
  verified: boolean;
  payload: { reportId?: number; retrainingRunId?: string | null; retrainingRunStarted?: boolean; reasons?: string[] };
}

/** The team's alert endpoint: accepts what carries a valid signature, keeps everything it was sent. */
export async function startAlertReceiver(secret: string): Promise<{ url: string; received: ReceivedAlert[]; close: () => Promise<void> }> {
  const received: ReceivedAlert[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const verified = verifyAlertSignature(secret, req.headers, body).ok;
      try {
        const alert = JSON.parse(body) as Omit<ReceivedAlert, 'verified'>;
        received.push({ kind: alert.kind, summary: alert.summary, payload: alert.payload ?? {}, verified });
      } catch {
        received.push({ kind: 'unparseable', summary: body.slice(0, 200), payload: {}, verified });
      }
      res.writeHead(verified ? 200 : 401).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/alerts`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The Monday 06:00 UTC on or after `t`. */
function mondayOnOrAfter(t: Date): Date {
  const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), 6));
  while (d.getUTCDay() !== 1 || d < t) d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

export interface SecondActResult {
  weeks: number;
  reaudits: number;
  reauditAlerts: number;
  driftReports: number;
  driftAlerts: number;
  alertsReceived: number;
  alertsVerified: number;
  retrainingRunId: string | null;
  retrainingRunStatus: string | null;
}

export async function secondAct(opts: {
  model: string;
  engineer: ApiClient;
  ingest: ApiClient;
  late: CorpusEmail[];
  alerts: { url: string; received: ReceivedAlert[] };
  say: (msg: string) => void;
  follow: (api: ApiClient, runId: string, until: string[]) => Promise<{ status: string }>;
}): Promise<SecondActResult> {
  const { model, engineer, say } = opts;
  const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  const webhook = { url: opts.alerts.url, secretEnv: DEMO_ALERT_SECRET_ENV };

  say(`\n7. second act: v2 serves. ml-engineer schedules, through the API, two weekly audits (Mondays 06:00 UTC); alerts go to the team's webhook, HMAC-signed`);
  const reaudit = await engineer.audits.create.mutate({
    model,
    kind: 'bias_reaudit',
    spec: { cron: WEEKLY, timezone: 'UTC' },
    windowDays: 28,
    overlap: 'buffer_all',
    policy: { maxFprIncrease: 0.05, maxFairnessGap: 0.15, minSupport: 30, attributes: ['sender_tld', 'format', 'charset'], webhook },
  });
  const drift = await engineer.audits.create.mutate({
    model,
    kind: 'drift_monitor',
    spec: { cron: WEEKLY, timezone: 'UTC' },
    windowDays: 7,
    overlap: 'buffer_all',
    policy: { attributes: ['sender_tld', 'format', 'charset'], maxPsi: 0.25, startRetraining: true, webhook },
  });
  say(`  ${reaudit.id}: the production version on the last 28 days of reviewed traffic against its pre-launch audit (FPR +5 points, FPR gap 0.15, PSI 0.25)`);
  say(`  ${drift.id}: PSI of sender_tld, format, charset over the last 7 days; the trend of overrides, edits and undos; starts a retraining run on drift`);
  say(`  next runs: ${String(reaudit.nextActionTimes[0] ?? 'none')} (both)`);

  const dated = opts.late.filter((e) => e.sentAt);
  say(`\n8. the rest of the year's mail arrives: ${opts.late.length} e-mails (${dated[0]?.sentAt?.slice(0, 10)} .. ${dated.at(-1)?.sentAt?.slice(0, 10)}), scored by v2; reviewers spot-check a quarter of it`);
  const replay = await replayTraffic({ api: opts.ingest, model, emails: opts.late, seed: 13, probabilities: { review: 0.25 } });
  say(`  ${replay.requests} requests, ${replay.blocked} blocked; truth: ${replay.truth.hamBlocked} ham blocked, ${replay.truth.spamPassed} spam passed; ${replay.feedback.reviewed} reviewed, ${replay.feedback.override} overrides`);

  // Every Monday from the first one after the traffic began to the first one after it ended.
  const from = mondayOnOrAfter(new Date(dated[0]!.sentAt!));
  const to = new Date(mondayOnOrAfter(new Date(dated.at(-1)!.sentAt!)).getTime() + 1);
  const weeks = Math.round((to.getTime() - 1 - from.getTime()) / WEEK_MS) + 1;
  say(`\n9. the audits have run every Monday since v2 went live: Temporal backfills the ${weeks} weeks ${from.toISOString().slice(0, 10)} .. ${new Date(to.getTime() - 1).toISOString().slice(0, 10)}, one run per week, in order`);
  await engineer.audits.backfill.mutate({ id: reaudit.id, from: from.toISOString(), to: to.toISOString(), overlap: 'buffer_all' });
  await engineer.audits.backfill.mutate({ id: drift.id, from: from.toISOString(), to: to.toISOString(), overlap: 'buffer_all' });
  const deadline = Date.now() + 10 * 60_000;
  let reaudits: Awaited<ReturnType<ApiClient['audits']['reports']['query']>> = [];
  let drifts: typeof reaudits = [];
  const bar = new SingleBar({ format: '  audit runs [{bar}] {value}/{total} reports stored', stream: process.stderr, hideCursor: true, noTTYOutput: true, notTTYSchedule: 2000 }, Presets.shades_classic);
  bar.start(2 * weeks, 0);
  while (Date.now() < deadline) {
    reaudits = await engineer.audits.reports.query({ model, auditId: reaudit.id, limit: 1000 });
    drifts = await engineer.audits.reports.query({ model, auditId: drift.id, limit: 1000 });
    bar.update(reaudits.length + drifts.length);
    if (reaudits.length >= weeks && drifts.length >= weeks) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  bar.stop();
  if (reaudits.length < weeks || drifts.length < weeks) throw new Error(`after 10 minutes: ${reaudits.length} re-audits and ${drifts.length} drift reports of ${weeks} weeks`);

  say(`  week ending        requests (7 d)  reviewed/requests (28 d)  re-audit             drift monitor`);
  const endOf = (r: { windowTo: string | Date }) => new Date(r.windowTo).toISOString();
  const byEnd = new Map(drifts.map((d) => [endOf(d), d]));
  let quiet = 0;
  for (const r of [...reaudits].reverse()) {
    const d = byEnd.get(endOf(r));
    if (!r.alert && !d?.alert && !r.requests && !d?.requests) {
      quiet++;
      continue;
    }
    const verdict = (x: { alert: boolean; reasons: string[] } | undefined) => (!x ? '-' : x.alert ? `ALERT (${x.reasons.length} finding${x.reasons.length === 1 ? '' : 's'})` : 'clean');
    say(
      `  ${endOf(r).slice(0, 16).replace('T', ' ')}  ${String(d?.requests ?? '-').padStart(14)}  ${`${r.labelled ?? '-'}/${r.requests ?? '-'}`.padStart(24)}  ${verdict(r).padEnd(19)}  ${verdict(d)}`,
    );
  }
  if (quiet) say(`  (${quiet} weeks without traffic not shown: each has its two reports, both clean)`);
  const firstReaudit = [...reaudits].reverse().find((r) => r.alert);
  if (firstReaudit) {
    say(`  first re-audit alert (4 weeks to ${endOf(firstReaudit).slice(0, 10)}, ${firstReaudit.labelled} reviewed of ${firstReaudit.requests} requests):`);
    for (const reason of firstReaudit.reasons.slice(0, 4)) say(`    - ${reason}`);
    const whole = await engineer.audits.report.query({ reportId: firstReaudit.reportId });
    const overall = whole.kind === 'bias_reaudit' ? whole.report.comparison.conceptDrift.filter((c) => c.slice === 'overall') : [];
    for (const c of overall) {
      say(`    overall ${c.metric}: pre-launch ${pct(c.prelaunch.estimate)}, window ${pct(c.window.estimate)} (difference 95% [${pct(c.difference.lower)}, ${pct(c.difference.upper)}])`);
    }
  }
  const firstDrift = [...drifts].reverse().find((r) => r.alert);
  if (firstDrift) {
    say(`  first drift alert (week to ${endOf(firstDrift).slice(0, 10)}):`);
    for (const reason of firstDrift.reasons.slice(0, 4)) say(`    - ${reason}`);
  }

  // Deliveries are retried with backoff; give the last ones a moment.
  const expectedAlerts = reaudits.filter((r) => r.alert).length + drifts.filter((r) => r.alert).length;
  const alertDeadline = Date.now() + 30_000;
  while (opts.alerts.received.length < expectedAlerts && Date.now() < alertDeadline) await new Promise((r) => setTimeout(r, 200));
  const verified = opts.alerts.received.filter((a) => a.verified).length;
  say(`  webhook: ${opts.alerts.received.length} alerts received (${verified} with a valid signature): ${opts.alerts.received.filter((a) => a.kind === 'bias_reaudit').length} re-audit, ${opts.alerts.received.filter((a) => a.kind === 'drift').length} drift`);

  const started = opts.alerts.received.find((a) => a.payload.retrainingRunStarted && a.payload.retrainingRunId);
  const runId = started?.payload.retrainingRunId ?? null;
  let status: string | null = null;
  if (runId) {
    const also = opts.alerts.received.filter((a) => a.payload.retrainingRunId === runId && !a.payload.retrainingRunStarted).length;
    say(`\n10. the drift monitor started retraining run ${runId} by itself (trigger drift)${also ? `; ${also} later drifting week${also === 1 ? '' : 's'} found it under way and started none` : ''}`);
    const run = await opts.follow(engineer, runId, ['awaiting_approval', 'promoted', 'rejected', 'failed']);
    status = run.status;
    const evidence = await engineer.reports.get.query({ runId });
    const packet = evidence.packet;
    if (packet) {
      const rates = packet.candidateEvaluation.classification.overall.rates;
      const iv = (r: { estimate: number | null; lower: number | null; upper: number | null }) => `${pct(r.estimate)} [${pct(r.lower)}, ${pct(r.upper)}]`;
      say(`  candidate v${packet.candidate.version} against v${packet.champion?.version ?? '?'} on ${rates.support} held-out e-mails: accuracy ${iv(rates.accuracy)}, FPR ${iv(rates.fpr)}, recall ${iv(rates.recall)}`);
    }
    say(`  run ${runId}: ${run.status}; gate ${evidence.gate?.decision ?? 'n/a'}${run.status === 'awaiting_approval' ? ' (the sign-off is the approver’s)' : ''}`);
    for (const rule of evidence.gate?.rules.filter((x) => x.outcome !== 'passed') ?? []) say(`    [${rule.outcome}] ${rule.id}: ${rule.detail}`.slice(0, 240));
  } else {
    say('\n10. no retraining run was started: the drift monitor found no drift that its policy acts on');
  }
  return {
    weeks,
    reaudits: reaudits.length,
    reauditAlerts: reaudits.filter((r) => r.alert).length,
    driftReports: drifts.length,
    driftAlerts: drifts.filter((r) => r.alert).length,
    alertsReceived: opts.alerts.received.length,
    alertsVerified: verified,
    retrainingRunId: runId,
    retrainingRunStatus: status,
  };
}
