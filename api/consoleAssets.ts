// The web console's assets, served by the API process at `/`: console/main.tsx bundled by esbuild in
// memory on the first request (about a second, once per process; no build step to forget), and every
// page answered with a Content-Security-Policy that allows no inline script. The console is found by
// path, as the worker finds the workflows: the API never imports its code.
import { createHash } from 'node:crypto';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'console');

/**
 * Scripts only from this origin, none inline, no eval; nothing loads from elsewhere. Styles may be
 * inline because the charting library (Observable Plot) writes a <style> and style attributes into each
 * chart; a style cannot run code. An e-mail shown to an annotator sits in a sandboxed frame with a
 * policy of its own that allows even less (console/components/SafeInput).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Uint8Array;
  /** The body gzipped once at build (the script is about 690 kB, 220 kB gzipped). */
  gzipped: Uint8Array;
  type: string;
  etag: string;
}

/** The page every console route answers with; the script takes it from there (client-side routes). */
function indexHtml(js: Asset, css: Asset): Asset {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>retrain console</title>
<link rel="stylesheet" href="/assets/console.css?v=${css.etag.slice(1, 13)}">
<script type="module" src="/assets/console.js?v=${js.etag.slice(1, 13)}"></script>
</head>
<body><div id="root"></div></body>
</html>
`;
  return asset(new TextEncoder().encode(html), 'text/html; charset=utf-8');
}

function asset(body: Uint8Array, type: string): Asset {
  return { body, gzipped: gzipSync(body), type, etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` };
}

export interface ConsoleAssets {
  'index.html': Asset;
  'console.js': Asset;
  'console.css': Asset;
}

/** Bundles the console (React, the tRPC query client, Observable Plot) into one script and one stylesheet. */
export async function buildConsole(): Promise<ConsoleAssets> {
  const result = await esbuild.build({
    entryPoints: { console: path.join(CONSOLE_DIR, 'main.tsx') },
    bundle: true,
    write: false,
    outdir: 'out',
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    minify: true,
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const css = result.outputFiles.find((f) => f.path.endsWith('.css'));
  if (!js || !css) throw new Error('the console build produced no script or no stylesheet');
  const jsAsset = asset(js.contents, 'text/javascript; charset=utf-8');
  const cssAsset = asset(css.contents, 'text/css; charset=utf-8');
  return { 'index.html': indexHtml(jsAsset, cssAsset), 'console.js': jsAsset, 'console.css': cssAsset };
}

/** Serves the console: built once per process, on first use; a failed build is retried on the next request. */
export function consoleHandler() {
  let built: Promise<ConsoleAssets> | null = null;
  const assets = () => {
    built ??= buildConsole().catch((err: unknown) => {
      built = null;
      throw err;
    });
    return built;
  };
  return {
    async handle(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<void> {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.statusCode = 405;
        res.setHeader('Allow', 'GET, HEAD');
        return void res.end();
      }
      let files: ConsoleAssets;
      try {
        files = await assets();
      } catch (err) {
        process.stderr.write(`api: the console failed to build: ${err instanceof Error ? err.message.slice(0, 2000) : String(err)}\n`);
        res.statusCode = 500;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        return void res.end('the console failed to build: the server log has the details');
      }
      const name = pathname === '/assets/console.js' ? 'console.js' : pathname === '/assets/console.css' ? 'console.css' : pathname.startsWith('/assets/') ? null : 'index.html';
      if (!name) {
        res.statusCode = 404;
        return void res.end();
      }
      const file = files[name];
      res.setHeader('Content-Security-Policy', CONSOLE_CSP);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('Content-Type', file.type);
      res.setHeader('ETag', file.etag);
      // Assets are named by content in the page; the page itself is revalidated every time.
      res.setHeader('Cache-Control', name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable');
      if (req.headers['if-none-match'] === file.etag) {
        res.statusCode = 304;
        return void res.end();
      }
      res.setHeader('Vary', 'Accept-Encoding');
      const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      const body = gzip ? file.gzipped : file.body;
      if (gzip) res.setHeader('Content-Encoding', 'gzip');
      res.setHeader('Content-Length', String(body.byteLength));
      res.end(req.method === 'HEAD' ? undefined : body);
    },
  };
}
