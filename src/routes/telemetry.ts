// WS GET /v1/telemetry: what clients send, checked and answered here; what the server
// pushes, and flow control, live in the hub (src/telemetry/). The protocol is
// docs/TELEMETRY.md. A bad message gets an error frame; the connection stays open.
import type { FastifyPluginAsync } from 'fastify';
import type { RawData } from 'ws';

import { HttpProblem } from '../problems.js';
import {
  CLOSE_CODES,
  TELEMETRY_TOPICS,
  type ClientMessage,
  type ErrorData,
  type TelemetryTopic,
} from '../schemas/telemetry.js';
import type { TelemetryConnection } from '../telemetry/connection.js';
import type { TelemetryLimits } from '../telemetry/options.js';

const MAX_TOPICS_PER_MESSAGE = 16;
const MAX_TOKEN_LENGTH = 4096;
const TOPIC_SET: ReadonlySet<string> = new Set(TELEMETRY_TOPICS);
const TOPIC_LIST = TELEMETRY_TOPICS.join(', ');

type Parsed = { ok: true; message: ClientMessage } | { ok: false; error: ErrorData };

const fail = (code: ErrorData['code'], detail: string): Parsed => ({ ok: false, error: { code, detail } });

function toBuffer(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return Buffer.from(raw);
}

function parseTopics(value: unknown, op: string): TelemetryTopic[] | ErrorData {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_TOPICS_PER_MESSAGE) {
    return { code: 'BAD_MESSAGE', detail: `${op}: topics must be an array of 1 to ${MAX_TOPICS_PER_MESSAGE} topic names (${TOPIC_LIST})` };
  }
  const topics: TelemetryTopic[] = [];
  for (const t of value) {
    if (typeof t !== 'string' || !TOPIC_SET.has(t)) {
      const hint = t === 'state' ? '; state frames are sent to every connection without a subscription' : '';
      return { code: 'UNKNOWN_TOPIC', detail: `${op}: unknown topic ${JSON.stringify(t)}; topics: ${TOPIC_LIST}${hint}` };
    }
    if (!topics.includes(t as TelemetryTopic)) topics.push(t as TelemetryTopic);
  }
  return topics;
}

/** Checks one client message; unknown extra fields are ignored (forward compatibility). */
export function parseClientMessage(raw: Buffer, isBinary: boolean, limits: TelemetryLimits): Parsed {
  if (raw.length > limits.maxMessageBytes) {
    return fail('TOO_LARGE', `message of ${raw.length} bytes; the limit is ${limits.maxMessageBytes}`);
  }
  if (isBinary) return fail('BAD_MESSAGE', 'send JSON in text frames, not binary ones');
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    return fail('BAD_JSON', 'the message is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('BAD_MESSAGE', 'a message is a JSON object with an "op": subscribe, unsubscribe or auth');
  }
  const msg = value as Record<string, unknown>;
  switch (msg['op']) {
    case 'subscribe': {
      const topics = parseTopics(msg['topics'], 'subscribe');
      if (!Array.isArray(topics)) return { ok: false, error: topics };
      const interval = msg['intervalMs'];
      if (interval !== undefined) {
        if (!Number.isInteger(interval) || (interval as number) < limits.minIntervalMs || (interval as number) > limits.maxIntervalMs) {
          return fail('BAD_INTERVAL', `intervalMs must be an integer from ${limits.minIntervalMs} to ${limits.maxIntervalMs}, got ${JSON.stringify(interval)}`);
        }
        return { ok: true, message: { op: 'subscribe', topics, intervalMs: interval as number } };
      }
      return { ok: true, message: { op: 'subscribe', topics } };
    }
    case 'unsubscribe': {
      const topics = parseTopics(msg['topics'], 'unsubscribe');
      if (!Array.isArray(topics)) return { ok: false, error: topics };
      return { ok: true, message: { op: 'unsubscribe', topics } };
    }
    case 'auth': {
      const token = msg['token'];
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
        return fail('BAD_MESSAGE', `auth: token must be a non-empty string of at most ${MAX_TOKEN_LENGTH} characters`);
      }
      return { ok: true, message: { op: 'auth', token } };
    }
    default:
      return fail(
        'UNKNOWN_OP',
        typeof msg['op'] === 'string'
          ? `unknown op ${JSON.stringify(msg['op']).slice(0, 80)}; ops: subscribe, unsubscribe, auth`
          : 'a message needs an "op": subscribe, unsubscribe or auth',
      );
  }
}

const telemetryRoutes: FastifyPluginAsync = async (app) => {
  const hub = app.telemetry;

  const onMessage = (conn: TelemetryConnection, raw: RawData, isBinary: boolean) => {
    // A connection closed as too slow keeps its socket for closeGraceMs; ignore what it says.
    if (conn.closed) return;
    const parsed = parseClientMessage(toBuffer(raw), isBinary, hub.limits);
    if (!parsed.ok) {
      conn.error(parsed.error);
      return;
    }
    const message = parsed.message;
    if (!conn.admitControlMessage(Date.now())) {
      conn.error({ code: 'RATE_LIMITED', detail: `more than ${hub.limits.maxControlMessagesPerSec} messages in a second; this one was ignored` });
      return;
    }
    if (message.op === 'auth') {
      if (app.authorize(`Bearer ${message.token}`)) {
        conn.authorized = true;
        conn.reply('authenticated', { tokenRequired: app.authEnabled });
        return;
      }
      conn.authFailures += 1;
      if (conn.authFailures >= hub.limits.maxAuthFailures) {
        conn.close(CLOSE_CODES.authFailures, `${conn.authFailures} failed auth attempts`);
        return;
      }
      conn.error({ code: 'UNAUTHORIZED', detail: 'wrong token' });
      return;
    }
    if (!conn.authorized) {
      conn.error({
        code: 'UNAUTHORIZED',
        detail: `${message.op} needs the token: connect with Authorization: Bearer <token>, or send {"op":"auth","token":"<token>"} first`,
      });
      return;
    }
    if (message.op === 'subscribe') hub.subscribe(conn, message.topics, message.intervalMs);
    else hub.unsubscribe(conn, message.topics);
  };

  app.route({
    method: 'GET',
    url: '/v1/telemetry',
    // A WebSocket: OpenAPI 3.0 cannot describe it; docs/TELEMETRY.md does.
    schema: { hide: true },
    handler: async (_request, reply) => {
      reply.header('upgrade', 'websocket');
      throw new HttpProblem(426, 'Upgrade required', 'GET /v1/telemetry is a WebSocket; connect with a WebSocket client (docs/TELEMETRY.md)', {
        code: 'UPGRADE_REQUIRED',
      });
    },
    wsHandler: (socket, request) => {
      // Listeners go on before anything can arrive.
      const conn = hub.accept(socket, app.authorize(request.headers.authorization), request.ip ?? 'local');
      socket.on('message', (raw, isBinary) => onMessage(conn, raw, isBinary));
    },
  });
};

export default telemetryRoutes;
