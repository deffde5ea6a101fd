// End to end: the server as `npm start` runs it, driven over real HTTP, stopped with
// SIGTERM while clients are still posting events. Every event the server answered 202
// for must have been processed: the final counts come from the server's own last log.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';

import { GameClient } from './helpers/game-client.js';

interface LogLine {
  msg?: string;
  level?: number;
  events?: { accepted: number; processed: number };
  report?: { drained: boolean; state: string };
  gamePort?: number;
  drain?: { sessionsAtStart: number; kicked: number; waitedMs: number };
}

/** The environment without any GAMESRV_* setting of the developer's shell. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GAMESRV_')));
}

function startServer(t: TestContext, args: string[], env: NodeJS.ProcessEnv = {}) {
  // The server's generated token lands in this test's own state directory.
  const state = mkdtempSync(join(tmpdir(), 'gamesrv-state-'));
  t.after(() => rmSync(state, { recursive: true, force: true }));
  const tokenFile = join(state, 'gamesrv', 'token');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts', '--port', '0', '--game-port', '0', ...args], {
    cwd: new URL('..', import.meta.url),
    env: { ...cleanEnv(), XDG_STATE_HOME: state, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const waiters: { msg: string; resolve: () => void }[] = [];
  let stderr = '';
  const stderrWaiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const w of stderrWaiters.splice(0)) {
      const m = w.re.exec(stderr);
      if (m) w.resolve(m);
      else stderrWaiters.push(w);
    }
  });
  /** Resolves when stderr matches `re`. */
  const printed = (re: RegExp) =>
    new Promise<RegExpExecArray>((resolve) => {
      const m = re.exec(stderr);
      if (m) resolve(m);
      else stderrWaiters.push({ re, resolve });
    });
  const listening = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        return;
      }
      lines.push(parsed);
      for (const w of waiters.filter((w) => w.msg === parsed.msg)) w.resolve();
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(parsed.msg ?? '');
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)));
  });
  // A failed assertion must not leave the server running.
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  /** Resolves when the server logs `msg` (or has logged it already). */
  const logged = (msg: string) =>
    lines.some((l) => l.msg === msg) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ msg, resolve }));
  /** The generated token (readable once the server listens). */
  const token = () => readFileSync(tokenFile, 'utf8').trim();
  return { child, lines, listening, exited, logged, printed, stderr: () => stderr, token, tokenFile };
}

const move = (i: number) => ({ type: 'PLAYER_MOVE', playerId: (i % 50) + 1, data: `${i % 100},${(i * 7) % 100}` });

test('SIGTERM under load: every 202-accepted event is processed, exit code 0', { timeout: 60_000 }, async (t) => {
  const server = startServer(t, ['--stop-deadline', '10000', '--rate-limit', '0'], {
    GAMESRV_LOOP_THREADS: '1',
  });
  const base = await server.listening;
  const seed = Number(process.env['GAMESRV_TEST_SEED'] ?? Date.now() % 100000);
  process.stdout.write(`# shutdown test seed ${seed}\n`);

  // 50 players online first, so moves apply.
  const logins = Array.from({ length: 50 }, (_, i) => ({ type: 'PLAYER_LOGIN', playerId: i + 1, data: `p${i + 1}` }));
  const r0 = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token()}` },
    body: JSON.stringify({ events: logins }),
  });
  assert.equal(r0.status, 202);
  let clientAccepted = ((await r0.json()) as { accepted: number }).accepted;

  let requests = 0;
  let refused = 0;
  let sigtermSent = false;
  const statuses = new Map<number, number>();
  const client = async (c: number) => {
    for (let n = 0; ; n++) {
      const size = 1 + ((seed + c * 31 + n * 17) % 200);
      const body = JSON.stringify({ events: Array.from({ length: size }, (_, i) => move(n * 1000 + i)) });
      let res: Response;
      try {
        res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token()}` }, body });
      } catch {
        refused += 1; // the listener is gone: the server is shutting down
        return;
      }
      requests += 1;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const json = (await res.json()) as { accepted?: number };
      if (res.status === 202) clientAccepted += json.accepted ?? 0;
      else if (res.status === 503 || sigtermSent) return;
      else assert.fail(`unexpected ${res.status} before SIGTERM: ${JSON.stringify(json)}`);
      if (requests === 200 && !sigtermSent) {
        sigtermSent = true;
        server.child.kill('SIGTERM');
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(client));
  const [code, signal] = await server.exited;
  assert.equal(signal, null, server.stderr());
  assert.equal(code, 0, server.stderr());
  assert.ok(sigtermSent, 'the load ran long enough to send SIGTERM');

  const stopped = server.lines.find((l) => l.msg === 'engine stopped');
  assert.ok(stopped?.events, `no "engine stopped" log line; got ${server.lines.map((l) => l.msg).join(' | ')}`);
  assert.equal(stopped.report?.drained, true);
  assert.equal(stopped.events.processed, stopped.events.accepted, 'processed == accepted at exit');
  assert.equal(stopped.events.accepted, clientAccepted, 'the server accepted exactly what it answered 202 for');
  assert.ok(clientAccepted > 50, `some load was accepted (${clientAccepted})`);
  assert.ok(server.lines.some((l) => l.msg === 'shut down cleanly'));
  process.stdout.write(`# ${requests} requests, ${clientAccepted} events accepted, statuses ${JSON.stringify([...statuses])}, refused ${refused}\n`);
});

test('a second signal forces exit 1 while a slow client holds the graceful close', { timeout: 60_000 }, async (t) => {
  const server = startServer(t, []);
  const base = new URL(await server.listening);
  // A request whose body never finishes arriving keeps the connection active, so the
  // graceful close waits for it (up to the 30 s request timeout).
  const slow = connect(Number(base.port), base.hostname);
  await once(slow, 'connect');
  slow.write('POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"type":');
  slow.on('error', () => {});
  // Only a request the server has begun counts as active: before that the connection is
  // idle, and the graceful close (forceCloseConnections: 'idle') would end it at once.
  await server.logged('incoming request');
  server.child.kill('SIGTERM');
  await server.logged('shutting down');
  server.child.kill('SIGTERM');
  const [code] = await server.exited;
  slow.destroy();
  assert.equal(code, 1, server.stderr());
  assert.ok(server.lines.some((l) => l.msg === 'second signal: exiting now'));
  assert.ok(!server.lines.some((l) => l.msg === 'shut down cleanly'));
});

test('SIGTERM cancels a running lock benchmark instead of waiting for it', { timeout: 60_000 }, async (t) => {
  const server = startServer(t, []);
  const base = await server.listening;
  const res = await fetch(`${base}/v1/benchmarks/locks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token()}` },
    // Seconds of work if it ran to the end.
    body: JSON.stringify({ threads: 2, iterations: 100_000_000, kinds: ['std_mutex'] }),
  });
  assert.equal(res.status, 202);
  const started = Date.now();
  server.child.kill('SIGTERM');
  const [code] = await server.exited;
  assert.equal(code, 0, server.stderr());
  assert.ok(server.lines.some((l) => l.msg === 'shut down cleanly'));
  process.stdout.write(`# exit ${Date.now() - started} ms after SIGTERM\n`);
});

test('the local secret: generated at first start, owner-only, required to change the server', { timeout: 30_000 }, async (t) => {
  const server = startServer(t, []);
  const base = await server.listening;
  const token = server.token();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(statSync(server.tokenFile).mode & 0o777, 0o600);
  assert.equal(statSync(join(server.tokenFile, '..')).mode & 0o777, 0o700);
  // What another local user can do without the file: read, not change.
  assert.equal((await fetch(`${base}/v1/engine`)).status, 200);
  const refused = await fetch(`${base}/v1/engine/pause`, { method: 'POST' });
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { code: string }).code, 'UNAUTHORIZED');
  const paused = await fetch(`${base}/v1/engine/pause`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(paused.status, 200);
  // The dashboard URL carries it in the fragment, on stderr (not in the JSON log).
  const [, url] = await server.printed(/gamesrv: dashboard (\S+)\n/);
  assert.equal(url, `${base}/#token=${token}`);
  assert.ok(!server.lines.some((l) => JSON.stringify(l).includes(token)), 'the token is not in the log');
  server.child.kill('SIGTERM');
  assert.equal((await server.exited)[0], 0);
});

test('refuses a non-loopback address without a token, with a clear message', { timeout: 30_000 }, async (t) => {
  const server = startServer(t, ['--host', '0.0.0.0', '--no-auth']);
  const [code] = await server.exited;
  await server.listening.catch(() => {});
  assert.equal(code, 2);
  assert.match(server.stderr(), /refusing to listen on 0\.0\.0\.0 without a token/);
});

test('SIGTERM with players connected drains: every session is told, leaves, and the engine stops after', { timeout: 60_000 }, async (t) => {
  const server = startServer(t, ['--drain-deadline', '20000']);
  const base = await server.listening;
  await server.logged('engine ready');
  const gamePort = server.lines.find((l) => l.msg === 'engine ready')?.gamePort ?? 0;
  assert.ok(gamePort > 0, 'the game port is open');
  const issued = await fetch(`${base}/v1/tickets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token()}` },
    body: JSON.stringify({ tickets: [{ playerId: 1, name: 'one' }, { playerId: 2, name: 'two' }] }),
  });
  const { tickets } = (await issued.json()) as { tickets: { ticket: string }[] };
  const players = await Promise.all(tickets.map(async ({ ticket }) => {
    const c = await GameClient.connect(gamePort);
    await c.login(ticket);
    return c;
  }));
  server.child.kill('SIGTERM');
  // Told, they leave; the drain then stops the engine without kicking anyone.
  await Promise.all(players.map(async (c) => {
    await c.next('NOTICE');
    c.bye();
    await c.closed;
  }));
  const [code] = await server.exited;
  assert.equal(code, 0, server.stderr());
  const stopped = server.lines.find((l) => l.msg === 'engine stopped');
  assert.deepEqual([stopped?.drain?.sessionsAtStart, stopped?.drain?.kicked], [2, 0]);
  assert.equal(stopped?.events?.processed, stopped?.events?.accepted);
  assert.ok(server.lines.some((l) => l.msg === 'shut down cleanly'));
});

