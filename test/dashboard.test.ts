// The dashboard's files (src/routes/dashboard.ts): GET / and every asset the page loads,
// with their content types; only the two uPlot files leave node_modules; none of it is in
// the OpenAPI document. The page in a real browser: test/browser/dashboard.test.ts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import type { FastifyInstance } from 'fastify';

import { PUBLIC_DIR } from '../src/routes/dashboard.js';
import { build } from './helpers/app.js';

/** Every URL the page loads: index.html's src/href, then each module's static imports, transitively. */
async function pageAssets(app: FastifyInstance): Promise<string[]> {
  const html = (await app.inject('/')).body;
  const queue = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1]!, 'http://x/').pathname);
  const seen = new Set<string>();
  while (queue.length > 0) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    if (!path.endsWith('.js')) continue;
    const res = await app.inject(path);
    assert.equal(res.statusCode, 200, `${path} is served`);
    for (const m of res.body.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)) {
      const spec = m[1] ?? m[2]!;
      assert.ok(spec.startsWith('.'), `${path} imports ${spec}: the browser can only load relative paths`);
      queue.push(new URL(spec, `http://x${path}`).pathname);
    }
  }
  return [...seen];
}

test('GET / serves the page with a same-origin content security policy', async (t) => {
  const app = await build(t);
  const res = await app.inject('/');
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/i);
  assert.equal(res.body, await readFile(join(PUBLIC_DIR, 'index.html'), 'utf8'));
  const csp = String(res.headers['content-security-policy']);
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/, 'no inline scripts');
  assert.match(csp, /connect-src 'self'/);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
});

test('every asset the page loads is served with its content type', async (t) => {
  const app = await build(t);
  const assets = await pageAssets(app);
  const types: Record<string, RegExp> = {
    '.js': /^(text|application)\/javascript/,
    '.css': /^text\/css/,
    '.svg': /^image\/svg\+xml/,
  };
  for (const must of [
    '/dashboard/js/main.js',
    '/dashboard/dashboard.css',
    '/dashboard/icon.svg',
    '/dashboard/vendor/uplot/uPlot.esm.js',
    '/dashboard/vendor/uplot/uPlot.min.css',
    '/dashboard/js/panels/charts.js',
    '/dashboard/js/panels/engine.js',
    '/dashboard/js/panels/threads.js',
    '/dashboard/js/panels/injector.js',
    '/dashboard/js/panels/tasks.js',
    '/dashboard/js/panels/connection.js',
    '/dashboard/js/panels/storage.js',
    '/dashboard/js/lib/telemetry.js',
  ]) {
    assert.ok(assets.includes(must), `the page loads ${must} (loads: ${assets.join(', ')})`);
  }
  for (const path of assets) {
    const res = await app.inject(path);
    assert.equal(res.statusCode, 200, path);
    const ext = path.slice(path.lastIndexOf('.'));
    assert.match(String(res.headers['content-type']), types[ext] ?? /^$/, `${path}: ${String(res.headers['content-type'])}`);
    assert.ok(res.body.length > 0, `${path} is not empty`);
  }
});

test('only the page files are served: not the rest of uPlot, not outside public/', async (t) => {
  const app = await build(t);
  for (const path of [
    '/dashboard/vendor/uplot/uPlot.d.ts',
    '/dashboard/vendor/uplot/uPlot.cjs.js',
    '/dashboard/vendor/uplot/../package.json',
    '/dashboard/../package.json',
    '/dashboard/%2e%2e/package.json',
    '/dashboard/js/nope.js',
  ]) {
    const res = await app.inject(path);
    assert.ok(res.statusCode === 404 || res.statusCode === 403, `${path}: ${res.statusCode}`);
    assert.doesNotMatch(res.body, /"name":\s*"(gamesrv|uplot)"/, `${path} leaks a package.json`);
  }
  // The page is not an API route: unknown API paths keep their problem details.
  const missing = await app.inject('/v1/nope');
  assert.equal(missing.statusCode, 404);
  assert.match(String(missing.headers['content-type']), /^application\/problem\+json/);
});

test('the dashboard routes stay out of the OpenAPI document', async (t) => {
  const app = await build(t);
  const doc = (await app.inject('/openapi.json')).json() as { paths: Record<string, unknown> };
  const shown = Object.keys(doc.paths).filter((p) => p === '/' || p.startsWith('/dashboard'));
  assert.deepEqual(shown, []);
});
