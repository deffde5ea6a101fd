// The OpenAPI document: the committed openapi/openapi.json matches what the app builds,
// it covers every route and named schema, errors are problem details, and a client
// generated from it by a real generator type-checks and drives a running server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import type { FastifyInstance } from 'fastify';
import openapiTS, { astToString } from 'openapi-typescript';

import { buildApp } from '../src/app.js';
import { ALL_SCHEMAS } from '../src/schemas/index.js';
import { generateOpenApi, OPENAPI_PATH } from '../scripts/openapi.js';
import { build } from './helpers/app.js';
import type { Json } from './helpers/json.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

/**
 * Routes of the app that are deliberately not operations of the document, with why.
 * A route hidden from the document (schema.hide) must be listed here.
 */
const UNDOCUMENTED: Record<string, string> = {
  'GET /openapi.json': 'the document itself (src/app.ts)',
  'GET /v1/telemetry': 'a WebSocket, which OpenAPI 3.0 cannot describe; docs/TELEMETRY.md does',
  'GET /': 'the dashboard page (src/routes/dashboard.ts), a client of the API, not part of it',
  // printRoutes({ commonPrefix: false }) shows /dashboard/* and /dashboard/vendor/uplot/* as /*.
  'GET /*': "the dashboard's static files (src/routes/dashboard.ts)",
};

/** Non-2xx responses that are deliberately not problem details, with why. */
const NOT_PROBLEMS: Record<string, string> = {
  'GET /v1/ready 503': 'a readiness probe answers with its Ready body in both states',
};

/** JSON pointers where `a` and `b` differ, at most `limit` of them. */
function differences(a: unknown, b: unknown, path = '', out: string[] = [], limit = 12): string[] {
  if (out.length >= limit) return out;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    if (!Object.is(a, b)) out.push(path || '/');
    return out;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) differences((a as Json)[k], (b as Json)[k], `${path}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`, out, limit);
  return out;
}

/** Every `METHOD /path` the router serves (HEAD routes are Fastify's automatic ones). */
function routerOperations(app: FastifyInstance): string[] {
  const ops: string[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    if (line.trim() === '') continue;
    const m = /^((?:│ {3}| {4})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    assert.ok(m, `unexpected printRoutes line: ${JSON.stringify(line)}`);
    const depth = m[1]!.length / 4;
    const path = (depth > 0 ? prefixes[depth - 1]! : '') + m[2]!;
    prefixes[depth] = path;
    prefixes.length = depth + 1;
    for (const method of m[3]?.split(', ') ?? []) {
      if (method !== 'HEAD') ops.push(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return ops.sort();
}

function documentOperations(doc: Json): string[] {
  const ops: string[] = [];
  for (const [path, item] of Object.entries(doc['paths'] as Json)) {
    for (const method of Object.keys(item).filter((k) => HTTP_METHODS.includes(k))) ops.push(`${method.toUpperCase()} ${path}`);
  }
  return ops.sort();
}

function* refs(node: unknown): Generator<string> {
  if (typeof node !== 'object' || node === null) return;
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string') yield v;
    else yield* refs(v);
  }
}

describe('OpenAPI document', () => {
  test('openapi/openapi.json is what the app generates, and generation is deterministic', async () => {
    const committed = JSON.parse(await readFile(OPENAPI_PATH, 'utf8')) as Json;
    const first = await generateOpenApi();
    const generated = JSON.parse(first) as Json;
    const diff = differences(generated, committed);
    assert.deepEqual(
      generated,
      committed,
      `openapi/openapi.json is out of date: run \`npm run openapi\` and commit the result. Differences at: ${diff.join(', ')}`,
    );
    assert.equal(await generateOpenApi(), first, 'two generations give byte-identical documents');
  });

  test('is OpenAPI 3.0 with every route, every named schema, and problem details for errors', async (t) => {
    const app = await buildApp({ autoStart: false, docsUi: false });
    t.after(() => app.close());
    await app.ready();
    const doc = app.swagger() as Json;
    assert.match(String(doc['openapi']), /^3\.0\.\d+$/);
    const apiDoc = await readFile(join(ROOT, 'docs/API.md'), 'utf8');

    const served = routerOperations(app).filter((op) => !(op in UNDOCUMENTED));
    const documented = documentOperations(doc);
    assert.ok(served.includes('POST /v1/events') && served.includes('GET /v1/tasks/{id}'), `router parse: ${served.join(', ')}`);
    assert.deepEqual(
      documented,
      served,
      'the document has exactly the routes the app serves (a route hidden on purpose belongs in UNDOCUMENTED)',
    );
    for (const op of Object.keys(UNDOCUMENTED)) assert.ok(!documented.includes(op), `${op} is not in the document`);

    const components = doc['components']['schemas'] as Json;
    for (const schema of ALL_SCHEMAS) {
      const id = (schema as { $id?: unknown }).$id;
      assert.ok(typeof id === 'string' && id in components, `components.schemas.${String(id)}`);
    }
    const unnamed = Object.keys(components).filter((name) => /^def-\d+$/.test(name));
    assert.deepEqual(unnamed, [], 'every component is a named schema (an $id), not a def-N');
    for (const ref of refs(doc)) {
      const m = /^#\/components\/schemas\/(.+)$/.exec(ref);
      assert.ok(m && m[1]! in components, `$ref ${ref} resolves`);
    }

    assert.ok(Array.isArray(doc['servers']) && doc['servers'].length > 0 && typeof doc['servers'][0].url === 'string', 'servers');
    let errorResponses = 0;
    const operationIds = new Set<string>();
    for (const [path, item] of Object.entries(doc['paths'] as Json)) {
      for (const [method, op] of Object.entries(item as Json).filter(([k]) => HTTP_METHODS.includes(k))) {
        const name = `${method.toUpperCase()} ${path}`;
        assert.ok(Array.isArray(op['tags']) && op['tags'].length > 0, `${name} has tags`);
        assert.equal(typeof op['summary'], 'string', `${name} has a summary`);
        // Generators name methods after it: present, camelCase, unique, and listed in docs/API.md.
        assert.match(String(op['operationId']), /^[a-z][A-Za-z]+$/, `${name} has an operationId`);
        assert.ok(!operationIds.has(op['operationId']), `${name}: operationId ${op['operationId']} is unique`);
        operationIds.add(op['operationId']);
        assert.ok(apiDoc.includes(`\`${op['operationId']}\``), `docs/API.md lists ${op['operationId']}`);
        const statuses = Object.keys(op['responses']);
        assert.ok(statuses.some((s) => /^2\d\d$/.test(s)), `${name} documents its success response`);
        assert.ok(statuses.some((s) => /^4\d\d$/.test(s)), `${name} documents a 4xx response`);
        if (method !== 'get') {
          for (const s of ['401', '403', '415']) assert.ok(statuses.includes(s), `${name} documents ${s}`);
        }
        for (const status of statuses.filter((s) => !/^2\d\d$/.test(s))) {
          if (`${name} ${status}` in NOT_PROBLEMS) continue;
          const content = op['responses'][status]['content'] as Json | undefined;
          assert.ok(content && Object.keys(content).length > 0, `${name} ${status} has a body`);
          for (const [media, body] of Object.entries(content)) {
            assert.deepEqual(body['schema'], { $ref: '#/components/schemas/Problem' }, `${name} ${status} ${media} is a Problem`);
          }
          errorResponses += 1;
        }
      }
    }
    assert.ok(errorResponses >= 20, `error responses checked: ${errorResponses}`);
  });
});

// ---------------------------------------------------------------------------------------
// The generated client. It lives under test-results/ (gitignored) so that `openapi-fetch`
// resolves from the repository's node_modules.

const CLIENT = `// Generated by test/openapi.test.ts: a client typed by openapi-typescript's output.
import createClient from 'openapi-fetch';

import type { paths } from './api.js';

type Client = ReturnType<typeof createClient<paths>>;
type State = 'stopped' | 'starting' | 'running' | 'paused' | 'stopping';

/** What the scenario saw. Concrete types: generated types that decayed to unknown or any
 *  would not be assignable here (unknown) or would defeat the @ts-expect-error lines (any). */
export interface Seen {
  engine: { status: number; state: State };
  events: { status: number; accepted: number; firstSeq: number; lastSeq: number };
  task: { status: number; id: number; location: string; fetchedStatus: number; fetchedId: number; kind: 'player-update' | 'game-logic' | 'database' };
  players: { status: number; online: number; ids: number[] };
  pause: { status: number; state: State };
  pauseAgain: { status: number; contentType: string | null; code: string | undefined; state: State | undefined; title: string };
  stop: { status: number; state: State; drained: boolean; eventsDrained: number };
}

export async function scenario(baseUrl: string, afterEvents: () => Promise<void>): Promise<Seen> {
  const client: Client = createClient<paths>({ baseUrl });

  const engine = await client.GET('/v1/engine');
  if (!engine.data) throw new Error('GET /v1/engine failed');

  const events = await client.POST('/v1/events', {
    body: {
      events: [
        ...[1, 2, 3, 4, 5].map((playerId) => ({ type: 'PLAYER_LOGIN' as const, playerId, data: 'p' + playerId })),
        ...[1, 2, 3, 4, 5].map((playerId) => ({ type: 'PLAYER_MOVE' as const, playerId, data: { x: playerId, y: 2 } })),
        { type: 'PLAYER_CHAT', playerId: 1, data: 'hello' },
      ],
    },
  });
  if (!events.data) throw new Error('POST /v1/events failed: ' + JSON.stringify(events.error));
  await afterEvents();

  const created = await client.POST('/v1/tasks', { body: { kind: 'database', query: 'SELECT 1' } });
  if (!created.data) throw new Error('POST /v1/tasks failed: ' + JSON.stringify(created.error));
  const fetched = await client.GET('/v1/tasks/{id}', { params: { path: { id: created.data.id } } });
  if (!fetched.data) throw new Error('GET /v1/tasks/{id} failed: ' + JSON.stringify(fetched.error));

  const players = await client.GET('/v1/players');
  if (!players.data) throw new Error('GET /v1/players failed');

  const pause = await client.POST('/v1/engine/pause');
  if (!pause.data) throw new Error('POST /v1/engine/pause failed: ' + JSON.stringify(pause.error));
  const pauseAgain = await client.POST('/v1/engine/pause');
  if (!pauseAgain.error) throw new Error('a second pause must fail');

  const stop = await client.POST('/v1/engine/stop', { body: { deadlineMs: 5000 } });
  if (!stop.data) throw new Error('POST /v1/engine/stop failed: ' + JSON.stringify(stop.error));

  return {
    engine: { status: engine.response.status, state: engine.data.state },
    events: { status: events.response.status, ...pick(events.data) },
    task: {
      status: created.response.status,
      id: created.data.id,
      location: created.data.location,
      fetchedStatus: fetched.response.status,
      fetchedId: fetched.data.id,
      kind: fetched.data.kind,
    },
    players: { status: players.response.status, online: players.data.online, ids: players.data.players.map((p) => p.id).sort((a, b) => a - b) },
    pause: { status: pause.response.status, state: pause.data.state },
    pauseAgain: {
      status: pauseAgain.response.status,
      contentType: pauseAgain.response.headers.get('content-type'),
      code: pauseAgain.error.code,
      state: pauseAgain.error.state,
      title: pauseAgain.error.title,
    },
    stop: { status: stop.response.status, state: stop.data.state, drained: stop.data.drained, eventsDrained: stop.data.eventsDrained },
  };
}

function pick(a: { accepted: number; firstSeq: number; lastSeq: number }) {
  return { accepted: a.accepted, firstSeq: a.firstSeq, lastSeq: a.lastSeq };
}

// Never called: each line must NOT type-check, or tsc fails on the unused directive.
export function misuses(client: Client): void {
  // @ts-expect-error PLAYER_ATTACK data is {target, damage}, not a string
  void client.POST('/v1/events', { body: { type: 'PLAYER_ATTACK', playerId: 1, data: 'x' } });
  // @ts-expect-error PLAYER_MOVE needs data
  void client.POST('/v1/events', { body: { events: [{ type: 'PLAYER_MOVE', playerId: 1 }] } });
  // @ts-expect-error no such event type
  void client.POST('/v1/events', { body: { type: 'PLAYER_JUMP', playerId: 1 } });
  // @ts-expect-error a task id is a number
  void client.GET('/v1/tasks/{id}', { params: { path: { id: 'seven' } } });
  // @ts-expect-error a database task needs its query
  void client.POST('/v1/tasks', { body: { kind: 'database' } });
  // @ts-expect-error no such route
  void client.GET('/v1/nope');
  void client.GET('/v1/engine').then(({ data }) => {
    // @ts-expect-error EngineStatus has no such field
    return data?.notAField;
  });
}
`;

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

describe('generated client (openapi-typescript + openapi-fetch)', () => {
  test('type-checks, rejects misuse at compile time, and drives a running server', { timeout: 120_000 }, async (t) => {
    await mkdir(join(ROOT, 'test-results'), { recursive: true });
    const dir = await mkdtemp(join(ROOT, 'test-results', 'openapi-client-'));

    const ast = await openapiTS(pathToFileURL(OPENAPI_PATH));
    await writeFile(join(dir, 'api.ts'), astToString(ast));
    await writeFile(join(dir, 'client.ts'), CLIENT);

    const args = [
      TSC,
      '--noEmit',
      '--strict',
      '--module', 'nodenext',
      '--moduleResolution', 'nodenext',
      '--target', 'es2022',
      '--lib', 'es2022,dom',
      '--skipLibCheck',
      join(dir, 'client.ts'),
    ];
    try {
      await run(process.execPath, args, { cwd: ROOT, timeout: 90_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      assert.fail(`the generated client does not type-check (files kept in ${dir}):\n${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`);
    }

    const app = await build(t);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const client = (await import(pathToFileURL(join(dir, 'client.ts')).href)) as {
      scenario(baseUrl: string, afterEvents: () => Promise<void>): Promise<Json>;
    };
    const seen = await client.scenario(`http://127.0.0.1:${port}`, () => app.engine.flush());

    assert.deepEqual(seen['engine'], { status: 200, state: 'running' });
    assert.deepEqual(seen['events'], { status: 202, accepted: 11, firstSeq: 1, lastSeq: 11 });
    const task = seen['task'] as Json;
    assert.equal(task['status'], 202);
    assert.ok(Number.isInteger(task['id']) && task['id'] >= 1);
    assert.equal(task['location'], `/v1/tasks/${task['id']}`);
    assert.equal(task['fetchedStatus'], 200);
    assert.equal(task['fetchedId'], task['id']);
    assert.equal(task['kind'], 'database');
    assert.deepEqual(seen['players'], { status: 200, online: 5, ids: [1, 2, 3, 4, 5] });
    assert.deepEqual(seen['pause'], { status: 200, state: 'paused' });
    assert.deepEqual(seen['pauseAgain'], {
      status: 409,
      contentType: 'application/problem+json; charset=utf-8',
      code: 'INVALID_STATE',
      state: 'paused',
      title: 'Wrong engine state',
    });
    const stop = seen['stop'] as Json;
    assert.equal(stop['status'], 200);
    assert.equal(stop['state'], 'stopped');
    assert.equal(stop['drained'], true);
    assert.equal(app.engine.snapshot().events.processed, 11, 'every accepted event was processed');

    await rm(dir, { recursive: true, force: true });
  });
});
