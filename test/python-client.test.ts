// An independent client (issue 14, item 8): test/clients/gamesrv_client.py was written in
// Python from docs/PROTOCOL.md alone, not from the engine's code. Two players log in with
// tickets, one moves near the other, sees it move, chats, pings and goes away (LEAVE);
// both say BYE. If the document were not enough to write a working client, this fails.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { Engine } from '../src/engine/index.js';
import { signTicket } from '../src/tickets.js';

const SECRET = 'python-client-test-secret';
const WORLD = 1000; // the world is [-1000, 1000]^2
const AOI = 100;
const PLAYER_A = 81_001;
const PLAYER_B = 81_002;
const CLIENT = fileURLToPath(new URL('./clients/gamesrv_client.py', import.meta.url));

const ticket = (playerId: number) =>
  signTicket(Buffer.from(SECRET, 'utf8'), { playerId, name: `py${playerId}`, expiresAt: Math.floor(Date.now() / 1000) + 300 });

interface Welcome {
  sessionId: number;
  playerId: number;
  tickRateHz: number;
  replicationHz: number;
  worldMin: number;
  worldMax: number;
  aoiRadius: number;
}

interface Observed {
  welcomeA: Welcome;
  welcomeB: Welcome;
  sawMove: boolean;
  bSeenByA: { x: number; y: number };
  bTarget: { x: number; y: number };
  chatReceived: string;
  chatFrom: number;
  chatEchoed: boolean;
  leaveSeen: boolean;
  cornerCell: [number, number];
  rttMs: number;
}

/** Runs the client to its exit; resolves with its exit code, stdout and stderr. */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [CLIENT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Waits until `check` holds, flushing the event queue between looks: a BYE's close reaches
 * the World as a LOGOUT event queued by the server when it sees the close, which the test
 * has no event of its own to wait for (as `eventually` in test/game-sessions.test.ts).
 */
async function eventually(engine: Engine, check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await engine.flush();
    if (check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
}

let engine: Engine;
let port: number;

before(async () => {
  engine = new Engine({ worldSize: WORLD, ticketSecret: SECRET });
  await engine.start({
    serverName: `py-client-${process.pid}`,
    pipe: false,
    monitor: false,
    sessionPort: 0,
    aoiRadius: AOI,
    tickRateHz: 60,
  });
  const p = engine.gamePort;
  assert.ok(p !== null && p > 0, 'the game port is open');
  port = p;
});
after(() => engine.close());

test('python3 is installed (the independent client needs it; .ci/run installs it)', () => {
  const r = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  assert.equal(r.error, undefined, `python3 could not be run: ${String(r.error)}; install python3 (3.11+)`);
  assert.equal(r.status, 0, `python3 --version failed: ${r.stderr}`);
  const m = /Python (\d+)\.(\d+)/.exec(r.stdout + r.stderr);
  assert.ok(m, `unrecognised python3 --version output: ${r.stdout}${r.stderr}`);
  assert.ok(Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 11), `python3 is ${m[0]}; the client needs 3.11+`);
});

test('a Python client written from docs/PROTOCOL.md logs in, moves, sees a move, chats and leaves', async () => {
  const before = engine.snapshot().events;
  const r = await run(['--port', String(port), '--ticket-a', ticket(PLAYER_A), '--ticket-b', ticket(PLAYER_B)]);
  assert.equal(r.code, 0, `the Python client failed (exit ${r.code}): ${r.stderr}`);
  assert.equal(r.stderr, '', 'nothing on stderr');
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `one JSON line: ${r.stdout}`);
  const o = JSON.parse(lines[0]!) as Observed;

  for (const [w, id] of [
    [o.welcomeA, PLAYER_A],
    [o.welcomeB, PLAYER_B],
  ] as const) {
    assert.equal(w.playerId, id, 'WELCOME names the ticket’s player');
    assert.equal(w.tickRateHz, 60);
    assert.equal(w.worldMin, -WORLD);
    assert.equal(w.worldMax, WORLD);
    assert.equal(w.aoiRadius, AOI);
    assert.ok(w.replicationHz > 0 && w.replicationHz <= 60, `replicationHz ${w.replicationHz}`);
  }
  assert.notEqual(o.welcomeA.sessionId, o.welcomeB.sessionId, 'two sessions');
  assert.equal(o.sawMove, true);
  assert.ok(Math.abs(o.bSeenByA.x - o.bTarget.x) <= 0.01 && Math.abs(o.bSeenByA.y - o.bTarget.y) <= 0.01, JSON.stringify(o));
  assert.equal(o.chatFrom, PLAYER_A);
  assert.equal(o.chatReceived, 'hello from python — éè 😀');
  assert.equal(o.chatEchoed, true, 'the speaker hears its own CHAT');
  assert.equal(o.leaveSeen, true);
  // At (worldMax, worldMax) A is in the last cell of each axis: 2000 / 100 = 20 cells.
  assert.deepEqual(o.cornerCell, [19, 19]);
  assert.ok(Number.isFinite(o.rttMs) && o.rttMs >= 0 && o.rttMs < 10_000, `rttMs ${o.rttMs}`);

  // The players' moves reached the World where the client put them.
  await engine.flush();
  const a = engine.player(PLAYER_A);
  const b = engine.player(PLAYER_B);
  assert.ok(a && b, 'both players exist');
  assert.deepEqual([a.x, a.y], [WORLD, WORLD], 'A in the corner');
  assert.ok(Math.abs(b.x - o.bTarget.x) <= 0.01 && Math.abs(b.y - o.bTarget.y) <= 0.01, `B at ${b.x},${b.y}`);

  // BYE closed both sessions; each close becomes a LOGOUT in the World.
  await eventually(
    engine,
    () => engine.player(PLAYER_A)?.online === false && engine.player(PLAYER_B)?.online === false,
    'both players offline after BYE',
  );
  assert.equal(engine.sessions({ limit: 100 }).length, 0, 'no session left');
  await engine.flush();
  const s = engine.snapshot().events;
  assert.equal(s.accepted, s.processed, 'accepted == processed');
  // 2 logins, 4 moves, 1 chat and 2 logouts at least went through the queue.
  assert.ok(s.accepted - before.accepted >= 9, `events accepted: ${s.accepted - before.accepted}`);
});

test('the Python client exits non-zero, with the server’s ERROR on stderr, when a ticket is refused', async () => {
  const good = ticket(PLAYER_B);
  const forged = `${good.slice(0, good.indexOf('.'))}.${'A'.repeat(43)}`; // a MAC of zeros
  const r = await run(['--port', String(port), '--ticket-a', ticket(PLAYER_A), '--ticket-b', forged]);
  assert.equal(r.code, 1, `exit code ${r.code}; stdout ${r.stdout}`);
  assert.equal(r.stdout, '', 'no JSON line');
  assert.match(r.stderr, /^gamesrv_client: B: ERROR bad_ticket: /);
  await eventually(
    engine,
    () => engine.sessions({ limit: 100 }).length === 0 && engine.player(PLAYER_A)?.online === false,
    'no session and A offline after the client exited',
  );
  await engine.flush();
  const s = engine.snapshot().events;
  assert.equal(s.accepted, s.processed, 'accepted == processed');
});
