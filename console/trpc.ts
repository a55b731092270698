// The one typed tRPC client of the console, made from the router's type: pages call procedures through
// the query hooks (useQuery(trpc.runs.get.queryOptions({ runId }))), so a renamed field breaks the build.
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import superjson from 'superjson';
import type { AppRouter } from '../api/router';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';

export type { AppRouter };
export type Outputs = inferRouterOutputs<AppRouter>;
export type Inputs = inferRouterInputs<AppRouter>;

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

/** A client whose every request carries the token held in memory (never in a URL). */
export function makeClient(token: () => string | null) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: '/trpc',
        transformer: superjson,
        headers: () => {
          const t = token();
          return t ? { authorization: `Bearer ${t}` } : {};
        },
      }),
    ],
  });
}

/** What a refusal said, for a person: the server's message (it says what was wrong and what to do). */
export function errorMessage(err: unknown): string {
  if (err instanceof TRPCClientError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/** A refusal of this router's, with its error shape typed (code, httpStatus, fieldErrors). */
export function isApiError(err: unknown): err is TRPCClientError<AppRouter> {
  return err instanceof TRPCClientError;
}

/** The tRPC error code of a refusal (UNAUTHORIZED, FORBIDDEN, …), if it is one. */
export function errorCode(err: unknown): string | undefined {
  return isApiError(err) ? err.data?.code : undefined;
}
