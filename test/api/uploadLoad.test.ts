// One caller must not freeze everyone: the largest accepted predictions file (just under 50 MB,
// ~2.45M rows, fairness on) is uploaded over REST, streamed (the CSV itself as the body, the options in
// the query), while another client asks GET /api/health every 20 ms on a fixed schedule; health stays
// fast (p99 under 100 ms) because the body's bytes go to a worker thread as they arrive (never one
// string on the event loop) and the file is parsed and evaluated there, and the server's peak RSS stays
// well under 1 GB. A small file also goes as a JSON body (that path holds the whole body on the loop,
// ~100-270 ms at the largest size, which is why large files are streamed). The server runs in a child
// process of its own (this file again, with UPLOAD_LOAD_SERVER set), so its peak RSS and its event loop
// are its own, not the test's with a 50 MB body in hand. Also: a fourth file while three are in flight
// is refused with 429, and the audit log keeps the calls without the files.
//
// Numbers are printed as test diagnostics (wall time, health p50/p99/max, peak RSS); on a shared
// 2-core machine they move with whatever else runs.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { once } from 'node:events';

const CAP = 50_000_000;
const GROUPS = ['a', 'b', 'c'];
const LANGS = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pt', 'pl', 'sv', 'ja'];
const SOURCES = ['web', 'app', 'api', 'email', 'sms'];

/**
 * A JSON request body whose `content` is a CSV (or, `raw`, the CSV itself, as the streamed upload takes it) of `characters` characters at most (as close as whole
 * rows allow): label, score, group, lang, source; seeded. Written straight into bytes (a newline is
 * `\n`, two bytes, in JSON), so the client holds one buffer, not a 50M-character string as well.
 */
function uploadBody(characters: number, extra: Record<string, unknown> = {}, raw = false): { body: Buffer; rows: number; characters: number } {
  const header = 'label,score,group,lang,source';
  const head = raw ? '' : '{"content":"';
  const tail = raw ? '' : `",${JSON.stringify(extra).slice(1, -1) || '"fileName":"load.csv"'}}`;
  const newline = raw ? '\n' : '\\n';
  const buf = Buffer.allocUnsafe(head.length + 2 * characters + tail.length);
  let at = buf.write(head, 0, 'latin1');
  at += buf.write(`${header}${newline}`, at, 'latin1');
  let chars = header.length + 1;
  let rows = 0;
  let s = 20240611;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  for (;;) {
    const y = rnd() < 0.3 ? 1 : 0;
    const score = Math.min(1, Math.max(0, (y ? 0.65 : 0.35) + (rnd() - 0.5) * 0.8)).toFixed(6);
    const row = `${y},${score},${GROUPS[Math.floor(rnd() * 3)]},${LANGS[Math.floor(rnd() * 10)]},${SOURCES[Math.floor(rnd() * 5)]}`;
    if (chars + row.length + 1 > characters) break;
    at += buf.write(`${row}${newline}`, at, 'latin1');
    chars += row.length + 1;
    rows++;
  }
  at += buf.write(tail, at, 'latin1');
  return { body: buf.subarray(0, at), rows, characters: chars };
}

// ---- the server side: a child process serving the API over a database of its own ------------------

interface Ready {
  kind: 'ready';
  url: string;
  token: string;
}
interface Report {
  kind: 'report';
  maxRssBytes: number;
  rssBytes: number;
  auditContent: unknown[];
}

async function serveForTest(): Promise<void> {
  const { startCallerEnv } = await import('../caller');
  const { listAuditLog } = await import('../../db/auditLog');
  const { closeEvaluateFilePool } = await import('../../api/evaluateFileWorker');
  const env = await startCallerEnv();
  const url = await env.serve();
  process.send!({ kind: 'ready', url, token: env.tokens.operator } satisfies Ready);
  process.on('message', (m: { kind: string }) => {
    void (async () => {
      if (m.kind === 'report') {
        const audit = await listAuditLog(env.db, { limit: 20 });
        const auditContent = audit.filter((a) => a.action === 'reports.evaluateFile').map((a) => (a.details as { input?: { content?: unknown } }).input?.content);
        process.send!({ kind: 'report', maxRssBytes: process.resourceUsage().maxRSS * 1024, rssBytes: process.memoryUsage().rss, auditContent } satisfies Report);
      } else if (m.kind === 'stop') {
        await closeEvaluateFilePool();
        await env.stop();
        process.disconnect();
      }
    })();
  });
}

// ---- the client side -------------------------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
/** Health requests get sockets of their own, as many as a stall needs. */
const healthAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function request(url: string, opts: { method?: string; token?: string; body?: Buffer; type?: string; agent?: http.Agent } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        agent: opts.agent ?? agent,
        method: opts.method ?? 'GET',
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body ? { 'content-type': opts.type ?? 'application/json', 'content-length': String(opts.body.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
const summary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { n: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1)! };
};
const round = (x: number) => Math.round(x * 10) / 10;
const mb = (bytes: number) => Math.round(bytes / 1e6);

/**
 * Asks GET /api/health every `everyMs` on a fixed schedule until stopped, whether or not the earlier
 * answers have come (open loop: a server stalled for a second shows as fifty slow answers, not one,
 * as it would to fifty clients); each answer's latency in ms, and the requests not answered 200.
 */
function pollHealth(url: string, everyMs: number): { stop: () => Promise<{ latencies: number[]; failures: string[] }> } {
  const latencies: number[] = [];
  const failures: string[] = [];
  const pending = new Set<Promise<void>>();
  const fire = () => {
    const t0 = performance.now();
    const p = request(`${url}/api/health`, { agent: healthAgent })
      .then((res) => {
        if (res.status !== 200) failures.push(`${res.status} ${res.text.slice(0, 100)}`);
      })
      .catch((err: Error) => void failures.push(String(err)))
      .finally(() => {
        latencies.push(performance.now() - t0);
        pending.delete(p);
      });
    pending.add(p);
  };
  fire();
  const timer = setInterval(fire, everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all(pending);
      return { latencies, failures };
    },
  };
}

async function defineTests(): Promise<void> {
  const { after, before, test } = await import('node:test');
  let server: ChildProcess;
  let ready: Ready;
  // Answers the server owes, in order; a server that dies fails them instead of leaving the test waiting.
  const waiting: { resolve: (m: Ready | Report) => void; reject: (err: Error) => void }[] = [];
  const next = () => new Promise<Ready | Report>((resolve, reject) => waiting.push({ resolve, reject }));
  const ask = async (kind: 'report') => {
    const answer = next();
    server.send({ kind });
    return (await answer) as Report;
  };

  before(async () => {
    server = fork(import.meta.filename, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, UPLOAD_LOAD_SERVER: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    server.on('message', (m: Ready | Report) => waiting.shift()?.resolve(m));
    server.on('exit', (code, signal) => {
      for (const w of waiting.splice(0)) w.reject(new Error(`the API server process exited (${code ?? signal})`));
    });
    ready = (await next()) as Ready;
  });
  after(async () => {
    if (!server?.connected) return;
    server.send({ kind: 'stop' });
    await once(server, 'exit');
  });

  test('the largest accepted file is evaluated while health answers within 100 ms (p99); peak RSS is reported', async (t) => {
    const { url, token } = ready;
    // Streamed: the CSV itself as the body (ASCII, so its characters are its bytes), the options in the query.
    const { body, rows, characters } = uploadBody(CAP, {}, true);
    assert.ok(characters > CAP - 100 && characters <= CAP && body.length === characters, `the file is the largest accepted: ${characters} bytes`);

    // A small file first, as a JSON body (that path still works): the worker thread starts (module
    // loading, ~0.5 s) as it would on a running API.
    const small = uploadBody(10_000);
    const warm = await request(`${url}/api/reports/evaluate-file`, { method: 'POST', token, body: small.body });
    assert.equal(warm.status, 200, warm.text.slice(0, 500));
    assert.equal((JSON.parse(warm.text) as { rows: number }).rows, small.rows);
    const idle = pollHealth(url, 20);
    await new Promise((r) => setTimeout(r, 1000));
    const idleMs = summary((await idle.stop()).latencies);
    const before = await ask('report');

    const health = pollHealth(url, 20);
    const t0 = performance.now();
    const res = await request(`${url}/api/reports/evaluate-file?fileName=largest.csv&sensitive=group`, { method: 'POST', token, body, type: 'text/csv' }).catch((err: Error) => ({ status: 0, text: String(err) }));
    const wallMs = performance.now() - t0;
    const polled = await health.stop();
    const during = summary(polled.latencies);
    const afterUpload = await ask('report');
    t.diagnostic(`streamed upload: ${characters} bytes, ${rows} rows, HTTP ${res.status}, wall ${Math.round(wallMs)} ms; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    t.diagnostic(`health while idle: n=${idleMs.n} p50=${round(idleMs.p50)} ms p99=${round(idleMs.p99)} ms max=${round(idleMs.max)} ms`);
    t.diagnostic(`health during the upload: n=${during.n} p50=${round(during.p50)} ms p99=${round(during.p99)} ms max=${round(during.max)} ms, not answered: ${polled.failures.length}`);
    t.diagnostic(`server peak RSS: ${mb(before.maxRssBytes)} MB before the upload, ${mb(afterUpload.maxRssBytes)} MB after (RSS now ${mb(afterUpload.rssBytes)} MB)`);

    assert.equal(res.status, 200, res.text.slice(0, 500));
    const doc = JSON.parse(res.text) as { rows: number; fairness: { group: { by_group: Record<string, { count: number }> } } };
    assert.equal(doc.rows, rows);
    assert.equal(Object.values(doc.fairness.group.by_group).reduce((s, g) => s + g.count, 0), rows);
    // The audit log has the call, not the file.
    assert.ok(afterUpload.auditContent.includes(`[${characters} bytes, not kept]`), `audit content: ${JSON.stringify(afterUpload.auditContent).slice(0, 200)}`);
    assert.ok(afterUpload.auditContent.includes(`[${small.characters} characters, not kept]`), 'the JSON-body upload is audited too');
    assert.deepEqual(polled.failures, [], 'every health request was answered');
    assert.ok(during.n >= 20, `health was asked while the upload ran (${during.n} times)`);
    // What the upload itself costs is bounded everywhere; the whole process only on PostgreSQL, since an
    // in-memory PGlite holds the database in the same process (close to 900 MB before any upload).
    assert.ok(afterUpload.maxRssBytes - before.maxRssBytes < 600e6, `the upload raised peak RSS by ${mb(afterUpload.maxRssBytes - before.maxRssBytes)} MB (under 600)`);
    if (process.env.DATABASE_URL) assert.ok(afterUpload.maxRssBytes < 1e9, `peak RSS ${mb(afterUpload.maxRssBytes)} MB is under 1 GB`);
    const over = polled.latencies.filter((ms) => ms >= 100).length;
    assert.ok(
      during.p99 < 100,
      `health p99 ${round(during.p99)} ms during the upload (p50 ${round(during.p50)}, max ${round(during.max)}; ${over} of ${during.n} answers took 100 ms or more)`,
    );
  });

  test('a fourth file while three are being evaluated or waiting is refused with 429, and the three succeed', async () => {
    const { url, token } = ready;
    const { body } = uploadBody(8_000_000);
    const answers = await Promise.all([0, 1, 2, 3].map(() => request(`${url}/api/reports/evaluate-file`, { method: 'POST', token, body })));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 429], answers.map((a) => `${a.status} ${a.text.slice(0, 200)}`).join('\n'));
    assert.match(answers.find((a) => a.status === 429)!.text, /retry in a few seconds/);
  });
}

if (process.env.UPLOAD_LOAD_SERVER) await serveForTest();
else await defineTests();
