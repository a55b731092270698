// The HTTP face: tRPC at /trpc, the same procedures as REST under /api, and the OpenAPI document at /openapi.json.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { createOpenApiHttpHandler, generateOpenApiDocument } from 'trpc-to-openapi';
import { appRouter } from './router';
import { bearerFrom, createContextInner, identityFromToken, type ApiDeps } from './trpc';

export interface ApiServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export function openApiDocument(baseUrl: string) {
  return generateOpenApiDocument(appRouter, {
    title: 'Retraining control plane',
    description: 'Retraining runs, gates, models and reports. Authenticate with `Authorization: Bearer <token>`.',
    version: '0.1.0',
    baseUrl,
  });
}

export async function startApiServer(deps: ApiDeps, opts: { port?: number; host?: string } = {}): Promise<ApiServer> {
  // tRPC hands us the Node request; trpc-to-openapi a fetch Request. Both carry the same header.
  const createContext = async ({ req }: { req: http.IncomingMessage | Request }) => {
    const header = req.headers instanceof Headers ? (req.headers.get('authorization') ?? undefined) : req.headers.authorization;
    return createContextInner(deps, await identityFromToken(deps.db, bearerFrom(header)));
  };
  const onError = ({ error, path }: { error: Error & { code: string }; path?: string }) => {
    if (error.code !== 'INTERNAL_SERVER_ERROR') return;
    // The innermost cause is the one that says why (a database error, say); the outer ones quote whole queries.
    let root: unknown = error;
    while (root instanceof Error && root.cause instanceof Error) root = root.cause;
    process.stderr.write(`api: ${path ?? '?'} failed: ${(root as Error).message.slice(0, 500)}\n`);
  };
  const trpcHandler = createHTTPHandler({ router: appRouter, createContext, basePath: '/trpc/', onError });
  const restHandler = createOpenApiHttpHandler({ router: appRouter, createContext, onError });
  const document: { value?: unknown } = {};

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/trpc/')) return void trpcHandler(req, res);
    if (url === '/openapi.json') {
      res.setHeader('Content-Type', 'application/json');
      return void res.end(JSON.stringify(document.value));
    }
    if (url.startsWith('/api/')) {
      req.url = url.slice('/api'.length);
      return void restHandler(req, res);
    }
    res.statusCode = 404;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ message: `no route ${url}: use /trpc/<procedure>, /api/<path> or /openapi.json` }));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;
  document.value = openApiDocument(`${url}/api`);
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
