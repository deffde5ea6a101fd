#!/usr/bin/env node
// gamesrv command-line tools that talk to a running server without its HTTP port:
// the shared-memory monitor (the seed's client mode), the pipe, the lock benchmark; and
// the game-port bots (src/bots.ts).
import { parseArgs } from 'node:util';

import {
  EngineError,
  PIPE_REQUEST_TYPES,
  defaultPipePath,
  pipeSend,
  readMonitor,
  replayJournal,
  runLockBenchmark,
  verifyJournal,
  type MonitorStatus,
} from './engine/index.js';
import { BOTS_USAGE, BotsUsageError, botsCommand } from './bots.js';
import { formatBytes } from './format.js';
import { clientToken } from './local-token.js';
import { ReplayLoadError, replayLoad } from './replay-load.js';

const USAGE = `Usage:
  gamesrv monitor [--name NAME] [--watch] [--interval MS] [--json]
      Read a server's shared-memory status from this process (no HTTP needed).
  gamesrv pipe <TYPE> [DATA] [--name NAME | --socket PATH] [--timeout MS] [--json]
      Send one InterServerMessage and print the reply. TYPE is one of
      ${PIPE_REQUEST_TYPES.join(', ')}.
      DATA: "42" or "42:Alice" (LOGIN), "42" (LOGOUT), "42:100,200" (MOVE).
  gamesrv replay --data-dir DIR [--verify] [--max-players N] [--world-size N] [--json]
      Rebuild the World from DIR/journal alone (no server; none may run on DIR): prints
      the events, players and last sequence number; --json adds every player. --verify
      replays from the first event and compares every World hash the server recorded:
      exit 1 at the first divergence (the World options must be the server's).
  gamesrv replay --data-dir DIR --to URL [--speed N|max] [--token T] [--json]
      Re-send DIR's journal to the server at URL (POST /v1/events, in order) as load:
      --speed 1 (default) keeps the recorded pacing, 2 twice as fast, max no pacing.
      The token: --token, else GAMESRV_TOKEN, else the generated token file.
  gamesrv bench locks [--threads N] [--iterations N] [--json]
      The seed's Critical Section vs Mutex comparison, with a progress bar.
${BOTS_USAGE}

Options:
  --name NAME     server name (default "gamesrv", or GAMESRV_NAME)
  -h, --help      this text
Exit codes: 0 ok, 1 the operation failed (e.g. no such server, ERROR reply), 2 bad usage.`;

class UsageError extends Error {}

function describe(s: MonitorStatus): string {
  const state = !s.running ? 'stopped' : s.paused ? 'paused' : 'running';
  const health = s.writer === 'dead' ? 'writer DEAD' : s.stale ? 'STALE' : 'live';
  return [
    `server   ${s.serverName}  (pid ${s.pid}, ${state}, ${health}, updated ${s.ageMs} ms ago)`,
    `players  ${s.playerCount} / ${s.maxPlayers}`,
    `cpu      ${s.cpuPercent.toFixed(1)} % of one core (${s.cpuCount} cores)`,
    `memory   ${formatBytes(s.residentBytes)} resident`,
    `uptime   ${((s.lastUpdateMs - s.startedAtMs) / 1000).toFixed(0)} s, heartbeat ${s.heartbeat}`,
  ].join('\n');
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer`);
  return n;
}

async function monitor(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      watch: { type: 'boolean' },
      interval: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const name = values.name ?? process.env['GAMESRV_NAME'] ?? 'gamesrv';
  const print = () => {
    const s = readMonitor(name);
    process.stdout.write(values.json ? `${JSON.stringify(s)}\n` : `${describe(s)}\n`);
    return s;
  };
  if (!values.watch) {
    const s = print();
    return s.stale ? 1 : 0;
  }
  const interval = positiveInt('interval', values.interval, 1000);
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('SIGTERM', () => ac.abort());
  const { setInterval: every } = await import('node:timers/promises');
  print();
  try {
    for await (const _ of every(interval, undefined, { signal: ac.signal })) {
      if (!values.json) process.stdout.write('\n');
      print();
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
  return 0;
}

async function pipe(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      socket: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const [type, data = ''] = positionals;
  if (!type) throw new UsageError('pipe: missing TYPE');
  const upper = type.toUpperCase();
  if (!(PIPE_REQUEST_TYPES as readonly string[]).includes(upper)) {
    throw new UsageError(`pipe: unknown TYPE "${type}" (one of ${PIPE_REQUEST_TYPES.join(', ')})`);
  }
  const path = values.socket ?? defaultPipePath(values.name ?? process.env['GAMESRV_NAME'] ?? 'gamesrv');
  const reply = await pipeSend(path, upper, data, { timeoutMs: positiveInt('timeout', values.timeout, 5000) });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  } else if (reply.type === 'STATUS_REPLY') {
    process.stdout.write(`${JSON.stringify(JSON.parse(reply.data), null, 2)}\n`);
  } else {
    process.stdout.write(`${reply.type} ${reply.data}\n`);
  }
  return reply.type === 'ERROR' ? 1 : 0;
}

async function bench(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { threads: { type: 'string' }, iterations: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (positionals[0] !== 'locks') throw new UsageError('bench: only "locks" is available');
  const threads = positiveInt('threads', values.threads, 4);
  const iterations = positiveInt('iterations', values.iterations, 1_000_000);
  const tty = process.stderr.isTTY;
  const bar = (pct: number) => {
    const width = 30;
    const full = Math.round((pct / 100) * width);
    return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${pct.toFixed(0).padStart(3)}%`;
  };
  let last = -1;
  const report = await runLockBenchmark({ threads, iterations }, (p) => {
    const pct = Math.floor(p.percent);
    if (pct === last) return;
    last = pct;
    if (tty) process.stderr.write(`\r${bar(p.percent)}  rows ${p.rowsDone}/${p.rowsTotal}`);
    else if (pct % 10 === 0) process.stderr.write(`${bar(p.percent)}  rows ${p.rowsDone}/${p.rowsTotal}\n`);
  });
  if (tty) process.stderr.write('\n');
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    process.stdout.write(`${threads} threads x ${iterations} iterations\n`);
    process.stdout.write('kind                      time ms        ops/s   x fastest  count\n');
    for (const r of report.rows) {
      if (r.error) {
        process.stdout.write(`${r.kind.padEnd(24)}  error: ${r.error}\n`);
        continue;
      }
      process.stdout.write(
        `${r.kind.padEnd(24)} ${r.elapsedMs.toFixed(1).padStart(8)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)} ${r.ratioToFastest.toFixed(2).padStart(10)}  ${r.exact ? 'exact' : `WRONG (${r.finalCount})`}\n`,
      );
    }
  }
  return report.rows.every((r) => r.exact && !r.error) ? 0 : 1;
}

async function replay(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string' },
      'max-players': { type: 'string' },
      'world-size': { type: 'string' },
      verify: { type: 'boolean' },
      to: { type: 'string' },
      speed: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const dataDir = values['data-dir'];
  if (!dataDir) throw new UsageError('replay: --data-dir DIR is required');
  if (values.to !== undefined) return replayTo(dataDir, values.to, values.speed, values.token, values.json === true);
  if (values.speed !== undefined || values.token !== undefined) throw new UsageError('replay: --speed and --token go with --to URL');
  const options: { maxPlayers?: number; worldSize?: number } = {};
  if (values['max-players'] !== undefined) options.maxPlayers = positiveInt('max-players', values['max-players'], 0);
  if (values['world-size'] !== undefined) options.worldSize = positiveInt('world-size', values['world-size'], 0);
  if (values.verify) {
    const v = await verifyJournal(dataDir, options);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(v)}\n`);
    } else if (v.divergence) {
      const d = v.divergence;
      process.stdout.write(
        `DIVERGED at seq ${d.seq}: ${d.problem} (recorded hash ${d.recordedHash}, replayed ${d.replayedHash}); ` +
          `${v.checked - 1} of ${v.recorded} recorded hashes matched before it\n`,
      );
    } else {
      process.stdout.write(
        `verified: ${v.checked} recorded World hashes match a replay of ${v.events} events (last seq ${v.lastSeq}) ` +
          `in ${(v.durationUs / 1000).toFixed(1)} ms\n`,
      );
    }
    return v.divergence ? 1 : 0;
  }
  const r = await replayJournal(dataDir, options);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return 0;
  }
  const cut = r.cutBytes > 0 ? `, cut a torn tail of ${r.cutBytes} bytes (${r.cutReason})` : '';
  process.stdout.write(
    `${r.events} events in ${r.records} records (${r.segments} segments${cut}), last seq ${r.lastSeq}: ` +
      `${r.players.length} players, ${r.online} online; replayed in ${(r.durationUs / 1000).toFixed(1)} ms\n`,
  );
  return 0;
}

/** The client token, or none when there is no token file (a server started with --no-auth). */
function tokenIfAny(): string | undefined {
  try {
    return clientToken();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function replayTo(dataDir: string, to: string, rawSpeed: string | undefined, token: string | undefined, json: boolean): Promise<number> {
  let speed: number | 'max' = 1;
  if (rawSpeed === 'max') speed = 'max';
  else if (rawSpeed !== undefined) {
    speed = Number(rawSpeed);
    if (!Number.isFinite(speed) || speed <= 0) throw new UsageError('--speed must be a positive number or "max"');
  }
  if (!/^https?:\/\//.test(to)) throw new UsageError('--to must be an http:// or https:// URL');
  try {
    const r = await replayLoad({ dataDir, to, speed, token: token ?? tokenIfAny() });
    process.stdout.write(
      json
        ? `${JSON.stringify(r)}\n`
        : `sent ${r.events} events (to seq ${r.lastSeq}) in ${r.requests} requests (${r.retries} retried after 429) ` +
            `in ${(r.durationMs / 1000).toFixed(2)} s: ${Math.round(r.eventsPerSec).toLocaleString('en-US')} events/s\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof ReplayLoadError) {
      process.stderr.write(`gamesrv: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  switch (command) {
    case 'monitor':
      return monitor(rest);
    case 'pipe':
      return pipe(rest);
    case 'bench':
      return bench(rest);
    case 'replay':
      return replay(rest);
    case 'bots':
      return botsCommand(rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/**
 * Exits once what was written has been handed to the OS: stdout and stderr on a pipe are
 * asynchronous, and process.exit() right after a large write (`replay --json`) cut it
 * short. A write's callback runs after every write before it.
 */
function exitAfterOutput(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(exitAfterOutput, (err: unknown) => {
  if (err instanceof UsageError || err instanceof BotsUsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    process.stderr.write(`gamesrv: ${(err as Error).message}\n\n${USAGE}\n`);
    return exitAfterOutput(2);
  }
  const e = err as EngineError;
  process.stderr.write(`gamesrv: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
  exitAfterOutput(1);
});
