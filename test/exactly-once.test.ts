// Every accepted event is processed exactly once across random pause / resume /
// stop / start sequences, checked from snapshot(): accepted == processed, and the
// World agrees with what was accepted.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Engine, EngineError, type GameEventInput } from '../src/engine/index.js';
import { rng } from './helpers/rng.js';


test('accepted == processed across random pause/resume/stop sequences (seeded)', async (t) => {
  const seed = Number(process.env['GAMESRV_TEST_SEED'] ?? Date.now() % 1_000_000_007);
  t.diagnostic(`seed=${seed} (replay: GAMESRV_TEST_SEED=${seed})`);
  console.log(`# exactly-once seed=${seed}`);
  const rand = rng(seed);
  const config = { tickRateHz: 240, poolMinThreads: 1, poolMaxThreads: 2, serverName: `test-once-${process.pid}` };
  const engine = new Engine({ queueCapacity: 4096, idleTimeoutMs: 50 });
  t.after(() => engine.close());
  await engine.start(config);

  // Each player logs in and out alternately; the World's final online flag must match
  // the parity of accepted logins/logouts for it, which only holds if each event ran once.
  const players = 64;
  const online = new Array<boolean>(players).fill(false);
  let accepted = 0;
  let refused = 0;
  let moves = 0;

  for (let step = 0; step < 400; step++) {
    const r = rand();
    const state = engine.state;
    if (r < 0.06) {
      if (state === 'running') await engine.pause();
      else if (state === 'paused') await engine.resume();
    } else if (r < 0.1) {
      if (state === 'running' || state === 'paused') await engine.stop({ deadlineMs: 2000 });
      else await engine.start(config);
    } else {
      const n = 1 + Math.floor(rand() * 200);
      const batch: GameEventInput[] = [];
      const planned = online.slice();
      for (let i = 0; i < n; i++) {
        const id = Math.floor(rand() * players);
        if (rand() < 0.5) {
          batch.push({ type: planned[id] ? 'PLAYER_LOGOUT' : 'PLAYER_LOGIN', playerId: id });
          planned[id] = !planned[id];
        } else {
          batch.push({ type: 'PLAYER_MOVE', playerId: id, data: `${step},${i}` });
        }
      }
      try {
        const res = engine.enqueueEvents(batch);
        assert.equal(res.accepted, n);
        accepted += n;
        moves += batch.filter((e) => e.type === 'PLAYER_MOVE').length;
        for (let i = 0; i < players; i++) online[i] = planned[i] as boolean;
      } catch (err) {
        assert.ok(err instanceof EngineError);
        assert.ok(err.code === 'QUEUE_FULL' || err.code === 'ENGINE_NOT_RUNNING', err.code);
        refused += n;
      }
    }
  }
  if (engine.state === 'stopped') await engine.start(config);
  if (engine.state === 'paused') await engine.resume();
  await engine.stop({ deadlineMs: 5000 });

  const s = engine.snapshot();
  t.diagnostic(`accepted=${accepted} refused=${refused} starts=${s.starts}`);
  assert.ok(accepted > 0);
  assert.equal(s.events.accepted, accepted);
  assert.equal(s.events.processed, accepted, 'every accepted event processed');
  assert.equal(s.events.queueDepth, 0);
  assert.equal(s.events.rejectedEvents, refused);
  const byType = s.events.byType;
  assert.equal(byType.PLAYER_MOVE.processed, moves);
  // Logins and logouts were planned against the expected state, so none is invalid.
  assert.equal(byType.PLAYER_LOGIN.invalid + byType.PLAYER_LOGOUT.invalid, 0);
  for (let id = 0; id < players; id++) {
    const p = engine.player(id);
    assert.equal(p?.online ?? false, online[id], `player ${id}`);
  }
});
