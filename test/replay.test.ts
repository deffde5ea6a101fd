// `gamesrv replay --verify` and `--to` (docs/JOURNAL.md "World hashes", "gamesrv replay"):
// the committed recording under test/fixtures/replay-recording must verify (its hashes are
// the regression: a change to the journal format or to the World's rules breaks them), a
// replay that builds another World reports the first divergence, a torn hash file is cut, a
// server with a database records hashes that a replay from scratch reproduces across a
// restart, and `--to` re-sends a recording that builds the same players on another server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';

import { Engine, readJournal, replayJournal, verifyJournal, type Player } from '../src/engine/index.js';
import { replayLoad } from '../src/replay-load.js';
import { build } from './helpers/app.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'replay-recording');
/** docs/JOURNAL.md "World hashes": fixed records, the seq in the first 8 bytes. */
const HASH_RECORD_BYTES = 24;
const HASH_FILE = join('journal', 'world-hashes.gsh');

function tempDir(t: TestContext, tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `gamesrv-replay-${tag}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A copy of the fixture: opening a journal may cut a torn tail, never in the repository. */
function recording(t: TestContext): string {
  const dir = tempDir(t, 'fixture');
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

function recordedSeqs(dataDir: string): number[] {
  const bytes = readFileSync(join(dataDir, HASH_FILE));
  const seqs: number[] = [];
  for (let at = 0; at + HASH_RECORD_BYTES <= bytes.length; at += HASH_RECORD_BYTES) seqs.push(Number(bytes.readBigUInt64LE(at)));
  return seqs;
}

function gameState(players: Player[]): Omit<Player, 'lastSeenMs'>[] {
  return players.map(({ lastSeenMs: _t, ...p }) => p);
}

test('the committed recording verifies: every World hash it holds is reproduced by a replay from scratch', async (t) => {
  const dir = recording(t);
  const recorded = statSync(join(dir, HASH_FILE)).size / HASH_RECORD_BYTES;
  assert.ok(recorded >= 4, `the fixture holds hashes from several runs (${recorded})`);
  const v = await verifyJournal(dir);
  assert.equal(v.divergence, null, JSON.stringify(v.divergence));
  assert.equal(v.recorded, recorded);
  assert.equal(v.checked, recorded);
  assert.equal(v.hashCutBytes, 0);
  assert.equal(v.events, v.lastSeq);
  assert.ok(v.events > 0);
});

test('a replay that builds another World (a smaller world refuses one MOVE) reports the first recorded hash after it', async (t) => {
  const dir = recording(t);
  const page = await readJournal(dir, 0, 1000);
  const far = page.events.find((e) => e.type === 'PLAYER_MOVE' && e.data === '5000,-4000');
  assert.ok(far, 'the fixture moves a player to 5000,-4000');
  const firstAfter = Math.min(...recordedSeqs(dir).filter((s) => s >= far.seq));
  const v = await verifyJournal(dir, { worldSize: 1000 });
  assert.ok(v.divergence, 'the divergence is reported');
  assert.equal(v.divergence.seq, firstAfter);
  assert.notEqual(v.divergence.recordedHash, v.divergence.replayedHash);
  assert.match(v.divergence.problem, new RegExp(`after event ${firstAfter} differs`));
  assert.equal(v.checked, recordedSeqs(dir).filter((s) => s < far.seq).length + 1, 'every hash before the move matched');
});

test('gamesrv replay --verify: exit 0 when every hash matches, 1 with the divergence', async (t) => {
  const dir = recording(t);
  const run = (extra: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'replay', '--data-dir', dir, '--verify', ...extra], { cwd: ROOT }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );
  const ok = await run([]);
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(ok.stdout, /^verified: \d+ recorded World hashes match a replay of \d+ events/);
  const bad = await run(['--world-size', '1000']);
  assert.equal(bad.code, 1, bad.stdout);
  assert.match(bad.stdout, /^DIVERGED at seq \d+: /);
});

test('a torn hash record (a crash during its append) is cut, and the records before it still verify', async (t) => {
  const dir = recording(t);
  const file = join(dir, HASH_FILE);
  const records = statSync(file).size / HASH_RECORD_BYTES;
  truncateSync(file, statSync(file).size - 5);
  const v = await verifyJournal(dir);
  assert.equal(v.divergence, null);
  assert.equal(v.recorded, records - 1);
  assert.equal(v.hashCutBytes, HASH_RECORD_BYTES - 5);
});

test('a server with a database records hashes at start, checkpoint and stop that a replay from scratch reproduces across a restart', async (t) => {
  const dir = tempDir(t, 'live');
  const config = { iocp: false, pipe: false, monitor: false, dataDir: dir, durability: 'journal', database: 'sqlite', flushMs: 60_000 } as const;
  const engine = new Engine();
  t.after(() => engine.close());
  await engine.start(config);
  await engine.acceptEvents(Array.from({ length: 50 }, (_, i) => ({ type: 'PLAYER_LOGIN' as const, playerId: i + 1, data: `p${i + 1}` })));
  await engine.acceptEvents([{ type: 'PLAYER_ATTACK', playerId: 1, data: { target: 2, damage: 40 } }]);
  await engine.flush();
  await engine.checkpointStorage();
  await engine.acceptEvents([{ type: 'PLAYER_MOVE', playerId: 3, data: { x: 7, y: 8 } }, { type: 'PLAYER_LOGOUT', playerId: 4 }]);
  await engine.stop();
  // The second run loads the players from the store (as of its checkpoint) and replays the
  // journal after it: its start hash must equal a replay of the whole journal.
  await engine.start(config);
  await engine.acceptEvents([{ type: 'PLAYER_CHAT', playerId: 5, data: 'again' }, { type: 'PLAYER_MOVE', playerId: 1, data: '1,2' }]);
  await engine.flush();
  await engine.checkpointStorage();
  const live = engine.players();
  const recordedHere = engine.snapshot().journal.worldHashes;
  await engine.stop();
  assert.ok(recordedHere >= 5, `start, checkpoint, stop, start, checkpoint: ${recordedHere}`);
  const v = await verifyJournal(dir);
  assert.equal(v.divergence, null, JSON.stringify(v.divergence));
  assert.equal(v.checked, v.recorded);
  assert.ok(v.recorded >= recordedHere);
  assert.deepEqual((await replayJournal(dir)).players, live);
});

test('replay --to re-sends a recording in order: the target builds the same players', async (t) => {
  const dir = recording(t);
  const app = await build(t, { token: 'replay-token' });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const report = await replayLoad({ dataDir: dir, to: base, speed: 'max', token: 'replay-token' });
  const reference = await replayJournal(dir);
  assert.equal(report.events, reference.events);
  assert.equal(report.lastSeq, reference.lastSeq);
  assert.equal(report.retries, 0);
  const res = await fetch(`${base}/v1/players?limit=1000`);
  const target = ((await res.json()) as { players: Player[] }).players;
  assert.deepEqual(gameState(target), gameState(reference.players));
});

test('replay --to with pacing keeps the recorded order and stops at the first refusal with its reason', async (t) => {
  const dir = recording(t);
  const app = await build(t, { token: 'replay-token' });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const paced = await replayLoad({ dataDir: dir, to: base, speed: 1000, token: 'replay-token' });
  assert.equal(paced.events, (await replayJournal(dir)).events);
  await assert.rejects(replayLoad({ dataDir: dir, to: base, speed: 'max', token: 'wrong' }), /answered 401 for the events 1\.\./);
});
