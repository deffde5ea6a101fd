// The AsyncAPI document of the telemetry WebSocket: openapi/asyncapi.json is what
// scripts/asyncapi.ts generates from the TypeBox schemas, @asyncapi/parser accepts it
// without errors or warnings, and frames a live server sends validate against it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { test } from 'node:test';

import { Parser } from '@asyncapi/parser';
import { Ajv } from 'ajv';

import { ASYNCAPI_PATH, buildAsyncApi, generateAsyncApi } from '../scripts/asyncapi.js';
import { CONTROL_TOPICS, TELEMETRY_TOPICS } from '../src/schemas/telemetry.js';
import { build } from './helpers/app.js';
import { messageText } from './helpers/ws.js';

test('openapi/asyncapi.json is what the schemas generate (run `npm run asyncapi` after changing them)', async () => {
  assert.equal(await readFile(ASYNCAPI_PATH, 'utf8'), generateAsyncApi());
});

test('@asyncapi/parser: an AsyncAPI 3 document with every message and both operations, no errors or warnings', async () => {
  const { document, diagnostics } = await new Parser().parse(await readFile(ASYNCAPI_PATH, 'utf8'));
  // Severity 0 = error, 1 = warning.
  assert.deepEqual(diagnostics.filter((d) => Number(d.severity) <= 1).map((d) => `${d.code}: ${d.message}`), []);
  assert.ok(document, 'the document parses');
  assert.match(document.version(), /^3\./);
  const names = document.allMessages().all().map((m) => m.name());
  for (const topic of [...TELEMETRY_TOPICS, ...CONTROL_TOPICS]) assert.ok(names.includes(`${topic}Frame`), topic);
  for (const op of ['subscribe', 'unsubscribe', 'auth']) assert.ok(names.includes(op), op);
  assert.deepEqual(document.operations().all().map((o) => o.action()).sort(), ['receive', 'send']);
});

test('frames from a live server validate against their message in the document', { timeout: 30_000 }, async (t) => {
  const doc = buildAsyncApi() as { components: { messages: Record<string, { payload: object }>; schemas: object } };
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validators = new Map<string, ReturnType<typeof ajv.compile>>();
  for (const [name, message] of Object.entries(doc.components.messages)) {
    // The payload at the root, beside the components its $refs point into.
    validators.set(name, ajv.compile({ ...message.payload, components: { schemas: doc.components.schemas } }));
  }
  const app = await build(t, { telemetry: { minIntervalMs: 50 } });
  await app.inject({ method: 'POST', url: '/v1/events', payload: { type: 'PLAYER_LOGIN', playerId: 1 } });
  const seen = new Map<string, unknown>();
  const wanted = new Set([...TELEMETRY_TOPICS.filter((x) => x !== 'jobs'), 'state', 'subscribed', 'error']);
  const all = new Promise<void>((resolve) => {
    void app
      .injectWS('/v1/telemetry', { socket: { remoteAddress: '127.0.0.1' } as Socket }, {
        onInit: (ws) => {
          ws.on('message', (raw) => {
            const frame = JSON.parse(messageText(raw)) as { topic: string };
            if (!seen.has(frame.topic)) seen.set(frame.topic, frame);
            if ([...wanted].every((w) => seen.has(w))) {
              ws.terminate();
              resolve();
            }
          });
        },
      })
      .then((ws) => {
        ws.send(JSON.stringify({ op: 'subscribe', topics: TELEMETRY_TOPICS.filter((x) => x !== 'jobs'), intervalMs: 50 }));
        ws.send(JSON.stringify({ op: 'nope' }));
      });
  });
  await all;
  // The schemas can fail: a frame missing its data's fields, or with seq 0, is refused.
  assert.ok(!validators.get('stateFrame')!({ topic: 'state', seq: 1, ts: 1, data: {} }));
  assert.ok(!validators.get('stateFrame')!({ ...(seen.get('state') as object), seq: 0 }));
  for (const [topic, frame] of seen) {
    const validate = validators.get(`${topic}Frame`);
    assert.ok(validate, `a message for ${topic}`);
    assert.ok(validate(frame), `${topic}: ${ajv.errorsText(validate.errors)}`);
  }
});
