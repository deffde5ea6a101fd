// The telemetry hub behind WS GET /v1/telemetry (docs/TELEMETRY.md): one per app. It ticks
// only while someone is subscribed, at the smallest interval any connection asked for;
// per tick it takes one engine snapshot and serializes each topic once, and every
// connection due for a topic gets that same string spliced into its own frame. Engine
// state changes and job updates are pushed as they happen.
//
// Flow control is per connection: above the high watermark of the socket's send buffer
// nothing is written; only the newest frame per topic is kept (memory per connection is
// bounded by the topic count) and sent, with a `dropped` count, once the buffer is back
// below the low watermark. A client that stays stuck is closed with CLOSE_CODES.tooSlow.
import { EventEmitter } from 'node:events';

import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { WebSocket } from 'ws';

import { readMonitor, type EngineSnapshot } from '../engine/index.js';
import type { Job } from '../jobs.js';
import type { StateChange } from './engine.js';
import {
  CLOSE_CODES,
  PERIODIC_TOPICS,
  type ErrorData,
  type EventsData,
  type EventTypeData,
  type FrameTopic,
  type PeriodicTopic,
  type StateData,
  type TelemetryTopic,
  type WorkersData,
} from '../schemas/telemetry.js';

declare module 'fastify' {
  interface FastifyInstance {
    telemetry: TelemetryHub;
  }
}

export interface TelemetryOptions {
  /** intervalMs of a subscribe that gives none (default 1000). */
  defaultIntervalMs?: number;
  /** Accepted intervalMs range (default 50..60000); outside it a subscribe gets BAD_INTERVAL. */
  minIntervalMs?: number;
  maxIntervalMs?: number;
  /** Above this many buffered bytes nothing is written and frames are coalesced (default 256 KiB). */
  highWatermarkBytes?: number;
  /** Held-back frames are sent once the buffer is at or below this (default 64 KiB). */
  lowWatermarkBytes?: number;
  /** A client above this many buffered bytes for hardLimitMs is closed (default 4 MiB, 5000 ms). */
  hardLimitBytes?: number;
  hardLimitMs?: number;
  /** A client whose frames are held back this long without its buffer draining is closed (default 60000). */
  maxStallMs?: number;
  /** How often a held-back client's buffer is looked at again (default 50 ms). */
  flushCheckMs?: number;
  /** After a close frame, how long a client has to answer before its socket is destroyed (default 1000 ms). */
  closeGraceMs?: number;
  /** Larger client messages get a TOO_LARGE error frame (default 4096 bytes). */
  maxMessageBytes?: number;
  /** Larger client messages close the connection with 1009 (ws maxPayload; default 65536 bytes). */
  maxPayloadBytes?: number;
  /** Wrong-token `auth` messages before the connection is closed with 4001 (default 5). */
  maxAuthFailures?: number;
  /** Reads a socket's buffered bytes instead of `socket.bufferedAmount`, so tests can fake a stuck client. */
  bufferedAmountForTesting?: (socket: WebSocket) => number;
}

export type TelemetryLimits = Required<Omit<TelemetryOptions, 'bufferedAmountForTesting'>>;

export const TELEMETRY_DEFAULTS: TelemetryLimits = {
  defaultIntervalMs: 1000,
  minIntervalMs: 50,
  maxIntervalMs: 60_000,
  highWatermarkBytes: 256 * 1024,
  lowWatermarkBytes: 64 * 1024,
  hardLimitBytes: 4 * 1024 * 1024,
  hardLimitMs: 5000,
  maxStallMs: 60_000,
  flushCheckMs: 50,
  closeGraceMs: 1000,
  maxMessageBytes: 4096,
  maxPayloadBytes: 64 * 1024,
  maxAuthFailures: 5,
};

function resolveLimits(opts: TelemetryOptions): TelemetryLimits {
  const limits = { ...TELEMETRY_DEFAULTS };
  for (const key of Object.keys(TELEMETRY_DEFAULTS) as (keyof TelemetryLimits)[]) {
    const value = opts[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1) throw new Error(`telemetry option ${key} must be a positive integer, got ${String(value)}`);
    limits[key] = value;
  }
  const order: [keyof TelemetryLimits, keyof TelemetryLimits][] = [
    ['minIntervalMs', 'defaultIntervalMs'],
    ['defaultIntervalMs', 'maxIntervalMs'],
    ['lowWatermarkBytes', 'highWatermarkBytes'],
    ['highWatermarkBytes', 'hardLimitBytes'],
    ['maxMessageBytes', 'maxPayloadBytes'],
  ];
  for (const [a, b] of order) {
    if (limits[a] > limits[b]) throw new Error(`telemetry option ${a} (${limits[a]}) must not exceed ${b} (${limits[b]})`);
  }
  return limits;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

export function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

interface Corkable {
  cork(): void;
  uncork(): void;
}

/** The transport under a ws socket, to cork: ws has no public cork, and keeps its transport in `_socket`. */
function corkable(socket: WebSocket): Corkable | undefined {
  const transport = (socket as unknown as { _socket?: Partial<Corkable> })._socket;
  return typeof transport?.cork === 'function' && typeof transport.uncork === 'function' ? (transport as Corkable) : undefined;
}

/** A frame held back from a slow client: the newest data of its topic. */
interface Pending {
  data: string;
  ts: number;
  /** Frames of this topic this one replaced since the last one delivered. */
  dropped: number;
}

/**
 * One WebSocket. Not thread-safe (nothing here is): everything runs on the JS thread.
 * Its frames go out through deliver() (one frame) or, from a hub tick, flow() + hold()
 * + pump(), so a tick looks at the send buffer once per connection.
 */
export class TelemetryConnection {
  readonly socket: WebSocket;
  authorized: boolean;
  authFailures = 0;
  readonly topics = new Set<TelemetryTopic>();
  /** Periodic topics subscribed but not yet sent: the next (kick) tick sends them at once. */
  readonly fresh = new Set<PeriodicTopic>();
  intervalMs: number;
  /** ms of hub ticks since this connection's last periodic frames (see TelemetryHub.#tick). */
  credit = 0;
  closed = false;
  #seq = 0;
  #stalledSince: number | undefined;
  #overHardSince: number | undefined;
  /** Newest held-back frame per topic, in the order they were last replaced. */
  readonly #pending = new Map<FrameTopic, Pending>();
  readonly #hub: TelemetryHub;

  constructor(hub: TelemetryHub, socket: WebSocket, authorized: boolean, intervalMs: number) {
    this.#hub = hub;
    this.socket = socket;
    this.authorized = authorized;
    this.intervalMs = intervalMs;
  }

  get stalled(): boolean {
    return this.#stalledSince !== undefined;
  }

  get periodicCount(): number {
    let n = 0;
    for (const t of this.topics) if (t !== 'jobs') n++;
    return n;
  }

  /** Sends one frame now, or holds it while the client is slow. */
  deliver(topic: FrameTopic, data: string, ts: number): void {
    if (!this.flow(performance.now())) return;
    this.hold(topic, data, ts);
    this.pump();
  }

  /** JSON of `value` as one frame. */
  reply(topic: FrameTopic, value: unknown): void {
    this.deliver(topic, JSON.stringify(value), Date.now());
  }

  error(data: ErrorData): void {
    this.reply('error', data);
  }

  /**
   * Looks at the send buffer: starts or ends a stall, closes a client stuck past the
   * limits. False when the connection is closed (by this call or before).
   */
  flow(now: number): boolean {
    if (this.closed) return false;
    if (this.socket.readyState !== this.socket.OPEN) {
      // The client's close frame arrived; 'close' follows once the transport ends.
      this.closed = true;
      this.#pending.clear();
      this.#hub.remove(this);
      return false;
    }
    const limits = this.#hub.limits;
    const buffered = this.#hub.bufferedAmount(this.socket);
    if (buffered > limits.hardLimitBytes) {
      this.#overHardSince ??= now;
      if (now - this.#overHardSince >= limits.hardLimitMs) {
        this.close(
          CLOSE_CODES.tooSlow,
          `client too slow: send buffer above ${formatBytes(limits.hardLimitBytes)} for ${formatMs(limits.hardLimitMs)}`,
        );
        return false;
      }
    } else {
      this.#overHardSince = undefined;
    }
    if (this.#stalledSince !== undefined) {
      if (buffered <= limits.lowWatermarkBytes) {
        this.#stalledSince = undefined;
        this.#hub.stallChanged(this);
      } else if (now - this.#stalledSince >= limits.maxStallMs) {
        this.close(CLOSE_CODES.tooSlow, `client too slow: send buffer not drained for ${formatMs(limits.maxStallMs)}`);
        return false;
      }
    } else if (buffered > limits.highWatermarkBytes) {
      this.#stalledSince = now;
      this.#hub.stallChanged(this);
    }
    return true;
  }

  /** Queues a frame as the newest of its topic; pump() sends it unless the client is stalled. */
  hold(topic: FrameTopic, data: string, ts: number): void {
    const pending = this.#pending.get(topic);
    if (pending === undefined) {
      this.#pending.set(topic, { data, ts, dropped: 0 });
      return;
    }
    // Re-inserted so frames go out in the order of their newest data.
    this.#pending.delete(topic);
    this.#pending.set(topic, { data, ts, dropped: pending.dropped + 1 });
    this.#hub.counters.framesDropped += 1;
  }

  /** Sends what is held, unless the client is stalled. */
  pump(): void {
    if (this.closed || this.#stalledSince !== undefined || this.#pending.size === 0) return;
    // One write (one syscall) for a tick's frames instead of one per frame: with 500
    // subscribers on every topic this takes server CPU from ~42% to ~15% of a core.
    const transport = this.#pending.size > 1 ? corkable(this.socket) : undefined;
    transport?.cork();
    for (const [topic, p] of this.#pending) this.#send(topic, p);
    transport?.uncork();
    this.#pending.clear();
  }

  /** Drops what is held of topics no longer subscribed. */
  forget(topic: FrameTopic): void {
    this.#pending.delete(topic);
  }

  #send(topic: FrameTopic, p: Pending): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.#seq += 1;
    // The data is already JSON, shared by every connection due for it this tick.
    const frame =
      `{"topic":"${topic}","seq":${this.#seq},"ts":${p.ts}` + (p.dropped > 0 ? `,"dropped":${p.dropped}` : '') + `,"data":${p.data}}`;
    this.socket.send(frame);
    this.#hub.counters.framesSent += 1;
  }

  /** Sends a close frame; destroys the socket if the client does not answer within closeGraceMs. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.#pending.clear();
    if (code === CLOSE_CODES.tooSlow) this.#hub.counters.slowClosed += 1;
    this.#hub.remove(this);
    const socket = this.socket;
    if (socket.readyState === socket.CLOSED) return;
    socket.close(code, reason);
    const grace = setTimeout(() => socket.terminate(), this.#hub.limits.closeGraceMs);
    grace.unref();
    socket.once('close', () => clearTimeout(grace));
  }
}

export interface TickInfo {
  /** 'interval': a regular tick; 'kick': the one right after a subscribe, for its fresh topics. */
  kind: 'interval' | 'kick';
  periodMs: number;
  /** An engine snapshot was taken (someone was due for a periodic topic). */
  snapshot: boolean;
}

export interface TelemetryStats {
  connections: number;
  /** Connections with at least one periodic topic. */
  subscribers: number;
  stalled: number;
  /** The hub's tick period; null while it does not tick. */
  tickMs: number | null;
  snapshots: number;
  framesSent: number;
  framesDropped: number;
  slowClosed: number;
}

interface Baseline {
  snap: EngineSnapshot;
  at: number;
}

/**
 * The one hub of an app. Emits 'tick' (TickInfo) after every tick, for tests and metrics.
 * Not thread-safe: JS thread only.
 */
export class TelemetryHub extends EventEmitter<{ tick: [TickInfo] }> {
  readonly limits: TelemetryLimits;
  readonly counters = { snapshots: 0, framesSent: 0, framesDropped: 0, slowClosed: 0 };
  readonly #app: FastifyInstance;
  readonly #bufferedAmount: (socket: WebSocket) => number;
  readonly #connections = new Set<TelemetryConnection>();
  /** Connections with a periodic topic, counted by intervalMs: the tick period is the smallest key. */
  readonly #intervals = new Map<number, number>();
  readonly #stalled = new Set<TelemetryConnection>();
  #timer: NodeJS.Timeout | undefined;
  #periodMs = 0;
  /** performance.now() the next regular tick is due at (absolute, so ticks do not drift). */
  #nextTickAt = 0;
  #kick: NodeJS.Immediate | undefined;
  /** The snapshots rates are computed against: `last`, or `prev` when `last` is too recent. */
  #prev: Baseline | undefined;
  #last: Baseline | undefined;
  #snapshotFailing = false;
  #closing = false;
  #shutdown: Promise<void> | undefined;

  constructor(app: FastifyInstance, opts: TelemetryOptions) {
    super();
    this.#app = app;
    this.limits = resolveLimits(opts);
    const testing = opts.bufferedAmountForTesting;
    this.#bufferedAmount = testing ?? ((socket) => socket.bufferedAmount);
  }

  bufferedAmount(socket: WebSocket): number {
    return this.#bufferedAmount(socket);
  }

  get closing(): boolean {
    return this.#closing;
  }

  stats(): TelemetryStats {
    let subscribers = 0;
    for (const n of this.#intervals.values()) subscribers += n;
    return {
      connections: this.#connections.size,
      subscribers,
      stalled: this.#stalled.size,
      tickMs: this.#timer === undefined ? null : this.#periodMs,
      ...this.counters,
    };
  }

  /** Registers a new socket and sends it the current engine state. */
  accept(socket: WebSocket, authorized: boolean): TelemetryConnection {
    const conn = new TelemetryConnection(this, socket, authorized, this.limits.defaultIntervalMs);
    socket.once('close', () => this.remove(conn));
    if (this.closing) {
      conn.close(CLOSE_CODES.shutdown, 'server shutting down');
      return conn;
    }
    this.#connections.add(conn);
    const initial: StateData = { state: this.#app.engineState.last, from: null, atMs: Date.now() };
    conn.reply('state', initial);
    return conn;
  }

  remove(conn: TelemetryConnection): void {
    if (!this.#connections.delete(conn)) return;
    conn.closed = true;
    this.#untrack(conn);
    this.#stalled.delete(conn);
    this.#reschedule();
  }

  subscribe(conn: TelemetryConnection, topics: readonly TelemetryTopic[], intervalMs: number | undefined): void {
    if (conn.closed) return;
    this.#untrack(conn);
    if (intervalMs !== undefined && intervalMs !== conn.intervalMs) {
      conn.intervalMs = intervalMs;
      conn.credit = 0;
    }
    const added: TelemetryTopic[] = [];
    for (const t of topics) {
      if (conn.topics.has(t)) continue;
      conn.topics.add(t);
      added.push(t);
      if (t !== 'jobs') conn.fresh.add(t);
    }
    if (conn.periodicCount === added.filter((t) => t !== 'jobs').length) conn.credit = 0;
    this.#track(conn);
    this.#reschedule();
    conn.reply('subscribed', { topics: [...conn.topics], intervalMs: conn.intervalMs });
    const running = this.#app.jobs.running;
    if (added.includes('jobs') && running) conn.reply('jobs', running);
    if (conn.fresh.size > 0) this.#kickSoon();
  }

  unsubscribe(conn: TelemetryConnection, topics: readonly TelemetryTopic[]): void {
    if (conn.closed) return;
    this.#untrack(conn);
    for (const t of topics) {
      conn.topics.delete(t);
      if (t !== 'jobs') conn.fresh.delete(t);
      conn.forget(t);
    }
    this.#track(conn);
    this.#reschedule();
    conn.reply('unsubscribed', { topics: [...conn.topics], intervalMs: conn.intervalMs });
  }

  /** Called by a connection when it starts or ends a stall. */
  stallChanged(conn: TelemetryConnection): void {
    if (conn.stalled) this.#stalled.add(conn);
    else this.#stalled.delete(conn);
    this.#reschedule();
  }

  /** Pushed at once to every connection, subscribed or not. */
  onStateChange(change: StateChange): void {
    const data: StateData = { state: change.to, from: change.from, atMs: change.atMs };
    const json = JSON.stringify(data);
    const ts = Date.now();
    for (const conn of this.#connections) conn.deliver('state', json, ts);
  }

  onJobUpdate(job: Job): void {
    let json: string | undefined;
    const ts = Date.now();
    for (const conn of this.#connections) {
      if (!conn.topics.has('jobs')) continue;
      json ??= JSON.stringify(job);
      conn.deliver('jobs', json, ts);
    }
  }

  /**
   * Closes every socket with 1001, stops ticking, and resolves once every client has
   * closed or closeGraceMs has passed (the rest are destroyed). Idempotent.
   */
  shutdown(): Promise<void> {
    if (this.#shutdown === undefined) {
      this.#closing = true;
      this.#shutdown = this.#closeAll();
    }
    return this.#shutdown;
  }

  async #closeAll(): Promise<void> {
    this.#stop();
    if (this.#kick !== undefined) clearImmediate(this.#kick);
    const sockets = [...this.#connections].map((c) => c.socket);
    const closed = sockets.map(
      (s) => new Promise<void>((resolve) => (s.readyState === s.CLOSED ? resolve() : s.once('close', () => resolve()))),
    );
    for (const conn of [...this.#connections]) conn.close(CLOSE_CODES.shutdown, 'server shutting down');
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.limits.closeGraceMs);
    });
    await Promise.race([Promise.all(closed), grace]);
    clearTimeout(timer);
    for (const s of sockets) if (s.readyState !== s.CLOSED) s.terminate();
  }

  #track(conn: TelemetryConnection): void {
    if (conn.periodicCount === 0) return;
    this.#intervals.set(conn.intervalMs, (this.#intervals.get(conn.intervalMs) ?? 0) + 1);
  }

  #untrack(conn: TelemetryConnection): void {
    if (conn.periodicCount === 0) return;
    const n = (this.#intervals.get(conn.intervalMs) ?? 0) - 1;
    if (n > 0) this.#intervals.set(conn.intervalMs, n);
    else this.#intervals.delete(conn.intervalMs);
  }

  /** Ticks at the smallest subscribed interval (faster while a client is held back); stops when none. */
  #reschedule(): void {
    let period = Infinity;
    for (const ms of this.#intervals.keys()) period = Math.min(period, ms);
    if (this.#intervals.size === 0) {
      // Nobody wants rates now; a baseline from long ago would only mislead later.
      this.#prev = undefined;
      this.#last = undefined;
    }
    if (this.#stalled.size > 0) period = Math.min(period, this.limits.flushCheckMs);
    if (!Number.isFinite(period) || this.closing) {
      this.#stop();
      return;
    }
    if (this.#timer !== undefined && period === this.#periodMs) return;
    this.#stop();
    this.#periodMs = period;
    this.#nextTickAt = performance.now() + period;
    this.#arm();
  }

  #arm(): void {
    const delay = Math.max(0, this.#nextTickAt - performance.now());
    this.#timer = setTimeout(() => this.#onTimer(), delay);
  }

  #stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onTimer(): void {
    this.#timer = undefined;
    const now = performance.now();
    this.#nextTickAt += this.#periodMs;
    // Fallen behind by more than a period (a blocked event loop): start again from now.
    if (this.#nextTickAt < now) this.#nextTickAt = now + this.#periodMs;
    this.#safeTick('interval');
    if (this.#timer === undefined && !this.closing && (this.#intervals.size > 0 || this.#stalled.size > 0)) this.#arm();
  }

  #kickSoon(): void {
    if (this.#kick !== undefined || this.closing) return;
    this.#kick = setImmediate(() => {
      this.#kick = undefined;
      this.#safeTick('kick');
    });
  }

  /** A failing tick is logged; it must neither crash the process nor stop the timer. */
  #safeTick(kind: TickInfo['kind']): void {
    try {
      this.#tick(kind);
    } catch (err) {
      this.#app.log.error({ err }, 'telemetry tick failed');
    }
  }

  /**
   * Each regular tick adds the period to every subscriber's credit; a subscriber whose
   * credit reaches its interval (rounded to the nearest tick) is due. Counting ideal
   * periods rather than measured time keeps a 1000 ms subscriber on a 100 ms hub at
   * exactly every 10th tick, whatever the timer jitter.
   */
  #tick(kind: TickInfo['kind']): void {
    const now = performance.now();
    const ts = Date.now();
    const period = this.#periodMs;
    const json = new Map<PeriodicTopic, string | null>();
    let snap: EngineSnapshot | null | undefined;
    let base: Baseline | undefined;
    const dataOf = (topic: PeriodicTopic): string | null => {
      let s = json.get(topic);
      if (s !== undefined) return s;
      if (snap === undefined) {
        snap = this.#snapshot();
        base = snap === null ? undefined : this.#baseline(now, snap);
      }
      s = snap === null ? null : JSON.stringify(this.#topicData(topic, snap, base, now));
      json.set(topic, s);
      return s;
    };
    for (const conn of this.#connections) {
      let due: Iterable<PeriodicTopic> = conn.fresh;
      if (kind === 'interval' && conn.periodicCount > 0) {
        conn.credit += period;
        if (conn.credit * 2 >= conn.intervalMs * 2 - period) {
          // The remainder carries over: 120 ms on a 50 ms hub averages 120 ms, not 100.
          conn.credit -= conn.intervalMs;
          due = PERIODIC_TOPICS.filter((t) => conn.topics.has(t));
        }
      }
      if (!conn.flow(now)) continue;
      for (const topic of due) {
        const data = dataOf(topic);
        if (data !== null) conn.hold(topic, data, ts);
      }
      conn.fresh.clear();
      conn.pump();
    }
    if (snap) this.#remember(now, snap);
    this.emit('tick', { kind, periodMs: period, snapshot: snap !== undefined && snap !== null });
  }

  #snapshot(): EngineSnapshot | null {
    try {
      const snap = this.#app.engine.snapshot();
      this.counters.snapshots += 1;
      this.#snapshotFailing = false;
      return snap;
    } catch (err) {
      // The engine is closed (the app is closing): skip periodic frames; say so once.
      if (!this.#snapshotFailing) this.#app.log.warn({ err }, 'telemetry: engine snapshot failed; periodic frames skipped');
      this.#snapshotFailing = true;
      return null;
    }
  }

  /** The snapshot to compute rates against: the last one, unless it is under half a period old. */
  #baseline(now: number, snap: EngineSnapshot): Baseline | undefined {
    const minWindow = Math.max(10, this.#periodMs / 2);
    const candidate = this.#last !== undefined && now - this.#last.at >= minWindow ? this.#last : this.#prev;
    // Counters restart with the engine.
    if (candidate === undefined || candidate.snap.starts !== snap.starts || now - candidate.at <= 0) return undefined;
    return candidate;
  }

  #remember(now: number, snap: EngineSnapshot): void {
    const minWindow = Math.max(10, this.#periodMs / 2);
    if (this.#last === undefined || now - this.#last.at >= minWindow) {
      this.#prev = this.#last;
      this.#last = { snap, at: now };
    }
  }

  #topicData(topic: PeriodicTopic, snap: EngineSnapshot, base: Baseline | undefined, now: number): unknown {
    const windowMs = base === undefined ? null : round1(now - base.at);
    switch (topic) {
      case 'workers':
        return workersData(snap, base?.snap, windowMs);
      case 'events':
        return eventsData(snap, base?.snap, windowMs);
      case 'monitor':
        return this.#monitorData(snap);
      case 'iocp':
        return snap.iocp;
      case 'pool':
        return snap.pool;
      case 'controller':
        return snap.controller;
    }
  }

  #monitorData(snap: EngineSnapshot): unknown {
    try {
      return { ...snap.monitor, status: readMonitor(snap.monitor.serverName), error: null };
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      const code = typeof e.code === 'string' ? e.code : 'MONITOR_ERROR';
      return { ...snap.monitor, status: null, error: { code, detail: String(e.message ?? err) } };
    }
  }
}

/** A per-second rate of a counter, or null without a usable window. */
function rate(now: number, then: number | undefined, windowMs: number | null): number | null {
  if (then === undefined || windowMs === null || windowMs <= 0 || now < then) return null;
  return round1(((now - then) * 1000) / windowMs);
}

function percentOf(now: number, then: number | undefined, windowMs: number | null): number | null {
  if (then === undefined || windowMs === null || windowMs <= 0 || now < then) return null;
  return round1(Math.min(100, ((now - then) * 100) / windowMs));
}

export function workersData(snap: EngineSnapshot, base: EngineSnapshot | undefined, windowMs: number | null): WorkersData {
  const before = new Map(base?.workers.map((w) => [w.tid, w]));
  return {
    windowMs,
    threads: snap.workers.map((w) => {
      const b = before.get(w.tid);
      const same = b !== undefined && b.name === w.name;
      return {
        name: w.name,
        tid: w.tid,
        state: w.state,
        items: w.items,
        busyMs: w.busyMs,
        cpuMs: w.cpuMs,
        busyPercent: percentOf(w.busyMs, same ? b.busyMs : undefined, windowMs),
        cpuPercent: percentOf(w.cpuMs, same ? b.cpuMs : undefined, windowMs),
      };
    }),
  };
}

export function eventsData(snap: EngineSnapshot, base: EngineSnapshot | undefined, windowMs: number | null): EventsData {
  const e = snap.events;
  const b = base?.events;
  const byType = {} as Record<keyof typeof e.byType, EventTypeData>;
  for (const type of Object.keys(e.byType) as (keyof typeof e.byType)[]) {
    const s = e.byType[type];
    byType[type] = {
      processed: s.processed,
      applied: s.applied,
      invalid: s.invalid,
      processedPerSec: rate(s.processed, b?.byType[type].processed, windowMs),
      latencyUs: s.latencyUs,
    };
  }
  return {
    windowMs,
    accepted: e.accepted,
    processed: e.processed,
    applied: e.applied,
    invalid: e.invalid,
    queueDepth: e.queueDepth,
    queueCapacity: e.queueCapacity,
    accepting: e.accepting,
    paused: e.paused,
    acceptedPerSec: rate(e.accepted, b?.accepted, windowMs),
    processedPerSec: rate(e.processed, b?.processed, windowMs),
    latencyUs: e.latencyUs,
    byType,
  };
}

export default fp<TelemetryOptions>(
  async (app, opts) => {
    const hub = new TelemetryHub(app, opts);
    app.decorate('telemetry', hub);
    const onState = (change: StateChange) => hub.onStateChange(change);
    const onJob = (job: Job) => hub.onJobUpdate(job);
    app.engineState.on('change', onState);
    app.jobs.on('update', onJob);
    const shutdown = async () => {
      app.engineState.off('change', onState);
      app.jobs.off('update', onJob);
      await hub.shutdown();
    };
    // Registered here, not in the route plugin, so app.injectWS and the upgrade handling
    // live on the root instance. Its default preClose would close every client with no
    // code (1005); ours says why, while the server is still up.
    await app.register(websocket, {
      options: { maxPayload: hub.limits.maxPayloadBytes },
      preClose: async () => {
        await shutdown();
        app.websocketServer.close();
      },
      errorHandler: (err, socket, request) => {
        request.log.info({ err: { message: err.message } }, 'telemetry socket error');
        // A maxPayload violation arrives here after ws sent its 1009 close frame: let it go out.
        if (socket.readyState === socket.OPEN) socket.terminate();
      },
    });
    app.addHook('onClose', shutdown);
  },
  { name: 'gamesrv-telemetry', dependencies: ['gamesrv-engine', 'gamesrv-jobs'] },
);
