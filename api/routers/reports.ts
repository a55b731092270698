import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { gatePolicySchema, type RuleResult } from '../../analysis/policy';
import type { ApprovalPacket } from '../../analysis/report';
import { approvalOf, gateResultOf } from '../../db/gates';
import { evalReportsOfRun, saturationReportOf } from '../../db/reports';
import { MAX_SLICE_VALUES_TOTAL, type EvaluateFileOptions } from '../evaluateFile';
import { EVALUATE_FILE_HEAP_MB, EVALUATE_FILE_QUEUE, EVALUATE_FILE_THREADS, EvaluationBusyError, EvaluationMemoryError, evaluateFileInThread } from '../evaluateFileWorker';
import { approvalPacketOutput, fairlearnFairnessOutput, policyJudgementOutput, saturationReportOutput, type SaturationReport } from '../outputs';
import { verifyStoredPacket } from '../packetIntegrity';
import { MAX_DISTINCT_VALUES, MAX_JSONL_LINE, PredictionsFileError } from '../predictionsFile';
import { runId, timestamp } from '../schemas';
import { roleProcedure, router } from '../trpc';
import { requireRun } from '../lookups';

const reportRefOutput = z.object({
  reportId: z.number().int(),
  role: z.enum(['candidate', 'champion']),
  version: z.number().int(),
  contentHash: z.string(),
  snapshotId: z.number().int(),
  createdAt: timestamp,
});

const columnList = z.array(z.string().min(1).max(100)).max(50);

/**
 * Rows an upload may have. 50M characters could hold 12.5M rows ("0,1\n"); evaluating those needs
 * ~35 bytes a row of working memory on top of the text, so the API stops at 5M (a real file, with
 * scores to a few decimals, has ~2.5M rows at the character cap). The CLI, on the user's own machine,
 * takes up to the parser's MAX_ROWS.
 */
const MAX_ROWS_PER_UPLOAD = 5_000_000;

/** reports.evaluateFile's limits, declared in the OpenAPI document and enforced by the input schema and the parser. */
export const EVALUATE_FILE_LIMITS = {
  characters: 50_000_000,
  rows: MAX_ROWS_PER_UPLOAD,
  distinctValuesPerColumn: MAX_DISTINCT_VALUES,
  sliceValuesTotal: MAX_SLICE_VALUES_TOTAL,
  columns: 50,
} as const;

const fmt = (n: number) => n.toLocaleString('en-US');

const evaluateFileDescription = [
  'The file arrives either as the `content` string of a JSON body, or, streamed, as the request body itself with `Content-Type: text/csv` or `application/x-ndjson` (also `application/jsonl`), UTF-8, and the options as query parameters:',
  '`fileName`, `slices` and `sensitive` (comma-separated or repeated), `intersections` (two columns comma-separated, `intersections=format,sender_tld`, repeated for more pairs), `threshold`, `bootstrap`, and `policy` as a JSON string; the format follows from the media type.',
  `A streamed file is at most ${fmt(EVALUATE_FILE_LIMITS.characters)} bytes and is never held as one string by the API; a JSON body at most 64 MiB (every request body is; past it, 413 without reading the rest).`,
  'Either way the file is parsed and evaluated in a worker thread, one file at a time, so other requests are served meanwhile.',
  `Limits: \`content\` at most ${fmt(EVALUATE_FILE_LIMITS.characters)} characters and ${fmt(EVALUATE_FILE_LIMITS.rows)} rows;`,
  `\`slices\` and \`sensitive\` at most ${EVALUATE_FILE_LIMITS.columns} columns each; a slice column at most ${fmt(EVALUATE_FILE_LIMITS.distinctValuesPerColumn)} distinct values, all slice columns together ${fmt(EVALUATE_FILE_LIMITS.sliceValuesTotal)} (by default every column besides label and score is a slice: name the ones you want).`,
  `A JSONL line at most ${fmt(MAX_JSONL_LINE)} characters. A bad file is 400 naming its line and column; an evaluation outgrowing its thread's ${EVALUATE_FILE_HEAP_MB} MB heap is 413;`,
  `while ${EVALUATE_FILE_THREADS + EVALUATE_FILE_QUEUE} files are being evaluated or waiting, another is refused with 429: retry in a few seconds.`,
  'The largest file takes a few seconds. The audit log records the call with the content replaced by its length.',
].join(' ');

/** reports.evaluateFile's options besides the file: the JSON body's fields, and the streamed upload's query parameters (api/uploadRoute). */
export const evaluateFileOptionFields = {
  fileName: z.string().max(300).optional(),
  format: z.enum(['csv', 'jsonl']).optional(),
  slices: columnList.optional(),
  sensitive: columnList.optional(),
  /** Pairs of columns whose intersection cells are evaluated, the worst listed in packet.intersections (query: intersections=a,b, repeated for more pairs). */
  intersections: z.array(z.array(z.string().min(1).max(100)).length(2, 'an intersection is two columns, as in ["format", "sender_tld"]')).max(10).optional(),
  threshold: z.number().min(0).max(1).optional(),
  policy: gatePolicySchema.optional(),
  bootstrap: z.number().int().min(10).max(10_000).optional(),
};
export const evaluateFileOptionsSchema = z.strictObject(evaluateFileOptionFields);
export type EvaluateFileOptionsInput = z.infer<typeof evaluateFileOptionsSchema>;

/** What reports.evaluateFile answers; the streamed upload answers through it too, so the two cannot drift. */
export const evaluateFileOutput = z.object({ rows: z.number().int(), threshold: z.number(), packet: approvalPacketOutput, fairness: z.record(z.string(), fairlearnFairnessOutput) });

/** The evaluation's options from validated input. */
export function evaluateFileOptionsOf(input: EvaluateFileOptionsInput): EvaluateFileOptions {
  return {
    ...(input.fileName ? { fileName: input.fileName } : {}),
    ...(input.format ? { format: input.format } : {}),
    ...(input.slices ? { slices: input.slices } : {}),
    ...(input.sensitive ? { sensitive: input.sensitive } : {}),
    ...(input.intersections ? { intersections: input.intersections.map(([a, b]) => [a!, b!] as [string, string]) } : {}),
    ...(input.threshold !== undefined ? { threshold: input.threshold } : {}),
    ...(input.bootstrap !== undefined ? { B: input.bootstrap } : {}),
    policy: input.policy ?? null,
    maxRows: EVALUATE_FILE_LIMITS.rows,
  };
}

export const reportsRouter = router({
  evaluateFile: roleProcedure('operator')
    .meta({
      openapi: {
        method: 'POST',
        path: '/reports/evaluate-file',
        tags: ['reports'],
        summary: `Evaluate uploaded predictions (CSV or JSONL with label and score, at most ${fmt(EVALUATE_FILE_LIMITS.characters)} characters): the packet, and fairness in Fairlearn's names`,
        description: evaluateFileDescription,
        errorResponses: {
          400: 'Invalid input, or a bad file (the message names the line and column)',
          401: 'Authorization not provided',
          403: 'Insufficient access (needs operator)',
          413: `The body is over its limit, or the evaluation outgrew its thread's ${EVALUATE_FILE_HEAP_MB} MB heap`,
          429: 'Too many files being evaluated at once: retry in a few seconds',
        },
      },
    })
    // The uploaded text stays out of the append-only audit log (50 MB in a jsonb row, serialised on
    // the event loop for ~130 ms): the audit middleware reads the raw input after the procedure has
    // run, and by then the content is replaced by its length.
    .use(async ({ getRawInput, next }) => {
      const result = await next();
      const raw = (await getRawInput()) as { content?: unknown } | null | undefined;
      if (raw && typeof raw === 'object' && typeof raw.content === 'string') raw.content = `[${raw.content.length} characters, not kept]`;
      return result;
    })
    .input(z.strictObject({ content: z.string().min(1).max(EVALUATE_FILE_LIMITS.characters), ...evaluateFileOptionFields }))
    .output(evaluateFileOutput)
    .mutation(async ({ input }) => {
      try {
        return await evaluateFileInThread(input.content, evaluateFileOptionsOf(input));
      } catch (err) {
        if (err instanceof PredictionsFileError) throw new TRPCError({ code: 'BAD_REQUEST', message: err.message });
        if (err instanceof EvaluationBusyError) throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: err.message });
        if (err instanceof EvaluationMemoryError) throw new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: err.message });
        throw err;
      }
    }),

  saturation: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/reports/{runId}/saturation',
        tags: ['reports'],
        summary: "A run's saturation report: learning-curve points with intervals, the inverse power-law fit, the newest-batch ablation and the verdict",
      },
    })
    .input(z.strictObject({ runId }))
    .output(z.object({ runId: z.string(), verdict: z.enum(['improving', 'plateau', 'degrading']), contentHash: z.string(), createdAt: timestamp, report: saturationReportOutput }))
    .query(async ({ ctx, input }) => {
      await requireRun(ctx.db, input.runId);
      const row = await saturationReportOf(ctx.db, input.runId);
      if (!row) {
        throw new TRPCError({
          code: 'NOT_FOUND',
          message: `run ${input.runId} has no saturation report (it ran without a check, or has not reached it; a policy 'saturation' rule or runs.start { saturation } asks for one)`,
        });
      }
      return { runId: row.runId, verdict: row.verdict, contentHash: row.contentHash, createdAt: row.createdAt, report: row.report as SaturationReport };
    }),

  get: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/reports/{runId}',
        tags: ['reports'],
        summary: "A run's evidence: the approval packet (reports, deltas, fairness, thresholds, untested segments, rule outcomes) and the decision",
      },
    })
    .input(z.strictObject({ runId }))
    .output(
      z.object({
        runId: z.string(),
        reports: z.array(reportRefOutput),
        gate: policyJudgementOutput.extend({ policyVersion: z.number().int().nullable() }).nullable(),
        packetHash: z.string().nullable(),
        /** The approval packet (analysis/report.ts ApprovalPacket), immutable and content-hashed. */
        packet: approvalPacketOutput.nullable(),
        approval: z
          .object({ decision: z.enum(['approved', 'rejected']), approver: z.string(), reason: z.string(), reportHash: z.string().nullable(), createdAt: timestamp })
          .nullable(),
      }),
    )
    .query(async ({ ctx, input }) => {
      await requireRun(ctx.db, input.runId);
      const reports = await evalReportsOfRun(ctx.db, input.runId);
      const gate = await gateResultOf(ctx.db, input.runId);
      // A packet that no longer hashes to its stored hash is refused (CONFLICT naming both), never served.
      verifyStoredPacket(input.runId, gate);
      const approval = await approvalOf(ctx.db, input.runId);
      return {
        runId: input.runId,
        reports,
        gate: gate
          ? { decision: gate.decision, policyVersion: gate.policyVersion, reasons: gate.reasons, rules: gate.rules as RuleResult[] }
          : null,
        packetHash: gate?.packetHash ?? null,
        // Stored by activities/retraining evaluateVersions from buildApprovalPacket.
        packet: (gate?.packet ?? null) as ApprovalPacket | null,
        approval: approval
          ? { decision: approval.decision, approver: approval.approver, reason: approval.reason, reportHash: approval.reportHash, createdAt: approval.createdAt }
          : null,
      };
    }),
});
