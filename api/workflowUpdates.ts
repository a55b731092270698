// Errors from Temporal as the API reports them. A refusal by a workflow's update validator
// (ApplicationFailure with a GATE_FAILURE type) becomes the matching tRPC error, so REST and tRPC
// callers get 403/400/409; any other failure of Temporal is a TemporalFailure, a 500 whose message
// the caller sees, unlike an unexpected error, whose message stays in the server log.
import { TRPCError } from '@trpc/server';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { GATE_FAILURE } from '../workflows/messages';

/** Temporal refused or could not carry out a request; the message says what Temporal said. The error formatter shows it. */
export class TemporalFailure extends Error {
  override name = 'TemporalFailure';
}

/** A 500 that names Temporal's failure; the original error is kept as the cause, for the server log. */
export function temporalFailure(message: string, err: unknown): TRPCError {
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message, cause: new TemporalFailure(message, { cause: err }) });
}

export function updateRefusal(err: unknown, what: string): TRPCError {
  const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
  const message = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
  const type = cause instanceof ApplicationFailure ? cause.type : undefined;
  if (type === GATE_FAILURE.forbidden) return new TRPCError({ code: 'FORBIDDEN', message });
  if (type === GATE_FAILURE.badRequest) return new TRPCError({ code: 'BAD_REQUEST', message });
  if (type === GATE_FAILURE.conflict || /already completed|not found/i.test(message)) return new TRPCError({ code: 'CONFLICT', message });
  return temporalFailure(`${what} could not be delivered: ${message}`, err);
}
