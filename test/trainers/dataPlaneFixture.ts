/**
 * A stand-in for the control plane's trainer data plane, for the Python trainer's own tests (which need
 * no database): exactly the endpoints trainers/contract/README.md documents, over rows the test gives it,
 * and what the real one never does on purpose (a stream dropped mid-way, to prove the trainer resumes).
 * The Python trainer meets the real data plane in test/e2e/pythonTrainer.test.ts and the conformance suite.
 *
 *   GET /api/trainer/snapshots/{id}/examples?split=train|heldout[&offset=N&limit=M]   NDJSON example lines
 *       (labels on the train split only), in a fixed order
 *   PUT /api/trainer/score-sets/{jobKey}          NDJSON score lines; every row of the scored stream once;
 *       answers {scored, sha256}; the first set stored for a key is kept and answered again
 *   PUT /api/trainer/artifacts/sha256:<hex>       bytes (up to 64 MiB), hash checked; answers {uri, size}
 *   GET /api/trainer/artifacts/sha256:<hex>       the stored bytes
 *
 * Every request needs `Authorization: Bearer <token>`. `dropAfter` closes one examples stream
 * mid-body (after that many lines) to prove a trainer resumes with offset=.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

export interface FixtureExample {
  externalId: string;
  input: Record<string, string | number | boolean | null>;
  label: 0 | 1;
  split: 'train' | 'heldout';
  /** Served on the train split's lines when given (the contract's optional weight and ageDays). */
  weight?: number;
  ageDays?: number;
}

export interface StoredScores {
  scores: Map<number, number>;
  sha256: string;
}

export interface DataPlaneFixture {
  url: string;
  /** Registers a snapshot; examples get ids 1..n in the order given. */
  addSnapshot(rows: FixtureExample[]): number;
  examplesUrl(snapshotId: number, split: 'train' | 'heldout'): string;
  rows(snapshotId: number, split: 'train' | 'heldout'): (FixtureExample & { exampleId: number })[];
  /** The score set's URL for a job, and which stream's rows it must hold. */
  scoresUrl(jobKey: string, of: { snapshotId: number; split: 'train' | 'heldout' }): string;
  scoreSets: Map<string, StoredScores>;
  artifacts: Map<string, Buffer>;
  /** Requests seen, for tests that count reads or resumes. */
  requests: { method: string; url: string; status: number }[];
  /** Closes the next examples response after this many lines (once). */
  dropNextStreamAfter(lines: number): void;
  close(): Promise<void>;
}

const MAX_ARTIFACT = 64 * 1024 * 1024;

export async function startDataPlaneFixture(token: string): Promise<DataPlaneFixture> {
  const snapshots = new Map<number, (FixtureExample & { exampleId: number })[]>();
  const expected = new Map<string, { snapshotId: number; split: 'train' | 'heldout' }>();
  const scoreSets = new Map<string, StoredScores>();
  const artifacts = new Map<string, Buffer>();
  const requests: DataPlaneFixture['requests'] = [];
  let dropAfter: number | undefined;
  let nextId = 1;

  const answer = (req: IncomingMessage, res: ServerResponse, status: number, body: unknown) => {
    requests.push({ method: req.method!, url: req.url!, status });
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => answer(req, res, 500, { error: String(err) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (req.headers.authorization !== `Bearer ${token}`) return answer(req, res, 401, { error: 'a trainer token is required' });
    const url = new URL(req.url!, 'http://fixture');
    let m: RegExpMatchArray | null;
    if (req.method === 'GET' && (m = url.pathname.match(/^\/api\/trainer\/snapshots\/(\d+)\/examples$/))) {
      const rows = snapshots.get(Number(m[1]));
      const split = url.searchParams.get('split');
      if (!rows) return answer(req, res, 404, { error: `snapshot ${m[1]} not found` });
      if (split !== 'train' && split !== 'heldout') return answer(req, res, 400, { error: 'split: train or heldout' });
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const limit = url.searchParams.has('limit') ? Number(url.searchParams.get('limit')) : Infinity;
      const selected = rows.filter((r) => r.split === split).slice(offset, offset + limit);
      requests.push({ method: 'GET', url: req.url!, status: 200 });
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const drop = dropAfter;
      dropAfter = undefined;
      let sent = 0;
      for (const r of selected) {
        if (drop !== undefined && sent === drop) {
          // Half a line, then the connection goes: what a proxy timing out mid-stream looks like.
          res.write('{"exampleId": ');
          await new Promise((resolve) => setTimeout(resolve, 50));
          res.socket?.destroy();
          return;
        }
        const line = {
          exampleId: r.exampleId,
          externalId: r.externalId,
          input: r.input,
          ...(split === 'train' ? { label: r.label, ...(r.weight !== undefined ? { weight: r.weight } : {}), ...(r.ageDays !== undefined ? { ageDays: r.ageDays } : {}) } : {}),
        };
        if (!res.write(`${JSON.stringify(line)}\n`)) await new Promise((resolve) => res.once('drain', resolve));
        sent++;
      }
      res.end();
      return;
    }
    if (req.method === 'PUT' && (m = url.pathname.match(/^\/api\/trainer\/score-sets\/(.+)$/))) {
      const jobKey = decodeURIComponent(m[1]!);
      const of = expected.get(jobKey);
      if (!of) return answer(req, res, 404, { error: `no score set is expected for job ${jobKey}` });
      const ids = new Set(snapshots.get(of.snapshotId)!.filter((r) => r.split === of.split).map((r) => r.exampleId));
      const scores = new Map<number, number>();
      let n = 0;
      for await (const raw of createInterface({ input: req, crlfDelay: Infinity })) {
        n++;
        if (!raw.trim()) continue;
        let line: { exampleId?: unknown; score?: unknown };
        try {
          line = JSON.parse(raw) as typeof line;
        } catch {
          return answer(req, res, 400, { error: `line ${n}: not JSON` });
        }
        const id = line.exampleId;
        if (typeof id !== 'number' || !ids.has(id)) return answer(req, res, 400, { error: `line ${n}: unknown exampleId ${String(id)}` });
        if (scores.has(id)) return answer(req, res, 400, { error: `line ${n}: exampleId ${id} repeated` });
        if (typeof line.score !== 'number' || !(line.score >= 0 && line.score <= 1)) return answer(req, res, 400, { error: `line ${n}: score must be in [0, 1]` });
        scores.set(id, line.score);
      }
      const missing = [...ids].find((id) => !scores.has(id));
      if (missing !== undefined) return answer(req, res, 400, { error: `exampleId ${missing} missing (${scores.size} of ${ids.size} scored)` });
      const kept = scoreSets.get(jobKey);
      if (kept) return answer(req, res, 200, { scored: kept.scores.size, sha256: kept.sha256 });
      const canonical = [...scores].sort((a, b) => a[0] - b[0]).map(([id, s]) => `${id}\t${s}\n`).join('');
      const sha256 = `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
      scoreSets.set(jobKey, { scores, sha256 });
      return answer(req, res, 200, { scored: scores.size, sha256 });
    }
    if ((m = url.pathname.match(/^\/api\/trainer\/artifacts\/(sha256:[0-9a-f]{64})$/))) {
      const sha = m[1]!;
      if (req.method === 'GET') {
        const bytes = artifacts.get(sha);
        if (!bytes) return answer(req, res, 404, { error: `artifact ${sha} not found` });
        requests.push({ method: 'GET', url: req.url!, status: 200 });
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes);
        return;
      }
      if (req.method === 'PUT') {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const c of req as AsyncIterable<Buffer>) {
          size += c.length;
          if (size > MAX_ARTIFACT) return answer(req, res, 413, { error: 'an artifact in the store is at most 64 MiB' });
          chunks.push(c);
        }
        const bytes = Buffer.concat(chunks);
        const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
        if (actual !== sha) return answer(req, res, 400, { error: `the body's sha256 is ${actual}, not ${sha}` });
        artifacts.set(sha, bytes);
        return answer(req, res, 200, { uri: `retrain-store:${sha}`, size: bytes.length });
      }
    }
    return answer(req, res, 404, { error: `${req.method} ${url.pathname}: no such endpoint` });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    addSnapshot(rows) {
      const id = snapshots.size + 1;
      snapshots.set(id, rows.map((r) => ({ ...r, exampleId: nextId++ })));
      return id;
    },
    examplesUrl: (id, split) => `${base}/api/trainer/snapshots/${id}/examples?split=${split}`,
    rows: (id, split) => snapshots.get(id)!.filter((r) => r.split === split),
    scoresUrl(jobKey, of) {
      expected.set(jobKey, of);
      return `${base}/api/trainer/score-sets/${encodeURIComponent(jobKey)}`;
    },
    scoreSets,
    artifacts,
    requests,
    dropNextStreamAfter(lines) {
      dropAfter = lines;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
