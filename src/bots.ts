// `gamesrv bots`: the load generator (issue 14 item 7). The bots themselves are native
// (native/include/gamesrv/bots.hpp: epoll threads, one session each); this file gets their
// tickets, prints a progress line a second to stderr and the summary to stdout.
import { parseArgs } from 'node:util';

import { runBots, type BotsLatency, type BotsSummary } from './engine/index.js';
import { clientToken } from './local-token.js';
import { MAX_TICKETS_PER_REQUEST } from './schemas/tickets.js';

export const BOTS_USAGE = `  gamesrv bots --count N --rate HZ|max --duration S [--host H] [--port P] [--threads N]
               [--ticket-from URL] [--first-player ID] [--json]
      Run N game-port bots for S seconds: each logs in, random-walks at HZ moves a
      second (max: as fast as the server takes them), chats now and then, and measures
      RTT (PING/PONG) and move->observed (its MOVE seen by a neighbour bot). Progress on
      stderr, the summary on stdout.
      --ticket-from URL: POST URL (npm start: http://127.0.0.1:8080/v1/tickets) for tickets,
      with GAMESRV_TOKEN or the generated token file; without it the tickets are
      "<playerId>:bot-<n>", for a server started with --game-auth none.
      Defaults: --host 127.0.0.1 --port 7777 --threads 2 --first-player 1000000.`;

/** `--rate max`: the step a bot takes, as if it moved this often. */
const FLOOD_STEP_RATE_HZ = 100;

/** Thrown for bad command-line usage (exit code 2). */
export class BotsUsageError extends Error {}

function count(name: string, raw: string | undefined, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new BotsUsageError(`bots: --${name} is required`);
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new BotsUsageError(`bots: --${name} must be a non-negative integer`);
  return n;
}

function positive(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined) throw new BotsUsageError(`bots: --${name} is required`);
  if (!Number.isFinite(n) || n <= 0) throw new BotsUsageError(`bots: --${name} must be a positive number`);
  return n;
}

/** Tickets for players first..first+n-1 from POST url, MAX_TICKETS_PER_REQUEST at a time. */
export async function fetchTickets(url: string, first: number, n: number, token = clientToken()): Promise<string[]> {
  const tickets: string[] = [];
  for (let at = 0; at < n; at += MAX_TICKETS_PER_REQUEST) {
    const batch = Array.from({ length: Math.min(MAX_TICKETS_PER_REQUEST, n - at) }, (_, i) => ({
      playerId: first + at + i,
      name: `bot-${at + i}`,
    }));
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ tickets: batch }),
    });
    if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { tickets: { playerId: number; ticket: string }[] };
    if (body.tickets.length !== batch.length) throw new Error(`POST ${url}: ${body.tickets.length} tickets for ${batch.length} asked`);
    for (const t of body.tickets) tickets.push(t.ticket);
  }
  return tickets;
}

const ms = (us: number) => `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
const latency = (h: BotsLatency) => (h.count === 0 ? 'n/a' : `p50 ${ms(h.p50)} p99 ${ms(h.p99)}`);

export function progressLine(s: BotsSummary, movesPerSec: number): string {
  return `${s.elapsedS.toFixed(0).padStart(4)}s  connected ${s.connected}/${s.bots} live ${s.live} failed ${s.failed}  moves/s ${Math.round(movesPerSec)}  rtt ${latency(s.rttUs)}  move->observed ${latency(s.moveObservedUs)}`;
}

export function summaryTable(s: BotsSummary): string {
  const row = (k: string, v: string | number) => `${k.padEnd(16)} ${v}`;
  const lat = (h: BotsLatency) => (h.count === 0 ? 'none' : `p50 ${ms(h.p50)}  p90 ${ms(h.p90)}  p99 ${ms(h.p99)}  max ${ms(h.max)}  (n ${h.count})`);
  return [
    row('bots', `${s.bots} over ${s.elapsedS.toFixed(1)} s`),
    row('sessions', `${s.connected} connected, ${s.failed} failed, ${s.dropped} dropped by the server`),
    row('sent', `${s.movesSent} moves (${Math.round(s.movesSent / Math.max(s.elapsedS, 1e-9))}/s, ${s.movesDeferred} deferred), ${s.chatsSent} chats, ${s.pingsSent} pings`),
    row('received', `${s.framesReceived} frames (${s.statesReceived} STATE), ${s.bytesReceived} bytes, ${s.errorsReceived} ERROR, ${s.kicksReceived} KICK`),
    row('rtt', lat(s.rttUs)),
    row('move->observed', lat(s.moveObservedUs)),
    ...(s.lastProblem ? [row('last problem', s.lastProblem)] : []),
  ].join('\n');
}

export async function botsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      count: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      threads: { type: 'string' },
      'ticket-from': { type: 'string' },
      'first-player': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const n = count('count', values.count);
  if (n < 1) throw new BotsUsageError('bots: --count must be at least 1');
  const flood = values.rate === 'max';
  // In flood mode the rate only sizes a bot's step (half an AOI cell a second at this rate).
  const rateHz = flood ? FLOOD_STEP_RATE_HZ : positive('rate', values.rate);
  const durationS = positive('duration', values.duration);
  const port = count('port', values.port, 7777);
  const threads = count('threads', values.threads, 2);
  const first = count('first-player', values['first-player'], 1_000_000);
  const from = values['ticket-from'];
  const tickets = from !== undefined ? await fetchTickets(from, first, n) : Array.from({ length: n }, (_, i) => `${first + i}:bot-${i}`);
  let lastMoves = 0;
  let lastAt = 0;
  const summary = await runBots(
    { host: values.host ?? '127.0.0.1', port, count: n, rateHz, flood, durationS, threads, firstPlayerId: first, tickets },
    (s) => {
      const perSec = (s.movesSent - lastMoves) / Math.max(s.elapsedS - lastAt, 1e-9);
      [lastMoves, lastAt] = [s.movesSent, s.elapsedS];
      process.stderr.write(`${progressLine(s, perSec)}\n`);
    },
  );
  process.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : `${summaryTable(summary)}\n`);
  return summary.connected === n && summary.dropped === 0 ? 0 : 1;
}
