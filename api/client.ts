// A typed tRPC client for the CLI and the demo: they talk to the service only through the API.
import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from './router';

export type ApiClient = ReturnType<typeof createApiClient>;

export function createApiClient(baseUrl: string, token: string) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${baseUrl}/trpc`, transformer: superjson, headers: () => ({ authorization: `Bearer ${token}` }) })],
  });
}
