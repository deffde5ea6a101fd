// Every REST route, success and error paths, through app.inject.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

import { MAX_EVENTS_PER_REQUEST } from '../src/schemas/events.js';
import { build } from './helpers/app.js';
import type { Json } from './helpers/json.js';

function problem(res: LightMyRequestResponse, status: number, code?: string): Json {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json() as Json;
  assert.equal(body['status'], status);
  assert.equal(typeof body['title'], 'string');
  assert.equal(typeof body['detail'], 'string');
  assert.match(body['type'], /^urn:gamesrv:problem:/);
  assert.ok(!/\bat .*\.(ts|js):\d+/.test(res.body), 'no stack trace in a problem');
  if (code) assert.equal(body['code'], code, res.body);
  return body;
}

const post = (app: FastifyInstance, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload: payload as object, headers });

describe('health and engine', () => {
  test('health, ready and engine status', async (t) => {
    const app = await build(t);
    assert.deepEqual((await app.inject('/v1/health')).json(), { status: 'ok' });
    const ready = await app.inject('/v1/ready');
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { ready: true, state: 'running' });
    const status = (await app.inject('/v1/engine')).json() as Json;
    assert.equal(status['state'], 'running');
    assert.equal(status['starts'], 1);
    assert.equal(status['config']['tickRateHz'], 120);
    assert.equal(status['events']['queueCapacity'], 65536);
  });

  test('pause, resume, stop, start walk the state machine; wrong transitions are 409 with the state', async (t) => {
    const app = await build(t);
    assert.deepEqual((await post(app, '/v1/engine/pause')).json(), { state: 'paused' });
    assert.equal(problem(await post(app, '/v1/engine/pause'), 409, 'INVALID_STATE')['state'], 'paused');
    assert.equal(problem(await post(app, '/v1/engine/start'), 409, 'INVALID_STATE')['state'], 'paused');
    assert.deepEqual((await post(app, '/v1/engine/resume')).json(), { state: 'running' });
    assert.equal(problem(await post(app, '/v1/engine/resume'), 409, 'INVALID_STATE')['state'], 'running');
    // stop from paused works (a seed defect)
    await post(app, '/v1/engine/pause');
    const stop = await post(app, '/v1/engine/stop', { deadlineMs: 5000 });
    assert.equal(stop.statusCode, 200, stop.body);
    assert.equal(stop.json()['state'], 'stopped');
    assert.equal(stop.json()['drained'], true);
    assert.equal(problem(await post(app, '/v1/engine/stop'), 409, 'INVALID_STATE')['state'], 'stopped');
    assert.equal(problem(await post(app, '/v1/engine/pause'), 409)['state'], 'stopped');
    const ready = await app.inject('/v1/ready');
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(ready.json(), { ready: false, state: 'stopped' });
    // start with options overriding the server's configuration
    const start = await post(app, '/v1/engine/start', { tickRateHz: 30 });
    assert.deepEqual(start.json(), { state: 'running' });
    assert.equal(((await app.inject('/v1/stats')).json() as Json)['controller']['tickRateHz'], 30);
    assert.equal(((await app.inject('/v1/engine')).json() as Json)['starts'], 2);
  });

  test('start options are validated field by field', async (t) => {
    const app = await build(t);
    await post(app, '/v1/engine/stop');
    const bad = problem(await post(app, '/v1/engine/start', { tickRateHz: 0 }), 400, 'VALIDATION');
    assert.equal(bad['field'], 'body/tickRateHz');
    const unknown = problem(await post(app, '/v1/engine/start', { turbo: true }), 400, 'VALIDATION');
    assert.equal(unknown['field'], 'body/turbo');
    const badStop = problem(await post(app, '/v1/engine/stop', { deadlineMs: -1 }), 400, 'VALIDATION');
    assert.equal(badStop['field'], 'body/deadlineMs');
    assert.equal(app.engine.state, 'stopped');
  });
});

describe('events', () => {
  test('one event or a batch: 202 with the count and the sequence range; the World changes', async (t) => {
    const app = await build(t);
    const one = await post(app, '/v1/events', { type: 'PLAYER_LOGIN', playerId: 7, data: 'alice' });
    assert.equal(one.statusCode, 202, one.body);
    assert.deepEqual({ ...one.json<Json>(), available: 0 }, { accepted: 1, firstSeq: 1, lastSeq: 1, available: 0 });
    const batch = await post(app, '/v1/events', {
      events: [
        { type: 'PLAYER_LOGIN', playerId: 8, data: 'bob' },
        { type: 'PLAYER_MOVE', playerId: 7, data: '10,20' },
        { type: 'PLAYER_MOVE', playerId: 8, data: { x: 3, y: 4 } },
        { type: 'PLAYER_ATTACK', playerId: 7, data: { target: 8, damage: 30 } },
        { type: 'PLAYER_CHAT', playerId: 8, data: 'ouch' },
      ],
    });
    assert.equal(batch.statusCode, 202, batch.body);
    assert.equal(batch.json()['accepted'], 5);
    assert.equal(batch.json()['firstSeq'], 2);
    assert.equal(batch.json()['lastSeq'], 6);
    await app.engine.flush();
    const alice = (await app.inject('/v1/players/7')).json() as Json;
    assert.deepEqual([alice['name'], alice['x'], alice['y'], alice['online']], ['alice', 10, 20, true]);
    const bob = (await app.inject('/v1/players/8')).json() as Json;
    assert.equal(bob['hp'], 70);
    const list = (await app.inject('/v1/players')).json() as Json;
    assert.equal(list['online'], 2);
    assert.deepEqual(list['players'].map((p: Json) => p['id']).sort(), [7, 8]);
  });

  test('a bad event anywhere in a batch is a 400 naming it, and nothing of the batch is accepted', async (t) => {
    const app = await build(t);
    const cases: [unknown, string, RegExp][] = [
      [{ events: [{ type: 'PLAYER_LOGIN', playerId: 1 }, { type: 'PLAYER_JUMP', playerId: 1 }] }, 'body/events/1/type', /must be one of/],
      [{ events: [{ type: 'PLAYER_LOGIN', playerId: 1 }, { type: 'PLAYER_ATTACK', playerId: 1, data: { target: 2 } }] }, 'body/events/1/data/damage', /damage/],
      [{ type: 'PLAYER_MOVE', playerId: 0, data: '1,2' }, 'body/playerId', /must be >= 1/],
      [{ type: 'PLAYER_MOVE', playerId: 1 }, 'body/data', /data/],
      [{ events: [] }, 'body/events', /fewer than 1/],
      [{ type: 'PLAYER_LOGIN', playerId: 1, extra: 1 }, 'body/extra', /additional/],
    ];
    for (const [payload, field, message] of cases) {
      const p = problem(await post(app, '/v1/events', payload), 400, 'VALIDATION');
      assert.equal(p['field'], field, JSON.stringify(p));
      assert.match(p['detail'], message);
      assert.ok(Array.isArray(p['errors']) && p['errors'].length > 0);
    }
    // a move the schema accepts but the engine cannot parse: rejected by the engine, with the index
    const parsed = problem(await post(app, '/v1/events', { events: [{ type: 'PLAYER_LOGIN', playerId: 1 }, { type: 'PLAYER_MOVE', playerId: 1, data: { x: Number.MAX_VALUE, y: 'a' } }] }), 400);
    assert.ok(parsed['field'].startsWith('body/events/1'), JSON.stringify(parsed));
    assert.equal(app.engine.snapshot().events.accepted, 0);
  });

  test('too many events in one request is a 400; malformed JSON is a 400; wrong media type is 415', async (t) => {
    const app = await build(t);
    const many = Array.from({ length: MAX_EVENTS_PER_REQUEST + 1 }, (_, i) => ({ type: 'PLAYER_LOGIN', playerId: i + 1 }));
    const p = problem(await post(app, '/v1/events', { events: many }), 400, 'VALIDATION');
    assert.match(p['detail'], new RegExp(`more than ${MAX_EVENTS_PER_REQUEST}`));
    problem(await post(app, '/v1/events', '{"type":', { 'content-type': 'application/json' }), 400);
    problem(await post(app, '/v1/events', 'type=PLAYER_LOGIN', { 'content-type': 'application/x-www-form-urlencoded' }), 415);
    assert.equal(app.engine.snapshot().events.accepted, 0);
  });

  test('a body over the limit is 413 and accepts nothing', async (t) => {
    const app = await build(t);
    const huge = JSON.stringify({ type: 'PLAYER_CHAT', playerId: 1, data: 'x'.repeat(5 * 1024 * 1024) });
    problem(await post(app, '/v1/events', huge, { 'content-type': 'application/json' }), 413);
    const tooBigForTasks = JSON.stringify({ kind: 'database', query: 'x'.repeat(2 * 1024 * 1024) });
    problem(await post(app, '/v1/tasks', tooBigForTasks, { 'content-type': 'application/json' }), 413);
    assert.equal(app.engine.snapshot().events.accepted, 0);
  });

  test('a full queue is 429 with Retry-After and accepts nothing of the batch', async (t) => {
    const app = await build(t, { engineOptions: { queueCapacity: 100 } });
    await post(app, '/v1/engine/pause'); // nothing drains
    const fill = await post(app, '/v1/events', { events: Array.from({ length: 90 }, (_, i) => ({ type: 'PLAYER_LOGIN', playerId: i + 1 })) });
    assert.equal(fill.statusCode, 202);
    const res = await post(app, '/v1/events', { events: Array.from({ length: 20 }, (_, i) => ({ type: 'PLAYER_LOGIN', playerId: 200 + i })) });
    const p = problem(res, 429, 'QUEUE_FULL');
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(p['available'], 10);
    assert.equal(app.engine.snapshot().events.accepted, 90);
    // what fits is still accepted
    assert.equal((await post(app, '/v1/events', { type: 'PLAYER_LOGIN', playerId: 500 })).statusCode, 202);
  });

  test('events while stopped are 409 ENGINE_NOT_RUNNING', async (t) => {
    const app = await build(t);
    await post(app, '/v1/engine/stop');
    const p = problem(await post(app, '/v1/events', { type: 'PLAYER_LOGIN', playerId: 1 }), 409, 'ENGINE_NOT_RUNNING');
    assert.match(p['detail'], /not running|stopped/);
  });
});

describe('tasks', () => {
  test('create, get, list, cancel; Location header; results', async (t) => {
    const app = await build(t);
    const created = await post(app, '/v1/tasks', { kind: 'database', query: 'SELECT 1' });
    assert.equal(created.statusCode, 202, created.body);
    const { id, location } = created.json() as { id: number; location: string };
    assert.equal(created.headers['location'], `/v1/tasks/${id}`);
    assert.equal(location, `/v1/tasks/${id}`);
    const done = await app.engine.waitTask(id, { timeoutMs: 10_000 });
    assert.equal(done.status, 'done');
    const got = (await app.inject(location)).json() as Json;
    assert.equal(got['status'], 'done');
    assert.match(got['result'], /SELECT 1/);
    assert.equal(typeof got['finishedAtMs'], 'number');

    const periodic = (await post(app, '/v1/tasks', { kind: 'database', query: 'tick', intervalMs: 5 })).json() as Json;
    const list = (await app.inject('/v1/tasks?limit=10')).json() as Json;
    assert.ok(list['tasks'].some((x: Json) => x['id'] === periodic['id']));
    const cancel = await app.inject({ method: 'DELETE', url: `/v1/tasks/${periodic['id']}` });
    assert.equal(cancel.statusCode, 200, cancel.body);
    assert.equal(cancel.json()['cancelled'], true);
    const after = await app.engine.waitTask(periodic['id'], { timeoutMs: 10_000 });
    assert.equal(after.status, 'cancelled');
    // cancelling a finished task is not an error, and changes nothing
    const again = (await app.inject({ method: 'DELETE', url: `/v1/tasks/${id}` })).json() as Json;
    assert.deepEqual([again['cancelled'], again['task']['status']], [false, 'done']);
  });

  test('game-logic and delayed tasks run', async (t) => {
    const app = await build(t);
    const logic = (await post(app, '/v1/tasks', { kind: 'game-logic', rateHz: 200, ticks: 5 })).json() as Json;
    const delayed = (await post(app, '/v1/tasks', { kind: 'database', query: 'q', delayMs: 20 })).json() as Json;
    assert.equal((await app.engine.waitTask(logic['id'], { timeoutMs: 10_000 })).status, 'done');
    const d = await app.engine.waitTask(delayed['id'], { timeoutMs: 10_000 });
    assert.equal(d.status, 'done');
    assert.ok(d.startedAtMs! - d.createdAtMs >= 15, `delay honoured (${d.startedAtMs! - d.createdAtMs} ms)`);
  });

  test('bad specs are 400 naming the field; unknown ids 404; bad ids 400; stopped 409', async (t) => {
    const app = await build(t);
    assert.equal(problem(await post(app, '/v1/tasks', { kind: 'teleport' }), 400, 'VALIDATION')['field'], 'body/kind');
    assert.equal(problem(await post(app, '/v1/tasks', { kind: 'database' }), 400)['field'], 'body/query');
    assert.equal(problem(await post(app, '/v1/tasks', { kind: 'player-update', playerId: 1, intervalMs: 0 }), 400)['field'], 'body/intervalMs');
    problem(await app.inject('/v1/tasks/999999'), 404, 'NOT_FOUND');
    problem(await app.inject({ method: 'DELETE', url: '/v1/tasks/999999' }), 404, 'NOT_FOUND');
    assert.equal(problem(await app.inject('/v1/tasks/abc'), 400, 'VALIDATION')['field'], 'params/id');
    assert.equal(problem(await app.inject('/v1/tasks?limit=0'), 400, 'VALIDATION')['field'], 'querystring/limit');
    await post(app, '/v1/engine/stop');
    problem(await post(app, '/v1/tasks', { kind: 'database', query: 'q' }), 409, 'ENGINE_NOT_RUNNING');
  });

  test('too many active tasks is 429', async (t) => {
    const app = await build(t, { engineConfig: { maxActiveTasks: 2 } });
    for (let i = 0; i < 2; i++) {
      assert.equal((await post(app, '/v1/tasks', { kind: 'database', query: 'q', intervalMs: 60_000 })).statusCode, 202);
    }
    const res = await post(app, '/v1/tasks', { kind: 'database', query: 'q', intervalMs: 60_000 });
    problem(res, 429, 'TOO_MANY_TASKS');
    assert.equal(res.headers['retry-after'], '1');
  });
});

describe('players, monitor, stats, ipc', () => {
  test('unknown player 404, bad id 400', async (t) => {
    const app = await build(t);
    problem(await app.inject('/v1/players/424242'), 404, 'NOT_FOUND');
    problem(await app.inject('/v1/players/-1'), 400, 'VALIDATION');
  });

  test('monitor shows the shared-memory status; 503 when stopped', async (t) => {
    const app = await build(t);
    await post(app, '/v1/events', { type: 'PLAYER_LOGIN', playerId: 1 });
    await app.engine.flush();
    const m = (await app.inject('/v1/monitor')).json() as Json;
    assert.equal(m['pid'], process.pid);
    assert.equal(m['running'], true);
    assert.equal(m['writer'], 'alive');
    assert.equal(typeof m['residentBytes'], 'number');
    await post(app, '/v1/engine/stop');
    problem(await app.inject('/v1/monitor'), 503, 'MONITOR_ERROR');
  });

  test('stats is the whole snapshot', async (t) => {
    const app = await build(t);
    const s = (await app.inject('/v1/stats')).json() as Json;
    const direct = app.engine.snapshot();
    assert.deepEqual(Object.keys(s).sort(), Object.keys(direct).sort());
    for (const k of ['controller', 'events', 'pool', 'tasks', 'iocp', 'pipe', 'monitor'] as const) {
      assert.deepEqual(Object.keys(s[k]).sort(), Object.keys(direct[k]).sort(), k);
    }
    assert.deepEqual(Object.keys(s['events']['byType']).sort(), Object.keys(direct.events.byType).sort());
    assert.ok(s['workers'].length >= 4);
    assert.deepEqual(Object.keys(s['workers'][0]).sort(), ['busyMs', 'cpuMs', 'items', 'name', 'state', 'tid']);
  });

  test('pipe messages: status, login through the pipe, errors, SHUTDOWN', async (t) => {
    const app = await build(t);
    const status = (await post(app, '/v1/ipc/messages', { type: 'SERVER_STATUS' })).json() as Json;
    assert.equal(status['type'], 'STATUS_REPLY');
    assert.equal(JSON.parse(status['data'])['pid'], process.pid);
    const login = (await post(app, '/v1/ipc/messages', { type: 'PLAYER_LOGIN', data: '42,carol' })).json() as Json;
    assert.equal(login['type'], login['type'] === 'ACK' ? 'ACK' : 'ERROR');
    assert.equal(problem(await post(app, '/v1/ipc/messages', { type: 'PING' }), 400, 'VALIDATION')['field'], 'body/type');
    const shutdown = (await post(app, '/v1/ipc/messages', { type: 'SHUTDOWN' })).json() as Json;
    assert.equal(shutdown['type'], 'ACK');
    await app.engine.waitForState('stopped', { timeoutMs: 10_000 });
    problem(await post(app, '/v1/ipc/messages', { type: 'SERVER_STATUS' }), 409, 'ENGINE_NOT_RUNNING');
  });
});

describe('lock benchmark jobs', () => {
  test('202 + Location; GET shows progress and the table; one at a time; unknown kinds 400', async (t) => {
    const app = await build(t);
    const kinds = ['std_mutex', 'spinlock'];
    const res = await post(app, '/v1/benchmarks/locks', { threads: 2, iterations: 2000, kinds });
    assert.equal(res.statusCode, 202, res.body);
    const location = res.headers['location'] as string;
    assert.match(location, /^\/v1\/jobs\/[0-9a-f-]{36}$/);
    const busy = await post(app, '/v1/benchmarks/locks', { threads: 2, iterations: 2000 });
    if (app.jobs.running) {
      problem(busy, 409, 'BUSY');
      assert.equal(busy.headers['location'], location);
    }
    await app.jobs.idle();
    const job = (await app.inject(location)).json() as Json;
    assert.equal(job['status'], 'done');
    assert.equal(job['progress']['percent'], 100);
    assert.deepEqual(job['rows'].map((r: Json) => r['kind']), kinds);
    assert.ok(job['rows'].every((r: Json) => r['exact'] === true && r['finalCount'] === 4000));
    assert.ok(((await app.inject('/v1/jobs')).json() as Json)['jobs'].some((j: Json) => j['id'] === job['id']));
    const unknown = problem(await post(app, '/v1/benchmarks/locks', { kinds: ['bakery'] }), 400, 'VALIDATION');
    assert.match(unknown['detail'], /bakery/);
    problem(await post(app, '/v1/benchmarks/locks', { threads: 0 }), 400, 'VALIDATION');
    problem(await app.inject('/v1/jobs/nope'), 404, 'NOT_FOUND');
  });
});

describe('errors in general', () => {
  test('unknown routes are 404 problems; wrong methods too', async (t) => {
    const app = await build(t);
    assert.equal(problem(await app.inject('/v2/anything'), 404, 'ROUTE_NOT_FOUND')['instance'], '/v2/anything');
    problem(await app.inject({ method: 'PUT', url: '/v1/engine/start' }), 404);
  });

  test('an unexpected failure is a 500 problem without internals', async (t) => {
    const app = await build(t);
    const real = app.engine.snapshot.bind(app.engine);
    app.engine.snapshot = () => {
      throw new TypeError('secret internal detail');
    };
    const res = await app.inject('/v1/stats');
    app.engine.snapshot = real;
    const p = problem(res, 500, 'INTERNAL');
    assert.ok(!p['detail'].includes('secret'), p['detail']);
  });
});
