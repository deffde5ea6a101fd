import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Engine, EngineError, encodeEvents, EventColumns, type GameEventInput } from '../src/engine/index.js';

// A server name of our own: the pipe socket and shared-memory segment are per name.
const fast = { tickRateHz: 120, poolMinThreads: 1, poolMaxThreads: 4, dbLatencyUs: 500, serverName: `test-engine-${process.pid}` } as const;

async function started(options = {}, config = {}): Promise<Engine> {
  const engine = new Engine(options);
  await engine.start({ ...fast, ...config });
  return engine;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<EngineError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EngineError, `expected EngineError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected rejection with ${code}`);
}

function throwsWith(fn: () => unknown, code: string): EngineError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof EngineError, `expected EngineError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected throw with ${code}`);
}

describe('lifecycle', () => {
  test('start, pause, resume, stop walk the state machine', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    assert.equal(engine.state, 'stopped');
    assert.deepEqual(await engine.start(fast), { state: 'running' });
    assert.equal(engine.state, 'running');
    assert.deepEqual(await engine.pause(), { state: 'paused' });
    assert.deepEqual(await engine.resume(), { state: 'running' });
    const report = await engine.stop({ deadlineMs: 2000 });
    assert.equal(report.state, 'stopped');
    assert.equal(report.drained, true);
    assert.equal(engine.state, 'stopped');
  });

  test('wrong-state calls reject with INVALID_STATE and the current state', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    const err = await rejectsWith(engine.pause(), 'INVALID_STATE');
    assert.equal(err.state, 'stopped');
    await rejectsWith(engine.resume(), 'INVALID_STATE');
    await rejectsWith(engine.stop(), 'INVALID_STATE');
    await engine.start(fast);
    const again = await rejectsWith(engine.start(fast), 'INVALID_STATE');
    assert.equal(again.state, 'running');
    await rejectsWith(engine.resume(), 'INVALID_STATE');
  });

  test('stop works from paused (seed defect 2) and drains held events', async (t) => {
    const engine = await started();
    t.after(() => engine.close());
    await engine.pause();
    engine.enqueueEvents([{ type: 'PLAYER_LOGIN', playerId: 1 }]);
    assert.equal(engine.snapshot().events.queueDepth, 1);
    const report = await engine.stop();
    assert.equal(report.eventsDrained, 1);
    assert.equal(engine.player(1)?.online, true);
  });

  test('the engine restarts after a stop and counters keep adding up', async (t) => {
    const engine = await started();
    t.after(() => engine.close());
    engine.enqueueEvents([{ type: 'PLAYER_LOGIN', playerId: 1 }]);
    await engine.stop();
    await engine.start(fast);
    engine.enqueueEvents([{ type: 'PLAYER_LOGOUT', playerId: 1 }]);
    await engine.flush();
    const s = engine.snapshot();
    assert.equal(s.starts, 2);
    assert.equal(s.events.accepted, 2);
    assert.equal(s.events.processed, 2);
    assert.equal(s.players.online, 0);
  });

  test('close is idempotent and later calls fail with ENGINE_CLOSED', async () => {
    const engine = await started();
    const a = engine.close();
    const b = engine.close();
    assert.equal(a, b);
    await a;
    assert.equal(engine.closed, true);
    throwsWith(() => engine.snapshot(), 'ENGINE_CLOSED');
    await rejectsWith(engine.start(fast), 'ENGINE_CLOSED');
  });

  test('start rejects bad configuration with INVALID_ARGUMENT', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    await rejectsWith(engine.start({ ...fast, tickRateHz: 0 }), 'INVALID_ARGUMENT');
    await rejectsWith(engine.start({ ...fast, poolMinThreads: 5, poolMaxThreads: 2 }), 'INVALID_ARGUMENT');
    await rejectsWith(engine.start({ ...fast, serverName: '../etc' }), 'INVALID_ARGUMENT');
    await rejectsWith(engine.start({ ...fast, iocp: false }), 'INVALID_ARGUMENT');
    assert.equal(engine.state, 'stopped');
  });
});

describe('events', () => {
  test('a batch gets consecutive sequence numbers and changes the World', async (t) => {
    const engine = await started();
    t.after(() => engine.close());
    const r = engine.enqueueEvents([
      { type: 'PLAYER_LOGIN', playerId: 7, data: 'Ärger 🐉' },
      { type: 'PLAYER_LOGIN', playerId: 8 },
      { type: 'PLAYER_MOVE', playerId: 7, data: '10,-20' },
      { type: 'PLAYER_MOVE', playerId: 8, data: { x: 3, y: 4 } },
      { type: 'PLAYER_ATTACK', playerId: 7, data: { target: 8, damage: 25 } },
      { type: 'PLAYER_CHAT', playerId: 8, data: 'gg' },
    ]);
    assert.deepEqual([r.accepted, r.lastSeq - r.firstSeq + 1], [6, 6]);
    await engine.flush();
    const p7 = engine.player(7);
    assert.equal(p7?.name, 'Ärger 🐉');
    assert.deepEqual([p7?.x, p7?.y, p7?.online], [10, -20, true]);
    const p8 = engine.player(8);
    assert.deepEqual([p8?.x, p8?.y, p8?.hp], [3, 4, 75]);
    assert.deepEqual(
      engine.players().map((p) => p.id),
      [7, 8],
    );
    const s = engine.snapshot();
    assert.equal(s.events.applied, 6);
    assert.equal(s.events.byType.PLAYER_MOVE.processed, 2);
    assert.equal(s.events.byType.PLAYER_MOVE.latencyUs.count, 2);
    assert.equal(s.players.online, 2);
  });

  test('one event at a time (its own path into the engine) stores what a batch stores', async (t) => {
    const engine = await started();
    t.after(() => engine.close());
    const names = ['plain', 'Ärger 🐉', 'lone \ud800 surrogate'];
    names.forEach((name, i) => engine.enqueueEvents([{ type: 'PLAYER_LOGIN', playerId: 100 + i, data: name }]));
    engine.enqueueEvents(names.map((name, i) => ({ type: 'PLAYER_LOGIN' as const, playerId: 200 + i, data: name })));
    const one = engine.enqueueEvents([{ type: 'PLAYER_ATTACK', playerId: 100, data: { target: 101, damage: 30 } }]);
    assert.equal(one.accepted, 1);
    assert.equal(one.lastSeq, one.firstSeq);
    // flush() wakes the event thread itself: single events only schedule a wake-up.
    await engine.flush();
    names.forEach((_, i) => assert.equal(engine.player(100 + i)?.name, engine.player(200 + i)?.name, `name ${i}`));
    assert.equal(engine.player(100)?.name, 'plain');
    assert.equal(engine.player(101)?.hp, 70);
    throwsWith(() => engine.enqueueEvents([{ type: 'PLAYER_JUMP', playerId: 1 } as unknown as GameEventInput]), 'INVALID_ARGUMENT');
    assert.equal(engine.snapshot().events.accepted, 7);
  });

  test('invalid payloads are processed, counted per reason, and never vanish', async (t) => {
    const engine = await started();
    t.after(() => engine.close());
    engine.enqueueEvents([
      { type: 'PLAYER_LOGIN', playerId: 1 },
      { type: 'PLAYER_MOVE', playerId: 1, data: 'north' },
      { type: 'PLAYER_ATTACK', playerId: 1, data: { target: 99, damage: 5 } },
      { type: 'PLAYER_LOGOUT', playerId: 2 },
      { type: 'PLAYER_ATTACK', playerId: 1, data: { target: 'x', damage: 5 } } as unknown as GameEventInput,
    ]);
    await engine.flush();
    const s = engine.snapshot().events;
    assert.equal(s.processed, 5);
    assert.equal(s.applied, 1);
    assert.equal(s.invalid, 4);
    assert.equal(s.invalidByReason.bad_coordinates, 1);
    assert.equal(s.invalidByReason.unknown_target, 2);
    assert.equal(s.invalidByReason.not_online, 1);
  });

  test('QUEUE_FULL rejects the whole batch and accepts nothing of it', async (t) => {
    const engine = await started({ queueCapacity: 100 });
    t.after(() => engine.close());
    await engine.pause();
    const login = (id: number): GameEventInput => ({ type: 'PLAYER_LOGIN', playerId: id });
    engine.enqueueEvents(Array.from({ length: 60 }, (_, i) => login(i)));
    const err = throwsWith(() => engine.enqueueEvents(Array.from({ length: 50 }, (_, i) => login(1000 + i))), 'QUEUE_FULL');
    assert.equal(err.available, 40);
    let s = engine.snapshot().events;
    assert.equal(s.accepted, 60);
    assert.equal(s.rejectedEvents, 50);
    assert.equal(s.queueDepth, 60);
    await engine.resume();
    await engine.flush();
    s = engine.snapshot().events;
    assert.equal(s.processed, 60);
    assert.equal(engine.player(1000), null, 'no event of the refused batch reached the World');
  });

  test('malformed events are refused up front with the failing index', async (t) => {
    const engine = await started();
    t.after(() => engine.close());
    const bad = [
      { type: 'PLAYER_LOGIN', playerId: 1 },
      { type: 'PLAYER_JUMP', playerId: 2 },
    ] as unknown as GameEventInput[];
    const err = throwsWith(() => engine.enqueueEvents(bad), 'INVALID_ARGUMENT');
    assert.equal(err.index, 1);
    throwsWith(() => engine.enqueueEvents([{ type: 'PLAYER_LOGIN', playerId: -1 }]), 'INVALID_ARGUMENT');
    throwsWith(() => engine.enqueueEvents([{ type: 'PLAYER_LOGIN', playerId: 1.5 }]), 'INVALID_ARGUMENT');
    throwsWith(() => engine.enqueueEvents([]), 'INVALID_ARGUMENT');
    assert.equal(engine.snapshot().events.accepted, 0);
  });

  test('enqueue on a stopped engine is ENGINE_NOT_RUNNING', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    throwsWith(() => engine.enqueueEvents([{ type: 'PLAYER_LOGIN', playerId: 1 }]), 'ENGINE_NOT_RUNNING');
  });

  test('flush times out while paused', async (t) => {
    const engine = await started();
    t.after(() => engine.close());
    await engine.pause();
    engine.enqueueEvents([{ type: 'PLAYER_LOGIN', playerId: 1 }]);
    await rejectsWith(engine.flush({ timeoutMs: 20 }), 'TIMEOUT');
  });

  test('encodeEvents packs columns with UTF-16 lengths', () => {
    const b = encodeEvents([
      { type: 'PLAYER_CHAT', playerId: 1, data: 'hé' },
      { type: 'PLAYER_ATTACK', playerId: 2, data: { target: 3, damage: 4 } },
    ]);
    assert.deepEqual([...b.types], [4, 3]);
    assert.deepEqual([...b.textLengths], [2, 0]);
    assert.deepEqual([...b.nums], [0, 0, 3, 4]);
    assert.equal(b.text, 'hé');
  });

  test('encodeEvents into reused columns: the same columns, nothing left from the batch before', () => {
    const columns = new EventColumns(4);
    const first = encodeEvents(
      [
        { type: 'PLAYER_ATTACK', playerId: 2, data: { target: 3, damage: 4 } },
        { type: 'PLAYER_CHAT', playerId: 1, data: 'hé' },
      ],
      columns,
    );
    assert.equal(first.types.buffer, columns.types.buffer, 'views of the reused buffers');
    const second: GameEventInput[] = [
      { type: 'PLAYER_MOVE', playerId: 7, data: '1,2' },
      { type: 'PLAYER_LOGOUT', playerId: 8 },
      { type: 'PLAYER_LOGIN', playerId: 9, data: 'zed' },
    ];
    const reused = encodeEvents(second, columns);
    const fresh = encodeEvents(second);
    for (const key of ['types', 'playerIds', 'nums', 'textLengths'] as const) assert.deepEqual([...reused[key]], [...fresh[key]], key);
    assert.equal(reused.text, fresh.text);
    assert.deepEqual([...reused.nums], [0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...reused.textLengths], [3, 0, 3]);
    const big = encodeEvents(Array.from({ length: 5 }, (_, i) => ({ type: 'PLAYER_LOGOUT' as const, playerId: i })), columns);
    assert.notEqual(big.types.buffer, columns.types.buffer, 'past its capacity a batch gets its own columns');
    assert.equal(big.types.length, 5);
  });
});

describe('tasks', () => {
  const finished = (engine: Engine, id: number) => engine.waitTask(id, { timeoutMs: 10_000 });

  test('each kind runs to a final status with a result', async (t) => {
    const engine = await started();
    t.after(() => engine.close());
    engine.enqueueEvents([{ type: 'PLAYER_LOGIN', playerId: 5, data: 'eve' }]);
    await engine.flush();
    const pu = await finished(engine, engine.submitTask({ kind: 'player-update', playerId: 5, data: 'buff' }).id);
    assert.equal(pu.status, 'done');
    assert.equal(JSON.parse(pu.result ?? '{}').playerId, 5);
    const missing = await finished(engine, engine.submitTask({ kind: 'player-update', playerId: 404 }).id);
    assert.equal(missing.status, 'failed');
    assert.ok(missing.error);
    const db = await finished(engine, engine.submitTask({ kind: 'database', query: 'SELECT 1' }).id);
    assert.equal(db.status, 'done');
    const gl = await finished(engine, engine.submitTask({ kind: 'game-logic', rateHz: 200, ticks: 5 }).id);
    assert.equal(gl.status, 'done');
    assert.equal(JSON.parse(gl.result ?? '{}').ticks, 5);
    assert.ok(gl.startedAtMs !== null && gl.finishedAtMs !== null && gl.finishedAtMs >= gl.startedAtMs);
    const s = engine.snapshot();
    assert.equal(s.tasks.done, 3);
    assert.equal(s.tasks.failed, 1);
    assert.ok(s.pool.completed >= 4);
  });

  test('poolBackend picks the thread pool: win32-threadpool is the Windows Threadpool API ("native" its deprecated alias), refused elsewhere', async (t) => {
    const portable = await started({}, { poolBackend: 'portable' });
    t.after(() => portable.close());
    assert.equal((await finished(portable, portable.submitTask({ kind: 'database', query: 'q' }).id)).status, 'done');
    const native = new Engine();
    await rejectsWith(native.start({ ...fast, poolBackend: 'bogus' as 'native' }), 'INVALID_ARGUMENT');
    t.after(() => native.close());
    if (process.platform !== 'win32') {
      for (const name of ['win32-threadpool', 'native'] as const) {
        const err = await rejectsWith(native.start({ ...fast, poolBackend: name }), 'INVALID_ARGUMENT');
        assert.match(err.message, /not available here \(available: portable\)/);
      }
      return;
    }
    await native.start({ ...fast, serverName: `${fast.serverName}-native`, poolBackend: 'win32-threadpool' });
    const ids = Array.from({ length: 20 }, (_, i) => native.submitTask({ kind: 'database', query: `q${i}` }).id);
    for (const id of ids) assert.equal((await finished(native, id)).status, 'done');
    const s = native.snapshot();
    assert.equal(s.pool.completed, 20);
    assert.equal(s.tasks.done, 20);
    await native.stop();
    // The deprecated name still starts the same backend, on the same engine: a restart
    // after a run on the Windows Threadpool once crashed (the old run's task scheduler
    // outlived its pool), so this restart is part of the test.
    await native.start({ ...fast, serverName: `${fast.serverName}-native`, poolBackend: 'native' });
    assert.equal((await finished(native, native.submitTask({ kind: 'database', query: 'alias' }).id)).status, 'done');
    assert.equal(native.snapshot().pool.completed, 1);
    await native.stop();
    await native.start({ ...fast, serverName: `${fast.serverName}-after` });
    assert.equal((await finished(native, native.submitTask({ kind: 'database', query: 'after' }).id)).status, 'done');
  });

  test('a delayed task can be cancelled before it runs', async (t) => {
    const engine = await started();
    t.after(() => engine.close());
    const { id } = engine.submitTask({ kind: 'database', query: 'SELECT 1', delayMs: 60000 });
    assert.equal(engine.task(id)?.status, 'queued');
    assert.equal(engine.cancelTask(id), true);
    assert.equal(engine.task(id)?.status, 'cancelled');
    assert.equal(engine.cancelTask(id), false);
    assert.equal(engine.task(123456), null);
    await rejectsWith(engine.waitTask(123456), 'NOT_FOUND');
    assert.equal((await engine.waitTask(id)).status, 'cancelled');
  });

  test('stop cancels unfinished tasks and task ids stay unique across restarts', async (t) => {
    const engine = await started();
    t.after(() => engine.close());
    const a = engine.submitTask({ kind: 'game-logic', rateHz: 60 }).id;
    const report = await engine.stop();
    assert.ok(report.tasksCancelled >= 1);
    await engine.start(fast);
    const b = engine.submitTask({ kind: 'database', query: 'SELECT 2' }).id;
    assert.ok(b > a, `id ${b} after restart must not reuse ${a}`);
  });

  test('bad task specs are INVALID_ARGUMENT; a stopped engine is ENGINE_NOT_RUNNING', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    throwsWith(() => engine.submitTask({ kind: 'database', query: 'x' }), 'ENGINE_NOT_RUNNING');
    await engine.start(fast);
    throwsWith(() => engine.submitTask({ kind: 'teleport' } as never), 'INVALID_ARGUMENT');
    throwsWith(() => engine.submitTask({ kind: 'game-logic', rateHz: -1 }), 'INVALID_ARGUMENT');
  });
});

describe('snapshot', () => {
  test('covers every subsystem and names every engine thread', async (t) => {
    const engine = await started({}, { loopThreads: 2, poolMinThreads: 2 });
    t.after(() => engine.close());
    const s = engine.snapshot();
    assert.equal(s.state, 'running');
    for (const key of ['controller', 'events', 'pool', 'tasks', 'players', 'workers'] as const) assert.ok(key in s, key);
    const names = s.workers.map((w) => w.name);
    assert.ok(names.includes('gs-loop-0') && names.includes('gs-loop-1'), names.join());
    assert.ok(names.some((n) => n.startsWith('gs-events')), names.join());
    assert.ok(names.some((n) => n.startsWith('gs-pool')), names.join());
    for (const w of s.workers) {
      assert.ok(w.tid > 0, `${w.name} has an OS thread id`);
      assert.ok(['idle', 'busy', 'paused', 'stopped'].includes(w.state));
    }
    assert.equal(s.controller.loopThreads, 2);
    assert.equal(typeof s.events.latencyUs.p999, 'number');
  });
});
