// gamesrv as an Agones game server, through the official SDK (@google-cloud/agones-sdk,
// gRPC to the sidecar on AGONES_SDK_GRPC_PORT):
// - connect with retries (the sidecar may start after the server): each attempt a fresh
//   channel (so grpc's own reconnect back-off, up to 120 s, never holds us), a bounded
//   back-off between attempts, every wait cut short by close();
// - Ready() once the engine runs and its game port listens;
// - Health() every healthMs while the server is healthy (running, paused, draining), not
//   while a running game loop stalls (src/agones/stall.ts), again once it ticks;
// - WatchGameServer: the state is logged and exposed (status());
// - the beta Counter `players` (count: the World's online players, capacity: maxPlayers)
//   and the label `engine-state`;
// - shutdown(): Shutdown() — the caller has drained sessions and stopped the engine (its
//   final storage flush) first; this checks the engine is stopped and logs the flush.
import { EventEmitter } from 'node:events';

import type { FastifyBaseLogger } from 'fastify';

import type { Engine, EngineState } from '../engine/index.js';
import type { StateWatch } from '../engine/state-watch.js';
import { AGONES_STATES, type AgonesStateName, type AgonesStatus } from '../schemas/agones.js';
import { abortable, closeSdk, delay, sdkAt, type AgonesSDK, type Beta } from './sdk.js';
import { StallDetector } from './stall.js';

/** The Counter Agones autoscales on (deploy/agones/fleetautoscaler.yaml) and the label the engine state goes in. */
export const PLAYERS_COUNTER = 'players';
export const ENGINE_STATE_LABEL = 'engine-state';

/** One connect attempt waits this long for the channel to be ready. */
const CONNECT_ATTEMPT_MS = 2000;
/** Back-off between attempts (and between WatchGameServer re-subscriptions): doubling, bounded. */
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;
/** Shutdown() gets this long to answer. */
const SHUTDOWN_CALL_MS = 5000;

export interface AgonesOptions {
  /** The sidecar's gRPC port (AGONES_SDK_GRPC_PORT). */
  port: number;
  /** Health() period, ms. */
  healthMs: number;
}

export interface AgonesHost {
  engine: Pick<Engine, 'snapshot' | 'state' | 'gamePort' | 'closed'>;
  engineState: StateWatch;
  /** Whether the running configuration opens a game port (Ready waits for it to listen). */
  expectsGamePort(): boolean;
  /** The Counter's capacity. */
  maxPlayers: number;
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
}

/** What the sidecar holds of each value we keep there. */
interface Pushed {
  count?: number;
  capacity?: number;
  label?: string;
}

const backoff = (attempt: number) => Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 16));
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The lifecycle of one app. Emits 'connected', 'ready', 'health' (healthy: boolean, on a
 * change), 'check' (after each health period's look at the engine), 'state'
 * (AgonesStateName) and 'shutdown'. Not thread-safe: JS thread only.
 */
export class AgonesLifecycle extends EventEmitter<{
  connected: [];
  ready: [];
  health: [boolean];
  check: [];
  state: [AgonesStateName];
  shutdown: [];
}> {
  readonly #host: AgonesHost;
  readonly #options: AgonesOptions;
  readonly #closing = new AbortController();
  readonly #stall: StallDetector;
  #sdk: AgonesSDK | undefined;
  #timer: NodeJS.Timeout | undefined;
  #status: AgonesStatus = { state: null, connected: false, ready: false, healthy: true, healthPings: 0, shutdown: false };
  /** What the sidecar holds (undefined: not yet set, or the last set failed), and the set in flight. */
  #pushed: Pushed = {};
  #inFlight = new Set<string>();
  #failing = new Set<string>();
  #readying = false;
  #shuttingDown: Promise<void> | undefined;
  /** Settles when the connect loop is over: connected, or given up by close(). */
  #connecting: Promise<void> = Promise.resolve();
  readonly #onEngineState = () => {
    this.#maybeReady();
    this.#sync();
  };

  constructor(host: AgonesHost, options: AgonesOptions) {
    super();
    this.#host = host;
    this.#options = options;
    this.#stall = new StallDetector(options.healthMs);
  }

  status(): AgonesStatus {
    return { ...this.#status };
  }

  /** Connects in the background; returns at once. */
  start(): void {
    this.#host.engineState.on('change', this.#onEngineState);
    this.#connecting = this.#run().catch((err: unknown) => {
      if (!this.#closing.signal.aborted) this.#host.log.error({ err }, 'agones: lifecycle failed');
    });
  }

  /** Resolves when the connect loop has ended (for tests: close() must end it at once). */
  connectLoopEnded(): Promise<void> {
    return this.#connecting;
  }

  async #run(): Promise<void> {
    const sdk = await this.#connect();
    if (sdk === undefined) return;
    if (this.#closing.signal.aborted) {
      closeSdk(sdk); // connected just as close() ran
      return;
    }
    this.#sdk = sdk;
    this.#status.connected = true;
    this.#host.log.info({ port: this.#options.port }, 'agones: connected to the SDK sidecar');
    this.emit('connected');
    void this.#watch(sdk);
    this.#timer = setInterval(() => this.#check(), this.#options.healthMs);
    this.#timer.unref(); // never what keeps the process alive
    this.#check();
    this.#maybeReady();
  }

  /** Resolves with a connected SDK, or undefined when closed first. */
  async #connect(): Promise<AgonesSDK | undefined> {
    const signal = this.#closing.signal;
    for (let attempt = 0; !signal.aborted; attempt++) {
      const sdk = sdkAt(this.#options.port);
      try {
        await abortable(
          new Promise<void>((resolve, reject) => {
            (sdk as unknown as { client: { waitForReady(deadline: number, cb: (err?: Error) => void): void } }).client.waitForReady(
              Date.now() + CONNECT_ATTEMPT_MS,
              (err) => (err ? reject(err) : resolve()),
            );
          }),
          signal,
        );
        return sdk;
      } catch (err) {
        closeSdk(sdk);
        if (signal.aborted) return undefined;
        // The first failure and then one in ten: a sidecar that is late is normal.
        if (attempt % 10 === 0) this.#host.log.warn({ port: this.#options.port, attempt: attempt + 1, err: message(err) }, 'agones: SDK sidecar not reachable yet; retrying');
        await delay(backoff(attempt), signal);
      }
    }
    return undefined;
  }

  /** WatchGameServer, re-subscribed with a bounded back-off while the stream fails. */
  async #watch(sdk: AgonesSDK): Promise<void> {
    const signal = this.#closing.signal;
    for (let attempt = 0; !signal.aborted; attempt++) {
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
        let done = false;
        const ended = (err?: unknown) => {
          if (done) return;
          done = true;
          signal.removeEventListener('abort', onAbort);
          if (!signal.aborted) this.#host.log.warn({ err: err === undefined ? 'the stream ended' : message(err) }, 'agones: WatchGameServer stopped; re-subscribing');
          resolve();
        };
        sdk.watchGameServer(
          (gs) => {
            attempt = 0;
            this.#onGameServer(gs.status?.state);
          },
          (err) => ended(err),
        );
        // The SDK listens for errors only; a stream the sidecar ends cleanly must be renewed too.
        const streams = (sdk as unknown as { streams: { once(event: 'end', f: () => void): void }[] }).streams;
        streams.at(-1)?.once('end', () => ended());
      });
      if (!signal.aborted) await delay(backoff(attempt), signal);
    }
  }

  #onGameServer(state: string | undefined): void {
    if (state === undefined || state === this.#status.state) return;
    if (!(AGONES_STATES as readonly string[]).includes(state)) {
      this.#host.log.warn({ state }, 'agones: unknown GameServer state; ignored');
      return;
    }
    const from = this.#status.state;
    this.#status.state = state as AgonesStateName;
    this.#host.log.info({ from, to: state }, 'agones: GameServer state');
    this.emit('state', state as AgonesStateName);
  }

  /** Ready() once, when the engine runs and its game port (if it has one) listens. */
  #maybeReady(): void {
    const sdk = this.#sdk;
    if (sdk === undefined || this.#status.ready || this.#readying || this.#status.shutdown || this.#host.engine.closed) return;
    const state = this.#host.engine.state;
    if (state !== 'running' && state !== 'paused') return;
    if (this.#host.expectsGamePort() && this.#host.engine.gamePort === null) return;
    this.#readying = true;
    sdk.ready().then(
      () => {
        this.#readying = false;
        this.#status.ready = true;
        this.#host.log.info({ gamePort: this.#host.engine.gamePort }, 'agones: Ready');
        this.emit('ready');
      },
      (err: unknown) => {
        this.#readying = false;
        // The next state change or health period tries again.
        this.#host.log.warn({ err: message(err) }, 'agones: Ready() failed; retrying');
      },
    );
  }

  /** One health period: the stall verdict and the ping, Ready if due, the Counter and the label. */
  #check(): void {
    const sdk = this.#sdk;
    if (sdk === undefined || this.#host.engine.closed) return;
    let stalled = false;
    try {
      stalled = this.#stall.observe(Date.now(), this.#host.engine.snapshot().controller);
    } catch {
      // The engine was closed meanwhile: nothing to judge.
    }
    if (stalled === this.#status.healthy) {
      this.#status.healthy = !stalled;
      if (stalled) this.#host.log.warn('agones: the game loop is stalled; Health() pings stop (Agones marks the server Unhealthy)');
      else this.#host.log.info('agones: the game loop ticks again; Health() pings resume');
      this.emit('health', !stalled);
    }
    if (!stalled) {
      sdk.health((err) => {
        // A broken stream stays broken: the next ping opens a new one.
        (sdk as unknown as { healthStream: unknown }).healthStream = undefined;
        this.#logFailure('health', err);
      });
      this.#status.healthPings += 1;
    }
    this.#maybeReady();
    this.#sync();
    this.emit('check');
  }

  /** Brings the Counter and the label to the engine's values; one call of each kind in flight. */
  #sync(): void {
    const sdk = this.#sdk;
    if (sdk === undefined || this.#status.shutdown || this.#host.engine.closed) return;
    const beta = (sdk as unknown as { beta: Beta }).beta;
    let online: number;
    try {
      online = this.#host.engine.snapshot().players.online;
    } catch {
      return;
    }
    this.#set('capacity', this.#host.maxPlayers, (v) => beta.setCounterCapacity(PLAYERS_COUNTER, v));
    this.#set('count', online, (v) => beta.setCounterCount(PLAYERS_COUNTER, v));
    this.#set('label', this.#host.engineState.last as EngineState, (v) => sdk.setLabel(ENGINE_STATE_LABEL, v));
  }

  #set<K extends keyof Pushed>(kind: K, value: NonNullable<Pushed[K]>, call: (v: NonNullable<Pushed[K]>) => Promise<unknown>): void {
    if (this.#pushed[kind] === value || this.#inFlight.has(kind)) return;
    this.#inFlight.add(kind);
    call(value).then(
      () => {
        this.#inFlight.delete(kind);
        this.#pushed[kind] = value;
        if (this.#failing.delete(kind)) this.#host.log.info({ kind }, 'agones: SDK call works again');
        // The value may have moved while the call was out.
        this.#sync();
      },
      (err: unknown) => {
        this.#inFlight.delete(kind);
        this.#pushed[kind] = undefined;
        this.#logFailure(kind, err);
      },
    );
  }

  /** Logs a failing SDK call once, until it works again. */
  #logFailure(kind: string, err: unknown): void {
    if (this.#failing.has(kind) || this.#closing.signal.aborted) return;
    this.#failing.add(kind);
    this.#host.log.warn({ kind, err: message(err) }, 'agones: SDK call failed; retried at the next change or health period');
  }

  /**
   * Shutdown(), once. The caller drained the sessions and stopped the engine first (the
   * stop makes the final storage flush): Shutdown() before that would let Agones delete
   * the server with players on it. A sidecar never reached gets no call.
   */
  shutdown(): Promise<void> {
    this.#shuttingDown ??= this.#shutdown();
    return this.#shuttingDown;
  }

  async #shutdown(): Promise<void> {
    const engine = this.#host.engine;
    const state = engine.closed ? 'stopped' : engine.state;
    if (state !== 'stopped') throw new Error(`agones: Shutdown() refused while the engine is ${state}: drain and stop it first`);
    const storage = engine.closed ? undefined : engine.snapshot().storage;
    if (storage !== undefined && (storage.dirty > 0 || storage.lastError !== '')) {
      this.#host.log.error({ dirty: storage.dirty, error: storage.lastError }, 'agones: the final storage flush failed; these players are not saved');
    }
    const sdk = this.#sdk;
    if (sdk === undefined) {
      this.#host.log.warn('agones: the SDK sidecar was never reached; Shutdown() not sent');
      return;
    }
    this.#host.log.info(
      { storage: storage && { flushes: storage.flushes, rowsFlushed: storage.rowsFlushed, dirty: storage.dirty, open: storage.open } },
      'agones: drained and flushed; Shutdown()',
    );
    this.#status.shutdown = true;
    try {
      await abortable(sdk.shutdown(), AbortSignal.any([this.#closing.signal, AbortSignal.timeout(SHUTDOWN_CALL_MS)]));
      this.emit('shutdown');
    } catch (err) {
      this.#host.log.error({ err: message(err) }, 'agones: Shutdown() failed');
    }
  }

  /** Stops every timer, wait and stream; idempotent. */
  close(): void {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    this.#host.engineState.off('change', this.#onEngineState);
    clearInterval(this.#timer);
    if (this.#sdk !== undefined) closeSdk(this.#sdk);
  }
}
