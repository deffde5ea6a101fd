// Writes the AsyncAPI 3 document of the telemetry WebSocket (GET /v1/telemetry,
// docs/TELEMETRY.md) to openapi/asyncapi.json, from the same TypeBox schemas the server
// checks and sends with (src/schemas/telemetry.ts). Committed; test/asyncapi.test.ts
// fails when the two differ, and validates the document with @asyncapi/parser.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { API_VERSION } from '../src/app.js';
import { ALL_SCHEMAS } from '../src/schemas/index.js';
import {
  AuthMessage,
  CLOSE_CODES,
  CONTROL_TOPICS,
  SubscribeMessage,
  TELEMETRY_ERROR_CODES,
  TELEMETRY_TOPICS,
  TelemetryFrame,
  TOPIC_DATA,
  UnsubscribeMessage,
  WindowHistogram,
} from '../src/schemas/telemetry.js';

export const ASYNCAPI_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../openapi/asyncapi.json');

type Json = Record<string, unknown>;

function idOf(schema: object): string {
  const id = (schema as { $id?: unknown }).$id;
  if (typeof id !== 'string') throw new Error('asyncapi: a shared schema has no $id');
  return id;
}

const SCHEMAS_BY_ID = new Map<string, unknown>([...ALL_SCHEMAS, WindowHistogram].map((s) => [idOf(s), s]));

/** A plain JSON copy of a TypeBox schema: `$ref: "<$id>"` points into components, `$id` goes. */
function plain(schema: unknown, needed: Set<string>): Json {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === '$id') continue;
      if (k === '$ref' && typeof x === 'string' && !x.startsWith('#')) {
        needed.add(x);
        out[k] = `#/components/schemas/${x}`;
      } else {
        out[k] = walk(x);
      }
    }
    return out;
  };
  return walk(JSON.parse(JSON.stringify(schema))) as Json;
}


export function buildAsyncApi(): Json {
  const needed = new Set<string>();
  const messages: Json = {};
  const send = [['subscribe', SubscribeMessage], ['unsubscribe', UnsubscribeMessage], ['auth', AuthMessage]] as const;
  for (const [op, schema] of send) {
    messages[op] = {
      name: op,
      title: `${op} (client → server)`,
      contentType: 'application/json',
      payload: plain(schema, needed),
    };
  }
  const frame = plain(TelemetryFrame, needed) as { properties: Json; required?: string[] };
  const topics = [...TELEMETRY_TOPICS, ...CONTROL_TOPICS];
  for (const topic of topics) {
    messages[`${topic}Frame`] = {
      name: `${topic}Frame`,
      title: `${topic} frame (server → client)`,
      contentType: 'application/json',
      payload: {
        ...frame,
        properties: { ...frame.properties, topic: { type: 'string', const: topic }, data: plain(TOPIC_DATA[topic], needed) },
      },
    };
  }
  const components: Json = {};
  // Referenced schemas, and theirs in turn.
  for (let grew = true; grew; ) {
    grew = false;
    for (const id of [...needed]) {
      if (id in components) continue;
      const schema = SCHEMAS_BY_ID.get(id);
      if (schema === undefined) throw new Error(`telemetry schema refers to unknown $id ${id}`);
      components[id] = plain(schema, needed);
      grew = true;
    }
  }
  const sorted = Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b)));
  const ref = (name: string) => ({ $ref: `#/channels/telemetry/messages/${name}` });
  return {
    asyncapi: '3.1.0',
    info: {
      title: 'gamesrv telemetry',
      version: API_VERSION,
      description:
        'Live engine telemetry over one WebSocket (docs/TELEMETRY.md). Subscribe to topics; every server message is a frame ' +
        `{topic, seq, ts, dropped?, data}. Error codes: ${TELEMETRY_ERROR_CODES.join(', ')}. Close codes: ` +
        Object.entries(CLOSE_CODES)
          .map(([k, v]) => `${v} (${k})`)
          .join(', ') +
        '.',
    },
    servers: {
      local: { host: '127.0.0.1:8080', protocol: 'ws', description: '`npm start` (loopback; --host and --port change it)' },
    },
    channels: {
      telemetry: {
        address: '/v1/telemetry',
        title: 'GET /v1/telemetry',
        messages: Object.fromEntries(Object.keys(messages).map((name) => [name, { $ref: `#/components/messages/${name}` }])),
      },
    },
    operations: {
      sendControl: {
        action: 'send',
        title: 'Subscribe, unsubscribe, authenticate',
        channel: { $ref: '#/channels/telemetry' },
        messages: send.map(([op]) => ref(op)),
      },
      receiveFrames: {
        action: 'receive',
        title: 'Frames: topic data, replies, state changes, errors',
        channel: { $ref: '#/channels/telemetry' },
        messages: topics.map((t) => ref(`${t}Frame`)),
      },
    },
    components: { messages, schemas: sorted },
  };
}

/** The document as committed: 2-space JSON with a trailing newline. */
export function generateAsyncApi(): string {
  return `${JSON.stringify(buildAsyncApi(), null, 2)}\n`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await mkdir(dirname(ASYNCAPI_PATH), { recursive: true });
  await writeFile(ASYNCAPI_PATH, generateAsyncApi());
  console.log(`wrote ${ASYNCAPI_PATH}`);
}
