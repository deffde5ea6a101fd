// One telemetry WebSocket: its subscriptions, its frame seq, and its flow control.
//
// Flow control is per connection: above the high watermark of the socket's send buffer
// nothing is written; only the newest frame per topic is kept (memory per connection is
// bounded by the topic count) and sent, with a `dropped` count, once the buffer is back
// below the low watermark. A client that stays stuck is closed with CLOSE_CODES.tooSlow.
import type { WebSocket } from 'ws';

import { CLOSE_CODES, type ErrorData, type FrameTopic, type PeriodicTopic, type TelemetryTopic } from '../schemas/telemetry.js';
import { formatBytes, formatMs } from '../format.js';
import type { TelemetryLimits } from './options.js';
import type { Baseline } from './topics.js';

/**
 * What a connection needs of its hub (TelemetryHub): spelled out here so this file does
 * not import the hub that imports it.
 */
export interface ConnectionHost {
  readonly limits: TelemetryLimits;
  readonly counters: { framesSent: number; framesDropped: number; slowClosed: number };
  bufferedAmount(socket: WebSocket): number;
  /** Forgets the connection; called once it is closed, by either side. */
  remove(conn: TelemetryConnection): void;
  /** Called when the connection starts or ends a stall. */
  stallChanged(conn: TelemetryConnection): void;
}

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
  /**
   * Per periodic topic, the snapshot its last frame was built from: the next frame's rates
   * and window percentiles are computed against it, so they cover the whole time between
   * the two frames whatever the hub's own tick rate.
   */
  readonly bases = new Map<PeriodicTopic, Baseline>();
  intervalMs: number;
  closed = false;
  /** The client address, for the per-address connection cap. */
  readonly address: string;
  /** A ping was sent and its pong has not come back yet. */
  awaitingPong = false;
  /** Control messages in the current one-second window (maxControlMessagesPerSec). */
  #controlWindowStart = 0;
  #controlCount = 0;
  #seq = 0;
  #stalledSince: number | undefined;
  #overHardSince: number | undefined;
  /** Newest held-back frame per topic, in the order they were last replaced. */
  readonly #pending = new Map<FrameTopic, Pending>();
  readonly #hub: ConnectionHost;

  constructor(hub: ConnectionHost, socket: WebSocket, authorized: boolean, intervalMs: number, address: string) {
    this.#hub = hub;
    this.socket = socket;
    this.authorized = authorized;
    this.intervalMs = intervalMs;
    this.address = address;
    socket.on('pong', () => {
      this.awaitingPong = false;
    });
  }

  /** Counts a control message; false when it is over maxControlMessagesPerSec in this second. */
  admitControlMessage(nowMs: number): boolean {
    if (nowMs - this.#controlWindowStart >= 1000) {
      this.#controlWindowStart = nowMs;
      this.#controlCount = 0;
    }
    this.#controlCount += 1;
    return this.#controlCount <= this.#hub.limits.maxControlMessagesPerSec;
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
