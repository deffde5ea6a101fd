// What a web page may not do (src/plugins/origin.ts): a foreign Host (DNS rebinding), a
// cross-site Origin or Sec-Fetch-Site on a state-changing request or a WebSocket upgrade,
// and the content types a page can send cross-site without a preflight. curl-shaped
// requests (no Origin, no body or a JSON one) keep working.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';

import { WebSocket } from 'ws';

import { build } from './helpers/app.js';

const PROBLEM = 'application/problem+json';

describe('Host', () => {
  test('a foreign Host is refused on every route; loopback names and addresses are served', async (t) => {
    const app = await build(t);
    for (const [method, url] of [
      ['GET', '/v1/health'],
      ['GET', '/v1/engine'],
      ['GET', '/openapi.json'],
      ['POST', '/v1/engine/pause'],
    ] as const) {
      for (const host of ['attacker.example:8080', 'attacker.example', '10.0.0.1:8080', '127.0.0.1.evil.example']) {
        const res = await app.inject({ method, url, headers: { host } });
        assert.equal(res.statusCode, 403, `${method} ${url} Host ${host}`);
        assert.ok(String(res.headers['content-type']).startsWith(PROBLEM));
        assert.equal(res.json().code, 'FORBIDDEN_HOST');
      }
    }
    for (const host of ['localhost:8080', 'LOCALHOST', '127.0.0.1:1', '127.9.9.9', '[::1]:8080']) {
      assert.equal((await app.inject({ url: '/v1/health', headers: { host } })).statusCode, 200, host);
    }
  });

  test('verdicts stay right past the remembered Host values (the guard keeps a bounded memory of them)', async (t) => {
    const app = await build(t);
    // Twice as many distinct values as the guard remembers, allowed and foreign interleaved,
    // each asked twice: the second answer (remembered or judged again) equals the first.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 128; i++) {
        const host = i % 2 === 0 ? `127.0.0.${i}:${8000 + i}` : `attacker${i}.example`;
        const res = await app.inject({ url: '/v1/health', headers: { host } });
        assert.equal(res.statusCode, i % 2 === 0 ? 200 : 403, `round ${round} Host ${host}`);
      }
    }
  });

  test('--allowed-hosts and the listen address are served', async (t) => {
    const app = await build(t, { allowedHosts: ['game.example', 'Ops.Example:9000'], listenHost: '192.0.2.7' });
    for (const host of ['game.example', 'game.example:8080', 'ops.example:1', '192.0.2.7:8080']) {
      assert.equal((await app.inject({ url: '/v1/health', headers: { host } })).statusCode, 200, host);
    }
    assert.equal((await app.inject({ url: '/v1/health', headers: { host: 'other.example' } })).statusCode, 403);
  });
});

describe('Origin and Sec-Fetch-Site', () => {
  test('a state-changing request from another origin is refused; the same origin is served', async (t) => {
    const app = await build(t);
    const host = 'localhost:8080';
    for (const origin of ['https://evil.example', 'http://localhost:3000', 'http://127.0.0.1:8080', 'null', 'https://localhost:8080']) {
      for (const type of [undefined, 'text/plain', 'application/json']) {
        const res = await app.inject({
          method: 'POST',
          url: '/v1/engine/resume',
          headers: { host, origin, ...(type !== undefined ? { 'content-type': type } : {}) },
          ...(type !== undefined ? { payload: type === 'application/json' ? '{}' : 'x' } : {}),
        });
        assert.equal(res.statusCode, 403, `Origin ${origin}, ${type ?? 'no body'}`);
        assert.equal(res.json().code, 'FORBIDDEN_ORIGIN');
      }
    }
    assert.equal(app.engine.state, 'running', 'nothing was changed');
    const same = await app.inject({ method: 'POST', url: '/v1/engine/pause', headers: { host, origin: 'http://localhost:8080' } });
    assert.equal(same.statusCode, 200);
    // Reads stay open to any page (the browser keeps the answer from it without CORS).
    assert.equal((await app.inject({ url: '/v1/engine', headers: { host, origin: 'https://evil.example' } })).statusCode, 200);
  });

  test('Sec-Fetch-Site other than same-origin or none is refused', async (t) => {
    const app = await build(t);
    for (const site of ['cross-site', 'same-site']) {
      const res = await app.inject({ method: 'POST', url: '/v1/engine/pause', headers: { 'sec-fetch-site': site } });
      assert.equal(res.statusCode, 403, site);
      assert.equal(res.json().code, 'FORBIDDEN_ORIGIN');
    }
    assert.equal((await app.inject({ method: 'POST', url: '/v1/engine/pause', headers: { 'sec-fetch-site': 'same-origin' } })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: '/v1/engine/resume', headers: { 'sec-fetch-site': 'none' } })).statusCode, 200);
  });

  test('the telemetry WebSocket refuses a foreign Origin before the upgrade', async (t) => {
    const app = await build(t);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    assert.ok(address !== null && typeof address === 'object');
    const url = `ws://127.0.0.1:${address.port}/v1/telemetry`;

    /** The HTTP status of an upgrade the server answered without switching protocols. */
    const refusal = async (ws: WebSocket) => {
      ws.on('error', () => {}); // the aborted handshake also reports an error
      const [request, response] = (await once(ws, 'unexpected-response')) as [
        { destroy(): void },
        { statusCode: number; headers: Record<string, string>; resume(): void },
      ];
      response.resume();
      request.destroy();
      return response.statusCode;
    };
    assert.equal(await refusal(new WebSocket(url, { origin: 'https://evil.example' })), 403);
    assert.equal(await refusal(new WebSocket(url, { origin: 'http://localhost:3000' })), 403);
    assert.equal(await refusal(new WebSocket(url, { headers: { host: 'attacker.example:8080' } })), 403);

    const own = new WebSocket(url, { origin: `http://127.0.0.1:${address.port}` });
    await once(own, 'open');
    own.close();
    await once(own, 'close');
  });
});

describe('content types', () => {
  test('text/plain, form and other non-JSON bodies are 415 on mutating routes; no body or JSON is served', async (t) => {
    const app = await build(t);
    for (const url of ['/v1/engine/pause', '/v1/engine/resume', '/v1/events', '/v1/tasks', '/v1/engine/stop']) {
      for (const [type, payload] of [
        ['text/plain', 'x'],
        ['text/plain;charset=UTF-8', ''],
        ['application/x-www-form-urlencoded', 'a=1'],
        ['multipart/form-data; boundary=x', '--x--'],
        ['application/xml', '<a/>'],
      ] as const) {
        const res = await app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload });
        assert.equal(res.statusCode, 415, `${url} ${type}`);
        assert.ok(String(res.headers['content-type']).startsWith(PROBLEM));
        assert.equal(res.json().code, 'FST_ERR_CTP_INVALID_MEDIA_TYPE');
      }
    }
    assert.equal(app.engine.state, 'running');
    assert.equal((await app.inject({ method: 'POST', url: '/v1/engine/pause' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: '/v1/engine/resume', headers: { 'content-type': 'application/json' }, payload: '{}' })).statusCode, 200);
  });
});

describe('the token and the rate limit', () => {
  test('failed authentication counts against the rate limit', async (t) => {
    const app = await build(t, { token: 'right', rateLimit: { max: 3, windowMs: 60_000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ method: 'POST', url: '/v1/engine/pause', headers: { authorization: 'Bearer wrong' } });
      statuses.push(res.statusCode);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    // The right token from the same address is limited too until the window ends.
    assert.equal((await app.inject({ method: 'POST', url: '/v1/engine/pause', headers: { authorization: 'Bearer right' } })).statusCode, 429);
  });
});
