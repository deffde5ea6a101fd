// A client of WS /v1/telemetry (docs/TELEMETRY.md): subscribes on every (re)connect,
// authenticates with an `auth` message when the server wants the token (browsers cannot
// set headers on a WebSocket), and reconnects with capped, jittered backoff whenever the
// socket closes, for whatever reason.
//
// Events: 'frame' (detail: the frame, for topics and `state`), 'status' (detail: Status).
import { tokens } from './token.js';

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

/**
 * @typedef {'connecting' | 'live' | 'reconnecting' | 'unauthorized'} StatusName
 * @typedef {{ status: StatusName, connections: number, attempt: number, delayMs?: number,
 *   closeCode?: number, closeReason?: string, detail?: string }} Status
 * @typedef {{ topic: string, seq: number, ts: number, dropped?: number, data: any }} Frame
 */

export class TelemetryClient extends EventTarget {
  /** @type {WebSocket | null} */
  #ws = null;
  /** Successful opens so far; 2 and up are reconnections. */
  #connections = 0;
  /** Failed attempts since the last subscription went through. */
  #attempt = 0;
  #asking = false;
  /** @type {Status} */
  status = { status: 'connecting', connections: 0, attempt: 0 };

  /**
   * @param {{ topics: string[], intervalMs: number, url?: URL }} opts
   */
  constructor(opts) {
    super();
    this.topics = opts.topics;
    this.intervalMs = opts.intervalMs;
    this.url = opts.url ?? telemetryUrl();
    // A token entered elsewhere (a REST 401) unlocks the subscription too.
    tokens.addEventListener('change', () => {
      if (this.status.status === 'unauthorized') this.#authenticateAndSubscribe();
    });
  }

  start() {
    this.#connect();
  }

  #connect() {
    this.#setStatus({ status: this.#connections === 0 ? 'connecting' : 'reconnecting', attempt: this.#attempt });
    const ws = new WebSocket(this.url);
    this.#ws = ws;
    ws.addEventListener('open', () => {
      this.#connections += 1;
      this.#authenticateAndSubscribe();
    });
    ws.addEventListener('message', (ev) => this.#onMessage(ev));
    ws.addEventListener('close', (ev) => this.#onClose(ev));
  }

  #authenticateAndSubscribe() {
    const ws = this.#ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return;
    const token = tokens.current;
    if (token !== null) ws.send(JSON.stringify({ op: 'auth', token }));
    ws.send(JSON.stringify({ op: 'subscribe', topics: this.topics, intervalMs: this.intervalMs }));
  }

  /** @param {MessageEvent} ev */
  #onMessage(ev) {
    /** @type {Frame} */
    let frame;
    try {
      frame = JSON.parse(ev.data);
    } catch {
      return;
    }
    switch (frame.topic) {
      case 'subscribed':
        this.#attempt = 0;
        this.#setStatus({ status: 'live', attempt: 0 });
        return;
      case 'authenticated':
      case 'unsubscribed':
        return;
      case 'error':
        if (frame.data.code === 'UNAUTHORIZED') {
          this.#onUnauthorized(frame.data.detail).catch((/** @type {unknown} */ err) => console.error('telemetry: asking for the token failed:', err));
        } else {
          console.warn('telemetry:', frame.data.code, frame.data.detail);
        }
        return;
      default:
        this.dispatchEvent(new CustomEvent('frame', { detail: frame }));
    }
  }

  /** @param {string} detail */
  async #onUnauthorized(detail) {
    if (this.#asking) return;
    const refused = detail === 'wrong token';
    if (refused) tokens.clear();
    this.#setStatus({ status: 'unauthorized', attempt: 0, detail });
    this.#asking = true;
    try {
      const token = await tokens.ask(`${refused ? 'That token was refused. ' : ''}Live telemetry: ${detail}`);
      if (token !== null) this.#authenticateAndSubscribe();
    } finally {
      this.#asking = false;
    }
  }

  /** @param {CloseEvent} ev */
  #onClose(ev) {
    this.#ws = null;
    // 4001: too many wrong tokens on this connection; the next one asks afresh.
    if (ev.code === 4001) tokens.clear();
    const base = BACKOFF_MS[Math.min(this.#attempt, BACKOFF_MS.length - 1)] ?? 1000;
    const delayMs = Math.round(base * (0.8 + Math.random() * 0.4));
    this.#attempt += 1;
    this.#setStatus({ status: 'reconnecting', attempt: this.#attempt, delayMs, closeCode: ev.code, closeReason: ev.reason });
    setTimeout(() => this.#connect(), delayMs);
  }

  /** @param {Omit<Status, 'connections'>} status */
  #setStatus(status) {
    this.status = { ...status, connections: this.#connections };
    this.dispatchEvent(new CustomEvent('status', { detail: this.status }));
  }
}

function telemetryUrl() {
  const url = new URL('v1/telemetry', document.baseURI);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url;
}
