// GET /v1/players and GET /v1/tasks page with limit + after: every item exactly once,
// in order, with `next` in the body and a Link header until the last page.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

import { build } from './helpers/app.js';

async function walk<T extends { id: number }>(app: FastifyInstance, first: string, key: 'players' | 'tasks'): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let url: string | null = first;
  let pages = 0;
  while (url !== null) {
    const res: LightMyRequestResponse = await app.inject(url);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as Record<string, unknown> & { next: string | null };
    items.push(...(body[key] as T[]));
    pages += 1;
    if (body.next !== null) assert.equal(res.headers['link'], `<${body.next}>; rel="next"`);
    else assert.equal(res.headers['link'], undefined);
    url = body.next;
  }
  return { items, pages };
}

test('players: pages by id, each player once, with the World counts on every page', async (t) => {
  const app = await build(t);
  const ids = Array.from({ length: 25 }, (_, i) => 1000 - i * 37); // not in id order
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    payload: { events: ids.map((playerId) => ({ type: 'PLAYER_LOGIN', playerId })) },
  });
  assert.equal(res.statusCode, 202);
  await app.engine.flush();
  const { items, pages } = await walk<{ id: number; online: boolean }>(app, '/v1/players?limit=10', 'players');
  assert.equal(pages, 3);
  assert.deepEqual(items.map((p) => p.id), [...ids].sort((a, b) => a - b));
  const page = (await app.inject('/v1/players?limit=10&after=0')).json();
  assert.equal(page.online, 25);
  assert.equal(page.known, 25);
  assert.deepEqual((await app.inject(`/v1/players?after=${Math.max(...ids)}`)).json().players, []);
  assert.equal((await app.inject('/v1/players?limit=0')).statusCode, 400);
  assert.equal((await app.inject('/v1/players?limit=1001')).statusCode, 400);
});

test('tasks: pages newest first, each task once', async (t) => {
  const app = await build(t);
  const created: number[] = [];
  for (let i = 0; i < 23; i++) {
    const res = await app.inject({ method: 'POST', url: '/v1/tasks', payload: { kind: 'database', query: `SELECT ${i}` } });
    assert.equal(res.statusCode, 202);
    created.push((res.json() as { id: number }).id);
  }
  const { items, pages } = await walk<{ id: number }>(app, '/v1/tasks?limit=10', 'tasks');
  assert.equal(pages, 3);
  assert.deepEqual(items.map((x) => x.id), [...created].sort((a, b) => b - a));
  assert.equal((await app.inject('/v1/tasks?after=0')).statusCode, 400);
});
