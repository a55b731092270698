// Request bodies at the HTTP edge: read with a cap, so no request can make the API hold more than the
// cap in memory; past it the request is answered 413 and the rest of its body is not read.
import type http from 'node:http';

/**
 * The most a JSON request body may have: the largest evaluate-file `content` (50M characters) with
 * room for JSON escaping (a newline is two characters) and the other fields.
 */
export const MAX_JSON_BODY_BYTES = 64 * 1024 * 1024;

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit.toLocaleString('en-US')} bytes, the most this request may send`);
    this.name = 'BodyTooLargeError';
  }
}

/** The error body every refusal carries (as trpc-to-openapi shapes its errors). */
export function sendError(res: http.ServerResponse, status: number, code: string, message: string) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ message, code, data: { code, httpStatus: status } }));
}

/** After a 413, what arrives is discarded for this long (so the client reads the answer, not a reset), then the connection is cut. */
const DISCARD_MS = 2000;

/**
 * Answers 413 and stops keeping the body: bytes still arriving are dropped unbuffered for DISCARD_MS
 * after the answer is out, then the connection is cut. (`Connection: close` would make Node close the
 * socket as soon as the answer is written; a socket closed on unread bytes is reset, and a client
 * still sending would see the reset instead of the 413.)
 */
export function refuseTooLarge(req: http.IncomingMessage, res: http.ServerResponse, err: BodyTooLargeError) {
  req.removeAllListeners('data');
  req.resume();
  res.once('finish', () => setTimeout(() => req.destroy(), DISCARD_MS).unref());
  sendError(res, 413, 'PAYLOAD_TOO_LARGE', err.message);
}

/**
 * Reads a body chunk by chunk, handing each to `onChunk`; rejects with BodyTooLargeError as soon as a
 * declared Content-Length or the bytes so far pass `limit` (the request is paused, not drained).
 */
export function readBodyChunks(req: http.IncomingMessage, limit: number, onChunk: (chunk: Buffer) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new BodyTooLargeError(limit));
    let bytes = 0;
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limit) {
        req.off('data', onData);
        req.pause();
        return reject(new BodyTooLargeError(limit));
      }
      onChunk(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(bytes));
    req.on('error', reject);
  });
}

/** The whole body in one buffer, at most `limit` bytes. */
export async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await readBodyChunks(req, limit, (c) => chunks.push(c));
  return Buffer.concat(chunks);
}

const SLAB_BYTES = 1 << 20;

/**
 * The body as slices of about 1 MiB, each owning its ArrayBuffer (so they can be transferred to a
 * worker thread without a copy); bytes are copied once, from the socket's chunks, and never decoded here.
 */
export async function readBodySlabs(req: http.IncomingMessage, limit: number): Promise<{ slabs: Uint8Array[]; bytes: number }> {
  const slabs: Uint8Array[] = [];
  let slab = new Uint8Array(SLAB_BYTES);
  let at = 0;
  const bytes = await readBodyChunks(req, limit, (chunk) => {
    for (let from = 0; from < chunk.length; ) {
      const n = Math.min(chunk.length - from, SLAB_BYTES - at);
      slab.set(chunk.subarray(from, from + n), at);
      at += n;
      from += n;
      if (at === SLAB_BYTES) {
        slabs.push(slab);
        slab = new Uint8Array(SLAB_BYTES);
        at = 0;
      }
    }
  });
  if (at > 0) slabs.push(slab.slice(0, at));
  return { slabs, bytes };
}
