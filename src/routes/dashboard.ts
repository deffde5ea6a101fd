// The operations dashboard (public/, README "Dashboard"): GET / is its page, /dashboard/*
// its own ES modules and CSS, /dashboard/vendor/uplot/* the charting library from
// node_modules. The page is a plain client of the REST API and WS /v1/telemetry; nothing
// here is part of the API, so every route is hidden from the OpenAPI document.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/** The directory holding package.json: src/routes/ under tsx, dist/routes/ once compiled. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('dashboard: no package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const PUBLIC_DIR = join(repoRoot(), 'public');
export const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'));
/** The only files of the uPlot package the page loads. */
const UPLOT_FILES = new Set(['/uPlot.esm.js', '/uPlot.min.css']);

/**
 * Same-origin everything: scripts and styles are files (no inline code), the WebSocket is
 * this host's. uPlot styles its elements through the CSSOM, which style-src does not govern.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const dashboardRoutes: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: '/dashboard/',
    schemaHide: true,
    index: false,
    setHeaders: (reply: FastifyReply, path: string) => {
      reply.header('x-content-type-options', 'nosniff');
      if (path.endsWith('.html')) reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer');
    },
  });
  await app.register(fastifyStatic, {
    root: UPLOT_DIR,
    prefix: '/dashboard/vendor/uplot/',
    schemaHide: true,
    index: false,
    decorateReply: false,
    allowedPath: (pathName) => UPLOT_FILES.has(pathName),
  });

  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html', PUBLIC_DIR));
};

export default dashboardRoutes;
