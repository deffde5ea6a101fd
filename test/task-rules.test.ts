// Task rules over HTTP: a game-logic task that never ends must say so ("forever": true).
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
