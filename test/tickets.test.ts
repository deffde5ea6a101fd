// Login tickets end to end: POST /v1/tickets validates and signs (src/tickets.ts), the
// engine's native verifier (native/src/core/ticket.cpp, through the addon) accepts what
// was issued and refuses forged, expired, truncated and spliced tickets; the secret's
// sources (src/ticket-secret.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { loadConfig } from '../src/config.js';
import { ticketFormat, verifyTicket } from '../src/engine/index.js';
import { MAX_NAME_CHARS } from '../src/schemas/events.js';
import { MAX_TICKETS_PER_REQUEST, TICKET_TTL } from '../src/schemas/tickets.js';
import { defaultTokenPath } from '../src/local-token.js';
import { MIN_TICKET_SECRET_CHARS, defaultTicketSecretPath, resolveTicketSecret, ticketSecretSourceOf } from '../src/ticket-secret.js';
import { signTicket } from '../src/tickets.js';
import { build } from './helpers/app.js';

const SECRET = Buffer.from('ticket-test-secret-0123456789abcdefghij', 'utf8');
const TOKEN = 'tickets-test-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const nowSec = () => Math.floor(Date.now() / 1000);

interface Issued {
  playerId: number;
  ticket: string;
  expiresAt: number;
}

describe('POST /v1/tickets', () => {
  test('one ticket: 201, and the engine accepts it as that player until it expires', async (t) => {
    const app = await build(t, { token: TOKEN, ticketSecret: SECRET });
    const before = nowSec();
    const res = await app.inject({ method: 'POST', url: '/v1/tickets', headers: AUTH, payload: { playerId: 42, name: 'Alice' } });
    assert.equal(res.statusCode, 201, res.body);
    const [issued] = res.json().tickets as Issued[];
    assert.equal(issued!.playerId, 42);
    assert.ok(issued!.expiresAt >= before + TICKET_TTL.default && issued!.expiresAt <= nowSec() + TICKET_TTL.default, 'the default ttl');
    assert.match(issued!.ticket, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(verifyTicket(SECRET, issued!.ticket, nowSec()), { status: 'ok', playerId: 42, name: 'Alice', expiresAt: issued!.expiresAt });
    assert.equal(verifyTicket(SECRET, issued!.ticket, issued!.expiresAt - 1).status, 'ok');
    assert.equal(verifyTicket(SECRET, issued!.ticket, issued!.expiresAt).status, 'ticket_expired');
  });

  test(`a batch of ${MAX_TICKETS_PER_REQUEST}: every ticket verifies natively, in order, with its own ttl`, async (t) => {
    const app = await build(t, { ticketSecret: SECRET });
    const asked = Array.from({ length: MAX_TICKETS_PER_REQUEST }, (_, i) => ({ playerId: i + 1, name: `bot-${i + 1}`, ttlSeconds: 1 + (i % 100) }));
    const before = nowSec();
    const res = await app.inject({ method: 'POST', url: '/v1/tickets', payload: { tickets: asked } });
    assert.equal(res.statusCode, 201, res.body);
    const tickets = res.json().tickets as Issued[];
    assert.equal(tickets.length, MAX_TICKETS_PER_REQUEST);
    tickets.forEach((issued, i) => {
      assert.equal(issued.playerId, i + 1);
      assert.ok(issued.expiresAt - asked[i]!.ttlSeconds >= before, `ticket ${i}: expiresAt is now + ttl`);
      const verdict = verifyTicket(SECRET, issued.ticket, before);
      assert.deepEqual(verdict, { status: 'ok', playerId: i + 1, name: `bot-${i + 1}`, expiresAt: issued.expiresAt }, `ticket ${i}`);
    });
  });

  test('refused: a batch over the limit, a bad ttl, name or player, an empty batch (400, nothing issued)', async (t) => {
    const app = await build(t, { ticketSecret: SECRET });
    const one = { playerId: 1, name: 'a' };
    const bodies: [string, unknown][] = [
      [`${MAX_TICKETS_PER_REQUEST + 1} tickets`, { tickets: Array.from({ length: MAX_TICKETS_PER_REQUEST + 1 }, () => one) }],
      ['an empty batch', { tickets: [] }],
      ['ttl 0', { ...one, ttlSeconds: TICKET_TTL.minimum - 1 }],
      ['ttl over the maximum', { ...one, ttlSeconds: TICKET_TTL.maximum + 1 }],
      ['a fractional ttl', { ...one, ttlSeconds: 1.5 }],
      ['a ttl as text', { ...one, ttlSeconds: '300' }],
      ['a bad ttl inside a batch', { tickets: [one, { ...one, ttlSeconds: -5 }] }],
      ['player 0', { playerId: 0, name: 'a' }],
      ['a player id over u32', { playerId: 2 ** 32, name: 'a' }],
      ['no name', { playerId: 1 }],
      ['an empty name', { playerId: 1, name: '' }],
      [`a name over ${MAX_NAME_CHARS} characters`, { playerId: 1, name: 'x'.repeat(MAX_NAME_CHARS + 1) }],
      ['a control character in the name', { playerId: 1, name: 'a\nb' }],
      ['an unknown field', { ...one, admin: true }],
    ];
    for (const [what, payload] of bodies) {
      const res = await app.inject({ method: 'POST', url: '/v1/tickets', payload: payload as object });
      assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
    }
    // The limits themselves pass.
    const edge = await app.inject({
      method: 'POST',
      url: '/v1/tickets',
      payload: { tickets: [{ ...one, ttlSeconds: TICKET_TTL.minimum }, { playerId: 2 ** 32 - 1, name: 'x'.repeat(MAX_NAME_CHARS), ttlSeconds: TICKET_TTL.maximum }] },
    });
    assert.equal(edge.statusCode, 201, edge.body);
  });

  test('with a token configured, no token is 401 and nothing is signed', async (t) => {
    const app = await build(t, { token: TOKEN, ticketSecret: SECRET });
    const res = await app.inject({ method: 'POST', url: '/v1/tickets', payload: { playerId: 1, name: 'a' } });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'UNAUTHORIZED');
    assert.equal(res.json().tickets, undefined);
    const wrong = await app.inject({ method: 'POST', url: '/v1/tickets', headers: { authorization: 'Bearer nope' }, payload: { playerId: 1, name: 'a' } });
    assert.equal(wrong.statusCode, 401);
  });

  test('an app given no secret signs with its own random one', async (t) => {
    const app = await build(t);
    const res = await app.inject({ method: 'POST', url: '/v1/tickets', payload: { playerId: 5, name: 'e' } });
    const [issued] = res.json().tickets as Issued[];
    assert.equal(verifyTicket(app.ticketSecret, issued!.ticket, nowSec()).status, 'ok');
    assert.equal(verifyTicket(SECRET, issued!.ticket, nowSec()).status, 'bad_ticket');
  });
});

describe('the native verifier refuses', () => {
  const expiresAt = nowSec() + 600;
  const alice = signTicket(SECRET, { playerId: 1, name: 'Alice', expiresAt });
  const bob = signTicket(SECRET, { playerId: 2, name: 'Bob', expiresAt });

  test('a ticket signed with another secret', () => {
    const forged = signTicket(Buffer.from('not-the-servers-secret-0123456789abcdef'), { playerId: 1, name: 'Alice', expiresAt });
    assert.deepEqual(verifyTicket(SECRET, forged, nowSec()), { status: 'bad_ticket' });
    // A forgery is bad, not expired, whatever the time.
    assert.deepEqual(verifyTicket(SECRET, forged, expiresAt + 1), { status: 'bad_ticket' });
  });

  test('every flipped byte of the payload or the MAC', () => {
    const raw = Buffer.from(alice, 'ascii');
    for (let i = 0; i < raw.length; i++) {
      for (const bit of [0x01, 0x20]) {
        const flipped = Buffer.from(raw);
        flipped[i] = flipped[i]! ^ bit;
        assert.equal(verifyTicket(SECRET, flipped.toString('latin1'), nowSec()).status, 'bad_ticket', `byte ${i} ^ ${bit}`);
      }
    }
    // Re-encoding an altered payload (another expiry) keeps the MAC wrong.
    const [payload, mac] = alice.split('.') as [string, string];
    const later = Buffer.from(payload, 'base64url');
    later.writeBigUInt64LE(BigInt(expiresAt + 86_400), 6);
    assert.equal(verifyTicket(SECRET, `${later.toString('base64url')}.${mac}`, nowSec()).status, 'bad_ticket');
  });

  test('an expired ticket, with its claims', () => {
    const old = signTicket(SECRET, { playerId: 9, name: 'Old', expiresAt: nowSec() - 1 });
    assert.deepEqual(verifyTicket(SECRET, old, nowSec()), { status: 'ticket_expired', playerId: 9, name: 'Old', expiresAt: nowSec() - 1 });
  });

  test('every truncation', () => {
    for (let n = 0; n < alice.length; n++) assert.equal(verifyTicket(SECRET, alice.slice(0, n), nowSec()).status, 'bad_ticket', `first ${n}`);
    assert.equal(verifyTicket(SECRET, `${alice}A`, nowSec()).status, 'bad_ticket');
  });

  test("another player's identity: a ticket is its own player's and no one else's", () => {
    // Bob's payload under Alice's MAC, and the reverse.
    const [alicePayload, aliceMac] = alice.split('.') as [string, string];
    const [bobPayload, bobMac] = bob.split('.') as [string, string];
    assert.equal(verifyTicket(SECRET, `${bobPayload}.${aliceMac}`, nowSec()).status, 'bad_ticket');
    assert.equal(verifyTicket(SECRET, `${alicePayload}.${bobMac}`, nowSec()).status, 'bad_ticket');
    // The verdict names the ticket's player: HELLO binds the session to it, so a client
    // holding Alice's ticket is Alice, whatever it sends later.
    assert.equal(verifyTicket(SECRET, alice, nowSec()).playerId, 1);
    assert.equal(verifyTicket(SECRET, bob, nowSec()).playerId, 2);
  });

  test('the longest name fits the longest ticket the engine takes, and one more byte does not', () => {
    const format = ticketFormat();
    assert.equal(format.maxNameBytes, MAX_NAME_CHARS * 4, 'the engine sizes names from the schema');
    const name = '\u{1F3AE}'.repeat(MAX_NAME_CHARS);
    const longest = signTicket(SECRET, { playerId: 3, name, expiresAt });
    assert.equal(longest.length, format.maxTicketChars);
    const protocol = readFileSync(new URL('../docs/PROTOCOL.md', import.meta.url), 'utf8');
    const documented = /ASCII, at most (\d+) characters/.exec(protocol.slice(protocol.indexOf('## Tickets')));
    assert.equal(Number(documented?.[1]), format.maxTicketChars, 'docs/PROTOCOL.md "Tickets" states the limit');
    assert.deepEqual(verifyTicket(SECRET, longest, nowSec()), { status: 'ok', playerId: 3, name, expiresAt });
    const over = signTicket(SECRET, { playerId: 3, name: `${name}x`, expiresAt });
    assert.equal(verifyTicket(SECRET, over, nowSec()).status, 'bad_ticket');
  });
});

describe('the ticket secret', () => {
  test('generated at first start beside the token (mode 600), then reused', (t) => {
    const state = mkdtempSync(join(tmpdir(), 'gamesrv-ticket-secret-'));
    t.after(() => rmSync(state, { recursive: true, force: true }));
    const env = { XDG_STATE_HOME: state };
    const path = defaultTicketSecretPath(env);
    assert.equal(path, join(state, 'gamesrv', 'ticket-secret'));
    assert.equal(join(path, '..'), join(defaultTokenPath(env), '..'));
    const config = loadConfig([], env);
    assert.ok(config !== 'help');
    assert.deepEqual(config.ticketSecretSource, { kind: 'generated', path });
    const first = resolveTicketSecret(config.ticketSecretSource);
    assert.match(first.where, /\(created\)$/);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(first.secret.length >= MIN_TICKET_SECRET_CHARS);
    const second = resolveTicketSecret(config.ticketSecretSource);
    assert.ok(second.secret.equals(first.secret), 'the same secret on the next start');
    assert.doesNotMatch(second.where, /created/);
  });

  test('from GAMESRV_TICKET_SECRET or --ticket-secret-file; short, shared or both refused', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gamesrv-ticket-secret-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const text = 'a-fleet-wide-ticket-secret-of-40-chars!!';
    const fromEnv = ticketSecretSourceOf(undefined, { GAMESRV_TICKET_SECRET: text });
    assert.ok(resolveTicketSecret(fromEnv).secret.equals(Buffer.from(text)));
    const file = join(dir, 'secret');
    writeFileSync(file, `${text}\n`, { mode: 0o600 });
    const config = loadConfig(['--ticket-secret-file', file], { HOME: dir });
    assert.ok(config !== 'help');
    assert.deepEqual(config.ticketSecretSource, { kind: 'file', secret: text, path: file });
    const viaEnvFile = loadConfig([], { HOME: dir, GAMESRV_TICKET_SECRET_FILE: file });
    assert.ok(viaEnvFile !== 'help');
    assert.equal(viaEnvFile.ticketSecretSource.kind, 'file');
    assert.throws(() => ticketSecretSourceOf(undefined, { GAMESRV_TICKET_SECRET: 'x'.repeat(MIN_TICKET_SECRET_CHARS - 1) }), /at least 32/);
    assert.throws(() => loadConfig(['--ticket-secret-file', file], { HOME: dir, GAMESRV_TICKET_SECRET: text }), /choose one/);
    const shared = join(dir, 'shared');
    writeFileSync(shared, `${text}\n`, { mode: 0o644 });
    assert.throws(() => loadConfig(['--ticket-secret-file', shared], { HOME: dir }), /readable by other users/);
  });
});
