// The telemetry hub's limits: what buildApp({ telemetry }) accepts, its defaults, and the
// checks that reject a combination the hub could not honour (docs/TELEMETRY.md, "Server options").
import type { WebSocket } from 'ws';

export interface TelemetryOptions {
  /** intervalMs of a subscribe that gives none (default 1000). */
  defaultIntervalMs?: number;
  /** Accepted intervalMs range (default 50..60000); outside it a subscribe gets BAD_INTERVAL. */
  minIntervalMs?: number;
  maxIntervalMs?: number;
  /** Above this many unread bytes (buffered + unacknowledged by the client; docs/TELEMETRY.md) nothing is written and frames are coalesced (default 256 KiB). */
  highWatermarkBytes?: number;
  /** Held-back frames are sent once the buffer is at or below this (default 64 KiB). */
  lowWatermarkBytes?: number;
  /** A client above this many unread bytes for hardLimitMs is closed (default 4 MiB, 5000 ms). */
  hardLimitBytes?: number;
  hardLimitMs?: number;
  /** A client whose frames are held back this long without its buffer draining is closed (default 20000). */
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
  /** Open telemetry connections, in all (default 1000); one more is closed with 1013. */
  maxConnections?: number;
  /** Open telemetry connections from one client address (default 50); one more is closed with 1013. */
  maxConnectionsPerAddress?: number;
  /** The server pings every connection this often; one that has not answered the previous ping is closed with 4002 (default 30000). */
  pingIntervalMs?: number;
  /** subscribe/unsubscribe/auth messages a connection may send per second; more get a RATE_LIMITED error frame (default 20). */
  maxControlMessagesPerSec?: number;
  /** Reads a socket's unread bytes instead of `bufferedAmount` + the kernel's unacknowledged bytes, so tests can fake a stuck client. */
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
  maxStallMs: 20_000,
  flushCheckMs: 50,
  closeGraceMs: 1000,
  maxMessageBytes: 4096,
  maxPayloadBytes: 64 * 1024,
  maxAuthFailures: 5,
  maxConnections: 1000,
  maxConnectionsPerAddress: 50,
  pingIntervalMs: 30_000,
  maxControlMessagesPerSec: 20,
};

export function resolveLimits(opts: TelemetryOptions): TelemetryLimits {
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
    ['maxConnectionsPerAddress', 'maxConnections'],
  ];
  for (const [a, b] of order) {
    if (limits[a] > limits[b]) throw new Error(`telemetry option ${a} (${limits[a]}) must not exceed ${b} (${limits[b]})`);
  }
  return limits;
}
