// Bearer token on mutating routes, rate limit on mutating routes, config refusal.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { isLoopback, loadConfig } from '../src/config.js';
import { build } from './helpers/app.js';

describe('bearer token', () => {
  test('with a token: mutating routes need it (401 problem), reads do not', async (t) => {
    const app = await build(t, { token: 's3cret-token' });
    const noAuth = await app.inject({ method: 'POST', url: '/v1/engine/pause' });
    assert.equal(noAuth.statusCode, 401);
    assert.match(String(noAuth.headers['content-type']), /^application\/problem\+json/);
    assert.equal(noAuth.json().code, 'UNAUTHORIZED');
    assert.match(String(noAuth.headers['www-authenticate']), /^Bearer/);
    for (const authorization of ['Bearer wrong', 'Bearer s3cret-token-and-more', 'Basic s3cret-token', 's3cret-token', 'Bearer ']) {
      const res = await app.inject({ method: 'POST', url: '/v1/events', headers: { authorization }, payload: { type: 'PLAYER_LOGIN', playerId: 1 } });
      assert.equal(res.statusCode, 401, authorization);
    }
    for (const [method, url] of [['DELETE', '/v1/tasks/1'], ['POST', '/v1/tasks'], ['POST', '/v1/ipc/messages'], ['POST', '/v1/benchmarks/locks'], ['POST', '/v1/engine/stop']] as const) {
      assert.equal((await app.inject({ method, url, payload: {} })).statusCode, 401, `${method} ${url}`);
    }
    assert.equal(app.engine.state, 'running', 'nothing was done');
    assert.equal(app.engine.snapshot().events.accepted, 0);
    assert.equal((await app.inject('/v1/engine')).statusCode, 200);
    assert.equal((await app.inject('/v1/stats')).statusCode, 200);
    const ok = await app.inject({ method: 'POST', url: '/v1/engine/pause', headers: { authorization: 'Bearer s3cret-token' } });
    assert.equal(ok.statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: '/v1/engine/resume', headers: { authorization: 'bearer   s3cret-token' } })).statusCode, 200);
  });

  test('without a token every route is open', async (t) => {
    const app = await build(t);
    assert.equal(app.authEnabled, false);
    assert.equal((await app.inject({ method: 'POST', url: '/v1/engine/pause' })).statusCode, 200);
  });
});

describe('rate limit', () => {
  test('mutating requests past the limit get 429 with Retry-After; reads are not limited', async (t) => {
    const app = await build(t, { rateLimit: { max: 3, windowMs: 60_000 } });
    const event = { type: 'PLAYER_LOGIN', playerId: 1 } as const;
    for (let i = 0; i < 3; i++) {
      const r = await app.inject({ method: 'POST', url: '/v1/events', payload: { ...event, playerId: i + 1 } });
      assert.equal(r.statusCode, 202);
    }
    const limited = await app.inject({ method: 'POST', url: '/v1/events', payload: { ...event, playerId: 9 } });
    assert.equal(limited.statusCode, 429, limited.body);
    assert.match(String(limited.headers['content-type']), /^application\/problem\+json/);
    assert.equal(limited.json().code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal(app.engine.snapshot().events.accepted, 3, 'the limited request accepted nothing');
    for (let i = 0; i < 10; i++) assert.equal((await app.inject('/v1/engine')).statusCode, 200);
  });

  test('max 0 turns it off', async (t) => {
    const app = await build(t, { rateLimit: { max: 0, windowMs: 1000 } });
    for (let i = 0; i < 20; i++) {
      assert.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: { type: 'PLAYER_LOGIN', playerId: i + 1 } })).statusCode, 202);
    }
  });
});

describe('config', () => {
  test('a non-loopback host needs a token', () => {
    assert.throws(() => loadConfig(['--host', '0.0.0.0'], {}), /refusing to listen on 0\.0\.0\.0 without a token/);
    assert.throws(() => loadConfig([], { GAMESRV_HOST: '10.1.2.3' }), /GAMESRV_TOKEN/);
    const c = loadConfig(['--host', '0.0.0.0'], { GAMESRV_TOKEN: 'x' });
    assert.ok(c !== 'help' && c.token === 'x' && c.host === '0.0.0.0');
  });

  test('defaults, flags over environment, bad values rejected', () => {
    const d = loadConfig([], {});
    assert.ok(d !== 'help');
    assert.deepEqual([d.host, d.port, d.token, d.rateLimitPerMin, d.autoStart], ['127.0.0.1', 8080, undefined, 6000, true]);
    const f = loadConfig(['--port', '9000', '--rate-limit', '0'], { GAMESRV_PORT: '9100', GAMESRV_RATE_LIMIT: '5' });
    assert.ok(f !== 'help');
    assert.deepEqual([f.port, f.rateLimitPerMin], [9000, 0]);
    assert.throws(() => loadConfig(['--port', '70000'], {}), /port must be an integer between 0 and 65535/);
    assert.throws(() => loadConfig(['--log-level', 'loud'], {}), /log-level/);
    assert.throws(() => loadConfig(['--bogus'], {}), /bogus/);
    assert.equal(loadConfig(['--help'], {}), 'help');
  });

  test('loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '1270.0.0.1']) assert.ok(!isLoopback(h), h);
  });
});
