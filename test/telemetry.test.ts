// WS GET /v1/telemetry through app.injectWS: subscribe, unsubscribe, bad messages, seq,
// state pushes, the shared hub's ticking, coalescing for a client that does not read,
// closing a client that stays stuck, auth, shutdown. Nothing sleeps: every wait is for a
// frame, a close, or a hub tick, and every wait has a deadline.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';

import type { FastifyInstance } from 'fastify';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import type { WebSocket } from 'ws';

import type { AppOptions } from '../src/app.js';
import type { TelemetryHub, TickInfo } from '../src/telemetry/hub.js';
import { EngineStateName, Histogram } from '../src/schemas/common.js';
import { Job, LockBenchmarkRequest, LockBenchmarkRow } from '../src/schemas/jobs.js';
import { MonitorStatus } from '../src/schemas/monitor.js';
import { ControllerStats, JournalStats, SessionStats, IocpStats, MonitorStats, PoolStats, StorageStats, StorageStatus } from '../src/schemas/stats.js';
import { CLOSE_CODES, PERIODIC_TOPICS, TOPIC_DATA, TelemetryFrame, WindowHistogram, WORLD_MAX_POINTS } from '../src/schemas/telemetry.js';
import { build } from './helpers/app.js';
import type { Json } from './helpers/json.js';
import { messageText } from './helpers/ws.js';

/** Generous: the machine is shared; a failure still fails in seconds, not at the suite timeout. */
const WAIT_MS = 10_000;
const TEST = { timeout: 60_000 };

interface Frame {
  topic: string;
  seq: number;
  ts: number;
  dropped?: number;
  data: Json;
  /** What the test's stamp() returned when the frame arrived. */
  stamp: Stamp;
}

interface Stamp {
  ticks: number;
  snapshots: number;
}

/** Rejects after `ms` naming what was awaited; `cleanup` runs either way. */
function within<T>(what: string, ms: number, start: (resolve: (v: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let cleanup = () => {};
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    cleanup = start((v) => {
      clearTimeout(timer);
      cleanup();
      resolve(v);
    });
  });
}

/** Counts the hub's regular ticks, for stamps and for waiting on the hub's own progress. */
class HubWatch {
  ticks = 0;
  readonly hub: TelemetryHub;
  constructor(hub: TelemetryHub) {
    this.hub = hub;
    hub.on('tick', (info: TickInfo) => {
      if (info.kind === 'interval') this.ticks += 1;
    });
  }
  stamp = (): Stamp => ({ ticks: this.ticks, snapshots: this.hub.stats().snapshots });
  /** Resolves at the first hub tick after which `cond` holds (or at once). */
  until(what: string, cond: () => boolean): Promise<void> {
    if (cond()) return Promise.resolve();
    return within<void>(what, WAIT_MS, (resolve) => {
      const on = () => {
        if (cond()) resolve();
      };
      this.hub.on('tick', on);
      return () => this.hub.off('tick', on);
    });
  }
}

class Client {
  readonly frames: Frame[] = [];
  ws!: WebSocket;
  closed!: Promise<{ code: number; reason: string }>;
  #cursor = 0;
  readonly #listeners = new Set<() => void>();

  static async connect(app: FastifyInstance, headers: Record<string, string> = {}, stamp?: () => Stamp): Promise<Client> {
    const c = new Client();
    // injectWS requests have no socket; @fastify/rate-limit keys on request.ip.
    const context = { headers, socket: { remoteAddress: '127.0.0.1' } as Socket };
    await app.injectWS('/v1/telemetry', context, {
      // Before the upgrade completes, so the state frame sent on connect is not missed.
      onInit: (ws) => {
        c.ws = ws;
        c.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
        ws.on('message', (raw) => {
          const frame = JSON.parse(messageText(raw)) as Frame;
          frame.stamp = stamp?.() ?? { ticks: 0, snapshots: 0 };
          c.frames.push(frame);
          for (const l of [...c.#listeners]) l();
        });
      },
    });
    return c;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  /** The next unread frame matching `pred`; frames before it are read past. */
  next(what: string, pred: (f: Frame) => boolean = () => true): Promise<Frame> {
    return within<Frame>(what, WAIT_MS, (resolve) => {
      const scan = () => {
        while (this.#cursor < this.frames.length) {
          const f = this.frames[this.#cursor++]!;
          if (pred(f)) return resolve(f);
        }
      };
      this.#listeners.add(scan);
      queueMicrotask(scan);
      return () => this.#listeners.delete(scan);
    });
  }

  topic(topic: string): Promise<Frame> {
    return this.next(`a ${topic} frame`, (f) => f.topic === topic);
  }

  async error(code: string): Promise<Frame> {
    const f = await this.next(`an error frame ${code}`, (x) => x.topic === 'error');
    assert.equal(f.data['code'], code, JSON.stringify(f.data));
    assert.equal(typeof f.data['detail'], 'string');
    return f;
  }

  waitClosed(): Promise<{ code: number; reason: string }> {
    return within('the socket to close', WAIT_MS, (resolve) => {
      void this.closed.then(resolve);
      return () => {};
    });
  }

  /** seq starts at 1 and grows by exactly 1 over every frame of the connection. */
  assertSeq(): void {
    assert.ok(this.frames.length > 0);
    assert.deepEqual(
      this.frames.map((f) => f.seq),
      this.frames.map((_f, i) => i + 1),
    );
  }
}

const CONTEXT = {
  EngineStateName,
  Histogram,
  MonitorStatus,
  MonitorStats,
  IocpStats,
  PoolStats,
  ControllerStats,
  SessionStats,
  StorageStats,
  JournalStats,
  StorageStatus,
  TelemetryWindowHistogram: WindowHistogram,
  Job,
  LockBenchmarkRequest,
  LockBenchmarkRow,
};

/** The frame envelope and its topic's data, checked against src/schemas/telemetry.ts, keys exactly. */
function assertFrame(f: Frame): void {
  const { stamp: _stamp, ...envelope } = f;
  assert.ok(Value.Check(CONTEXT, TelemetryFrame, envelope), `envelope ${JSON.stringify(envelope).slice(0, 300)}`);
  const schema = (TOPIC_DATA as Record<string, TSchema>)[f.topic];
  assert.ok(schema, `a schema for topic ${f.topic}`);
  assert.ok(Value.Check(CONTEXT, schema, f.data), `${f.topic} data ${JSON.stringify(f.data).slice(0, 400)}`);
  const id = (schema as { $ref?: string }).$ref;
  const target = (id ? (CONTEXT as Record<string, TSchema>)[id] : schema) as { properties?: Record<string, unknown> };
  if (target.properties) assert.deepEqual(Object.keys(f.data).sort(), Object.keys(target.properties).sort(), `${f.topic} keys`);
}

async function setup(t: TestContext, opts: AppOptions = {}) {
  // injectWS's in-memory transport never reports 'close' after a clean close handshake
  // (a TCP socket does), so shutdown would wait out the whole grace period per test.
  const app = await build(t, { ...opts, telemetry: { closeGraceMs: 100, ...opts.telemetry } });
  // injectWS, unlike inject, does not wait for the app to be ready.
  await app.ready();
  const watch = new HubWatch(app.telemetry);
  const connect = (headers: Record<string, string> = {}) => Client.connect(app, headers, watch.stamp);
  return { app, watch, connect };
}

const post = (app: FastifyInstance, url: string, payload?: object) => app.inject({ method: 'POST', url, payload });

describe('telemetry WebSocket', () => {
  test('connect: the engine state is frame 1; plain HTTP gets 426; the OpenAPI document still builds', TEST, async (t) => {
    const { app, connect } = await setup(t);
    const c = await connect();
    const state = await c.topic('state');
    assert.equal(state.seq, 1);
    assert.deepEqual({ state: state.data['state'], from: state.data['from'] }, { state: 'running', from: null });
    assertFrame(state);

    const plain = await app.inject('/v1/telemetry');
    assert.equal(plain.statusCode, 426);
    assert.equal(plain.json()['code'], 'UPGRADE_REQUIRED');
    const doc = await app.inject('/openapi.json');
    assert.equal(doc.statusCode, 200);
    assert.equal(doc.json()['paths']['/v1/telemetry'], undefined);
    assert.deepEqual(app.telemetry.stats().tickMs, null, 'no subscriber, no timer');
  });

  test('subscribe: frames for exactly the subscribed topics, with the documented fields', TEST, async (t) => {
    const { connect } = await setup(t);
    const all = await connect();
    all.send({ op: 'subscribe', topics: [...PERIODIC_TOPICS], intervalMs: 50 });
    const ack = await all.topic('subscribed');
    assert.deepEqual(ack.data, { topics: [...PERIODIC_TOPICS], intervalMs: 50 });
    assertFrame(ack);
    // Two of each: the second has rates (the first, right after subscribing, may have none).
    for (let round = 0; round < 2; round++) {
      for (const topic of PERIODIC_TOPICS) assertFrame(await all.topic(topic));
    }
    const workers = await all.topic('workers');
    assert.equal(typeof workers.data['windowMs'], 'number');
    const names = (workers.data['threads'] as Json[]).map((w) => w['name'] as string);
    for (const prefix of ['gs-loop-', 'gs-events-', 'gs-pool-', 'gs-iocp-']) assert.ok(names.some((n) => n.startsWith(prefix)), `${prefix} in ${names.join(',')}`);
    for (const w of workers.data['threads'] as Json[]) {
      assert.ok(w['busyPercent'] >= 0 && w['busyPercent'] <= 100, JSON.stringify(w));
      assert.ok(w['cpuPercent'] >= 0 && w['cpuPercent'] <= 100, JSON.stringify(w));
    }
    const events = await all.topic('events');
    assert.equal(events.data['processedPerSec'], 0, 'no events were sent');
    assert.deepEqual(Object.keys(events.data['byType']).sort(), ['PLAYER_ATTACK', 'PLAYER_CHAT', 'PLAYER_LOGIN', 'PLAYER_LOGOUT', 'PLAYER_MOVE']);
    const monitor = await all.topic('monitor');
    assert.equal(monitor.data['error'], null);
    assert.equal(monitor.data['status']['running'], true);

    const some = await connect();
    some.send({ op: 'subscribe', topics: ['events', 'controller', 'events'] });
    assert.deepEqual((await some.topic('subscribed')).data, { topics: ['events', 'controller'], intervalMs: 1000 });
    await some.topic('events');
    await some.topic('controller');
    assert.deepEqual(new Set(some.frames.map((f) => f.topic)), new Set(['state', 'subscribed', 'events', 'controller']));
    assert.deepEqual(new Set(all.frames.map((f) => f.topic)), new Set(['state', 'subscribed', ...PERIODIC_TOPICS]));
    all.assertSeq();
    some.assertSeq();
  });

  test('windows tile each connection\'s frames: every value in exactly one window, whatever the hub rate', TEST, async (t) => {
    const { app, connect } = await setup(t);
    // The fast connection makes the hub tick every 50 ms; the slow one gets every 5th tick,
    // and its windows must still cover all the time between its own frames.
    const fast = await connect();
    fast.send({ op: 'subscribe', topics: ['events'], intervalMs: 50 });
    await fast.topic('subscribed');
    const slow = await connect();
    slow.send({ op: 'subscribe', topics: ['events', 'controller', 'pool', 'iocp'], intervalMs: 250 });
    await slow.topic('subscribed');
    const first = await slow.next('an events frame with a window', (f) => f.topic === 'events' && f.data['windowMs'] !== null);
    const ctl0 = await slow.next('a controller frame with a window', (f) => f.topic === 'controller' && f.data['windowMs'] !== null);
    const start = first.data['processed'] as number;
    const N = 60;
    const events = Array.from({ length: N }, (_, i) => ({ type: 'PLAYER_CHAT' as const, playerId: 1, data: `m${i}` }));
    assert.equal(app.engine.enqueueEvents(events).accepted, N);
    await app.engine.flush();

    const last = await slow.next('an events frame with all N processed', (f) => f.topic === 'events' && f.data['processed'] === start + N);
    const after = await slow.topic('events');
    // Every events frame after `first` (next() reads past frames of other topics: take them all).
    const frames = slow.frames.filter((f) => f.topic === 'events' && f.seq > first.seq && f.seq <= last.seq);
    for (const f of [...frames, after]) assertFrame(f);
    const sum = (fs: Frame[], get: (d: Json) => Json | null) => fs.reduce((n, f) => n + (get(f.data)?.['count'] as number), 0);
    const chat = (d: Json): Json => d['byType']['PLAYER_CHAT'];
    // The since-start counts grew by N; the windows after `first` add up to exactly that.
    assert.equal(chat(last.data)['latencyUs']['count'] - chat(first.data)['latencyUs']['count'], N);
    assert.equal(sum(frames, (d) => chat(d)['windowLatencyUs']), N, JSON.stringify(frames.map((f) => chat(f.data)['windowLatencyUs'])));
    assert.equal(sum(frames, (d) => d['windowLatencyUs']), last.data['latencyUs']['count'] - first.data['latencyUs']['count']);
    for (const w of frames.map((f) => chat(f.data)['windowLatencyUs']).filter((x) => x['count'] > 0)) {
      assert.ok(w['p50'] > 0 && w['p50'] <= w['p90'] && w['p90'] <= w['p99'] && w['p99'] <= w['max'], JSON.stringify(w));
    }
    // Nothing processed since `last`: the next window is empty, the since-start histogram is not.
    assert.deepEqual(chat(after.data)['windowLatencyUs'], { count: 0, p50: 0, p90: 0, p99: 0, max: 0 });
    assert.equal(chat(after.data)['latencyUs']['count'], chat(last.data)['latencyUs']['count']);

    // The game loop: jitter samples and overruns of the windows add up to the since-start growth.
    await slow.topic('controller');
    const ctl = slow.frames.filter((f) => f.topic === 'controller' && f.seq > ctl0.seq);
    for (const f of ctl) assertFrame(f);
    const end = ctl.at(-1)!.data;
    assert.equal(sum(ctl, (d) => d['windowTickJitterUs']), end['tickJitterUs']['count'] - ctl0.data['tickJitterUs']['count']);
    assert.equal(ctl.reduce((n, f) => n + (f.data['overrunsInWindow'] as number), 0), end['overruns'] - ctl0.data['overruns']);
    assert.ok(end['ticks'] > ctl0.data['ticks'], 'the loop ticked');
    for (const topic of ['pool', 'iocp']) {
      const f = await slow.next(`a ${topic} frame with a window`, (x) => x.topic === topic && x.data['windowMs'] !== null);
      assertFrame(f);
      assert.equal(typeof f.data[topic === 'pool' ? 'completedPerSec' : 'dequeuedPerSec'], 'number');
    }
    slow.assertSeq();
    fast.assertSeq();
  });

  test('unsubscribe: no more frames of that topic; the others go on', TEST, async (t) => {
    const { connect } = await setup(t);
    const c = await connect();
    c.send({ op: 'subscribe', topics: ['events', 'workers'], intervalMs: 50 });
    await c.topic('workers');
    await c.topic('workers');
    c.send({ op: 'unsubscribe', topics: ['workers'] });
    const ack = await c.topic('unsubscribed');
    assert.deepEqual(ack.data, { topics: ['events'], intervalMs: 50 });
    // Both topics went out on every tick; three ticks after the ack carry events alone.
    for (let i = 0; i < 3; i++) await c.topic('events');
    const after = c.frames.filter((f) => f.seq > ack.seq);
    assert.ok(after.length >= 3);
    assert.deepEqual(after.filter((f) => f.topic === 'workers'), []);
    c.assertSeq();
  });

  test('bad messages get error frames; the connection keeps working', TEST, async (t) => {
    const { connect } = await setup(t);
    const c = await connect();
    const cases: [unknown, string][] = [
      ['not json', 'BAD_JSON'],
      ['[1,2]', 'BAD_MESSAGE'],
      ['null', 'BAD_MESSAGE'],
      [{ op: 'nope' }, 'UNKNOWN_OP'],
      [{ topics: ['events'] }, 'UNKNOWN_OP'],
      [{ op: 'subscribe', topics: ['bogus'] }, 'UNKNOWN_TOPIC'],
      [{ op: 'subscribe', topics: ['state'] }, 'UNKNOWN_TOPIC'],
      [{ op: 'unsubscribe', topics: ['events', 7] }, 'UNKNOWN_TOPIC'],
      [{ op: 'subscribe', topics: [] }, 'BAD_MESSAGE'],
      [{ op: 'subscribe', topics: 'events' }, 'BAD_MESSAGE'],
      [{ op: 'subscribe', topics: ['events'], intervalMs: 10 }, 'BAD_INTERVAL'],
      [{ op: 'subscribe', topics: ['events'], intervalMs: 60_001 }, 'BAD_INTERVAL'],
      [{ op: 'subscribe', topics: ['events'], intervalMs: 100.5 }, 'BAD_INTERVAL'],
      [{ op: 'subscribe', topics: ['events'], intervalMs: '100' }, 'BAD_INTERVAL'],
      [{ op: 'auth', token: '' }, 'BAD_MESSAGE'],
      [{ op: 'subscribe', topics: ['events'], pad: 'x'.repeat(5000) }, 'TOO_LARGE'],
      [Buffer.from('{"op":"subscribe","topics":["events"]}'), 'BAD_MESSAGE'],
    ];
    for (const [message, code] of cases) {
      c.send(message);
      assertFrame(await c.error(code));
    }
    assert.deepEqual(c.frames.filter((f) => f.topic === 'subscribed'), [], 'nothing was subscribed by a bad message');
    c.send({ op: 'subscribe', topics: ['controller'], intervalMs: 50 });
    await c.topic('subscribed');
    assertFrame(await c.topic('controller'));
    c.assertSeq();

    // Past the transport limit (maxPayloadBytes) the ws library closes with 1009.
    const big = await connect();
    big.send('x'.repeat(70_000));
    assert.equal((await big.waitClosed()).code, 1009);
  });

  test('engine state changes are pushed at once to every connection, subscribed or not', TEST, async (t) => {
    const { app, connect } = await setup(t);
    const quiet = await connect();
    const busy = await connect();
    busy.send({ op: 'subscribe', topics: ['events'], intervalMs: 50 });
    await quiet.topic('state');
    await busy.topic('state');
    await busy.topic('subscribed');
    assert.equal((await post(app, '/v1/engine/pause')).statusCode, 200);
    for (const c of [quiet, busy]) {
      const f = await c.topic('state');
      assert.equal(f.data['state'], 'paused');
      assert.equal(f.data['from'], 'running');
      assertFrame(f);
    }
    assert.equal((await post(app, '/v1/engine/resume')).statusCode, 200);
    for (const c of [quiet, busy]) assert.equal((await c.topic('state')).data['state'], 'running');
    assert.deepEqual(new Set(quiet.frames.map((f) => f.topic)), new Set(['state']));
    quiet.assertSeq();
    busy.assertSeq();
  });

  test('one hub: it ticks at the smallest interval, a slower subscriber every Nth tick, one snapshot per tick', TEST, async (t) => {
    const { app, watch, connect } = await setup(t);
    const fast = await connect();
    const slow = await connect();
    fast.send({ op: 'subscribe', topics: ['events', 'workers'], intervalMs: 50 });
    slow.send({ op: 'subscribe', topics: ['events', 'workers'], intervalMs: 200 });
    await fast.topic('subscribed');
    await slow.topic('subscribed');
    assert.equal(app.telemetry.stats().tickMs, 50);

    const slowEvents: Frame[] = [];
    for (let i = 0; i < 4; i++) slowEvents.push(await slow.topic('events'));
    // After the first (sent right after subscribing), every 4th tick of the 50 ms hub.
    const gaps = slowEvents.slice(1).map((f, i) => f.stamp.ticks - slowEvents[i]!.stamp.ticks);
    assert.deepEqual(gaps, [4, 4, 4]);
    // Both connections were due on those ticks, and each tick took one snapshot.
    const first = slowEvents[1]!.stamp;
    const last = slowEvents[3]!.stamp;
    assert.equal(last.snapshots - first.snapshots, last.ticks - first.ticks);
    const fastEvents = fast.frames.filter((f) => f.topic === 'events' && f.stamp.ticks > first.ticks && f.stamp.ticks <= last.ticks);
    assert.equal(fastEvents.length, last.ticks - first.ticks, 'the 50 ms subscriber got every tick');
    // On a shared tick both frames come from the one snapshot; each one's window reaches
    // back to its own previous frame: 1 tick for the fast subscriber, 4 for the slow one.
    const sharedSlow = slowEvents[3]!;
    const sharedFast = fast.frames.find((f) => f.topic === 'events' && f.stamp.ticks === sharedSlow.stamp.ticks)!;
    const { windowMs: slowWindow, ...slowRest } = sharedSlow.data;
    const { windowMs: fastWindow, ...fastRest } = sharedFast.data;
    assert.equal(sharedFast.ts, sharedSlow.ts);
    assert.deepEqual([fastRest['accepted'], fastRest['processed'], fastRest['latencyUs']], [slowRest['accepted'], slowRest['processed'], slowRest['latencyUs']]);
    assert.ok(slowWindow > fastWindow, `windows: slow ${slowWindow} ms, fast ${fastWindow} ms`);

    fast.ws.close();
    await fast.waitClosed();
    await watch.until('the hub to slow down to 200 ms', () => app.telemetry.stats().tickMs === 200);
    slow.send({ op: 'unsubscribe', topics: ['events', 'workers'] });
    await slow.topic('unsubscribed');
    assert.equal(app.telemetry.stats().tickMs, null, 'no subscriber left: the timer is stopped');
    assert.equal(app.telemetry.stats().subscribers, 0);
    slow.assertSeq();
  });

  test('a client that does not read gets only the newest frame per topic, with the count dropped', TEST, async (t) => {
    let stuck = false;
    const { app, watch, connect } = await setup(t, {
      telemetry: { bufferedAmountForTesting: (socket) => (stuck ? 1024 * 1024 : socket.bufferedAmount) },
    });
    const c = await connect();
    c.send({ op: 'subscribe', topics: ['events', 'workers'], intervalMs: 50 });
    await c.topic('subscribed');
    await c.topic('events');
    await c.topic('workers');

    stuck = true;
    await watch.until('the client to be held back', () => app.telemetry.stats().stalled === 1);
    const delivered = c.frames.length;
    await watch.until('three frames per topic to be replaced', () => app.telemetry.stats().framesDropped >= 6);
    assert.equal(c.frames.length, delivered, 'nothing is written while the buffer is above the high watermark');

    stuck = false;
    const resumedAt = Date.now();
    const flushed = [await c.next('the first frame after the stall')];
    flushed.push(await c.next('the second frame after the stall'));
    assert.deepEqual(flushed.map((f) => f.topic).sort(), ['events', 'workers'], 'one frame per topic');
    assert.equal(flushed[1]!.seq, flushed[0]!.seq + 1);
    for (const f of flushed) {
      assert.ok((f.dropped ?? 0) >= 2, `dropped ${f.dropped}`);
      assert.ok(f.ts >= resumedAt, 'the newest data, taken after the client caught up');
      assertFrame(f);
    }
    assert.equal(flushed[0]!.dropped! + flushed[1]!.dropped!, app.telemetry.stats().framesDropped);
    const later = await c.topic('events');
    assert.equal(later.dropped, undefined);
    assert.equal(app.telemetry.stats().stalled, 0);
    c.assertSeq();
  });

  test('a client above the hard limit for hardLimitMs is closed with 4000 and a reason', TEST, async (t) => {
    let buffered = 0;
    const { app, connect } = await setup(t, { telemetry: { hardLimitMs: 200, bufferedAmountForTesting: () => buffered } });
    const c = await connect();
    c.send({ op: 'subscribe', topics: ['events'], intervalMs: 50 });
    await c.topic('events');
    buffered = 8 * 1024 * 1024;
    const { code, reason } = await c.waitClosed();
    assert.equal(code, CLOSE_CODES.tooSlow);
    assert.equal(reason, 'client too slow: send buffer above 4 MiB for 200 ms');
    assert.equal(app.telemetry.stats().slowClosed, 1);
    assert.equal(app.telemetry.stats().connections, 0);
    assert.equal(app.telemetry.stats().tickMs, null);
  });

  test('a client whose frames stay held back for maxStallMs is closed with 4000', TEST, async (t) => {
    let buffered = 0;
    const { connect } = await setup(t, { telemetry: { maxStallMs: 300, bufferedAmountForTesting: () => buffered } });
    const c = await connect();
    c.send({ op: 'subscribe', topics: ['events'], intervalMs: 50 });
    await c.topic('events');
    buffered = 512 * 1024; // above the high watermark, below the hard limit
    const { code, reason } = await c.waitClosed();
    assert.equal(code, CLOSE_CODES.tooSlow);
    assert.equal(reason, 'client too slow: send buffer not drained for 300 ms');
  });

  test('with a token, subscribe needs it: Authorization on the upgrade or an auth message', TEST, async (t) => {
    const { connect } = await setup(t, { token: 's3cret' });
    const anon = await connect();
    await anon.topic('state');
    anon.send({ op: 'subscribe', topics: ['events'], intervalMs: 50 });
    await anon.error('UNAUTHORIZED');
    anon.send({ op: 'unsubscribe', topics: ['events'] });
    await anon.error('UNAUTHORIZED');
    anon.send({ op: 'auth', token: 'wrong' });
    await anon.error('UNAUTHORIZED');
    anon.send({ op: 'auth', token: 's3cret' });
    const ok = await anon.topic('authenticated');
    assert.deepEqual(ok.data, { tokenRequired: true });
    anon.send({ op: 'subscribe', topics: ['events'], intervalMs: 50 });
    await anon.topic('subscribed');
    await anon.topic('events');
    anon.assertSeq();

    const header = await connect({ authorization: 'Bearer s3cret' });
    header.send({ op: 'subscribe', topics: ['controller'], intervalMs: 50 });
    await header.topic('subscribed');
    await header.topic('controller');

    const wrongHeader = await connect({ authorization: 'Bearer nope' });
    wrongHeader.send({ op: 'subscribe', topics: ['controller'] });
    await wrongHeader.error('UNAUTHORIZED');

    const guesser = await connect();
    for (let i = 1; i < 5; i++) {
      guesser.send({ op: 'auth', token: `guess-${i}` });
      await guesser.error('UNAUTHORIZED');
    }
    guesser.send({ op: 'auth', token: 'guess-5' });
    const closed = await guesser.waitClosed();
    assert.equal(closed.code, CLOSE_CODES.authFailures);
    assert.equal(closed.reason, '5 failed auth attempts');
  });

  test('without a token, subscribe needs no auth and auth says so', TEST, async (t) => {
    const { connect } = await setup(t);
    const c = await connect();
    c.send({ op: 'subscribe', topics: ['pool'], intervalMs: 50 });
    await c.topic('pool');
    c.send({ op: 'auth', token: 'anything' });
    assert.deepEqual((await c.topic('authenticated')).data, { tokenRequired: false });
  });

  test('jobs: every update of a lock benchmark is pushed to its subscribers', TEST, async (t) => {
    const { app, connect } = await setup(t);
    const c = await connect();
    c.send({ op: 'subscribe', topics: ['jobs'] });
    assert.deepEqual((await c.topic('subscribed')).data, { topics: ['jobs'], intervalMs: 1000 });
    assert.equal(app.telemetry.stats().tickMs, null, 'jobs is pushed, not periodic');
    const res = await post(app, '/v1/benchmarks/locks', { threads: 1, iterations: 1000 });
    assert.equal(res.statusCode, 202, res.body);
    const id = res.json()['id'] as string;
    const done = await c.next('the job to finish', (f) => f.topic === 'jobs' && f.data['status'] !== 'running');
    assert.equal(done.data['id'], id);
    assert.equal(done.data['status'], 'done');
    assertFrame(done);
    c.assertSeq();
  });

  test('world: online players\' positions and hp with the bounds and AOI grid; at most WORLD_MAX_POINTS, an even sample', TEST, async (t) => {
    const { app, connect } = await setup(t, { engineOptions: { worldSize: 1000 }, engineConfig: { aoiRadius: 50 } });
    const events = async (list: object[]) => {
      const res = await post(app, '/v1/events', { events: list });
      assert.equal(res.statusCode, 202, res.body);
      await app.engine.flush();
    };
    await events([
      ...[1, 2, 3, 4].map((playerId) => ({ type: 'PLAYER_LOGIN', playerId })),
      { type: 'PLAYER_MOVE', playerId: 1, data: '10,20' },
      { type: 'PLAYER_MOVE', playerId: 2, data: { x: -300.26, y: 999 } },
      { type: 'PLAYER_ATTACK', playerId: 1, data: { target: 3, damage: 30 } },
      { type: 'PLAYER_LOGOUT', playerId: 4 },
    ]);
    const c = await connect();
    c.send({ op: 'subscribe', topics: ['world'], intervalMs: 50 });
    const first = await c.topic('world');
    assertFrame(first);
    assert.deepEqual(first.data, {
      worldMin: -1000,
      worldMax: 1000,
      aoiRadius: 50,
      maxHp: 100,
      online: 3,
      sampled: 3,
      points: [
        { id: 1, x: 10, y: 20, hp: 100 },
        { id: 2, x: -300.3, y: 999, hp: 100 },
        { id: 3, x: 0, y: 0, hp: 70 },
      ],
    });

    // More online than a frame carries: ids from 1001 up, each with a logged-out player after it.
    const extra = WORLD_MAX_POINTS + 500;
    const ids = Array.from({ length: extra }, (_v, i) => 1001 + 2 * i);
    await events(ids.flatMap((playerId) => [{ type: 'PLAYER_LOGIN', playerId }, { type: 'PLAYER_LOGIN', playerId: playerId + 1 }, { type: 'PLAYER_LOGOUT', playerId: playerId + 1 }]));
    const online = [1, 2, 3, ...ids];
    const big = await c.next('a world frame with every login', (f) => f.topic === 'world' && f.data['online'] === online.length);
    assertFrame(big);
    const points = big.data['points'] as { id: number }[];
    assert.equal(big.data['sampled'], WORLD_MAX_POINTS);
    assert.equal(points.length, WORLD_MAX_POINTS);
    // An even sample: online players only, by id, each a step of floor or ceil(online / max) ranks from the last.
    const rank = new Map(online.map((id, i) => [id, i]));
    const ranks = points.map((p) => rank.get(p.id));
    assert.ok(ranks.every((r) => r !== undefined), 'only online players');
    const step = online.length / WORLD_MAX_POINTS;
    assert.equal(ranks[0], 0);
    for (let i = 1; i < ranks.length; i++) {
      const d = ranks[i]! - ranks[i - 1]!;
      assert.ok(d === Math.floor(step) || d === Math.ceil(step), `rank step ${d} at ${i}`);
    }
    assert.ok(ranks.at(-1)! >= online.length - Math.ceil(step), `the sample reaches the last ids (${ranks.at(-1)})`);
    c.assertSeq();
  });

  test('storage: GET /v1/storage\'s answer, field for field, with SQLite and the journal; a checkpoint shows in the next frame', TEST, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gamesrv-telemetry-storage-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    // The periodic flush an hour away: only the checkpoint below writes the players.
    const { app, connect } = await setup(t, { engineConfig: { database: 'sqlite', durability: 'journal', dataDir, flushMs: 3_600_000 } });
    const accepted = await post(app, '/v1/events', { events: [1, 2, 3].map((playerId) => ({ type: 'PLAYER_LOGIN', playerId, data: `p${playerId}` })) });
    assert.equal(accepted.statusCode, 202, accepted.body);
    const last = accepted.json()['lastSeq'] as number;
    await app.engine.flush();

    const c = await connect();
    c.send({ op: 'subscribe', topics: ['storage'], intervalMs: 50 });
    assertFrame(await c.topic('storage'));
    // Nothing changes the store or the journal between the GET and the frame after it: equal, every field.
    const got = await app.inject('/v1/storage');
    assert.equal(got.statusCode, 200);
    const status = got.json() as Json;
    const after = await c.topic('storage');
    assertFrame(after);
    assert.deepEqual(after.data, status);
    assert.equal(status['storage']['database'], 'sqlite');
    assert.equal(status['storage']['location'], join(dataDir, 'gamesrv.db'));
    assert.equal(status['storage']['open'], true);
    assert.ok(status['storage']['schemaVersion'] >= 1, 'a migrated store (test/storage.test.ts pins the version)');
    assert.equal(status['storage']['checkpointSeq'], 0, 'nothing written yet');
    assert.equal(status['storage']['dirty'], 3);
    assert.equal(status['journal']['mode'], 'journal');
    assert.equal(status['journal']['lastSeq'], last);
    assert.equal(status['journal']['appliedSeq'], last);
    assert.ok(status['journal']['segments'] >= 1, JSON.stringify(status['journal']));

    const checkpoint = await post(app, '/v1/storage/checkpoint');
    assert.equal(checkpoint.statusCode, 200, checkpoint.body);
    assert.deepEqual(checkpoint.json(), { rows: 3, checkpointSeq: last });
    const written = await c.next('a storage frame with the checkpoint', (f) => f.topic === 'storage' && f.data['storage']['checkpointSeq'] === last);
    assertFrame(written);
    assert.equal(written.data['storage']['dirty'], 0);
    assert.equal(written.data['storage']['rowsFlushed'], 3);
    assert.deepEqual(written.data, (await app.inject('/v1/storage')).json());
    assert.deepEqual(new Set(c.frames.map((f) => f.topic)), new Set(['state', 'subscribed', 'storage']));
    c.assertSeq();
  });

  test('closing the app closes every socket with 1001 and stops the hub', TEST, async (t) => {
    const { app, connect } = await setup(t);
    const a = await connect();
    const b = await connect();
    a.send({ op: 'subscribe', topics: ['events'], intervalMs: 50 });
    await a.topic('events');
    await b.topic('state');
    await app.close();
    for (const c of [a, b]) assert.deepEqual(await c.waitClosed(), { code: 1001, reason: 'server shutting down' });
    assert.equal(app.telemetry.stats().tickMs, null);
    assert.equal(app.telemetry.stats().connections, 0);
  });
});
