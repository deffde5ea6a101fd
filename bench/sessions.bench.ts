// The "sessions" benchmark suite: the TCP game port under load, against loopback, with
// the server in a child process (dist/server.js as npm start runs it, --game-auth none,
// rate limit off) and the clients in other processes: this one (raw sockets speaking
// docs/PROTOCOL.md §3) and `gamesrv bots` (native). Each phase starts a fresh server so its
// histograms hold that phase alone.
//
//   npm run -s bench -- sessions [--quick]   (builds dist/ and build-native/bench/sessions_echo first)
//
// Rows (BENCHMARKS.md):
// - sessions_idle_rss_kb_per_session: N sessions logged in and idle (10,000; --quick
//   2,000): the server's resident memory growth divided by N.
// - session_moves_per_sec: 200 native bots (`gamesrv bots --rate max`, a separate process)
//   sending MOVEs as fast as the server takes them, the server's own count of inputs
//   (sessions.inputs) over the middle of the run; --session-rate is raised so the per-
//   session limit is not what is measured. Baseline sessions_echo_moves_per_sec: the same
//   bots against native/bench/sessions_echo.cpp, a bare epoll server answering every frame
//   with one of the same size (the loopback limit). session_moves_vs_rest: the ratio to
//   post_event_rps_same_run, POST /v1/events one event a request (50 connections) on the
//   same server.
// - replication_tick_p99_us: 2,000 players (--quick 500) in a 2,000 x 2,000 world, AOI
//   100, each moving at 10 Hz, 60 Hz ticks: p99 of one replication round's CPU time on
//   the replicating thread (serialize the changed cells, build and queue every session's
//   LEAVE/STATE), the server's sessions.replicationCpuUs; the sockets' writes are the I/O
//   threads' and are not in it. replication_tick_wall_p99_us: the same round's wall time
//   (sessions.replicationUs). replication_bytes_per_sec: the CELL bytes handed to
//   sessions a second.
// - move_observed_p99_ms: in that load, from a MOVE's send to the first STATE of a
//   neighbour (an observer player one cell away) that shows the new position.
// - slow_session_rss_mb_delta: one session in that busy neighbourhood that never reads,
//   for up to 30 s (--quick 10 s): the server's peak RSS minus before, and when it was
//   kicked too_slow. The slow client is a python3 process with a 4 KiB receive buffer set
//   before it connects (Node cannot set SO_RCVBUF): a paused Node socket's buffer, autotuned
//   to megabytes on loopback, would take the server's STATEs for longer than the window,
//   where a slow player's phone would not.
// Progress goes to stderr; stdout gets one JSON line.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

import autocannon from 'autocannon';

const quick = process.argv.includes('--quick');
const ROOT = new URL('..', import.meta.url);
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
const WORLD = 1000; // [-1000, 1000]^2: 2,000 x 2,000
const AOI = 100;

interface Row {
  name: string;
  value: number;
  unit: string;
  baseline: string | null;
  ratio: number | null;
}

/**
 * The process's anonymous resident memory (heap, stacks, buffers), MB: RssAnon, not VmRSS.
 * This VM reclaims idle file-backed pages (the node binary's own code) now and then, which
 * moved VmRSS down by more than 10,000 sessions add (a run measured -1.4 KB a session).
 */
function rssMb(pid: number): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

interface Server {
  child: ChildProcess;
  http: number;
  game: number;
  stop(): Promise<void>;
}

async function startServer(extra: string[] = []): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gamesrv-bench-sessions-'));
  const child = spawn(
    process.execPath,
    // The targets hold with --durability none (journal mode is the storage suite's); the
    // server's files in a directory of the run's own.
    ['dist/server.js', '--port', '0', '--game-port', '0', '--game-auth', 'none', '--no-auth', '--rate-limit', '0', '--world-size', String(WORLD), '--log-level', 'info', '--server-name', `bench-sessions-${process.pid}`,
      '--durability', 'none', '--data-dir', dataDir, ...extra],
    { cwd: ROOT, env: { ...process.env, GAMESRV_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.resume();
  const ports = await new Promise<{ http: number; game: number }>((resolve, reject) => {
    // The two lines come in either order.
    let http = 0;
    let game = 0;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m) http = Number(m[1]);
      const ready = /"gamePort":(\d+).*"msg":"engine ready"/.exec(line);
      if (ready) game = Number(ready[1]);
      if (http && game) resolve({ http, game });
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before it was ready`)));
  });
  return {
    child,
    ...ports,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface Stats {
  sessions: { active: number; inputs: number; replicationBytes: number; replicationUs: { p99: number; count: number }; replicationCpuUs: { p99: number; count: number } };
}
async function stats(s: Server): Promise<Stats> {
  const r = await fetch(`http://127.0.0.1:${s.http}/v1/stats`);
  return (await r.json()) as Stats;
}

function frame(type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32LE(payload.length + 1, 0);
  head.writeUInt8(type, 4);
  return Buffer.concat([head, payload]);
}
const HELLO = 0x01;
const MOVE = 0x02;
const WELCOME = 0x81;
const STATE = 0x82;
const KICK = 0x89;

function hello(playerId: number): Buffer {
  const t = Buffer.from(String(playerId), 'latin1');
  const p = Buffer.alloc(4 + t.length);
  p.writeUInt16LE(1, 0);
  p.writeUInt16LE(t.length, 2);
  t.copy(p, 4);
  return frame(HELLO, p);
}

function move(x: number, y: number, seq: number): Buffer {
  const p = Buffer.alloc(20);
  p.writeDoubleLE(x, 0);
  p.writeDoubleLE(y, 8);
  p.writeUInt32LE(seq, 16);
  return frame(MOVE, p);
}

/** A player: counts what arrives; hands every whole frame to `onFrame` when set. */
/** A game client that never reads, with a 4 KiB receive buffer; exits when its stdin closes. */
const SLOW_READER = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(('127.0.0.1', int(sys.argv[1])))
s.sendall(bytes.fromhex(sys.argv[2]))
sys.stdin.read()
`;

class Player {
  socket!: Socket;
  welcomed!: Promise<void>;
  kicked = false;
  onFrame: ((type: number, payload: Buffer) => void) | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  x = 0;
  y = 0;

  constructor(readonly id: number) {}

  async open(port: number, read = true): Promise<void> {
    this.socket = connect({ port, host: '127.0.0.1', noDelay: true });
    await once(this.socket, 'connect');
    this.socket.on('error', () => {});
    let welcome!: () => void;
    this.welcomed = new Promise((resolve) => (welcome = resolve));
    this.socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      while (this.#buffer.length >= 5) {
        const length = this.#buffer.readUInt32LE(0);
        if (this.#buffer.length < 4 + length) break;
        const type = this.#buffer.readUInt8(4);
        if (type === WELCOME) welcome();
        if (type === KICK) this.kicked = true;
        if (this.onFrame) this.onFrame(type, this.#buffer.subarray(5, 4 + length));
        this.#buffer = this.#buffer.subarray(4 + length);
      }
    });
    this.socket.write(hello(this.id));
    if (!read) {
      await this.welcomed;
      this.socket.pause();
    }
  }
}

const PING = 0x05;
function ping(): Buffer {
  const p = Buffer.alloc(8);
  p.writeBigUInt64LE(0n, 0);
  return frame(PING, p);
}

/** Opens and logs in every player, 500 at a time; fails (instead of waiting forever) if a batch is not welcomed within 60 s. */
async function openAll(port: number, ids: number[], players: Player[] = []): Promise<Player[]> {
  for (let i = 0; i < ids.length; i += 500) {
    const batch = ids.slice(i, i + 500).map((id) => new Player(id));
    const timeout = new AbortController();
    await Promise.race([
      (async () => {
        await Promise.all(batch.map((p) => p.open(port)));
        await Promise.all(batch.map((p) => p.welcomed));
      })(),
      sleep(60_000, undefined, { signal: timeout.signal }).then(() => {
        throw new Error(`players ${i + 1}-${i + batch.length}: not all welcomed within 60 s (${batch.filter((p) => p.kicked).length} kicked)`);
      }),
    ]);
    timeout.abort();
    players.push(...batch);
  }
  return players;
}

/**
 * Idle players still say they are there: a PING every 20 s from each, spread out, so the
 * server's idle timeout (60 s: docs/PROTOCOL.md, KICK idle) does not end them while the
 * rest log in. Returns a stop function.
 */
function keepAlive(players: Player[]): () => void {
  let next = 0;
  const timer = setInterval(() => {
    if (players.length === 0) return;
    const n = Math.ceil(players.length / 20);
    for (let k = 0; k < n; k++) players[(next + k) % players.length]!.socket.write(ping());
    next = (next + n) % players.length;
  }, 1000);
  return () => clearInterval(timer);
}

function percentile(values: number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)] ?? Number.NaN;
}

const rows: Row[] = [];
const row = (name: string, value: number, unit: string) => rows.push({ name, value, unit, baseline: null, ratio: null });

// --- moves as fast as the server takes them, against the loopback limit --------------
const BOTS = 200;
const MOVE_SECONDS = quick ? 4 : 8;

/** `gamesrv bots --rate max` against `port` for MOVE_SECONDS (its own process); resolves when it ends. */
function floodBots(port: number): Promise<void> {
  const child = spawn(process.execPath, ['dist/cli.js', 'bots', '--count', String(BOTS), '--rate', 'max', '--duration', String(MOVE_SECONDS), '--port', String(port), '--json'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', () => resolve());
    child.once('error', reject);
  });
}

/** Counts sampled at about [1/4, 3/4] of the bots' run: the rate away from the ramps. */
async function middleRate(read: () => Promise<number>): Promise<number> {
  await sleep((MOVE_SECONDS * 1000) / 4);
  const n0 = await read();
  const t0 = performance.now();
  await sleep((MOVE_SECONDS * 1000) / 2);
  const n1 = await read();
  return ((n1 - n0) * 1000) / (performance.now() - t0);
}

{
  log(`== session_moves_per_sec (${BOTS} bots, --rate max, ${MOVE_SECONDS} s; baseline: sessions_echo) ==`);
  const echo = spawn(new URL('build-native/bench/sessions_echo', ROOT).pathname, [], { stdio: ['ignore', 'pipe', 'inherit'] });
  let echoMoves = 0;
  const echoPort = await new Promise<number>((resolve, reject) => {
    createInterface({ input: echo.stdout! }).on('line', (line) => {
      const listening = /^listening (\d+)$/.exec(line);
      if (listening) resolve(Number(listening[1]));
      const moves = /^moves (\d+)$/.exec(line);
      if (moves) echoMoves = Number(moves[1]);
    });
    echo.once('exit', (code) => reject(new Error(`sessions_echo exited (${code}); is build-native/bench/sessions_echo built?`)));
  });
  // The echo server prints its count once a second: sample just after a line.
  const echoCount = async () => {
    const seen = echoMoves;
    for (let i = 0; i < 30 && echoMoves === seen; i++) await sleep(50);
    return echoMoves;
  };
  const server = await startServer(['--session-rate', '1000000']);
  try {
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let round = 0; round < (quick ? 1 : 2); round++) {
      const a = floodBots(server.game);
      ours.push(await middleRate(async () => (await stats(server)).sessions.inputs));
      await a;
      const b = floodBots(echoPort);
      theirs.push(await middleRate(echoCount));
      await b;
      log(`  round ${round + 1}: gamesrv ${Math.round(ours.at(-1)!)} moves/s, sessions_echo ${Math.round(theirs.at(-1)!)} moves/s`);
    }
    const moves = ours.reduce((x, y) => x + y, 0) / ours.length;
    const bare = theirs.reduce((x, y) => x + y, 0) / theirs.length;
    // The REST path on the same server, one event a request.
    const rest = await autocannon({
      url: `http://127.0.0.1:${server.http}/v1/events`,
      method: 'POST',
      connections: 50,
      duration: 3,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'PLAYER_MOVE', playerId: 42, data: '1,2' }),
    });
    if (rest.non2xx > 0 || rest.errors > 0) throw new Error(`REST load: ${rest.non2xx} non-2xx, ${rest.errors} errors`);
    const restRps = rest.requests.total / 3;
    log(`  REST single events on the same server: ${Math.round(restRps)} req/s`);
    rows.push({ name: 'sessions_echo_moves_per_sec', value: Math.round(bare), unit: 'moves/s', baseline: null, ratio: null });
    rows.push({ name: 'session_moves_per_sec', value: Math.round(moves), unit: 'moves/s', baseline: 'sessions_echo_moves_per_sec', ratio: moves / bare });
    rows.push({ name: 'post_event_rps_same_run', value: Math.round(restRps), unit: 'req/s', baseline: null, ratio: null });
    rows.push({ name: 'session_moves_vs_rest', value: Math.round((moves / restRps) * 100) / 100, unit: 'x', baseline: 'post_event_rps_same_run', ratio: moves / restRps });
  } finally {
    await server.stop();
    echo.kill('SIGTERM');
    await once(echo, 'exit');
  }
}

// --- idle sessions -------------------------------------------------------------------
{
  const n = quick ? 2000 : 10_000;
  log(`== sessions_idle_rss_kb_per_session (${n} idle sessions) ==`);
  const server = await startServer();
  try {
    await sleep(1000); // the engine's threads and first snapshots settle
    const before = rssMb(server.child.pid!);
    const players: Player[] = [];
    const stopPinging = keepAlive(players); // covers each batch as it logs in
    await openAll(server.game, Array.from({ length: n }, (_, i) => 1 + i), players);
    await sleep(1000);
    const s = await stats(server);
    stopPinging();
    const after = rssMb(server.child.pid!);
    const kb = ((after - before) * 1024) / n;
    log(`  ${s.sessions.active} sessions; RSS ${before.toFixed(1)} -> ${after.toFixed(1)} MB: ${kb.toFixed(2)} KB a session`);
    row('sessions_idle_rss_kb_per_session', Math.round(kb * 100) / 100, 'KB');
    for (const p of players) p.socket.destroy();
  } finally {
    await server.stop();
  }
}

// --- replication under moves, move -> observed, a slow session ----------------------------
{
  const n = quick ? 500 : 2000;
  const seconds = quick ? 5 : 10;
  log(`== replication_tick_p99_us, move_observed_p99_ms (${n} players moving at 10 Hz, ${seconds} s) ==`);
  const server = await startServer();
  try {
    const players = await openAll(server.game, Array.from({ length: n }, (_, i) => 1 + i));
    for (const p of players) {
      p.x = (Math.random() * 2 - 1) * (WORLD - AOI);
      p.y = (Math.random() * 2 - 1) * (WORLD - AOI);
    }
    // Observers: every 20th player watches its right-hand neighbour (same or next cell).
    const latencies: number[] = [];
    const pending = new Map<number, { x: number; y: number; at: number }>();
    for (let i = 0; i + 1 < players.length; i += 20) {
      const observer = players[i]!;
      const watched = players[i + 1]!;
      watched.x = Math.max(-WORLD + 1, Math.min(WORLD - 1, observer.x + 30));
      watched.y = observer.y;
      observer.onFrame = (type, payload) => {
        if (type !== STATE) return;
        const want = pending.get(watched.id);
        if (!want) return;
        const cells = payload.readUInt16LE(12);
        let at = 14;
        for (let c = 0; c < cells; c++) {
          const count = payload.readUInt16LE(at + 8);
          at += 10;
          for (let k = 0; k < count; k++, at += 16) {
            if (payload.readUInt32LE(at) === watched.id && payload.readFloatLE(at + 4) === want.x && payload.readFloatLE(at + 8) === want.y) {
              latencies.push(performance.now() - want.at);
              pending.delete(watched.id);
              return;
            }
          }
        }
      };
    }
    const watchedIds = new Set(players.filter((_, i) => i % 20 === 1).map((p) => p.id));
    // Everyone goes to its starting place first (the observers, which then hold still, too).
    for (const p of players) p.socket.write(move(p.x, p.y, 0));
    const slowId = n + 1;
    let slow: ChildProcess | undefined;
    const before = await stats(server);
    const rss0 = rssMb(server.child.pid!);
    let peak = rss0;
    let seq = 0;
    const t0 = performance.now();
    let slowOpened = false;
    let slowKickedAfter: number | null = null;
    // 10 Hz: every 100 ms each player takes a small step (the observers hold still).
    for (let tick = 0; performance.now() - t0 < seconds * 1000; tick++) {
      seq += 1;
      for (const [i, p] of players.entries()) {
        if (i % 20 === 0) continue;
        p.x = Math.max(-WORLD, Math.min(WORLD, p.x + (Math.random() - 0.5) * 4));
        p.y = Math.max(-WORLD, Math.min(WORLD, p.y + (Math.random() - 0.5) * 4));
        const fx = Math.fround(p.x);
        const fy = Math.fround(p.y);
        if (watchedIds.has(p.id) && !pending.has(p.id)) pending.set(p.id, { x: fx, y: fy, at: performance.now() });
        p.socket.write(move(p.x, p.y, seq));
      }
      if (!slowOpened) {
        slowOpened = true;
        // Logs in and moves next to player 3, then never reads.
        const bytes = Buffer.concat([hello(slowId), move(players[2]!.x, players[2]!.y, 1)]).toString('hex');
        slow = spawn('python3', ['-c', SLOW_READER, String(server.game), bytes], { stdio: ['pipe', 'ignore', 'inherit'] });
      }
      peak = Math.max(peak, rssMb(server.child.pid!));
      await sleep(100);
    }
    const after = await stats(server);
    const elapsed = (performance.now() - t0) / 1000;
    const p99 = after.sessions.replicationCpuUs.p99;
    const wallP99 = after.sessions.replicationUs.p99;
    const bytesPerSec = (after.sessions.replicationBytes - before.sessions.replicationBytes) / elapsed;
    log(`  ${after.sessions.replicationUs.count} replications, p99 ${p99} us CPU (${wallP99} us wall); ${(bytesPerSec / 1e6).toFixed(1)} MB/s of cell blocks; ${latencies.length} moves observed`);
    row('replication_tick_p99_us', p99, 'us');
    row('replication_tick_wall_p99_us', wallP99, 'us');
    row('replication_bytes_per_sec', Math.round(bytesPerSec), 'B/s');
    row('move_observed_p99_ms', Math.round(percentile(latencies, 99) * 10) / 10, 'ms');
    // The slow session keeps not reading while the neighbourhood stays busy.
    const slowDeadline = performance.now() + (quick ? 10_000 : 30_000) - (performance.now() - t0);
    while (performance.now() < slowDeadline) {
      for (const p of players.slice(0, 200)) p.socket.write(move(p.x, p.y, ++seq));
      peak = Math.max(peak, rssMb(server.child.pid!));
      const listed = (await (await fetch(`http://127.0.0.1:${server.http}/v1/sessions?limit=1000&offset=${Math.max(0, n - 500)}`)).json()) as { sessions: { playerId: number | null }[] };
      if (!listed.sessions.some((s) => s.playerId === slowId)) {
        slowKickedAfter = (performance.now() - t0) / 1000;
        break;
      }
      await sleep(100);
    }
    log(`  slow session: RSS peak +${(peak - rss0).toFixed(1)} MB; ${slowKickedAfter === null ? 'not kicked' : `gone after ${slowKickedAfter.toFixed(1)} s`}`);
    row('slow_session_rss_mb_delta', Math.round((peak - rss0) * 10) / 10, 'MB');
    for (const p of players) p.socket.destroy();
    slow?.stdin!.end(); // the reader exits when its stdin closes
  } finally {
    await server.stop();
  }
}

process.stdout.write(`${JSON.stringify({ suite: 'sessions', results: rows })}\n`);
