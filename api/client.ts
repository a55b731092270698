// A typed tRPC client for the CLI and the demo: they talk to the service only through the API.
import { createTRPCClient, httpLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from './router';

export type ApiClient = ReturnType<typeof createApiClient>;

const MAX_PLAIN_DEPTH = 64;

/**
 * Whether superjson would send `value` exactly as JSON does, with no annotations: strings, booleans, null,
 * finite numbers other than -0, dense arrays and plain objects of those, no object reached twice, no key
 * superjson refuses.
 */
export function plainJson(value: unknown): boolean {
  const seen = new Set<object>();
  const plain = (v: unknown, depth: number): boolean => {
    if (v === null) return true;
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return true;
      case 'number':
        return Number.isFinite(v) && !Object.is(v, -0);
      case 'object': {
        if (depth > MAX_PLAIN_DEPTH || seen.has(v)) return false;
        seen.add(v);
        if (Array.isArray(v)) {
          if (Object.getPrototypeOf(v) !== Array.prototype) return false;
          for (let i = 0; i < v.length; i++) if (!(i in v) || !plain(v[i], depth + 1)) return false;
          return true;
        }
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) return false;
        for (const k in v) {
          // superjson refuses these keys (a prototype pollution risk): its walk throws, and so must the call.
          if (k === '__proto__' || k === 'constructor' || k === 'prototype') return false;
          if (!plain((v as Record<string, unknown>)[k], depth + 1)) return false;
        }
        return true;
      }
      default:
        return false; // undefined, bigint, symbol, function: superjson's to annotate
    }
  };
  return plain(value, 0);
}

/**
 * superjson, without its walk over inputs that are plain JSON already (a 10,000-event batch is: the walk
 * costs as much as the server's validation of it). What goes over the wire is what superjson would send.
 */
const transformer = {
  serialize: (value: unknown) => (plainJson(value) ? { json: value } : superjson.serialize(value)),
  deserialize: (payload: Parameters<typeof superjson.deserialize>[0]) => superjson.deserialize(payload),
};

export function createApiClient(baseUrl: string, token: string) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${baseUrl}/trpc`, transformer, headers: () => ({ authorization: `Bearer ${token}` }) })],
  });
}
