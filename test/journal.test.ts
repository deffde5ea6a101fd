// durability "journal" through the Engine facade: acceptEvents() resolves after the commit
// with the journal's sequence numbers, the synchronous path refuses, a refusal still takes
// nothing, a fresh engine replays the journal, and replayJournal() (gamesrv replay) builds
// the same World from the files alone. The crash test (test/crash.test.ts) kills a server.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';

import { Engine, EngineError, replayJournal, type EnqueueResult } from '../src/engine/index.js';

const base = { iocp: false, pipe: false, monitor: false, serverName: `test-journal-${process.pid}` } as const;

function dataDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'gamesrv-journal-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function accepted(engine: Engine, events: Parameters<Engine['acceptEvents']>[0]): Promise<EnqueueResult> {
  const r = engine.acceptEvents(events);
  assert.ok(r instanceof Promise, 'journal mode acknowledges with a promise');
  return r;
}

test('acceptEvents resolves after the commit with journal sequence numbers; a fresh engine replays them', async (t) => {
  const dir = dataDir(t);
  const first = new Engine();
  t.after(() => first.close());
  await first.start({ ...base, dataDir: dir, durability: 'journal' });
  assert.equal(first.durability, 'journal');
  const logins = await accepted(first, [
    { type: 'PLAYER_LOGIN', playerId: 1, data: 'one' },
    { type: 'PLAYER_LOGIN', playerId: 2, data: 'two' },
  ]);
  assert.deepEqual([logins.accepted, logins.firstSeq, logins.lastSeq], [2, 1, 2]);
  const hit = await accepted(first, [{ type: 'PLAYER_ATTACK', playerId: 1, data: { target: 2, damage: 30 } }]);
  assert.equal(hit.firstSeq, 3);
  assert.throws(() => first.enqueueEvents([{ type: 'PLAYER_LOGOUT', playerId: 1 }]), (e: unknown) => e instanceof EngineError && e.code === 'DURABLE_MODE');
  await first.flush();
  const s = first.snapshot().journal;
  assert.equal(s.mode, 'journal');
  assert.equal(s.events, 3);
  assert.equal(s.lastSeq, 3);
  assert.equal(s.appliedSeq, 3);
  assert.ok(s.syncs >= 1 && s.syncs <= 2);
  const before = first.players();
  await first.close();

  const second = new Engine();
  t.after(() => second.close());
  await second.start({ ...base, dataDir: dir, durability: 'journal' });
  assert.equal(second.snapshot().journal.replayedEvents, 3);
  assert.deepEqual(second.players(), before, 'the World, lastSeenMs included, comes back from the journal');
  assert.equal((await accepted(second, [{ type: 'PLAYER_LOGOUT', playerId: 1 }])).firstSeq, 4, 'sequence numbers continue');
  await second.close();

  const offline = await replayJournal(dir);
  assert.equal(offline.events, 4);
  assert.equal(offline.lastSeq, 4);
  assert.equal(offline.cutBytes, 0);
  assert.deepEqual(
    offline.players.map((p) => [p.id, p.online, p.hp]),
    [
      [1, false, 100],
      [2, true, 70],
    ],
  );
});

test('journal mode needs a data directory; a refused batch takes nothing and is not journaled', async (t) => {
  const engine = new Engine({ queueCapacity: 2 });
  t.after(() => engine.close());
  await assert.rejects(engine.start({ ...base, durability: 'journal' }), (e: unknown) => e instanceof EngineError && e.code === 'INVALID_ARGUMENT' && /needs dataDir/.test(e.message));
  await engine.start({ ...base, dataDir: dataDir(t), durability: 'journal' });
  await engine.pause(); // nothing is processed: the queue fills
  await accepted(engine, [{ type: 'PLAYER_LOGIN', playerId: 1, data: 'one' }]);
  assert.throws(
    () => engine.acceptEvents([
      { type: 'PLAYER_LOGIN', playerId: 2, data: 'two' },
      { type: 'PLAYER_LOGIN', playerId: 3, data: 'three' },
    ]),
    (e: unknown) => e instanceof EngineError && e.code === 'QUEUE_FULL' && e.available === 1,
  );
  assert.equal(engine.snapshot().journal.events, 1, 'the refused batch never reached the journal');
  await engine.resume();
  await engine.flush();
  assert.deepEqual(engine.players().map((p) => p.id), [1]);
});

test('durability none keeps the synchronous path, for acceptEvents too', async (t) => {
  const engine = new Engine();
  t.after(() => engine.close());
  await engine.start({ ...base, dataDir: dataDir(t) });
  const r = engine.acceptEvents([{ type: 'PLAYER_LOGIN', playerId: 1, data: 'one' }]);
  assert.ok(!(r instanceof Promise));
  assert.equal(r.firstSeq, 1);
  assert.equal(engine.enqueueEvents([{ type: 'PLAYER_LOGOUT', playerId: 1 }]).firstSeq, 2);
  assert.equal(engine.snapshot().journal.mode, 'none');
  await assert.rejects(replayJournal(join(dataDir(t), 'nothing')), (e: unknown) => e instanceof EngineError && e.code === 'JOURNAL_REPLAY_FAILED');
});
