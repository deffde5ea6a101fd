// `gamesrv bots` (issue 14 item 7): native bots log in to an engine's game port, random-walk,
// chat and measure RTT and move->observed latency; through runBots() and through the CLI.
// Afterwards every bot has left: nobody online, accepted == processed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { Engine, runBots, type BotsSummary } from '../src/engine/index.js';
import { build } from './helpers/app.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const BOTS = 200;
const RATE_HZ = 10;
const DURATION_S = 2;

let serial = 0;
async function engineWithPort(): Promise<{ engine: Engine; port: number }> {
  const engine = new Engine({ worldSize: 1000, maxPlayers: 20_000 });
  await engine.start({
    serverName: `bots-${process.pid}-${++serial}`,
    pipe: false,
    monitor: false,
    sessionPort: 0,
    gameAuth: 'none',
    aoiRadius: 100,
    tickRateHz: 60,
  });
  const port = engine.gamePort;
  assert.ok(port !== null && port > 0, 'the game port is open');
  return { engine, port };
}

/** Flushes until nobody is online (a bot's close reaches the World as a queued LOGOUT). */
async function everyoneLeft(engine: Engine): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    await engine.flush();
    if (engine.snapshot().players.online === 0) break;
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
  const s = engine.snapshot();
  assert.equal(s.players.online, 0, 'every bot logged out');
  assert.equal(s.events.accepted, s.events.processed, 'accepted == processed');
}

function assertHealthy(summary: BotsSummary, bots = BOTS): void {
  const all = JSON.stringify(summary); // every message carries the whole summary: a failure says what happened
  assert.equal(summary.bots, bots, all);
  assert.equal(summary.connected, bots, `every bot connected: ${all}`);
  assert.equal(summary.failed, 0, all);
  assert.equal(summary.dropped, 0, `no bot was dropped by the server: ${all}`);
  assert.equal(summary.errorsReceived + summary.kicksReceived, 0, `no ERROR or KICK: ${all}`);
  assert.equal(summary.live, 0, `every bot left: ${all}`);
  // Counts depend on the machine's load (a bot moves from its WELCOME on): only that there were some.
  assert.ok(summary.movesSent > 0 && summary.pingsSent > 0 && summary.statesReceived > 0, all);
  assert.ok(summary.rttUs.count > 0 && summary.rttUs.p50 > 0 && summary.rttUs.p50 <= summary.rttUs.p99, `RTT measured: ${all}`);
  assert.ok(summary.moveObservedUs.count > 0, `moves were seen by neighbours: ${all}`);
  assert.ok(summary.moveObservedUs.p50 > 0 && summary.moveObservedUs.p50 <= summary.moveObservedUs.p99, all);
}

describe('bots', () => {
  let engine: Engine;
  let port: number;
  before(async () => ({ engine, port } = await engineWithPort()));
  after(() => engine.close());

  test(`runBots: ${BOTS} bots for ${DURATION_S} s at ${RATE_HZ} Hz log in, move, measure, and leave`, async () => {
    const first = 1_000_000;
    const before = engine.snapshot().events.byType.PLAYER_MOVE.applied;
    const progress: BotsSummary[] = [];
    const summary = await runBots(
      {
        port,
        count: BOTS,
        rateHz: RATE_HZ,
        durationS: DURATION_S,
        threads: 2,
        firstPlayerId: first,
        tickets: Array.from({ length: BOTS }, (_, i) => `${first + i}:bot-${i}`),
      },
      (s) => progress.push(s),
    );
    assertHealthy(summary);
    assert.ok(progress.length >= 1, 'a progress report a second');
    assert.ok(progress.every((p, i) => i === 0 || p.movesSent >= progress[i - 1]!.movesSent), 'progress counters only grow');
    await everyoneLeft(engine);
    const applied = engine.snapshot().events.byType.PLAYER_MOVE.applied - before;
    assert.ok(applied > 0 && applied <= summary.movesSent, `moves applied: ${applied} of ${summary.movesSent}`);
  });

  test('runBots refuses a ticket count that is not the bot count', async () => {
    await assert.rejects(runBots({ port, count: 2, firstPlayerId: 1, tickets: ['1:a'] }), { code: 'INVALID_ARGUMENT' });
  });

  test('bots that cannot connect fail, and the run ends early instead of waiting out its duration', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port: refused } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const summary = await runBots({ port: refused, count: 20, durationS: 60, firstPlayerId: 1, tickets: Array.from({ length: 20 }, (_, i) => `${1 + i}:bot-${i}`) });
    assert.equal(summary.failed, 20);
    assert.equal(summary.connected, 0);
    assert.match(summary.lastProblem ?? '', /connect/);
    assert.ok(summary.elapsedS < 10, `ended after ${summary.elapsedS} s`);
  });

  test(`gamesrv bots --json: ${BOTS} bots through the CLI`, async () => {
    const first = 2_000_000;
    const before = engine.snapshot().events.byType.PLAYER_MOVE.applied;
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', cli, 'bots', '--count', String(BOTS), '--rate', String(RATE_HZ), '--duration', String(DURATION_S), '--port', String(port), '--first-player', String(first), '--json'],
      { timeout: 60_000 },
    );
    const summary = JSON.parse(stdout) as BotsSummary;
    assertHealthy(summary);
    assert.match(stderr, /connected \d+\/200 .*moves\/s \d+ .*rtt .*move->observed/, 'a progress line on stderr');
    await everyoneLeft(engine);
    assert.ok(engine.snapshot().events.byType.PLAYER_MOVE.applied - before > 0, 'the CLI bots\' moves were applied');
  });
});

test('gamesrv bots --ticket-from: tickets from POST /v1/tickets (with the token) admit the bots to a ticket-checking port', async (t) => {
  const token = 'bots-test-token';
  const app = await build(t, {
    token,
    ticketSecret: Buffer.from('bots-test-secret-0123456789', 'utf8'),
    engineConfig: { sessionPort: 0, aoiRadius: 100, tickRateHz: 60, pipe: false, monitor: false },
    engineOptions: { worldSize: 1000, maxPlayers: 20_000 },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  assert.ok(address !== null && typeof address === 'object');
  const port = app.engine.gamePort;
  assert.ok(port !== null && port > 0);
  const bots = 100;
  const args = ['bots', '--count', String(bots), '--rate', String(RATE_HZ), '--duration', String(DURATION_S), '--port', String(port), '--json'];
  const url = `http://127.0.0.1:${address.port}/v1/tickets`;
  const env = { ...process.env, GAMESRV_TOKEN: token };
  const { stdout } = await run(process.execPath, ['--import', 'tsx', cli, ...args, '--ticket-from', url], { timeout: 60_000, env });
  assertHealthy(JSON.parse(stdout) as BotsSummary, bots);
  // A wrong token: the ticket request is refused, and the command says so.
  const refused = await run(process.execPath, ['--import', 'tsx', cli, ...args, '--ticket-from', url], { timeout: 60_000, env: { ...env, GAMESRV_TOKEN: 'wrong' } }).then(
    () => assert.fail('a refused ticket request must fail the command'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /POST .*\/v1\/tickets: 401/);
});
