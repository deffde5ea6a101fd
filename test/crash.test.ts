// Crash test for durability "journal" (docs/JOURNAL.md): the server as `npm start` runs
// it, fed by REST batches, the pipe and a game session at once, killed with SIGKILL at a
// random moment, restarted on the same data directory, three times. At the end:
// - every acknowledged event was applied exactly once: REST batches log in a fresh target
//   and hit it m times for 1 damage, so the target's hp is 100 - m, never 100 - 2m, and a
//   batch is there whole or not at all; pipe LOGINs that got ACK are there; a session's
//   position is at or past its last acknowledged move (STATE's lastClientSeq);
// - the live World equals `gamesrv replay --data-dir <dir> --json`, the journal replayed
//   from scratch by another process.
// And a torn tail: the last segment cut mid-record, the server starts, says what it cut,
// and every event before the cut is there.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';

import { defaultPipePath, pipeSend, type Player, type VerifiedJournal } from '../src/engine/index.js';
import { GameClient } from './helpers/game-client.js';
import { rng } from './helpers/rng.js';

const ROOT = new URL('..', import.meta.url);
const ROUNDS = 3;
const ATTACKER = 1;

interface LogLine {
  msg?: string;
  gamePort?: number;
  journal?: { mode?: string; lastSeq?: number; replayedEvents?: number; cutBytes?: number };
}

/** The environment without any GAMESRV_* setting of the developer's shell. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GAMESRV_')));
}

async function startServer(t: TestContext, dataDir: string, serverName: string) {
  const child = spawn(
    process.execPath,
    [
      '--import', 'tsx', 'src/server.ts',
      '--port', '0', '--game-port', '0', '--game-auth', 'none', '--no-auth', '--rate-limit', '0',
      '--session-rate', '100000', '--durability', 'journal', '--data-dir', dataDir, '--server-name', serverName,
    ],
    { cwd: ROOT, env: { ...cleanEnv(), XDG_STATE_HOME: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const ready = await new Promise<{ base: string; line: LogLine }>((resolve, reject) => {
    let base: string | undefined;
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        return;
      }
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line.msg ?? '');
      if (m) base = m[1]!;
      if (line.msg === 'engine ready' && base !== undefined) resolve({ base, line });
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before it was ready: ${stderr}`)));
  });
  return { child, exited, base: ready.base, ready: ready.line, stderr: () => stderr };
}

async function post(base: string, events: unknown[]): Promise<number> {
  const res = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ events }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function players(base: string): Promise<Player[]> {
  const all: Player[] = [];
  for (let after = 0; ; ) {
    const res = await fetch(`${base}/v1/players?limit=1000&after=${after}`);
    const page = (await res.json()) as { players: Player[]; next: string | null };
    all.push(...page.players);
    if (page.next === null) return all;
    after = page.players.at(-1)!.id;
  }
}

async function replayReference(dataDir: string): Promise<{ events: number; lastSeq: number; players: Player[] }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'replay', '--data-dir', dataDir, '--json'], {
    cwd: ROOT,
    env: cleanEnv(),
    maxBuffer: 64 << 20,
  });
  return JSON.parse(stdout) as { events: number; lastSeq: number; players: Player[] };
}

async function verifyReference(dataDir: string): Promise<VerifiedJournal> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'replay', '--data-dir', dataDir, '--verify', '--json'], {
    cwd: ROOT,
    env: cleanEnv(),
  }).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
  return JSON.parse(stdout) as VerifiedJournal;
}

test('kill -9 under load, three times: every acknowledged event applied exactly once, the World equals the replayed journal', { timeout: 120_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gamesrv-crash-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const serverName = `crash${process.pid}`;
  const seed = Number(process.env['GAMESRV_TEST_SEED'] ?? Date.now() % 100000);
  process.stdout.write(`# crash test seed ${seed} (replay: GAMESRV_TEST_SEED=${seed})\n`);
  const random = rng(seed);

  /** target id -> its batch's attack count, and whether a 202 came for it. */
  const batches = new Map<number, { hits: number; acked: boolean }>();
  const pipeAcked = new Set<number>();
  /** session player id -> the last clientSeq its STATE acknowledged, and the last sent. */
  const sessions = new Map<number, { acked: number; sent: number }>();
  let nextTarget = 10_000;
  let nextPipePlayer = 500_000;

  for (let round = 0; round < ROUNDS; round++) {
    const server = await startServer(t, dataDir, serverName);
    assert.equal(server.ready.journal?.mode, 'journal', 'the start log says the mode');
    if (round > 0) assert.ok((server.ready.journal?.replayedEvents ?? 0) > 0, `round ${round}: the start replayed the journal`);
    if (round === 0) assert.equal(await post(server.base, [{ type: 'PLAYER_LOGIN', playerId: ATTACKER, data: 'attacker' }]), 202);

    let killed = false;
    const rest = async () => {
      while (!killed) {
        const target = nextTarget++;
        const hits = 1 + Math.floor(random() * 20);
        batches.set(target, { hits, acked: false });
        const events = [{ type: 'PLAYER_LOGIN', playerId: target, data: `t${target}` }];
        for (let i = 0; i < hits; i++) events.push({ type: 'PLAYER_ATTACK', playerId: ATTACKER, data: { target, damage: 1 } } as never);
        try {
          const status = await post(server.base, events);
          if (status === 202) batches.get(target)!.acked = true;
          else assert.ok(killed || status === 429, `REST batch answered ${status}`);
        } catch {
          return; // the server died under the request
        }
      }
    };
    const pipe = async () => {
      const path = defaultPipePath(serverName);
      while (!killed) {
        const id = nextPipePlayer++;
        try {
          const reply = await pipeSend(path, 'PLAYER_LOGIN', `${id}:pipe${id}`, { timeoutMs: 5000 });
          if (reply.type === 'ACK') pipeAcked.add(id);
        } catch {
          return;
        }
      }
    };
    const session = async () => {
      const playerId = 900_000 + round;
      let c: GameClient;
      try {
        c = await GameClient.connect(server.ready.gamePort!);
        c.hello(`${playerId}:s${round}`);
        await c.next('WELCOME');
      } catch (err) {
        if (killed) return; // the plug was pulled before the session got in
        throw err;
      }
      const record = { acked: 0, sent: 0 };
      sessions.set(playerId, record);
      for (let seq = 1; !killed; seq++) {
        c.move(seq, round, seq);
        record.sent = seq;
        try {
          await c.until(() => (c.lastState?.lastClientSeq ?? 0) >= seq, `move ${seq} acknowledged`, 10_000);
        } catch {
          return; // the connection died with the server
        }
        record.acked = seq;
      }
      c.socket.destroy();
    };
    const load = Promise.all([rest(), rest(), pipe(), session()]);
    // Let the load run for a random while, then pull the plug.
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(random() * 900)));
    server.child.kill('SIGKILL');
    killed = true;
    const [, signal] = await server.exited;
    assert.equal(signal, 'SIGKILL');
    await load;
  }

  // A last lifetime, without load: the World it replays is the one to check.
  const server = await startServer(t, dataDir, serverName);
  const live = await players(server.base);
  server.child.kill('SIGTERM');
  const [code] = await server.exited;
  assert.equal(code, 0, server.stderr());

  const byId = new Map(live.map((p) => [p.id, p]));
  let ackedBatches = 0;
  for (const [target, b] of batches) {
    const p = byId.get(target);
    if (b.acked) {
      ackedBatches += 1;
      assert.ok(p, `acknowledged batch of target ${target} is lost`);
    }
    if (p) assert.equal(p.hp, 100 - b.hits, `target ${target}: ${b.hits} hits acknowledged once, hp ${p.hp}`);
  }
  const acked = [...sessions.values()].reduce((n, s) => n + s.acked, 0);
  process.stdout.write(`# ${ackedBatches}/${batches.size} REST batches, ${pipeAcked.size} pipe LOGINs, ${acked} session moves acknowledged; ${live.length} players\n`);
  assert.ok(ackedBatches > 0, 'some REST batches were acknowledged');
  for (const id of pipeAcked) assert.ok(byId.has(id), `pipe LOGIN of ${id} was acknowledged and is lost`);
  for (const [id, s] of sessions) {
    const p = byId.get(id);
    assert.ok(p || s.acked === 0, `session player ${id} is lost`);
    if (p) {
      assert.ok(p.x >= s.acked && p.x <= s.sent, `session player ${id} at x=${p.x}: acknowledged ${s.acked}, sent ${s.sent}`);
    }
  }
  assert.ok(pipeAcked.size > 0, 'some pipe LOGINs were acknowledged');

  const reference = await replayReference(dataDir);
  assert.deepEqual(reference.players, live, 'the live World equals the journal replayed from scratch');
  // Every World hash the killed servers recorded (start, flush periods, stop) is the World a
  // replay of the journal builds at that event.
  const verified = await verifyReference(dataDir);
  assert.equal(verified.divergence, null, JSON.stringify(verified.divergence));
  assert.ok(verified.checked >= 4 && verified.checked === verified.recorded, `${verified.checked} of ${verified.recorded} hashes checked`);
});

test('a torn tail: the server cuts it at start, says so, and keeps every event before it', { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gamesrv-torn-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const serverName = `torn${process.pid}`;
  let server = await startServer(t, dataDir, serverName);
  for (let id = 1; id <= 5; id++) assert.equal(await post(server.base, [{ type: 'PLAYER_LOGIN', playerId: id, data: `p${id}` }]), 202);
  server.child.kill('SIGKILL');
  await server.exited;

  const dir = join(dataDir, 'journal');
  const last = readdirSync(dir).filter((f) => f.endsWith('.gsj')).sort().at(-1)!;
  truncateSync(join(dir, last), statSync(join(dir, last)).size - 3); // inside the last record

  server = await startServer(t, dataDir, serverName);
  assert.ok((server.ready.journal?.cutBytes ?? 0) > 0, `the cut is reported: ${JSON.stringify(server.ready.journal)}`);
  assert.equal(server.ready.journal?.lastSeq, 4);
  const live = await players(server.base);
  assert.deepEqual(live.map((p) => p.id), [1, 2, 3, 4]);
  // Sequence numbers go on from the cut: the torn record's were never acknowledged.
  const res = await fetch(`${server.base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'PLAYER_LOGIN', playerId: 9, data: 'p9' }),
  });
  assert.equal(res.status, 202);
  assert.equal(((await res.json()) as { firstSeq: number }).firstSeq, 5);
  server.child.kill('SIGTERM');
  await server.exited;
});
