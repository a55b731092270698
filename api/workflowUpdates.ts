// Workflow Updates from the API: a refusal by the workflow's validator (ApplicationFailure with a
// GATE_FAILURE type) becomes the matching tRPC error, so REST and tRPC callers get 403/400/409.
import { TRPCError } from '@trpc/server';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { GATE_FAILURE } from '../workflows/messages';

export function updateRefusal(err: unknown, what: string): TRPCError {
  const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
  const message = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
  const type = cause instanceof ApplicationFailure ? cause.type : undefined;
  if (type === GATE_FAILURE.forbidden) return new TRPCError({ code: 'FORBIDDEN', message });
  if (type === GATE_FAILURE.badRequest) return new TRPCError({ code: 'BAD_REQUEST', message });
  if (type === GATE_FAILURE.conflict || /already completed|not found/i.test(message)) return new TRPCError({ code: 'CONFLICT', message });
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `${what} could not be delivered: ${message}` });
}
