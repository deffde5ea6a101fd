// GET /v1/engine reports the configuration the engine runs with, and concurrent starts
// cannot mix configurations.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { build, uniqueServerName } from './helpers/app.js';

test('GET /v1/engine shows the running configuration, and the defaults once stopped', async (t) => {
  const app = await build(t, { autoStart: false, engineConfig: { tickRateHz: 120 } });
  assert.equal((await app.inject('/v1/engine')).json().config.tickRateHz, 120, 'stopped: what a start would use');
  const started = await app.inject({ method: 'POST', url: '/v1/engine/start', payload: { tickRateHz: 30 } });
  assert.equal(started.statusCode, 200, started.body);
  const running = (await app.inject('/v1/engine')).json();
  assert.equal(running.state, 'running');
  assert.equal(running.config.tickRateHz, 30);
  assert.equal((await app.inject({ method: 'POST', url: '/v1/engine/pause' })).statusCode, 200);
  assert.equal((await app.inject('/v1/engine')).json().config.tickRateHz, 30, 'paused: still the running one');
  assert.equal((await app.inject({ method: 'POST', url: '/v1/engine/stop' })).statusCode, 200);
  assert.equal((await app.inject('/v1/engine')).json().config.tickRateHz, 120);
});

test('two concurrent starts: one wins, the other is 409, and the configuration is the winner\'s', async (t) => {
  const app = await build(t, { autoStart: false });
  const names = [uniqueServerName('race'), uniqueServerName('race')];
  const replies = await Promise.all(
    names.map((serverName) => app.inject({ method: 'POST', url: '/v1/engine/start', payload: { serverName } })),
  );
  const statuses = replies.map((r) => r.statusCode).sort();
  assert.deepEqual(statuses, [200, 409], replies.map((r) => r.body).join(' | '));
  const loser = replies.find((r) => r.statusCode === 409)!;
  assert.equal(loser.json().code, 'INVALID_STATE');
  const winner = names[replies.findIndex((r) => r.statusCode === 200)];
  const status = (await app.inject('/v1/engine')).json();
  assert.equal(status.state, 'running');
  assert.equal(status.config.serverName, winner);
  assert.equal(app.engine.snapshot().monitor.serverName, winner, 'the engine itself runs the winner configuration');
});
