// A trainer's side of the data plane (trainers/contract/README.md): reads a data reference's NDJSON
// rows as a stream (resuming with offset= when a connection drops), PUTs score sets and artifacts. The
// built-in trainer and the conformance suite use it; a trainer in another language does the same over HTTP.
import { createHash } from 'node:crypto';
import { exampleLine, storeUri, type ArtifactRef, type DataRef, type ExampleLine } from './contract';

export class DataPlaneError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface DataPlaneClient {
  /** The rows of a data reference, in the stream's order; throws when fewer or more arrive than it says. */
  rows(ref: DataRef): AsyncGenerator<ExampleLine>;
  /**
   * The same stream unparsed: pieces of its bytes that each end at a line's end, with how many lines
   * each holds (resuming with offset= when a connection drops); throws when fewer or more lines arrive
   * than it says. Each piece parses on its own (exampleLinesIn), so nothing needs keeping.
   */
  lineChunks(ref: DataRef): AsyncGenerator<LineChunk>;
  putScores(url: string, scores: { exampleId: number; score: number }[]): Promise<{ scored: number; sha256: string }>;
  putArtifact(storeUrl: string, bytes: Uint8Array): Promise<ArtifactRef>;
  getArtifact(uri: string, sha256: string): Promise<Uint8Array>;
}

/** Whole NDJSON lines, as bytes. */
export interface LineChunk {
  bytes: Uint8Array;
  lines: number;
}

const RESUME_ATTEMPTS = 3;
const NEWLINE = 0x0a;

/** Non-empty lines in `bytes` that end with a newline, and where the last of them ends (-1: none). */
function wholeLines(bytes: Uint8Array): { lines: number; end: number } {
  let lines = 0;
  let end = -1;
  for (let at = bytes.indexOf(NEWLINE); at >= 0; at = bytes.indexOf(NEWLINE, at + 1)) {
    if (at > end + 1) lines++;
    end = at;
  }
  return { lines, end };
}

/** A chunk's rows, parsed and checked; a line that is not one throws (SyntaxError, ZodError). */
export function exampleLinesIn(chunk: Uint8Array): ExampleLine[] {
  const out: ExampleLine[] = [];
  for (const line of new TextDecoder().decode(chunk).split('\n')) if (line.length > 0) out.push(exampleLineOf(JSON.parse(line) as unknown));
  return out;
}

/**
 * A data-plane line as the contract shapes it, checked field by field (a zod parse per row costs more
 * than reading it, and the lines are the control plane's own); anything else is refused like a parse error.
 */
function exampleLineOf(value: unknown): ExampleLine {
  const v = value as Partial<ExampleLine> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    !Number.isInteger(v.exampleId) ||
    typeof v.externalId !== 'string' ||
    v.input === null ||
    typeof v.input !== 'object' ||
    (v.label !== undefined && v.label !== 0 && v.label !== 1)
  ) {
    return exampleLine.parse(value);
  }
  return v as ExampleLine;
}

export function sha256Of(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function failure(res: Response, what: string): Promise<DataPlaneError> {
  const text = await res.text().catch(() => '');
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    /* not JSON */
  }
  return new DataPlaneError(`${what}: HTTP ${res.status}${message ? `: ${message.slice(0, 500)}` : ''}`, res.status);
}

/** The store's artifact URL for a `retrain-store:` URI, next to the PUT URL it was stored at. */
function storeGetUrl(storeUrl: string, uri: string): string {
  return `${storeUrl.replace(/\/$/, '')}/${uri.slice('retrain-store:'.length)}`;
}

export function createDataPlaneClient(opts: { token: string; artifactStoreUrl?: () => string }): DataPlaneClient {
  const headers = { authorization: `Bearer ${opts.token}` };

  /** One request's whole lines, from line `offset`; an unfinished last line is kept back unless the stream ends with it. */
  async function* chunksFrom(url: string, offset: number): AsyncGenerator<LineChunk> {
    const u = new URL(url);
    if (offset > 0) u.searchParams.set('offset', String(offset));
    const res = await fetch(u, { headers });
    if (!res.ok || !res.body) throw await failure(res, `GET ${u.pathname}${u.search}`);
    // The unfinished line's pieces, joined once its newline arrives (a long line is copied once, not per piece).
    let carry: Uint8Array[] = [];
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (piece.indexOf(NEWLINE) < 0) {
        carry.push(piece);
        continue;
      }
      const bytes: Uint8Array = carry.length > 0 ? Buffer.concat([...carry, piece]) : piece;
      const { lines, end } = wholeLines(bytes);
      carry = end + 1 < bytes.length ? [bytes.subarray(end + 1)] : [];
      if (lines > 0) yield { bytes: bytes.subarray(0, end + 1), lines };
    }
    const rest = Buffer.concat(carry);
    if (new TextDecoder().decode(rest).trim()) yield { bytes: rest, lines: 1 };
  }

  async function* lineChunks(ref: DataRef): AsyncGenerator<LineChunk> {
    let read = 0;
    let failures = 0;
    for (;;) {
      try {
        for await (const chunk of chunksFrom(ref.url, read)) {
          read += chunk.lines;
          yield chunk;
        }
        break;
      } catch (err) {
        // A refused request is final; a dropped stream resumes where it stopped.
        if (err instanceof DataPlaneError || ++failures > RESUME_ATTEMPTS) throw err;
      }
    }
    if (read !== ref.rows) throw new DataPlaneError(`${ref.url}: expected ${ref.rows} rows, read ${read}`, 0);
  }

  return {
    lineChunks,

    async *rows(ref) {
      for await (const chunk of lineChunks(ref)) yield* exampleLinesIn(chunk.bytes);
    },

    async putScores(url, scores) {
      const body = scores.map((s) => JSON.stringify({ exampleId: s.exampleId, score: s.score })).join('\n') + '\n';
      const res = await fetch(url, { method: 'PUT', headers: { ...headers, 'content-type': 'application/x-ndjson' }, body });
      if (!res.ok) throw await failure(res, `PUT scores ${new URL(url).pathname}`);
      return (await res.json()) as { scored: number; sha256: string };
    },

    async putArtifact(storeUrl, bytes) {
      const sha256 = sha256Of(bytes);
      const res = await fetch(`${storeUrl.replace(/\/$/, '')}/${sha256}`, {
        method: 'PUT',
        headers: { ...headers, 'content-type': 'application/octet-stream' },
        body: bytes,
      });
      if (!res.ok) throw await failure(res, `PUT artifact ${sha256}`);
      const stored = (await res.json()) as { uri: string; size: number };
      return { uri: stored.uri ?? storeUri(sha256), sha256, size: bytes.length };
    },

    async getArtifact(uri, sha256) {
      if (!uri.startsWith('retrain-store:')) throw new DataPlaneError(`artifact ${uri} is not in the control plane's store`, 0);
      if (!opts.artifactStoreUrl) throw new DataPlaneError('no artifact store URL configured', 0);
      const url = storeGetUrl(opts.artifactStoreUrl(), uri);
      const res = await fetch(url, { headers });
      if (!res.ok) throw await failure(res, `GET artifact ${uri}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (sha256Of(bytes) !== sha256) throw new DataPlaneError(`artifact ${uri} hashes to ${sha256Of(bytes)}, the reference says ${sha256}`, 0);
      return bytes;
    },
  };
}
