// A failed query's error quotes its parameters: whole artifacts, e-mail bodies. Sent as an activity
// failure it goes into Temporal's history (where it does not belong) and can exceed the payload limit,
// which fails the workflow task instead of retrying the activity. Activities fail with the database's
// own message and the statement instead.
import { DrizzleQueryError } from 'drizzle-orm/errors';

const MAX_QUERY_CHARS = 500;

/** The same error, or for a failed query one that names the statement and the database's reason, never the parameters. */
export function withoutQueryParameters(error: unknown): unknown {
  if (!(error instanceof DrizzleQueryError)) return error;
  const reason = error.cause instanceof Error ? error.cause.message : 'unknown cause';
  const query = error.query.length > MAX_QUERY_CHARS ? `${error.query.slice(0, MAX_QUERY_CHARS)}…` : error.query;
  const clean = new Error(`query failed: ${reason} (statement: ${query})`);
  clean.name = 'DatabaseQueryError';
  return clean;
}

/** Wraps every activity so its failures carry no query parameters. */
export function failingWithoutQueryParameters<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (error) {
        throw withoutQueryParameters(error);
      }
    };
  }
  return wrapped as T;
}
