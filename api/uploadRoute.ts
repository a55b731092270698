// The streamed upload: POST /api/reports/evaluate-file with the file itself as the body (text/csv, or
// application/x-ndjson / application/jsonl) and the options in the query string. The bytes go to the
// evaluation thread as they came, never decoded or held as one string on the event loop (a JSON body's
// 50M-character `content` costs the loop 100-270 ms in one piece). Same checks, same audit row and the
// same answer as the reports.evaluateFile procedure.
import type http from 'node:http';
import { z } from 'zod';
import { writeAudit } from '../db/auditLog';
import { EvaluationBusyError, EvaluationMemoryError, evaluateFileBytesInThread } from './evaluateFileWorker';
import { BodyTooLargeError, readBodySlabs, refuseTooLarge, sendError } from './httpBody';
import { PredictionsFileError } from './predictionsFile';
import { EVALUATE_FILE_LIMITS, evaluateFileOptionsOf, evaluateFileOptionsSchema, evaluateFileOutput } from './routers/reports';
import { bearerFrom, findUnstorableString, identityFromToken, roleAllows, type ApiDeps } from './trpc';

export const UPLOAD_PATH = '/reports/evaluate-file';
/** The most bytes a streamed file may have: the JSON body's character cap, in bytes. */
export const MAX_UPLOAD_BYTES = EVALUATE_FILE_LIMITS.characters;

const MEDIA_TYPES: Record<string, 'csv' | 'jsonl'> = {
  'text/csv': 'csv',
  'application/x-ndjson': 'jsonl',
  'application/jsonl': 'jsonl',
};
export const UPLOAD_MEDIA_TYPES = Object.keys(MEDIA_TYPES);

function mediaType(header: string | undefined): { type: string; charset: string | undefined } {
  const [type = '', ...params] = (header ?? '').split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
  return { type, charset };
}

/** Whether a request is a streamed upload (else it is the JSON procedure's, for the REST adapter). */
export function isStreamedUpload(req: http.IncomingMessage, pathname: string): boolean {
  return req.method === 'POST' && pathname === UPLOAD_PATH && mediaType(req.headers['content-type']).type in MEDIA_TYPES;
}

const optionsSchema = evaluateFileOptionsSchema;
const LIST_OPTIONS = new Set(['slices', 'sensitive']);
const NUMBER_OPTIONS = new Set(['threshold', 'bootstrap']);
const QUERY_OPTIONS = ['fileName', 'slices', 'sensitive', 'intersections', 'threshold', 'bootstrap', 'policy'];

class OptionError extends Error {}

/** The query string as the procedure's options (lists comma-separated or repeated, `policy` as JSON). */
function optionsFromQuery(query: URLSearchParams, format: 'csv' | 'jsonl'): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const key of new Set(query.keys())) {
    const values = query.getAll(key);
    if (key === 'format') {
      if (values.some((v) => v !== format)) throw new OptionError(`query parameter 'format' is '${values.join(',')}' but the media type says ${format}: drop it, or send the matching Content-Type`);
      continue;
    }
    if (!QUERY_OPTIONS.includes(key)) throw new OptionError(`query parameter '${key}' is not an option of this upload (options: ${QUERY_OPTIONS.join(', ')})`);
    if (key === 'intersections') {
      // One pair per value (intersections=format,sender_tld), repeated for more pairs.
      raw[key] = values.map((v) => v.split(',').map((c) => c.trim()));
      continue;
    }
    if (LIST_OPTIONS.has(key)) {
      raw[key] = values.flatMap((v) => v.split(',')).filter((v) => v !== '');
      continue;
    }
    if (values.length > 1) throw new OptionError(`query parameter '${key}' is given ${values.length} times: give it once`);
    const value = values[0]!;
    if (NUMBER_OPTIONS.has(key)) raw[key] = value.trim() === '' ? Number.NaN : Number(value);
    else if (key === 'policy') {
      try {
        raw[key] = JSON.parse(value);
      } catch (err) {
        throw new OptionError(`query parameter 'policy' is not valid JSON (${err instanceof Error ? err.message : String(err)}): send the policy object as a JSON string`);
      }
    } else raw[key] = value;
  }
  const found = findUnstorableString(raw);
  if (found) throw new OptionError(`query parameter '${found.path.join('.')}' ${found.message}, which cannot be stored: remove it or escape it`);
  return { ...raw, format };
}

export async function handleStreamedUpload(deps: ApiDeps, req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): Promise<void> {
  // Who (401), may they (403), then the input (415, 400): as the procedure orders its checks.
  const identity = await identityFromToken(deps.db, bearerFrom(req.headers.authorization));
  if (!identity) return sendError(res, 401, 'UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)');
  if (!roleAllows(identity.role, 'operator')) return sendError(res, 403, 'FORBIDDEN', `${identity.subject} has role '${identity.role}'; this needs 'operator'`);
  const { type, charset } = mediaType(req.headers['content-type']);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return sendError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', `the file must be UTF-8; Content-Type says charset=${charset}`);
  }
  let input: z.infer<typeof optionsSchema>;
  try {
    const parsed = optionsSchema.safeParse(optionsFromQuery(query, MEDIA_TYPES[type]!));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new OptionError(`query parameter '${issue.path.join('.') || '?'}': ${issue.message}`);
    }
    input = parsed.data;
  } catch (err) {
    if (err instanceof OptionError) return sendError(res, 400, 'BAD_REQUEST', err.message);
    throw err;
  }

  let bytes = 0;
  try {
    const evaluation = await evaluateFileBytesInThread(async () => {
      const read = await readBodySlabs(req, MAX_UPLOAD_BYTES);
      bytes = read.bytes;
      if (bytes === 0) throw new PredictionsFileError('the file is empty: send the predictions as the request body', null, null);
      return read.slabs;
    }, evaluateFileOptionsOf(input));
    const body = JSON.stringify(evaluateFileOutput.parse(evaluation));
    const { format: _format, ...options } = input;
    await writeAudit(deps.db, {
      actor: identity.subject,
      action: 'reports.evaluateFile',
      target: 'reports.evaluateFile',
      details: { role: identity.role, input: { ...options, format: input.format, content: `[${bytes} bytes, not kept]` } },
    });
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json');
    res.end(body);
  } catch (err) {
    if (err instanceof BodyTooLargeError) return refuseTooLarge(req, res, err);
    if (err instanceof PredictionsFileError) return sendError(res, 400, 'BAD_REQUEST', err.message);
    if (err instanceof EvaluationBusyError) return sendError(res, 429, 'TOO_MANY_REQUESTS', err.message);
    if (err instanceof EvaluationMemoryError) return sendError(res, 413, 'PAYLOAD_TOO_LARGE', err.message);
    throw err;
  }
}
