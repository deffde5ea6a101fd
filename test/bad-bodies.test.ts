// Generated bad requests across every mutating route: wrong types, missing fields, extra
// fields, out-of-range values, oversize bodies, malformed JSON and wrong content types.
// Every one must be a 4xx problem (never a 5xx) and change nothing. Seeded: the seed is
// printed; GAMESRV_TEST_SEED replays it.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { build } from './helpers/app.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

interface Field {
  /** Values of the wrong JSON type for this field. */
  wrongTypes: Json[];
  /** Values of the right type that the schema refuses (range, length, pattern, enum). */
  outOfRange: Json[];
  required?: boolean;
}

interface RouteCase {
  method: 'POST' | 'DELETE';
  url: string;
  /** A valid body, the base every mutation starts from. */
  valid: Record<string, Json>;
  fields: Record<string, Field>;
  /** The body may be absent or JSON null (lifecycle routes). */
  nullable?: boolean;
  bodyLimit: number;
}

const INT_WRONG: Json[] = ['42', true, [], {}, 1.5, null];
const STR_WRONG: Json[] = [42, true, [], {}, null];
const MiB = 1024 * 1024;

const ROUTES: RouteCase[] = [
  {
    method: 'POST',
    url: '/v1/engine/start',
    valid: { tickRateHz: 30 },
    nullable: true,
    bodyLimit: MiB,
    fields: {
      tickRateHz: { wrongTypes: INT_WRONG, outOfRange: [0, -1, 1001, 2 ** 53] },
      loopThreads: { wrongTypes: INT_WRONG, outOfRange: [0, 257] },
      poolMaxThreads: { wrongTypes: INT_WRONG, outOfRange: [0, 513] },
      serverName: { wrongTypes: STR_WRONG, outOfRange: ['', 'has space', 'x'.repeat(49), '../etc', 'ümlaut'] },
      iocp: { wrongTypes: ['true', 1, [], {}, null], outOfRange: [] },
      taskHistory: { wrongTypes: INT_WRONG, outOfRange: [0, 1_000_001] },
    },
  },
  {
    method: 'POST',
    url: '/v1/engine/stop',
    valid: { deadlineMs: 1000 },
    nullable: true,
    bodyLimit: MiB,
    fields: { deadlineMs: { wrongTypes: INT_WRONG, outOfRange: [-1, 3_600_001] } },
  },
  { method: 'POST', url: '/v1/engine/pause', valid: {}, nullable: true, bodyLimit: MiB, fields: {} },
  { method: 'POST', url: '/v1/engine/resume', valid: {}, nullable: true, bodyLimit: MiB, fields: {} },
  {
    method: 'POST',
    url: '/v1/events',
    valid: { type: 'PLAYER_MOVE', playerId: 42, data: '1,2' },
    bodyLimit: 4 * MiB,
    fields: {
      type: { wrongTypes: STR_WRONG, outOfRange: ['PLAYER_JUMP', 'player_move', ''], required: true },
      playerId: { wrongTypes: INT_WRONG, outOfRange: [0, -1, 4_294_967_296], required: true },
      data: { wrongTypes: [42, true, [], null], outOfRange: ['x'.repeat(65), { x: 1 }, { x: 1, y: 2, z: 3 }], required: true },
    },
  },
  {
    method: 'POST',
    url: '/v1/tickets',
    valid: { playerId: 42, name: 'Alice', ttlSeconds: 60 },
    bodyLimit: MiB,
    fields: {
      playerId: { wrongTypes: INT_WRONG, outOfRange: [0, -1, 4_294_967_296], required: true },
      name: { wrongTypes: STR_WRONG, outOfRange: ['', 'x'.repeat(65), 'a\nb', '\u0000'], required: true },
      ttlSeconds: { wrongTypes: INT_WRONG, outOfRange: [0, -1, 86_401] },
      tickets: { wrongTypes: [42, 'x', {}, null], outOfRange: [[], [{ playerId: 1, name: 'a' }]] },
    },
  },
  {
    method: 'POST',
    url: '/v1/tasks',
    valid: { kind: 'database', query: 'SELECT 1' },
    bodyLimit: MiB,
    fields: {
      kind: { wrongTypes: STR_WRONG, outOfRange: ['sql', 'DATABASE', ''], required: true },
      query: { wrongTypes: STR_WRONG, outOfRange: ['', 'x'.repeat(4001)], required: true },
      delayMs: { wrongTypes: INT_WRONG, outOfRange: [-1, 86_400_001] },
      intervalMs: { wrongTypes: INT_WRONG, outOfRange: [0, 86_400_001] },
    },
  },
  {
    method: 'POST',
    url: '/v1/ipc/messages',
    valid: { type: 'SERVER_STATUS' },
    bodyLimit: MiB,
    fields: {
      type: { wrongTypes: STR_WRONG, outOfRange: ['ACK', 'server_status', ''], required: true },
      data: { wrongTypes: STR_WRONG, outOfRange: ['x'.repeat(1025)] },
      timeoutMs: { wrongTypes: INT_WRONG, outOfRange: [0, 60_001] },
    },
  },
  {
    method: 'POST',
    url: '/v1/benchmarks/locks',
    valid: { threads: 1, iterations: 10 },
    nullable: true,
    bodyLimit: MiB,
    fields: {
      threads: { wrongTypes: INT_WRONG, outOfRange: [0, 65] },
      iterations: { wrongTypes: INT_WRONG, outOfRange: [0, 100_000_001] },
      kinds: { wrongTypes: ['std_mutex', 42, {}, null], outOfRange: [[], Array.from({ length: 33 }, (_, i) => `k${i}`), ['x'.repeat(65)], [42]] },
    },
  },
];

/** A small seeded PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface BadRequest {
  route: RouteCase;
  why: string;
  contentType?: string;
  payload?: string;
  /** The statuses this request may get. */
  expect: number[];
}

const json = (route: RouteCase, why: string, body: Json, expect = [400]): BadRequest => ({
  route,
  why,
  contentType: 'application/json',
  payload: JSON.stringify(body),
  expect,
});

function generate(random: () => number, atLeast: number): BadRequest[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const out: BadRequest[] = [];
  // Every route: each class of bad body at least once, deterministically.
  for (const route of ROUTES) {
    for (const [key, f] of Object.entries(route.fields)) {
      for (const v of f.wrongTypes) out.push(json(route, `${key}: wrong type ${JSON.stringify(v)}`, { ...route.valid, [key]: v }));
      for (const v of f.outOfRange) out.push(json(route, `${key}: refused value ${JSON.stringify(v).slice(0, 40)}`, { ...route.valid, [key]: v }));
      if (f.required) {
        const { [key]: _gone, ...rest } = route.valid;
        out.push(json(route, `${key}: missing`, rest));
      }
    }
    out.push(json(route, 'an extra field', { ...route.valid, extra: 1 }));
    out.push(json(route, 'an extra field named like a prototype', JSON.parse('{"__proto__":{"x":1}}') as Json));
    for (const body of [[], 42, 'text', true, ...(route.nullable ? [] : [null])] as Json[]) {
      out.push(json(route, `not an object: ${JSON.stringify(body)}`, body));
    }
    for (const text of ['{', '{"a":', '{"a":1,}', "{'a':1}", '[1,2', 'nul', '{}}', '\u0000', '{"a":1} trailing']) {
      out.push({ route, why: `malformed JSON ${JSON.stringify(text)}`, contentType: 'application/json', payload: text, expect: [400] });
    }
    const huge = JSON.stringify({ ...route.valid, pad: 'x'.repeat(route.bodyLimit) });
    out.push({ route, why: 'over the body limit', contentType: 'application/json', payload: huge, expect: [413] });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=b', 'application/xml', 'image/png']) {
      out.push({ route, why: `content type ${type}`, contentType: type, payload: JSON.stringify(route.valid), expect: [415] });
    }
    out.push({ route, why: 'a body without a content type', payload: JSON.stringify(route.valid), expect: [415] });
  }
  // Then random mixes until there are enough: one to three fields broken at once.
  while (out.length < atLeast) {
    const route = pick(ROUTES.filter((r) => Object.keys(r.fields).length > 0));
    const body: Record<string, Json> = { ...route.valid };
    const broken: string[] = [];
    const n = 1 + Math.floor(random() * 3);
    for (let i = 0; i < n; i++) {
      const [key, f] = pick(Object.entries(route.fields));
      const pool = random() < 0.5 || f.outOfRange.length === 0 ? f.wrongTypes : f.outOfRange;
      body[key] = pick(pool);
      broken.push(key);
    }
    if (random() < 0.3) body[`x${Math.floor(random() * 1000)}`] = 'extra';
    out.push(json(route, `random: ${broken.join(', ')} broken`, body));
  }
  return out;
}

test('1,000+ generated bad bodies across every mutating route: each a 4xx problem, none a 5xx, nothing changed', { timeout: 120_000 }, async (t) => {
  const seed = Number(process.env['GAMESRV_TEST_SEED'] ?? Date.now() % 1_000_000_007);
  t.diagnostic(`seed=${seed} (replay: GAMESRV_TEST_SEED=${seed})`);
  const app = await build(t, { rateLimit: { max: 0, windowMs: 60_000 } });
  const before = app.engine.snapshot();
  const requests = generate(rng(seed), 1200);
  assert.ok(requests.length >= 1000);
  const byRoute = new Map<string, number>();
  for (const r of requests) {
    const headers: Record<string, string> = r.contentType !== undefined ? { 'content-type': r.contentType } : {};
    const res = await app.inject({ method: r.route.method, url: r.route.url, headers, ...(r.payload !== undefined ? { payload: r.payload } : {}) });
    const what = `${r.route.method} ${r.route.url}: ${r.why} (seed ${seed})`;
    assert.ok(res.statusCode < 500, `${what}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    assert.ok(r.expect.includes(res.statusCode), `${what}: expected ${r.expect.join('/')}, got ${res.statusCode} ${res.body.slice(0, 300)}`);
    assert.ok(String(res.headers['content-type']).startsWith('application/problem+json'), `${what}: problem+json`);
    const problem = res.json() as { status?: number; code?: string; detail?: string };
    assert.equal(problem.status, res.statusCode, what);
    assert.equal(typeof problem.code, 'string', what);
    assert.equal(typeof problem.detail, 'string', what);
    byRoute.set(r.route.url, (byRoute.get(r.route.url) ?? 0) + 1);
  }
  for (const route of ROUTES) assert.ok((byRoute.get(route.url) ?? 0) >= 20, `${route.url} got ${byRoute.get(route.url)} bad bodies`);
  // Nothing was accepted or changed.
  const after = app.engine.snapshot();
  assert.equal(app.engine.state, 'running');
  assert.equal(after.starts, before.starts);
  assert.equal(after.events.accepted, before.events.accepted);
  assert.equal(after.tasks.submitted, before.tasks.submitted);
  assert.deepEqual((await app.inject('/v1/jobs')).json().jobs, []);
  t.diagnostic(`${requests.length} bad requests over ${byRoute.size} routes`);
});
