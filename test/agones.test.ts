// Contract tests of the Agones lifecycle (src/agones/) against a fake SDK sidecar that
// serves the SDK package's own generated gRPC definitions (test/helpers/fake-agones.ts):
// Ready only once the game port accepts; Health() through a pause, not while a running
// loop stalls, again once it ticks; the players Counter follows the World; WatchGameServer
// reaches GET /v1/engine and /metrics; SIGTERM → drain → final flush → Shutdown(), with
// the sidecar starting 2 s after the server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';

import type { FastifyInstance } from 'fastify';

import type { AgonesLifecycle } from '../src/agones/lifecycle.js';
import { HELP, loadConfig } from '../src/config.js';
import { DEFAULT_SDK_PORT } from '../src/schemas/agones.js';
import { STALL_FRACTION, STALL_WINDOW_TICKS, StallDetector } from '../src/agones/stall.js';
import { FakeAgones } from './helpers/fake-agones.js';
import { build } from './helpers/app.js';
import { GameClient } from './helpers/game-client.js';

const HEALTH_MS = 100;

async function fake(t: TestContext, accepting = true): Promise<FakeAgones> {
  const f = await FakeAgones.start(accepting);
  t.after(() => f.close());
  return f;
}

const lifecycleOf = (app: FastifyInstance): AgonesLifecycle => {
  assert.ok(app.agones !== null, 'the app is an Agones game server');
  return app.agones;
};

/** Resolves after `n` more health periods of the lifecycle (each a look at the engine). */
async function checks(agones: AgonesLifecycle, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await once(agones, 'check');
}

async function connected(agones: AgonesLifecycle): Promise<void> {
  if (!agones.status().connected) await once(agones, 'connected');
}

/** Whether a TCP connection to the port is accepted. */
const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

test('the stall detector: a running loop under a tenth of its due ticks is stalled; paused never; ticking again heals', () => {
  const d = new StallDetector(100);
  const c = (state: 'running' | 'paused', ticks: number) => ({ state, ticks, tickRateHz: 100, loopThreads: 1 });
  // 100 Hz and a 100 ms minimum: a window is 10 ticks due (STALL_WINDOW_TICKS), 1 the least that is not a stall.
  assert.equal(STALL_WINDOW_TICKS, 10);
  assert.equal(STALL_FRACTION, 0.1);
  assert.equal(d.observe(0, c('running', 0)), false, 'the first sample is only a base');
  assert.equal(d.observe(100, c('running', 10)), false, 'all due ticks made');
  assert.equal(d.observe(200, c('running', 11)), false, 'a tenth of the due ticks is slow, not stalled');
  assert.equal(d.observe(300, c('running', 11)), true, 'no tick in a window');
  assert.equal(d.observe(350, c('running', 11)), true, 'the verdict holds until the next window closes');
  assert.equal(d.observe(400, c('paused', 11)), false, 'a paused loop is not stalled');
  assert.equal(d.observe(500, c('running', 11)), false, 'after a pause the count starts again');
  assert.equal(d.observe(600, c('running', 11)), true);
  assert.equal(d.observe(700, c('running', 21)), false, 'ticking again');
  const slow = new StallDetector(100);
  const at1Hz = (ticks: number) => ({ state: 'running' as const, ticks, tickRateHz: 1, loopThreads: 1 });
  slow.observe(0, at1Hz(0));
  assert.equal(slow.observe(5000, at1Hz(0)), false, 'at 1 Hz a window is 10 s, not the 100 ms minimum');
  assert.equal(slow.observe(10_000, at1Hz(0)), true);
});

test('Ready only once the engine runs and the game port accepts; the GameServer state reaches GET /v1/engine and /metrics; the players Counter and the engine-state label follow', { timeout: 60_000 }, async (t) => {
  const sdk = await fake(t);
  const app = await build(t, {
    autoStart: false,
    agones: { port: sdk.port, healthMs: HEALTH_MS },
    engineOptions: { maxPlayers: 500 },
    engineConfig: { sessionPort: 0, gameAuth: 'none' },
  });
  const agones = lifecycleOf(app);
  await connected(agones);
  await checks(agones, 3);
  assert.equal(sdk.count('Ready'), 0, 'no Ready() while the engine is stopped');
  assert.equal((await sdk.next('SetLabel', (c) => c.detail?.['value'] === 'stopped')).detail?.['key'], 'engine-state');
  assert.ok(sdk.count('Health') > 0, 'Health() pings start once connected');

  sdk.onReady = async () => {
    const port = app.engine.gamePort;
    return { gamePort: port, gamePortAccepted: port !== null && (await accepts(port)) };
  };
  const stateReady = once(agones, 'state');
  const readySent = once(agones, 'ready');
  assert.equal((await app.inject({ method: 'POST', url: '/v1/engine/start' })).statusCode, 200);
  const ready = await sdk.next('Ready');
  assert.equal(ready.detail?.['gamePortAccepted'], true, `the game port accepted when Ready() arrived (${JSON.stringify(ready.detail)})`);
  assert.equal(sdk.count('Ready'), 1);
  assert.deepEqual(await stateReady, ['Ready']);
  await readySent;
  const engine = (await app.inject({ url: '/v1/engine' })).json<{ agones: Record<string, unknown> }>();
  assert.equal(engine.agones['state'], 'Ready');
  assert.equal(engine.agones['ready'], true);
  await sdk.next('SetLabel', (c) => c.detail?.['value'] === 'running');

  const allocated = once(agones, 'state');
  sdk.setState('Allocated');
  assert.deepEqual(await allocated, ['Allocated']);
  const metrics = (await app.inject({ url: '/metrics' })).body;
  assert.match(metrics, /^gamesrv_agones_state\{state="Allocated"\} 1$/m);
  assert.match(metrics, /^gamesrv_agones_state\{state="Ready"\} 0$/m);
  assert.match(metrics, /^gamesrv_agones_healthy 1$/m);
  // A watch the sidecar ends is renewed, and the renewed one delivers.
  sdk.endWatches();
  await sdk.next('WatchGameServer', () => true, 1);
  const reserved = once(agones, 'state');
  sdk.setState('Reserved');
  assert.deepEqual(await reserved, ['Reserved']);

  await sdk.next('UpdateCounter', (c) => c.detail?.['capacity'] === 500);
  const events = async (body: object) => assert.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: body })).statusCode, 202);
  await events({ events: [1, 2, 3].map((id) => ({ type: 'PLAYER_LOGIN', playerId: id, data: `p${id}` })) });
  await sdk.next('UpdateCounter', (c) => c.detail?.['count'] === 3);
  // A player of the game port counts too.
  const client = await GameClient.connect(app.engine.gamePort!);
  t.after(() => client.close());
  await client.login('7:seven');
  await sdk.next('UpdateCounter', (c) => c.detail?.['count'] === 4);
  await events({ type: 'PLAYER_LOGOUT', playerId: 2 });
  await sdk.next('UpdateCounter', (c) => c.detail?.['count'] === 3);
  client.bye();
  await sdk.next('UpdateCounter', (c) => c.detail?.['count'] === 2);
  assert.deepEqual(sdk.counters.get('players'), { count: 2, capacity: 500 });
  assert.equal(app.engine.snapshot().players.online, 2);
});

test('Health() pings go on through a pause, stop while the running loop stalls (tickWorkUs far above the tick period), and come back with ticking', { timeout: 60_000 }, async (t) => {
  const sdk = await fake(t);
  const app = await build(t, { agones: { port: sdk.port, healthMs: HEALTH_MS }, engineConfig: { tickRateHz: 60 } });
  const agones = lifecycleOf(app);
  await sdk.next('Ready');
  const post = async (url: string, payload?: object) => {
    const r = await app.inject({ method: 'POST', url, ...(payload !== undefined ? { payload } : {}) });
    assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
  };

  await post('/v1/engine/pause');
  const beforePause = sdk.count('Health');
  await checks(agones, 5);
  await sdk.next('Health', () => true, beforePause + 4);
  assert.equal(agones.status().healthy, true, 'a paused server is healthy');
  await post('/v1/engine/resume');

  // Each tick now works 0.5 s against a period of 16.7 ms: the loop makes ~2 of 60 ticks a second.
  await post('/v1/engine/stop');
  if (!agones.status().healthy) assert.deepEqual(await once(agones, 'health'), [true], 'a stopped loop is no stall');
  const unhealthy = once(agones, 'health');
  await post('/v1/engine/start', { tickWorkUs: 500_000 });
  assert.deepEqual(await unhealthy, [false]);
  await checks(agones, 1); // a ping sent before the verdict may still be on its way
  const pings = agones.status().healthPings;
  const received = sdk.count('Health');
  await checks(agones, 6);
  assert.equal(agones.status().healthPings, pings, 'no Health() while stalled');
  assert.equal(sdk.count('Health'), received, 'the sidecar got no Health() while stalled');
  assert.equal((await app.inject({ url: '/v1/engine' })).json<{ agones: { healthy: boolean } }>().agones.healthy, false);
  assert.match((await app.inject({ url: '/metrics' })).body, /^gamesrv_agones_healthy 0$/m);

  // tickWorkUs is fixed for a run: a restart without it lets the loop tick again.
  await post('/v1/engine/stop');
  await post('/v1/engine/start', { tickWorkUs: 0 });
  const ticks = app.engine.snapshot().controller.ticks;
  await sdk.next('Health', () => true, received);
  // (The verdict is per window: on a machine that starves the loop it may take a few.)
  if (!agones.status().healthy) assert.deepEqual(await once(agones, 'health'), [true]);
  assert.equal(app.engine.state, 'running');
  assert.ok(app.engine.snapshot().controller.ticks > ticks, 'the loop ticks');
  const after = sdk.count('Health');
  await checks(agones, 3);
  assert.ok(sdk.count('Health') > after, 'pings go on while the loop ticks');
});

test('closing the app while the sidecar is unreachable ends the connect wait at once', { timeout: 30_000 }, async (t) => {
  const sdk = await fake(t, false);
  const app = await build(t, { agones: { port: sdk.port, healthMs: HEALTH_MS }, engineConfig: { sessionPort: -1 } });
  const agones = lifecycleOf(app);
  // The fake resets every connection: the lifecycle is inside a 2 s connect attempt.
  const started = performance.now();
  agones.close();
  await agones.connectLoopEnded();
  const tookMs = performance.now() - started;
  assert.equal(agones.status().connected, false);
  assert.ok(tookMs < 1000, `the connect loop ended ${tookMs.toFixed(0)} ms after close(): within a 2 s connect attempt`);
  await app.close();
  sdk.acceptFrom();
  assert.equal(sdk.count('Ready') + sdk.count('Health'), 0, 'nothing reached the sidecar');
});

test('POST /v1/engine/drain: Shutdown() arrives after the sessions left and the final flush closed the store', { timeout: 60_000 }, async (t) => {
  const sdk = await fake(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'gamesrv-agones-drain-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const app = await build(t, {
    agones: { port: sdk.port, healthMs: HEALTH_MS },
    engineConfig: { sessionPort: 0, gameAuth: 'none', database: 'sqlite', dataDir, flushMs: 60_000 },
  });
  await sdk.next('Ready');
  const client = await GameClient.connect(app.engine.gamePort!);
  t.after(() => client.close());
  await client.login('5:eve');
  client.move(3, 4, 1);
  await sdk.next('UpdateCounter', (c) => c.detail?.['count'] === 1);
  let leftAt = Number.POSITIVE_INFINITY;
  void client.next('NOTICE').then(() => {
    client.bye();
    return client.closed.then(() => (leftAt = Date.now()));
  });
  sdk.onShutdown = () => {
    const s = app.engine.snapshot();
    return { engine: s.state, sessions: s.sessions.active, storage: { open: s.storage.open, dirty: s.storage.dirty, rowsFlushed: s.storage.rowsFlushed }, leftAt };
  };
  const r = await app.inject({ method: 'POST', url: '/v1/engine/drain', payload: { deadlineMs: 10_000 } });
  assert.equal(r.statusCode, 200, r.body);
  assert.equal(r.json<{ sessionsAtStart: number; kicked: number }>().kicked, 0, 'the player left by itself');
  const shutdown = await sdk.next('Shutdown');
  assert.equal(sdk.count('Shutdown'), 1);
  // A long flushMs: eve's row is written by the stop's final flush, before Shutdown().
  assert.deepEqual(shutdown.detail, { engine: 'stopped', sessions: 0, storage: { open: false, dirty: 0, rowsFlushed: 1 }, leftAt });
  assert.ok(leftAt <= shutdown.atMs);
  assert.equal((await app.inject({ url: '/v1/engine' })).json<{ agones: { shutdown: boolean; state: string } }>().agones.shutdown, true);
});

interface LogLine {
  msg?: string;
  time?: number;
  gamePort?: number;
  drain?: { sessionsAtStart: number };
  storage?: { flushes: number; rowsFlushed: number; dirty: number; open: boolean };
}

test('SIGTERM: drain, final storage flush, then Shutdown(), in that order; the sidecar starting 2 s after the server is tolerated', { timeout: 90_000 }, async (t) => {
  const sdk = await fake(t, false);
  const state = mkdtempSync(join(tmpdir(), 'gamesrv-agones-'));
  t.after(() => rmSync(state, { recursive: true, force: true }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GAMESRV_') && !k.startsWith('AGONES_')));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/server.ts', '--port', '0', '--game-port', '0', '--game-auth', 'none', '--no-auth', '--database', 'sqlite', '--data-dir', join(state, 'data'), '--agones-health-ms', '200', '--drain-deadline', '10000'],
    {
      cwd: new URL('..', import.meta.url),
      env: { ...env, XDG_STATE_HOME: state, AGONES_SDK_GRPC_PORT: String(sdk.port), GAMESRV_SERVER_NAME: `agones-${process.pid}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines: LogLine[] = [];
  const gamePort = new Promise<number>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const l = JSON.parse(line) as LogLine;
        lines.push(l);
        if (l.msg === 'engine ready' && l.gamePort) resolve(l.gamePort);
      } catch {
        // not a log line
      }
    });
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const port = await gamePort;

  // The deliberate delay: the sidecar comes up 2 s after the server listens.
  await new Promise<void>((resolve) => setTimeout(resolve, 2000));
  const acceptedFrom = Date.now();
  sdk.acceptFrom();
  const ready = await sdk.next('Ready');
  assert.ok(ready.atMs >= acceptedFrom);
  assert.ok(lines.some((l) => l.msg === 'agones: SDK sidecar not reachable yet; retrying'), 'the server retried while the sidecar was down');

  const client = await GameClient.connect(port);
  await client.login('1:alice');
  client.move(12, 34, 1);
  await sdk.next('UpdateCounter', (c) => c.detail?.['count'] === 1);

  child.kill('SIGTERM');
  await client.next('NOTICE');
  client.bye();
  await client.closed;
  const leftAt = Date.now();
  const [code, signal] = await exited;
  assert.equal(signal, null, stderr);
  assert.equal(code, 0, stderr);

  const stopped = lines.find((l) => l.msg === 'engine stopped');
  const flushed = lines.find((l) => l.msg === 'agones: drained and flushed; Shutdown()');
  assert.ok(stopped?.time && stopped.drain, `the drain's "engine stopped" line; got ${lines.map((l) => l.msg).join(' | ')}`);
  assert.equal(stopped.drain.sessionsAtStart, 1);
  assert.ok(flushed?.time && flushed.storage, 'the line before Shutdown()');
  assert.equal(flushed.storage.open, false, 'the store was closed (final flush) before Shutdown()');
  assert.equal(flushed.storage.dirty, 0, 'nothing left unsaved');
  assert.ok(flushed.storage.rowsFlushed >= 1, 'alice was written');
  const shutdowns = sdk.calls.filter((c) => c.name === 'Shutdown');
  assert.equal(shutdowns.length, 1);
  const shutdownAt = shutdowns[0]!.atMs;
  assert.ok(leftAt <= shutdownAt, 'the session left before Shutdown()');
  assert.ok(stopped.time <= flushed.time && flushed.time <= shutdownAt, `drain ${stopped.time} ≤ flush ${flushed.time} ≤ Shutdown ${shutdownAt}`);
  assert.ok(lines.findIndex((l) => l.msg === 'engine stopped') < lines.findIndex((l) => l.msg === 'agones: drained and flushed; Shutdown()'));
  process.stdout.write(`# agones: Ready ${ready.atMs - acceptedFrom} ms after the sidecar came up; Shutdown() ${shutdownAt - leftAt} ms after the last session left\n`);
});

test('--agones and AGONES_SDK_GRPC_PORT turn the lifecycle on; the port and the health period are checked', () => {
  const off = loadConfig([], { HOME: '/h' });
  assert.ok(off !== 'help');
  assert.equal(off.agones, null);
  const fromEnv = loadConfig([], { HOME: '/h', AGONES_SDK_GRPC_PORT: '9400' });
  assert.ok(fromEnv !== 'help');
  assert.deepEqual(fromEnv.agones, { port: 9400, healthMs: 2000 });
  const flag = loadConfig(['--agones', '--agones-health-ms', '500'], { HOME: '/h' });
  assert.ok(flag !== 'help');
  assert.deepEqual(flag.agones, { port: DEFAULT_SDK_PORT, healthMs: 500 });
  assert.throws(() => loadConfig([], { HOME: '/h', AGONES_SDK_GRPC_PORT: 'sidecar' }), /AGONES_SDK_GRPC_PORT must be a port number/);
  assert.throws(() => loadConfig([], { HOME: '/h', AGONES_SDK_GRPC_PORT: '70000' }), /between 1 and 65535/);
  assert.throws(() => loadConfig(['--agones', '--agones-health-ms', '50'], { HOME: '/h' }), /agones-health-ms must be an integer between 100 and 60000/);
  assert.match(HELP, /--agones\s+be an Agones game server[\s\S]*\[AGONES_SDK_GRPC_PORT\]/);
});
