// The telemetry hub behind WS GET /v1/telemetry (docs/TELEMETRY.md): one per app. It ticks
// only while someone is subscribed, at the smallest interval any connection asked for;
// per tick it takes one engine snapshot and serializes each topic once, and every
// connection due for a topic gets that same string spliced into its own frame. Engine
// state changes and job updates are pushed as they happen.
import { EventEmitter } from 'node:events';

import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';

import { socketUnackedBytes, type Engine, type EngineSnapshot, type EngineState } from '../engine/index.js';
import type { Job } from '../jobs.js';
import type { StateChange } from '../engine/state-watch.js';
import type { AgonesStateName } from '../schemas/agones.js';
import { CLOSE_CODES, PERIODIC_TOPICS, type PeriodicTopic, type StateData, type TelemetryTopic } from '../schemas/telemetry.js';
import { TelemetryConnection, type ConnectionHost } from './connection.js';
import { formatMs } from '../format.js';
import { resolveLimits, type TelemetryLimits, type TelemetryOptions } from './options.js';
import { RATELESS_TOPICS, RateBaselines, topicData, worldData, type Baseline } from './topics.js';

export interface TickInfo {
  /** 'interval': a regular tick; 'kick': the one right after a subscribe, for its fresh topics. */
  kind: 'interval' | 'kick';
  periodMs: number;
  /** An engine snapshot was taken (someone was due for a periodic topic). */
  snapshot: boolean;
}

/**
 * What a client has not taken yet: the bytes ws still holds plus those the kernel sent
 * or holds that the client's TCP has not acknowledged. The kernel's part matters for a
 * client that stops reading: its socket buffers take megabytes before ws holds a byte,
 * so ws's count alone would notice it only after tens of seconds.
 */
function unreadBytes(socket: WebSocket): number {
  const fd = (socket as unknown as { _socket?: { _handle?: { fd?: number } } })._socket?._handle?.fd;
  const kernel = typeof fd === 'number' && fd >= 0 ? socketUnackedBytes(fd) : undefined;
  return socket.bufferedAmount + (kernel ?? 0);
}

export interface TelemetryStats {
  connections: number;
  /** Connections with at least one periodic topic. */
  subscribers: number;
  stalled: number;
  /** The hub's tick period; null while it does not tick. */
  tickMs: number | null;
  snapshots: number;
  /** Topic data serialized: once per topic and tick for every connection of one interval. */
  serialized: number;
  framesSent: number;
  framesDropped: number;
  slowClosed: number;
  /** Connections closed with 1013 at a cap, and with 4002 for a missed pong. */
  refused: number;
  idleClosed: number;
}

/** What the hub reads from its app: no more, so it can be built and tested on its own. */
export interface TelemetrySources {
  engine: Pick<Engine, 'snapshot' | 'playersAfter' | 'worldSize'>;
  /** The AOI grid's cell size the `world` topic draws: the running configuration's, else the next start's. */
  aoiRadius(): number;
  /** The engine state the control plane last saw (the state watch's). */
  state(): EngineState;
  /** The job running now, if any. */
  runningJob(): Job | undefined;
  /** The Agones GameServer state (src/agones/); absent or null when not an Agones game server. */
  agonesState?(): AgonesStateName | null;
  log: Pick<FastifyBaseLogger, 'warn' | 'error'>;
}

/**
 * The one hub of an app. Emits 'tick' (TickInfo) after every tick, and 'closed' when a
 * registered connection is gone, for tests and metrics.
 * Not thread-safe: JS thread only.
 */
export class TelemetryHub extends EventEmitter<{ tick: [TickInfo]; closed: [TelemetryConnection] }> implements ConnectionHost {
  readonly limits: TelemetryLimits;
  readonly counters = { snapshots: 0, serialized: 0, framesSent: 0, framesDropped: 0, slowClosed: 0, refused: 0, idleClosed: 0 };
  readonly #sources: TelemetrySources;
  readonly #bufferedAmount: (socket: WebSocket) => number;
  readonly #connections = new Set<TelemetryConnection>();
  /** Open connections per client address (for maxConnectionsPerAddress). */
  readonly #perAddress = new Map<string, number>();
  #pingTimer: NodeJS.Timeout | undefined;
  /** Connections with a periodic topic, counted by intervalMs: the tick period is the smallest key. */
  readonly #intervals = new Map<number, number>();
  /**
   * Per intervalMs, ms of hub ticks since that interval was last due. Every connection of
   * one interval is due on the same ticks, so their frames are built from the same two
   * snapshots and each topic's data is serialized once for all of them.
   */
  readonly #credit = new Map<number, number>();
  readonly #stalled = new Set<TelemetryConnection>();
  #timer: NodeJS.Timeout | undefined;
  #periodMs = 0;
  /** performance.now() the next regular tick is due at (absolute, so ticks do not drift). */
  #nextTickAt = 0;
  #kick: NodeJS.Immediate | undefined;
  readonly #baselines = new RateBaselines();
  #snapshotFailing = false;
  #closing = false;
  #shutdown: Promise<void> | undefined;

  constructor(sources: TelemetrySources, opts: TelemetryOptions) {
    super();
    this.#sources = sources;
    this.limits = resolveLimits(opts);
    const testing = opts.bufferedAmountForTesting;
    this.#bufferedAmount = testing ?? unreadBytes;
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

  /**
   * Registers a new socket from `address` and sends it the current engine state; over a
   * connection cap, or while shutting down, it is closed at once with the reason.
   */
  accept(socket: WebSocket, authorized: boolean, address: string): TelemetryConnection {
    const conn = new TelemetryConnection(this, socket, authorized, this.limits.defaultIntervalMs, address);
    socket.once('close', () => this.remove(conn));
    if (this.closing) {
      conn.close(CLOSE_CODES.shutdown, 'server shutting down');
      return conn;
    }
    const fromAddress = this.#perAddress.get(address) ?? 0;
    if (this.#connections.size >= this.limits.maxConnections || fromAddress >= this.limits.maxConnectionsPerAddress) {
      this.counters.refused += 1;
      const which =
        this.#connections.size >= this.limits.maxConnections
          ? `${this.limits.maxConnections} telemetry connections are open`
          : `${this.limits.maxConnectionsPerAddress} telemetry connections from ${address} are open`;
      conn.close(CLOSE_CODES.overCapacity, `${which}; try again later`);
      return conn;
    }
    this.#connections.add(conn);
    this.#perAddress.set(address, fromAddress + 1);
    this.#ensurePing();
    const initial: StateData = { state: this.#sources.state(), from: null, atMs: Date.now(), agones: this.#sources.agonesState?.() ?? null };
    conn.reply('state', initial);
    return conn;
  }

  /** One timer pings every connection; a connection that missed the previous pong is closed. */
  #ensurePing(): void {
    if (this.#pingTimer !== undefined) return;
    this.#pingTimer = setInterval(() => {
      for (const conn of [...this.#connections]) {
        if (conn.closed) continue;
        if (conn.awaitingPong) {
          this.counters.idleClosed += 1;
          conn.close(CLOSE_CODES.idle, `no pong within ${formatMs(this.limits.pingIntervalMs)}`);
          continue;
        }
        conn.awaitingPong = true;
        conn.socket.ping();
      }
    }, this.limits.pingIntervalMs);
    this.#pingTimer.unref();
  }

  #stopPing(): void {
    clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
  }

  remove(conn: TelemetryConnection): void {
    if (!this.#connections.delete(conn)) return;
    const left = (this.#perAddress.get(conn.address) ?? 1) - 1;
    if (left > 0) this.#perAddress.set(conn.address, left);
    else this.#perAddress.delete(conn.address);
    if (this.#connections.size === 0) this.#stopPing();
    conn.closed = true;
    this.#untrack(conn);
    this.#stalled.delete(conn);
    this.#reschedule();
    this.emit('closed', conn);
  }

  subscribe(conn: TelemetryConnection, topics: readonly TelemetryTopic[], intervalMs: number | undefined): void {
    if (conn.closed) return;
    this.#untrack(conn);
    if (intervalMs !== undefined && intervalMs !== conn.intervalMs) conn.intervalMs = intervalMs;
    const added: TelemetryTopic[] = [];
    for (const t of topics) {
      if (conn.topics.has(t)) continue;
      conn.topics.add(t);
      added.push(t);
      if (t !== 'jobs') conn.fresh.add(t);
    }
    this.#track(conn);
    this.#reschedule();
    conn.reply('subscribed', { topics: [...conn.topics], intervalMs: conn.intervalMs });
    const running = this.#sources.runningJob();
    if (added.includes('jobs') && running) conn.reply('jobs', running);
    if (conn.fresh.size > 0) this.#kickSoon();
  }

  unsubscribe(conn: TelemetryConnection, topics: readonly TelemetryTopic[]): void {
    if (conn.closed) return;
    this.#untrack(conn);
    for (const t of topics) {
      conn.topics.delete(t);
      if (t !== 'jobs') {
        conn.fresh.delete(t);
        conn.bases.delete(t);
      }
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
    this.#pushState({ state: change.to, from: change.from, atMs: change.atMs, agones: this.#sources.agonesState?.() ?? null });
  }

  /** The Agones GameServer state moved (the engine's did not: `from` is `state`); pushed like onStateChange. */
  onAgonesState(): void {
    const state = this.#sources.state();
    this.#pushState({ state, from: state, atMs: Date.now(), agones: this.#sources.agonesState?.() ?? null });
  }

  #pushState(data: StateData): void {
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
    this.#stopPing();
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
    if (n > 0) {
      this.#intervals.set(conn.intervalMs, n);
    } else {
      this.#intervals.delete(conn.intervalMs);
      this.#credit.delete(conn.intervalMs);
    }
  }

  /** Ticks at the smallest subscribed interval (faster while a client is held back); stops when none. */
  #reschedule(): void {
    let period = Infinity;
    for (const ms of this.#intervals.keys()) period = Math.min(period, ms);
    if (this.#intervals.size === 0) {
      // Nobody wants rates now; a baseline from long ago would only mislead later.
      this.#baselines.clear();
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
      this.#sources.log.error({ err }, 'telemetry tick failed');
    }
  }

  /**
   * Each regular tick adds the period to every interval's credit; the subscribers of an
   * interval whose credit reaches it (rounded to the nearest tick) are due, together.
   * Counting ideal periods rather than measured time keeps a 1000 ms subscriber on a
   * 100 ms hub at exactly every 10th tick, whatever the timer jitter.
   */
  #tick(kind: TickInfo['kind']): void {
    const now = performance.now();
    const ts = Date.now();
    const period = this.#periodMs;
    let snap: EngineSnapshot | null | undefined;
    /** This tick's snapshot, as the baseline of the frames built from it. */
    let current: Baseline | undefined;
    /** For a topic a connection has no baseline of: the hub's own. */
    let fallback: Baseline | undefined;
    /** Topic JSON by the baseline it was computed against: connections due together share it. */
    const json = new Map<Baseline | undefined, Map<PeriodicTopic, string>>();
    /** The `world` topic has no rates: one JSON for every connection due this tick. */
    let world: string | null | undefined;
    const dataOf = (topic: PeriodicTopic, own: Baseline | undefined): string | null => {
      if (snap === undefined) {
        snap = this.#snapshot();
        if (snap !== null) {
          current = { snap, at: now };
          // #periodMs, not `period`: a connection closed earlier in this tick may have rescheduled.
          fallback = this.#baselines.against(now, snap, this.#periodMs);
        }
      }
      if (snap === null) return null;
      if (topic === 'world') {
        if (world === undefined) world = this.#world();
        return world;
      }
      // Counters restart with the engine: a baseline from an earlier run is no baseline.
      // A topic without rates needs none: one JSON for every connection due.
      const base = RATELESS_TOPICS.has(topic)
        ? undefined
        : own !== undefined && own.snap.starts === snap.starts && now > own.at
          ? own
          : fallback;
      let byTopic = json.get(base);
      if (byTopic === undefined) json.set(base, (byTopic = new Map<PeriodicTopic, string>()));
      let s = byTopic.get(topic);
      if (s === undefined) {
        byTopic.set(topic, (s = JSON.stringify(topicData(topic, snap, base, now))));
        this.counters.serialized += 1;
      }
      return s;
    };
    const dueIntervals = new Set<number>();
    if (kind === 'interval') {
      for (const ms of this.#intervals.keys()) {
        let credit = (this.#credit.get(ms) ?? 0) + period;
        if (credit * 2 >= ms * 2 - period) {
          // The remainder carries over: 120 ms on a 50 ms hub averages 120 ms, not 100.
          credit -= ms;
          dueIntervals.add(ms);
        }
        this.#credit.set(ms, credit);
      }
    }
    for (const conn of this.#connections) {
      let due: Iterable<PeriodicTopic> = conn.fresh;
      if (conn.periodicCount > 0 && dueIntervals.has(conn.intervalMs)) due = PERIODIC_TOPICS.filter((t) => conn.topics.has(t));
      if (!conn.flow(now)) continue;
      for (const topic of due) {
        const data = dataOf(topic, conn.bases.get(topic));
        if (data === null) continue;
        conn.hold(topic, data, ts);
        // The next frame of this topic covers from here: every value lands in one window.
        if (current !== undefined) conn.bases.set(topic, current);
      }
      conn.fresh.clear();
      conn.pump();
    }
    if (snap) this.#baselines.remember(now, snap, this.#periodMs);
    this.emit('tick', { kind, periodMs: period, snapshot: snap !== undefined && snap !== null });
  }

  #world(): string | null {
    try {
      const s = JSON.stringify(worldData(this.#sources.engine, this.#sources.aoiRadius()));
      this.counters.serialized += 1;
      return s;
    } catch (err) {
      // The engine closed since this tick's snapshot.
      this.#sources.log.warn({ err }, 'telemetry: reading the world failed; world frame skipped');
      return null;
    }
  }

  #snapshot(): EngineSnapshot | null {
    try {
      const snap = this.#sources.engine.snapshot({ buckets: true });
      this.counters.snapshots += 1;
      this.#snapshotFailing = false;
      return snap;
    } catch (err) {
      // The engine is closed (the app is closing): skip periodic frames; say so once.
      if (!this.#snapshotFailing) this.#sources.log.warn({ err }, 'telemetry: engine snapshot failed; periodic frames skipped');
      this.#snapshotFailing = true;
      return null;
    }
  }
}
