// The "http" benchmark suite: the control plane under load, against loopback, with the
// server in a child process started as `npm start` starts it (dist/server.js, compiled by
// `npm run build:ts`, which scripts/bench.sh runs first; rate limit off, log level warn,
// its own state directory and token). The baseline runs compiled too: its fixture is
// transpiled to JavaScript next to dist/ (tsx would add its own per-function cost to one
// side only).
//
//   node --import tsx bench/http.bench.ts [--quick]
//
// Rows (BENCHMARKS.md); medians over interleaved runs (ABBA pairs; a ratio is the median of
// the pairs' ratios):
// - post_event_rps: POST /v1/events, one event a request, 50 connections (autocannon);
//   baseline bare_post_event_rps: bare Fastify in a child process with the same body
//   schema and limit, answering 202 (bench/fixtures/bare-server.ts). cpu_us_per_request
//   for both: the server process's CPU time over the requests it answered.
// - batch_events_per_sec: 1,000-event batches, 10 connections; baseline the bare route's.
//   These rows, like the rest, run with --durability none (what their targets are for).
// - post_event_rps_journal, batch_events_per_sec_journal: the same loads on a second server
//   with --durability journal (every 202 after its commit: write + fdatasync, group commit),
//   in ABBA pairs against the none server; the ratio is journal / none.
//   `--journal` runs only these two pairs of rows.
// - ws_subscribers_cpu_pct: 500 WebSocket subscribers to every periodic topic at 10 Hz,
//   the server's CPU over the window in % of one core; ws_frame_interval_p99_ms: the p99
//   of the gaps between consecutive `events` frames of each subscriber.
// - slow_client_server_rss_mb_delta: one subscriber (every topic, 50 ms) that never reads,
//   for up to 30 s: the server's resident memory at its peak minus before; the frames it
//   coalesced and when it closed the client as too slow (4000) are printed, from /metrics.
// - ws_flood_health_p99_ms: 5,000 WebSocket connection attempts in 10 s from one address
//   while GET /v1/health is timed every 20 ms; ws_flood_over_cap_accepted: connections
//   the server kept open beyond its per-address cap.
// Progress goes to stderr; stdout gets exactly one JSON line.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

import autocannon from 'autocannon';
import { WebSocket } from 'ws';

import { TELEMETRY_DEFAULTS } from '../src/telemetry/options.js';
import { PERIODIC_TOPICS } from '../src/schemas/telemetry.js';
import { messageText } from '../test/helpers/ws.js';

interface Row {
  name: string;
  value: number;
  unit: string;
  baseline: string | null;
  ratio: number | null;
}

const quick = process.argv.includes('--quick');
const journalOnly = process.argv.includes('--journal');
// Many short pairs in ABBA order (gamesrv, bare, bare, gamesrv, …): this VM's speed
// drifts by up to 2x over tens of seconds, so each pair's ratio is taken within a few
// seconds and the reported ratio is the median of the pairs' ratios.
const PAIRS = quick ? 4 : 10;
const SECONDS = quick ? 2 : 3;
const ROOT = new URL('..', import.meta.url);
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

/**
 * The load generator (autocannon and the WebSocket clients run in this process) on the
 * last CPU, the servers on the others, when there are two or more and taskset exists
 * (GAMESRV_BENCH_NO_PIN=1 turns it off): otherwise the scheduler moves the generator onto
 * a server's core now and then, and pairs taken seconds apart differ by up to 20 % on
 * this VM. Both servers get the same CPUs, so every thread of gamesrv (its engine's
 * included) is charged to the server side.
 */
function pinning(): { load: string; servers: string } | undefined {
  const cpus = availableParallelism();
  if (cpus < 2 || process.platform !== 'linux' || process.env['GAMESRV_BENCH_NO_PIN'] === '1') return undefined;
  const pin = { load: String(cpus - 1), servers: cpus === 2 ? '0' : `0-${cpus - 2}` };
  try {
    execFileSync('taskset', ['-a', '-p', '-c', pin.load, String(process.pid)], { stdio: 'ignore' });
  } catch {
    return undefined; // no taskset: unpinned
  }
  return pin;
}
const PIN = pinning();
log(PIN ? `pinned: load generator on CPU ${PIN.load}, servers on CPU ${PIN.servers}` : 'not pinned');

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  return n % 2 === 1 ? v[(n - 1) / 2]! : (v[n / 2 - 1]! + v[n / 2]!) / 2;
}

function percentile(values: number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)] ?? Number.NaN;
}

interface Server {
  child: ChildProcess;
  port: number;
  token: string | undefined;
  stop(): Promise<void>;
}

/** CPU seconds (user + system) the process has used: /proc/<pid>/stat, in clock ticks of 1/100 s. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

/** Both servers run as compiled JavaScript, without tsx: `args[0]` is a .js file. */
async function start(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, stream: 'stdout' | 'stderr'): Promise<{ child: ChildProcess; m: RegExpExecArray }> {
  const argv = args;
  // taskset execs node in place: the child's pid is the server's.
  const child = spawn(PIN ? 'taskset' : process.execPath, PIN ? ['-c', PIN.servers, process.execPath, ...argv] : argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child[stream === 'stdout' ? 'stderr' : 'stdout']!.resume();
  const m = await new Promise<RegExpExecArray>((resolve, reject) => {
    createInterface({ input: child[stream]! }).on('line', (line) => {
      const found = ready.exec(line);
      if (found) resolve(found);
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready`)));
  });
  return { child, m };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  };
}

async function startGamesrv(state: string, extra: string[] = []): Promise<Server> {
  const { child, m } = await start(
    ['dist/server.js', '--port', '0', '--game-port', '0', '--rate-limit', '0', '--log-level', 'warn', ...extra],
    { XDG_STATE_HOME: state, GAMESRV_TOKEN: '' },
    /^gamesrv: dashboard http:\/\/127\.0\.0\.1:(\d+)\/(?:#token=(\S+))?/,
    'stderr',
  );
  return { child, port: Number(m[1]), token: m[2] !== undefined ? decodeURIComponent(m[2]) : undefined, stop: stopper(child) };
}

/**
 * The fixture transpiled into dist/.bench/ with its imports of src/ pointed at the
 * compiled modules there (so it resolves fastify from this repository's node_modules).
 */
function compileBare(): string {
  const source = readFileSync(new URL('fixtures/bare-server.ts', import.meta.url), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const out = fileURLToPath(new URL('dist/.bench/bare-server.js', ROOT));
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, js.replaceAll("'../../src/", "'../"));
  return out;
}

async function startBare(): Promise<Server> {
  const { child, m } = await start([compileBare()], {}, /^listening (\d+)$/, 'stdout');
  return { child, port: Number(m[1]), token: undefined, stop: stopper(child) };
}

interface Load {
  rps: number;
  cpuUsPerRequest: number;
}

async function load(server: Server, body: string, connections: number, seconds = SECONDS): Promise<Load> {
  const cpu0 = cpuSeconds(server.child.pid!);
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}/v1/events`,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { 'content-type': 'application/json', ...(server.token ? { authorization: `Bearer ${server.token}` } : {}) },
    body,
  });
  const cpu = cpuSeconds(server.child.pid!) - cpu0;
  const answered = result.requests.total;
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`load on :${server.port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: answered / seconds, cpuUsPerRequest: (cpu * 1e6) / answered };
}

async function pairs(gamesrv: Server, bare: Server, body: string, connections: number, label: string) {
  const ours: Load[] = [];
  const theirs: Load[] = [];
  const ratios: number[] = [];
  // Warm both (JIT, connection pools) before anything is counted.
  await load(gamesrv, body, connections, 1);
  await load(bare, body, connections, 1);
  for (let i = 0; i < PAIRS; i++) {
    const first = i % 2 === 0;
    const a = first ? await load(gamesrv, body, connections) : undefined;
    const b = await load(bare, body, connections);
    const o = a ?? (await load(gamesrv, body, connections));
    ours.push(o);
    theirs.push(b);
    ratios.push(o.rps / b.rps);
    log(`  ${label} pair ${i + 1}: gamesrv ${o.rps.toFixed(0)} req/s (${o.cpuUsPerRequest.toFixed(1)} us CPU), bare ${b.rps.toFixed(0)} req/s (${b.cpuUsPerRequest.toFixed(1)} us CPU): ${ratios.at(-1)!.toFixed(3)}`);
  }
  return {
    rps: median(ours.map((l) => l.rps)),
    bareRps: median(theirs.map((l) => l.rps)),
    ratio: median(ratios),
    cpu: median(ours.map((l) => l.cpuUsPerRequest)),
    bareCpu: median(theirs.map((l) => l.cpuUsPerRequest)),
    cpuRatio: median(ours.map((l, i) => l.cpuUsPerRequest / theirs[i]!.cpuUsPerRequest)),
  };
}

function connectWs(port: number, token: string | undefined): WebSocket {
  return new WebSocket(`ws://127.0.0.1:${port}/v1/telemetry`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

async function subscribers(server: Server, count: number, seconds: number): Promise<{ cpuPct: number; p99Ms: number }> {
  const gaps: number[] = [];
  const sockets: WebSocket[] = [];
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const ws = connectWs(server.port, server.token);
      sockets.push(ws);
      let last: number | undefined;
      ws.on('message', (raw) => {
        const frame = JSON.parse(messageText(raw)) as { topic: string };
        if (frame.topic !== 'events') return;
        const now = performance.now();
        if (last !== undefined) gaps.push(now - last);
        last = now;
      });
      return new Promise<void>((resolve, reject) => {
        ws.once('open', () => {
          ws.send(JSON.stringify({ op: 'subscribe', topics: PERIODIC_TOPICS, intervalMs: 100 }));
          resolve();
        });
        ws.once('error', (err) => reject(new Error(`subscriber ${i}: ${err.message}`)));
      });
    }),
  );
  await sleep(1000); // every subscriber has its first frames
  gaps.length = 0;
  const cpu0 = cpuSeconds(server.child.pid!);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpuPct = ((cpuSeconds(server.child.pid!) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
  const p99Ms = percentile(gaps, 99);
  for (const ws of sockets) ws.terminate();
  return { cpuPct, p99Ms };
}

/** One series of the server's GET /metrics. */
async function metric(server: Server, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`${series} not in /metrics`);
  return Number(line.slice(series.length + 1));
}

const TOO_SLOW = 'gamesrv_telemetry_closed_total{reason="too_slow"}';
const COALESCED = 'gamesrv_telemetry_frames_coalesced_total';

async function slowClient(
  server: Server,
  windowMs: number,
): Promise<{ rssDeltaMb: number; closedAfterMs: number | null; coalesced: number }> {
  const pid = server.child.pid!;
  const slowBefore = await metric(server, TOO_SLOW);
  const coalescedBefore = await metric(server, COALESCED);
  const before = rssMb(pid);
  let peak = before;
  const ws = connectWs(server.port, server.token);
  await new Promise<void>((resolve) => ws.once('open', () => resolve()));
  ws.send(JSON.stringify({ op: 'subscribe', topics: [...PERIODIC_TOPICS, 'jobs'], intervalMs: 50 }));
  // Never read again: the socket stops reading, so TCP back-pressure reaches the server.
  // (Its close frame cannot be read through a paused socket: the server's own counter of
  // connections closed as too slow, 4000, says when it gave up on this one.)
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const t0 = performance.now();
  let closedAfterMs: number | null = null;
  while (performance.now() - t0 < windowMs) {
    peak = Math.max(peak, rssMb(pid));
    if ((await metric(server, TOO_SLOW)) > slowBefore) {
      closedAfterMs = performance.now() - t0;
      break;
    }
    await sleep(250);
  }
  const coalesced = (await metric(server, COALESCED)) - coalescedBefore;
  ws.terminate();
  return { rssDeltaMb: peak - before, closedAfterMs, coalesced };
}

async function flood(server: Server, attempts: number, seconds: number): Promise<{ healthP99Ms: number; overCap: number; refused: number }> {
  const latencies: number[] = [];
  let flooding = true;
  const health = (async () => {
    while (flooding) {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${server.port}/v1/health`);
      await res.arrayBuffer();
      latencies.push(performance.now() - t);
      await sleep(20);
    }
  })();
  const sockets: WebSocket[] = [];
  let refused = 0;
  const open = new Set<WebSocket>();
  const perMs = (seconds * 1000) / attempts;
  const t0 = performance.now();
  for (let i = 0; i < attempts; i++) {
    const ws = connectWs(server.port, undefined);
    sockets.push(ws);
    ws.on('open', () => open.add(ws));
    ws.on('close', (code) => {
      open.delete(ws);
      if (code === 1013) refused += 1;
    });
    ws.on('error', () => {});
    const due = t0 + (i + 1) * perMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
  }
  await sleep(2000); // refusals land
  flooding = false;
  await health;
  const held = open.size;
  for (const ws of sockets) ws.terminate();
  return { healthP99Ms: percentile(latencies, 99), overCap: Math.max(0, held - TELEMETRY_DEFAULTS.maxConnectionsPerAddress), refused };
}

/** Ends the run early (--journal) without skipping the clean-up. */
class Done extends Error {}

const state = mkdtempSync(join(tmpdir(), 'gamesrv-bench-http-'));
const rows: Row[] = [];
let gamesrv: Server | undefined;
let bare: Server | undefined;
let journal: Server | undefined;
const journalState = mkdtempSync(join(tmpdir(), 'gamesrv-bench-http-journal-'));
try {
  gamesrv = await startGamesrv(state, ['--durability', 'none']);
  const one = JSON.stringify({ type: 'PLAYER_MOVE', playerId: 42, data: '100,200' });
  const batch = JSON.stringify({
    events: Array.from({ length: 1000 }, (_, i) => ({ type: 'PLAYER_MOVE', playerId: (i % 500) + 1, data: `${i % 100},${(i * 7) % 100}` })),
  });
  log('== post_event_rps_journal, batch_events_per_sec_journal (--durability journal beside none) ==');
  journal = await startGamesrv(journalState, ['--durability', 'journal', '--server-name', 'gamesrv-bench-journal']);
  const js = await pairs(journal, gamesrv, one, 50, 'journal/none single');
  rows.push({ name: 'post_event_rps_journal', value: js.rps, unit: 'req/s', baseline: 'post_event_rps_none', ratio: js.ratio });
  rows.push({ name: 'post_event_rps_none', value: js.bareRps, unit: 'req/s', baseline: null, ratio: null });
  const jb = await pairs(journal, gamesrv, batch, 10, 'journal/none batch');
  rows.push({ name: 'batch_events_per_sec_journal', value: jb.rps * 1000, unit: 'events/s', baseline: 'batch_events_per_sec_none', ratio: jb.ratio });
  rows.push({ name: 'batch_events_per_sec_none', value: jb.bareRps * 1000, unit: 'events/s', baseline: null, ratio: null });
  await journal.stop();
  if (journalOnly) throw new Done();
  bare = await startBare();
  log('== post_event_rps (one event a request, 50 connections) ==');
  const single = await pairs(gamesrv, bare, one, 50, 'single');
  rows.push({ name: 'bare_post_event_rps', value: single.bareRps, unit: 'req/s', baseline: null, ratio: null });
  rows.push({ name: 'post_event_rps', value: single.rps, unit: 'req/s', baseline: 'bare_post_event_rps', ratio: single.ratio });
  rows.push({ name: 'bare_cpu_us_per_request', value: single.bareCpu, unit: 'us', baseline: null, ratio: null });
  rows.push({ name: 'cpu_us_per_request', value: single.cpu, unit: 'us', baseline: 'bare_cpu_us_per_request', ratio: single.cpuRatio });
  log('== batch_events_per_sec (1,000-event batches, 10 connections) ==');
  const batched = await pairs(gamesrv, bare, batch, 10, 'batch');
  rows.push({ name: 'bare_batch_events_per_sec', value: batched.bareRps * 1000, unit: 'events/s', baseline: null, ratio: null });
  rows.push({
    name: 'batch_events_per_sec',
    value: batched.rps * 1000,
    unit: 'events/s',
    baseline: 'bare_batch_events_per_sec',
    ratio: batched.ratio,
  });
  await bare.stop();

  log('== ws_subscribers_cpu_pct (500 subscribers, every periodic topic, 10 Hz) ==');
  const subs = await subscribers(gamesrv, 500, quick ? 5 : 10);
  rows.push({ name: 'ws_subscribers_cpu_pct', value: subs.cpuPct, unit: '% of one core', baseline: null, ratio: null });
  rows.push({ name: 'ws_frame_interval_p99_ms', value: subs.p99Ms, unit: 'ms', baseline: null, ratio: null });

  log('== ws_flood (5,000 connection attempts in 10 s from one address) ==');
  const f = await flood(gamesrv, quick ? 1000 : 5000, quick ? 2 : 10);
  log(`  ${f.refused} refused with 1013`);
  rows.push({ name: 'ws_flood_health_p99_ms', value: f.healthP99Ms, unit: 'ms', baseline: null, ratio: null });
  rows.push({ name: 'ws_flood_over_cap_accepted', value: f.overCap, unit: 'connections', baseline: null, ratio: null });

  log('== slow_client_server_rss_mb_delta (a subscriber that never reads, for up to 30 s) ==');
  const slow = await slowClient(gamesrv, 30_000);
  log(`  ${slow.coalesced} frames coalesced; closed by the server (4000): ${slow.closedAfterMs === null ? 'not within 30 s' : `after ${(slow.closedAfterMs / 1000).toFixed(1)} s`}`);
  rows.push({ name: 'slow_client_server_rss_mb_delta', value: slow.rssDeltaMb, unit: 'MB', baseline: null, ratio: null });
} catch (err) {
  if (!(err instanceof Done)) throw err;
} finally {
  await gamesrv?.stop();
  await bare?.stop();
  await journal?.stop();
  rmSync(state, { recursive: true, force: true });
  rmSync(journalState, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ suite: 'http', results: rows })}\n`);
