// PLAYER_MOVE's "x,y" means the same over HTTP as in the engine: the HTTP schema's pattern
// plus isRepresentableMove and isProtocolCoordinate (src/schemas/events.ts) accept exactly what the engine's one
// parser (parseCoordinatePair, used by the World and the pipe) accepts. The pipe answers
// ACK or a bad_payload ERROR from that parser, so it is the engine's verdict here.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { build } from './helpers/app.js';

const CORPUS = [
  '1,2', '-3.5,1e3', '0,0', '.5,5.', '1E+5,2e-5', '100.5,-200', '-0,0', '4.9e-324,1', '1e308,1',
  '999999999,0', '0.0e-999,1',
  // refused by the grammar
  '1, 2', ' 1,2', '1 ,2', '1,2 ', '+1,2', '0x10,2', '1,0x1p3', '1e,2', '--1,2', 'nan,1', 'inf,0', 'Infinity,1',
  '1,2,3', '1', ',2', '1,', '', '1;2', '١,٢', '1_000,2', '1e5.5,2', '.,1', '-,1', 'e5,1',
  // refused as out of a double's range
  '1e400,0', '0,1.8e308', '1e-400,0', '2e-324,1',
];

test('the HTTP API and the engine accept the same PLAYER_MOVE coordinates', async (t) => {
  const app = await build(t);
  assert.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: { type: 'PLAYER_LOGIN', playerId: 1 } })).statusCode, 202);
  const disagreements: string[] = [];
  let accepted = 0;
  for (const text of CORPUS) {
    const http = await app.inject({ method: 'POST', url: '/v1/events', payload: { type: 'PLAYER_MOVE', playerId: 1, data: text } });
    assert.ok(http.statusCode === 202 || http.statusCode === 400, `${JSON.stringify(text)}: HTTP ${http.statusCode} ${http.body}`);
    const pipe = await app.inject({ method: 'POST', url: '/v1/ipc/messages', payload: { type: 'PLAYER_MOVE', data: `1:${text}` } });
    assert.equal(pipe.statusCode, 200, pipe.body);
    const reply = pipe.json() as { type: string; data: string };
    const engineAccepts = reply.type === 'ACK';
    if (!engineAccepts) assert.match(reply.data, /^bad_payload/, `${JSON.stringify(text)}: ${reply.data}`);
    if ((http.statusCode === 202) !== engineAccepts) disagreements.push(`${JSON.stringify(text)}: HTTP ${http.statusCode}, pipe ${reply.type} ${reply.data}`);
    if (engineAccepts) accepted += 1;
  }
  assert.deepEqual(disagreements, []);
  assert.ok(accepted >= 10 && accepted < CORPUS.length, `both verdicts occur (${accepted} accepted)`);
});

test('chat lines are limited in UTF-8 bytes, as the World counts them; names have no control characters', async (t) => {
  const app = await build(t);
  const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/events', payload });
  assert.equal((await post({ type: 'PLAYER_LOGIN', playerId: 1, data: 'Ålice 🙂' })).statusCode, 202);
  for (const name of ['a\u0000b', 'tab\there', 'line\nbreak', 'del\u007f']) {
    const res = await post({ type: 'PLAYER_LOGIN', playerId: 2, data: name });
    assert.equal(res.statusCode, 400, JSON.stringify(name));
  }
  assert.equal((await post({ type: 'PLAYER_CHAT', playerId: 1, data: 'x'.repeat(512) })).statusCode, 202);
  // 200 characters, 600 bytes: within a character count, over the World's byte limit.
  const wide = await post({ events: [{ type: 'PLAYER_CHAT', playerId: 1, data: 'ok' }, { type: 'PLAYER_CHAT', playerId: 1, data: '€'.repeat(200) }] });
  assert.equal(wide.statusCode, 400);
  assert.equal(wide.json().field, 'body/events/1/data');
  assert.equal(wide.json().index, 1);
  assert.equal((await post({ type: 'PLAYER_CHAT', playerId: 1, data: '' })).statusCode, 400);
  await app.engine.flush();
  const s = app.engine.snapshot();
  assert.equal(s.events.accepted, 2, 'only the valid login and the 512-byte line were accepted');
});
