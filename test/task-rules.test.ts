// Task rules over HTTP: a game-logic task that never ends must say so ("forever": true), and
// periodic tasks share a server-wide budget of timer firings a second.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { build } from './helpers/app.js';
test('game-logic needs ticks or "forever": true, not both, not neither', async (t) => {
  const app = await build(t);
  const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/tasks', payload });
  const none = await post({ kind: 'game-logic', rateHz: 10 });
  assert.equal(none.statusCode, 400);
  assert.match(none.json().detail, /forever/);
  assert.equal((await post({ kind: 'game-logic', ticks: 3, forever: true })).statusCode, 400);
  assert.equal((await post({ kind: 'game-logic', forever: false })).statusCode, 400);
  const ok = await post({ kind: 'game-logic', rateHz: 10, forever: true });
  assert.equal(ok.statusCode, 202, ok.body);
  assert.equal((await post({ kind: 'game-logic', ticks: 3 })).statusCode, 202);
});

test('periodic tasks share a budget of timer firings a second: past it, 429 TOO_MANY_TASKS', async (t) => {
  const app = await build(t, { engineConfig: { maxTaskFiringsPerSec: 100 } });
  const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/tasks', payload });
  const first = await post({ kind: 'game-logic', rateHz: 60, forever: true });
  assert.equal(first.statusCode, 202, first.body);
  const over = await post({ kind: 'game-logic', rateHz: 60, forever: true });
  assert.equal(over.statusCode, 429);
  assert.equal(over.json().code, 'TOO_MANY_TASKS');
  assert.match(over.json().detail, /firings/);
  assert.ok(Number(over.headers['retry-after']) >= 1);
  // A one-shot task does not count; cancelling the periodic one frees its share.
  assert.equal((await post({ kind: 'database', query: 'SELECT 1' })).statusCode, 202);
  assert.equal((await app.inject({ method: 'DELETE', url: `/v1/tasks/${first.json().id}` })).statusCode, 200);
  assert.equal((await post({ kind: 'game-logic', rateHz: 60, forever: true })).statusCode, 202);
});
