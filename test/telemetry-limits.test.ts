// The telemetry WebSocket's resource bounds over real sockets: a global and a per-address
// connection cap (1013 beyond), ping/pong with idle close (4002), and a limit on control
// messages per second (RATE_LIMITED error frames).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test, type TestContext } from 'node:test';

import type { FastifyInstance } from 'fastify';
import { WebSocket, type ClientOptions } from 'ws';

import type { AppOptions } from '../src/app.js';
import { CLOSE_CODES } from '../src/schemas/telemetry.js';
import { TelemetryConnection } from '../src/telemetry/connection.js';
import { resolveLimits } from '../src/telemetry/options.js';
import { build } from './helpers/app.js';
import { messageText } from './helpers/ws.js';

async function listening(t: TestContext, opts: AppOptions): Promise<{ app: FastifyInstance; url: string }> {
  const app = await build(t, opts);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { app, url: `ws://127.0.0.1:${address.port}/v1/telemetry` };
}

interface Opened {
  ws: WebSocket;
  frames: { topic: string; ts?: number; data: { code?: string } }[];
  closed: Promise<{ code: number; reason: string }>;
}

/** Connects and waits for the first frame (the engine state), or for the close. */
async function connect(t: TestContext, url: string, options: ClientOptions = {}): Promise<Opened> {
  const ws = new WebSocket(url, options);
  t.after(() => ws.terminate());
  const frames: Opened['frames'] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const first = new Promise<void>((resolve) => {
    ws.on('message', (raw) => {
      frames.push(JSON.parse(messageText(raw)) as Opened['frames'][number]);
      resolve();
    });
    void closed.then(() => resolve());
  });
  await first;
  return { ws, frames, closed };
}

describe('telemetry limits', () => {
  test('connection caps: per address and in all; over a cap the socket is closed with 1013, and a freed slot is reused', async (t) => {
    const { app, url } = await listening(t, { telemetry: { maxConnections: 3, maxConnectionsPerAddress: 2 } });
    const a1 = await connect(t, url, { localAddress: '127.0.0.1' });
    const a2 = await connect(t, url, { localAddress: '127.0.0.1' });
    const a3 = await connect(t, url, { localAddress: '127.0.0.1' });
    const refusedA = await a3.closed;
    assert.equal(refusedA.code, CLOSE_CODES.overCapacity);
    assert.match(refusedA.reason, /from 127\.0\.0\.1/);
    const b1 = await connect(t, url, { localAddress: '127.0.0.2' });
    const c1 = await connect(t, url, { localAddress: '127.0.0.3' });
    const refusedAll = await c1.closed;
    assert.equal(refusedAll.code, CLOSE_CODES.overCapacity);
    assert.match(refusedAll.reason, /3 telemetry connections are open/);
    for (const c of [a1, a2, b1]) assert.equal(c.ws.readyState, WebSocket.OPEN);
    assert.equal(app.telemetry.stats().connections, 3);
    assert.equal(app.telemetry.stats().refused, 2);

    const gone = once(app.telemetry, 'closed');
    a1.ws.close();
    await gone;
    assert.equal(app.telemetry.stats().connections, 2);
    const again = await connect(t, url, { localAddress: '127.0.0.1' });
    assert.equal(again.ws.readyState, WebSocket.OPEN);
    assert.equal(again.frames[0]?.topic, 'state');
  });

  test('GET /metrics reports the open connections, frames and the closes by reason', async (t) => {
    const { app, url } = await listening(t, { telemetry: { maxConnectionsPerAddress: 1, pingIntervalMs: 100 } });
    const open = await connect(t, url, { localAddress: '127.0.0.1' });
    const refused = await connect(t, url, { localAddress: '127.0.0.1' });
    assert.equal((await refused.closed).code, CLOSE_CODES.overCapacity);
    const mute = await connect(t, url, { localAddress: '127.0.0.2', autoPong: false });
    assert.equal((await mute.closed).code, CLOSE_CODES.idle);
    const framed = new Promise<void>((resolve) => open.ws.on('message', (raw) => JSON.parse(messageText(raw)).topic === 'events' && resolve()));
    open.ws.send(JSON.stringify({ op: 'subscribe', topics: ['events'], intervalMs: 50 }));
    await framed;
    const res = await app.inject('/metrics');
    assert.equal(res.statusCode, 200);
    const line = (series: string) => {
      const m = new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(res.body);
      assert.ok(m, `${series} in /metrics`);
      return Number(m[1]);
    };
    const stats = app.telemetry.stats();
    assert.equal(line('gamesrv_telemetry_connections'), 1);
    assert.equal(line('gamesrv_telemetry_stalled_connections'), 0);
    assert.equal(line('gamesrv_telemetry_closed_total{reason="over_capacity"}'), 1);
    assert.equal(line('gamesrv_telemetry_closed_total{reason="idle"}'), 1);
    assert.equal(line('gamesrv_telemetry_closed_total{reason="too_slow"}'), 0);
    assert.ok(stats.framesSent >= 1, 'the events frame');
    assert.equal(line('gamesrv_telemetry_frames_sent_total'), stats.framesSent);
    assert.equal(line('gamesrv_telemetry_frames_coalesced_total'), stats.framesDropped);
    assert.equal(open.ws.readyState, WebSocket.OPEN);
  });

  test('a client that stops reading is coalesced, then closed as too slow (4000): the kernel queue counts', async (t) => {
    // Real sockets, no bufferedAmountForTesting: what the client has not taken includes
    // what the kernel holds unacknowledged, so the stall starts once its buffers fill,
    // not megabytes later when ws itself would start to hold bytes.
    const { app, url } = await listening(t, { telemetry: { highWatermarkBytes: 32 * 1024, lowWatermarkBytes: 8 * 1024, maxStallMs: 300 } });
    const c = await connect(t, url);
    c.ws.send(JSON.stringify({ op: 'subscribe', topics: ['workers', 'iocp', 'monitor', 'events', 'pool', 'controller'], intervalMs: 50 }));
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const [closedConn] = (await once(app.telemetry, 'closed')) as [TelemetryConnection];
    const stats = app.telemetry.stats();
    assert.equal(stats.slowClosed, 1);
    assert.ok(stats.framesDropped > 0, 'frames were coalesced before the close');
    assert.equal(closedConn.closed, true);
  });

  test('a client that does not answer pings is closed with 4002; one that does stays', async (t) => {
    const { app, url } = await listening(t, { telemetry: { pingIntervalMs: 100 } });
    const mute = await connect(t, url, { autoPong: false });
    const live = await connect(t, url);
    let pings = 0;
    const threePings = new Promise<void>((resolve) =>
      live.ws.on('ping', () => {
        pings += 1;
        if (pings === 3) resolve();
      }),
    );
    const closed = await mute.closed;
    assert.equal(closed.code, CLOSE_CODES.idle);
    await threePings;
    assert.equal(live.ws.readyState, WebSocket.OPEN);
    assert.equal(app.telemetry.stats().idleClosed, 1);
  });

  test('control messages over the per-second limit get RATE_LIMITED and are ignored', async (t) => {
    const { url } = await listening(t, { telemetry: { maxControlMessagesPerSec: 3 } });
    const c = await connect(t, url);
    const answers: { topic: string; data: { code?: string } }[] = [];
    const ten = new Promise<void>((resolve) =>
      c.ws.on('message', (raw) => {
        answers.push(JSON.parse(messageText(raw)) as (typeof answers)[number]);
        if (answers.filter((a) => a.topic === 'error' || a.topic === 'authenticated').length === 10) resolve();
      }),
    );
    for (let i = 0; i < 10; i++) c.ws.send(JSON.stringify({ op: 'auth', token: 'x' }));
    await ten;
    const limited = answers.filter((a) => a.topic === 'error' && a.data.code === 'RATE_LIMITED');
    assert.equal(limited.length, 7, JSON.stringify(answers));
  });

  test('the per-second window: the first N pass, the rest are refused until a second has passed', () => {
    const limits = resolveLimits({ maxControlMessagesPerSec: 2 });
    const host = { limits, counters: { framesSent: 0, framesDropped: 0, slowClosed: 0 }, bufferedAmount: () => 0, remove() {}, stallChanged() {} };
    const socket = { on() {} } as unknown as WebSocket;
    const conn = new TelemetryConnection(host, socket, true, 1000, '127.0.0.1');
    assert.deepEqual([1000, 1001, 1999].map((ms) => conn.admitControlMessage(ms)), [true, true, false]);
    assert.deepEqual([2000, 2001, 2002].map((ms) => conn.admitControlMessage(ms)), [true, true, false]);
  });

  test('caps are checked for consistency', () => {
    assert.throws(() => resolveLimits({ maxConnections: 10, maxConnectionsPerAddress: 11 }), /maxConnectionsPerAddress/);
  });
});

describe('telemetry sharing', () => {
  test('connections on one interval share each topic\'s serialized data: one per topic and tick, however many', { timeout: 30_000 }, async (t) => {
    const { app, url } = await listening(t, {});
    const topics = ['events', 'workers', 'pool'];
    const clients: Opened[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await connect(t, url);
      c.ws.send(JSON.stringify({ op: 'subscribe', topics, intervalMs: 100 }));
      clients.push(c);
    }
    // Let every connection join the grid, then count what three ticks serialize.
    const ticks = async (n: number) => {
      for (let i = 0; i < n; i++) await once(app.telemetry, 'tick');
    };
    await ticks(3);
    const before = app.telemetry.stats().serialized;
    await ticks(3);
    assert.equal(app.telemetry.stats().serialized - before, 3 * topics.length);
    // And what they got from one tick is the same data: take client 0's latest events
    // frame and wait for every client's frame of that tick (same ts).
    const target = clients[0]!.frames.filter((f) => f.topic === 'events').at(-1);
    assert.ok(target?.ts !== undefined, 'client 0 got an events frame with its tick time');
    const sameTick = (c: Opened) =>
      new Promise<unknown>((resolve) => {
        const find = () => c.frames.find((f) => f.topic === 'events' && f.ts === target.ts);
        const found = find();
        if (found) return resolve(found.data);
        const on = () => {
          const f = find();
          if (f) {
            c.ws.off('message', on);
            resolve(f.data);
          }
        };
        c.ws.on('message', on);
      });
    for (const c of clients) assert.deepEqual(await sameTick(c), target.data);
  });

  test('topics without rates (monitor, storage) are serialized once per tick even for connections whose rates have different baselines', { timeout: 30_000 }, async (t) => {
    const { app, url } = await listening(t, {});
    const fast = await connect(t, url);
    const slow = await connect(t, url);
    // The hub ticks every 50 ms; the slow connection is due on every 2nd tick, its events
    // rates against a snapshot two ticks old where the fast one's are against one tick old.
    fast.ws.send(JSON.stringify({ op: 'subscribe', topics: ['events', 'monitor', 'storage'], intervalMs: 50 }));
    slow.ws.send(JSON.stringify({ op: 'subscribe', topics: ['events', 'monitor', 'storage'], intervalMs: 100 }));
    const ticks = async (n: number) => {
      for (let i = 0; i < n; i++) await once(app.telemetry, 'tick');
    };
    // Both subscribed (their first frames came from the kick tick), then on the grid.
    const hasStorage = (c: Opened) => c.frames.some((f) => f.topic === 'storage');
    while (!hasStorage(fast) || !hasStorage(slow)) await ticks(1);
    await ticks(2);
    const before = app.telemetry.stats().serialized;
    await ticks(4);
    // Fast: 3 topics on each of 4 ticks; slow: its own events on 2 of them, monitor and storage shared.
    assert.equal(app.telemetry.stats().serialized - before, 4 * 3 + 2 * 1);
    const storageTs = (c: Opened) => new Set(c.frames.filter((f) => f.topic === 'storage').map((f) => f.ts));
    const shared = [...storageTs(slow)].filter((ts) => storageTs(fast).has(ts));
    assert.ok(shared.length >= 2, `the slow connection's storage frames come from the fast one's ticks (${shared.length} shared)`);
  });
});
