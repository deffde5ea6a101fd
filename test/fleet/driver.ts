// The driver of the multi-host test (scripts/test-fleet.sh, `npm run test:fleet`), run in
// host c's network namespace. Servers a and b share one PostgreSQL and one ticket secret.
//
//   1. N bots log in on a with tickets from a, attack each other (hp and kills change),
//      then keep moving (MOVE with clientSeq) until a drains.
//   2. a drains with a hand-off hint: each bot, on the NOTICE, stops moving, waits until a
//      has echoed its last MOVE (STATE lastClientSeq), leaves, and logs in where the NOTICE
//      says (b) with the same ticket.
//   3. On b, each bot must see itself where its last acknowledged MOVE put it, and b must
//      hold the hp and kills a had: the hand-off time of a bot runs from its NOTICE to that.
//   4. accepted == processed on a and on b; a table of what happened, with timings.
// Exit status 0 when every check held; 1 with the failures listed.
import { parseArgs } from 'node:util';

import type { Player } from '../../src/engine/index.js';
import { GameClient } from '../helpers/game-client.js';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    'a-game': { type: 'string' },
    'b-game': { type: 'string' },
    bots: { type: 'string', default: '200' },
  },
});
const A = values.a!;
const B = values.b!;
const BOTS = Number(values.bots);
const TOKEN = process.env['GAMESRV_FLEET_TOKEN']!;
const FIRST_PLAYER = 10_000;
/** How long any one step may take before the run fails, ms. */
const STEP_MS = 60_000;
const MOVE_EVERY_MS = 50;
/** A game-port ATTACK does 10 damage (GameServerConfig::attackDamage) to 100 hp. */
const HITS_TO_KILL = 10;

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(2)} s`;
const log = (line: string) => process.stdout.write(`[fleet ${elapsed()}] ${line}\n`);

async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${base}${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function ready(base: string): Promise<void> {
  const deadline = performance.now() + STEP_MS;
  for (;;) {
    try {
      const res = await fetch(`${base}/v1/ready`);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`${base} not ready within ${STEP_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function players(base: string, ids: Set<number>): Promise<Map<number, Player>> {
  const out = new Map<number, Player>();
  for (let after = FIRST_PLAYER - 1; ; ) {
    const page = await api<{ players: Player[]; next: string | null }>(base, 'GET', `/v1/players?limit=1000&after=${after}`);
    for (const p of page.players) if (ids.has(p.id)) out.set(p.id, p);
    if (page.next === null || page.players.length === 0) return out;
    after = page.players.at(-1)!.id;
  }
}

function hostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i), Number(s.slice(i + 1))];
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

class Bot {
  readonly id: number;
  client!: GameClient;
  seq = 0;
  /** clientSeq -> where that MOVE went. */
  readonly moves = new Map<number, [number, number]>();
  moving: ReturnType<typeof setInterval> | undefined;
  noticeAt = 0;
  noticeText = '';
  acked = 0;
  expected: [number, number] = [0, 0];
  onBAt = 0;

  constructor(id: number) {
    this.id = id;
  }

  move(): void {
    this.seq += 1;
    const x = (this.id % 100) * 10 + (this.seq % 50);
    const y = Math.floor((this.id - FIRST_PLAYER) / 100) * 10 + (this.seq % 7); // integers: exact through any encoding
    this.moves.set(this.seq, [x, y]);
    this.client.move(x, y, this.seq);
  }
}

async function main(): Promise<number> {
  const failures: string[] = [];
  await Promise.all([ready(A), ready(B)]);
  log(`a ${A} and b ${B} ready; ${BOTS} bots`);
  const [aHost, aPort] = hostPort(values['a-game']!);

  const ids = Array.from({ length: BOTS }, (_, i) => FIRST_PLAYER + i);
  const tickets = new Map<number, string>();
  for (let at = 0; at < ids.length; at += 1000) {
    const batch = ids.slice(at, at + 1000).map((playerId) => ({ playerId, name: `fleet-bot-${playerId}`, ttlSeconds: 600 }));
    const body = await api<{ tickets: { playerId: number; ticket: string }[] }>(A, 'POST', '/v1/tickets', { tickets: batch });
    for (const t of body.tickets) tickets.set(t.playerId, t.ticket);
  }

  // 1. Play on a.
  const bots = ids.map((id) => new Bot(id));
  await Promise.all(
    bots.map(async (b) => {
      b.client = await GameClient.connect(aPort, aHost);
      await b.client.login(tickets.get(b.id)!);
    }),
  );
  log(`${bots.length} bots logged in on a`);
  // Every fourth bot kills its neighbour (ATTACK_DAMAGE_TO_KILL hits), every other even one
  // hurts its neighbour once, everyone chats: hp, kills and chat all happen on a.
  for (let i = 0; i + 1 < bots.length; i += 2) {
    const hits = i % 4 === 0 ? HITS_TO_KILL : 1;
    for (let h = 0; h < hits; h++) bots[i]!.client.attack(bots[i + 1]!.id);
  }
  for (const b of bots) b.client.chat(`hello from ${b.id}`);
  for (const b of bots) b.move();
  await Promise.all(bots.map((b) => b.client.until(() => (b.client.lastState?.lastClientSeq ?? 0) >= b.seq, `bot ${b.id}: first MOVE echoed by a`, STEP_MS)));
  for (const b of bots) b.moving = setInterval(() => b.move(), MOVE_EVERY_MS);

  // 2. Drain a; each bot follows its NOTICE to b.
  const [, bPortDefault] = hostPort(values['b-game']!);
  const handoffs = bots.map(async (b) => {
    const at = b.client.messages.length;
    const notice = await b.client.next('NOTICE', at, STEP_MS);
    b.noticeAt = performance.now();
    clearInterval(b.moving);
    b.noticeText = notice.payload.subarray(2).toString('utf8');
    // What a echoed last: the MOVE a applied last (it echoes every one in time).
    const last = b.seq;
    await b.client.until(() => (b.client.lastState?.lastClientSeq ?? 0) >= last || b.client.socket.destroyed, `bot ${b.id}: a echoes its last MOVE`, STEP_MS);
    b.acked = b.client.lastState?.lastClientSeq ?? 0;
    b.expected = b.moves.get(b.acked)!;
    b.client.bye();
    await b.client.closed;
    const m = /reconnect (\S+)/.exec(b.noticeText);
    if (!m) throw new Error(`bot ${b.id}: the NOTICE has no hand-off hint: ${JSON.stringify(b.noticeText)}`);
    const hint = m[1]!.replace(/^[a-z]+:\/\//, '');
    const [host, port] = hostPort(hint.includes(':') ? hint : `${hint}:${bPortDefault}`);
    b.client = await GameClient.connect(port, host);
    await b.client.login(tickets.get(b.id)!);
    await b.client.until(() => {
      const me = b.client.visible().get(b.id);
      return me !== undefined && me.x === b.expected[0] && me.y === b.expected[1];
    }, `bot ${b.id}: on b at its last acknowledged position ${b.expected.join(",")}`, STEP_MS);
    b.onBAt = performance.now();
  });
  // Let the bots move on a for a while first.
  await new Promise((r) => setTimeout(r, 1000));
  const beforeDrain = await players(A, new Set(ids));
  const drainT0 = performance.now();
  const drain = await api<{ sessionsAtStart: number; kicked: number; waitedMs: number }>(A, 'POST', '/v1/engine/drain', {
    deadlineMs: 20_000,
    notice: 'this server is going away',
  });
  const drainSeconds = (performance.now() - drainT0) / 1000;
  log(`a drained: ${drain.sessionsAtStart} sessions at start, ${drain.kicked} kicked, waited ${drain.waitedMs} ms; request took ${drainSeconds.toFixed(2)} s`);
  const results = await Promise.allSettled(handoffs);
  for (const r of results) if (r.status === 'rejected') failures.push(String((r.reason as Error).message ?? r.reason));

  // 3. State on b: position from the last acknowledged MOVE, hp and kills as a had them.
  const onB = await players(B, new Set(ids));
  let matched = 0;
  for (const b of bots) {
    const p = onB.get(b.id);
    const before = beforeDrain.get(b.id);
    if (!p || !before) {
      failures.push(`bot ${b.id}: ${p ? '' : 'unknown on b '}${before ? '' : 'unknown on a'}`);
      continue;
    }
    const ok = p.online && p.x === b.expected[0] && p.y === b.expected[1] && p.hp === before.hp && p.kills === before.kills && p.name === before.name;
    if (ok) matched++;
    else failures.push(`bot ${b.id}: on b ${JSON.stringify(p)}, expected x,y ${b.expected.join(",")} hp ${before.hp} kills ${before.kills} (acked seq ${b.acked})`);
  }

  // 4. accepted == processed on both.
  for (const [name, base] of [['a', A], ['b', B]] as const) {
    const s = await api<{ events: { accepted: number; processed: number } }>(base, 'GET', '/v1/stats');
    if (s.events.accepted !== s.events.processed) failures.push(`${name}: accepted ${s.events.accepted} != processed ${s.events.processed}`);
    log(`${name}: accepted ${s.events.accepted}, processed ${s.events.processed}`);
  }

  const handoffMs = bots.filter((b) => b.onBAt > 0).map((b) => b.onBAt - b.noticeAt).sort((x, y) => x - y);
  const moves = bots.reduce((n, b) => n + b.seq, 0);
  const hurt = bots.filter((b) => (beforeDrain.get(b.id)?.hp ?? 100) < 100).length;
  const killers = bots.filter((b) => (beforeDrain.get(b.id)?.kills ?? 0) > 0).length;
  if (BOTS >= 4 && killers === 0) failures.push('no bot has a kill on a: the kills check would prove nothing');
  const rows: [string, string][] = [
    ['bots', String(BOTS)],
    ['moves sent on a', String(moves)],
    ['bots with hp < 100', String(hurt)],
    ['bots with kills', String(killers)],
    ['drain sessions at start', String(drain.sessionsAtStart)],
    ['drain kicked', String(drain.kicked)],
    ['drain_seconds', drainSeconds.toFixed(2)],
    ['handed off to b', `${handoffMs.length} / ${BOTS}`],
    ['state matched on b', `${matched} / ${BOTS}`],
    ['handoff_ms p50', quantile(handoffMs, 0.5).toFixed(1)],
    ['handoff_p99_ms', quantile(handoffMs, 0.99).toFixed(1)],
    ['handoff_ms max', (handoffMs.at(-1) ?? NaN).toFixed(1)],
  ];
  process.stdout.write(`\n${rows.map(([k, v]) => `${k.padEnd(26)} ${v}`).join('\n')}\n\n`);
  for (const b of bots) b.client.close();
  if (failures.length > 0) {
    process.stdout.write(`FAILED (${failures.length}):\n${failures.slice(0, 20).join('\n')}\n`);
    return 1;
  }
  process.stdout.write('fleet test passed\n');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fleet driver: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
