// Engine.snapshot() is decoded from a flat array the binding fills, guided by the
// layout the binding exports (the table in native/src/addon/snapshot_layout.cpp,
// compiled into a decoder by src/engine/snapshot.ts). These tests check that the layout,
// the TypeBox schema (src/schemas/stats.ts) and a live snapshot agree key for key, and
// check distinct known values in every section, so a field read from the wrong slot fails.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Type, type TSchema } from 'typebox';

import { Engine, bucketsOf, type EngineSnapshot, type GameEventInput } from '../src/engine/index.js';
import { loadBinding } from '../src/engine/native.js';
import { EngineStateName, Histogram } from '../src/schemas/common.js';
import * as stats from '../src/schemas/stats.js';
import { windowHistogram } from '../src/telemetry/topics.js';
import { disagreements } from './helpers/snapshot-shape.js';

const name = `test-snapshot-${process.pid}`;

const H = ['count', 'mean', 'min', 'p50', 'p90', 'p99', 'p999', 'max'];

/** Every named schema the snapshot's schema refers to, by $id. */
const REGISTRY: ReadonlyMap<string, TSchema> = new Map(
  [EngineStateName, Histogram, ...Object.values(stats)].map((schema): [string, TSchema] => [String((schema as { $id?: unknown }).$id), schema]),
);

function histograms(s: EngineSnapshot): [string, EngineSnapshot['events']['latencyUs']][] {
  const out: [string, EngineSnapshot['events']['latencyUs']][] = [];
  const walk = (v: unknown, path: string): void => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return;
    if (path.endsWith('Us') && 'p999' in v) out.push([path, v as EngineSnapshot['events']['latencyUs']]);
    else for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
  };
  walk(s, '');
  return out;
}

describe('snapshot', () => {
  test('the layout, the schema and a live snapshot agree key for key, in order, with the right types', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    await engine.start({ serverName: name });
    const s = engine.snapshot();
    assert.deepEqual(disagreements(loadBinding().snapshotLayout, stats.EngineSnapshot, REGISTRY, s), []);
    assert.deepEqual(Object.keys(s.events.latencyUs), H);
    for (const [path, h] of histograms(s)) {
      assert.deepEqual(Object.keys(h), H, path);
      for (const k of H) assert.equal(typeof h[k as keyof typeof h], 'number', `${path}.${k}`);
    }
    for (const path of ['events.accepting', 'events.paused', 'pool.paused', 'iocp.enabled', 'pipe.enabled', 'monitor.enabled']) {
      const [section, key] = path.split('.') as [keyof EngineSnapshot, string];
      assert.equal(typeof (s[section] as unknown as Record<string, unknown>)[key], 'boolean', path);
    }
  });

  test('a field in only one of the layout, the schema or the snapshot is a disagreement', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    await engine.start({ serverName: name });
    const layout = loadBinding().snapshotLayout;
    const s = engine.snapshot();
    const extraLayout = { ...layout, fields: [...layout.fields, { path: 'events.madeUp', kind: 'counter' as const, at: layout.size }] };
    const events = REGISTRY.get('EventStats') as TSchema & { properties: Record<string, TSchema> };
    const extraRegistry = new Map(REGISTRY).set('EventStats', Type.Object({ ...events.properties, madeUp: Type.Number() }));
    const only = (where: string): string[] => [
      `events.madeUp: in the layout ${where === 'layout'}, in the schema ${where === 'schema'}, in the snapshot ${where === 'snapshot'}`,
    ];
    assert.deepEqual(disagreements(extraLayout, stats.EngineSnapshot, REGISTRY, s), only('layout'));
    assert.deepEqual(disagreements(layout, stats.EngineSnapshot, extraRegistry, s), only('schema'));
    const extraSnapshot = { ...s, events: { ...s.events, madeUp: 1 } };
    assert.deepEqual(disagreements(layout, stats.EngineSnapshot, REGISTRY, extraSnapshot), only('snapshot'));
    // A type or an order that differs.
    const flagAsCounter = { ...layout, fields: layout.fields.map((f) => (f.path === 'pool.paused' ? { ...f, kind: 'counter' as const } : f)) };
    assert.deepEqual(disagreements(flagAsCounter, stats.EngineSnapshot, REGISTRY, s), [
      'pool.paused: number in the layout, boolean in the schema',
      'pool.paused: number in the layout, a boolean in the snapshot',
    ]);
    const { starts, ...rest } = s;
    assert.deepEqual(disagreements(layout, stats.EngineSnapshot, REGISTRY, { ...rest, starts }), ['the snapshot does not follow the layout order']);
  });

  test('decodes known values in every section', async (t) => {
    const engine = new Engine({ queueCapacity: 1234, maxPlayers: 4 });
    t.after(() => engine.close());
    await engine.start({
      serverName: name,
      loopThreads: 2,
      tickRateHz: 50,
      tickWorkUs: 7,
      poolMinThreads: 1,
      poolMaxThreads: 3,
      poolQueueCapacity: 77,
      iocpThreads: 2,
      dbLatencyUs: 100,
    });
    // A different count for every type, every reason and every applied/invalid split,
    // so a field read from its neighbour's slot shows.
    const times = (n: number, e: GameEventInput): GameEventInput[] => Array.from({ length: n }, () => e);
    const batch: GameEventInput[] = [
      { type: 'PLAYER_LOGIN', playerId: 1, data: 'ann' },
      { type: 'PLAYER_LOGIN', playerId: 2 },
      { type: 'PLAYER_LOGIN', playerId: 3 },
      { type: 'PLAYER_LOGIN', playerId: 4 },
      { type: 'PLAYER_LOGOUT', playerId: 4 },
      { type: 'PLAYER_MOVE', playerId: 1, data: '3,4' },
      { type: 'PLAYER_MOVE', playerId: 1, data: { x: 5, y: 6 } },
      { type: 'PLAYER_MOVE', playerId: 2, data: '7,8' },
      { type: 'PLAYER_MOVE', playerId: 3, data: '-1,2.5' },
      { type: 'PLAYER_MOVE', playerId: 3, data: '0,0' },
      { type: 'PLAYER_ATTACK', playerId: 1, data: { target: 2, damage: 5 } },
      { type: 'PLAYER_ATTACK', playerId: 2, data: { target: 1, damage: 1 } },
      { type: 'PLAYER_ATTACK', playerId: 3, data: { target: 2, damage: 1 } },
      { type: 'PLAYER_CHAT', playerId: 2, data: 'héllo 😀' },
      { type: 'PLAYER_CHAT', playerId: 3, data: 'plain' },
      ...times(1, { type: 'PLAYER_MOVE', playerId: 2, data: 'nowhere' }), // bad_coordinates
      ...times(2, { type: 'PLAYER_ATTACK', playerId: 1, data: { target: 99, damage: 1 } }), // unknown_target
      ...times(3, { type: 'PLAYER_ATTACK', playerId: 1, data: { target: 4, damage: 1 } }), // target_offline
      ...times(4, { type: 'PLAYER_ATTACK', playerId: 1, data: { target: 1, damage: 1 } }), // bad_attack
      ...times(5, { type: 'PLAYER_MOVE', playerId: 4, data: '1,1' }), // attacker_offline
      ...times(6, { type: 'PLAYER_LOGIN', playerId: 1 }), // already_online
      ...times(7, { type: 'PLAYER_LOGOUT', playerId: 4 }), // not_online
      ...times(8, { type: 'PLAYER_CHAT', playerId: 2, data: '' }), // bad_chat
      ...Array.from({ length: 9 }, (_, i): GameEventInput => ({ type: 'PLAYER_LOGIN', playerId: 100 + i })), // world_full
    ];
    assert.equal(engine.enqueueEvents(batch).accepted, 60);
    await engine.flush();
    await engine.waitTask(engine.submitTask({ kind: 'player-update', playerId: 1 }).id);
    for (const q of ['SELECT 1', 'SELECT 2']) await engine.waitTask(engine.submitTask({ kind: 'database', query: q }).id);
    for (let i = 0; i < 3; i++) {
      await engine.waitTask(engine.submitTask({ kind: 'game-logic', rateHz: 500, ticks: 2 }).id);
    }
    for (let i = 0; i < 2; i++) assert.equal((await engine.pipeRequest('SERVER_STATUS')).type, 'STATUS_REPLY');

    const s = engine.snapshot();
    assert.equal(s.state, 'running');
    assert.equal(s.starts, 1);
    assert.ok(s.timestampMs > Date.now() - 60_000 && s.timestampMs <= Date.now() + 1000, String(s.timestampMs));

    assert.equal(s.controller.state, 'running');
    assert.equal(s.controller.tickRateHz, 50);
    assert.equal(s.controller.tickWorkUs, 7);
    assert.equal(s.controller.loopThreads, 2);

    const ev = s.events;
    assert.deepEqual(
      [ev.accepted, ev.processed, ev.applied, ev.invalid, ev.rejectedBatches, ev.rejectedEvents, ev.batches, ev.maxBatch],
      [60, 60, 15, 45, 0, 0, 1, 60],
    );
    assert.deepEqual([ev.lastSeq, ev.queueDepth, ev.queueCapacity, ev.accepting, ev.paused], [60, 0, 1234, true, false]);
    assert.deepEqual(Object.values(ev.invalidByReason), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const counts = Object.fromEntries(
      Object.entries(ev.byType).map(([type, b]) => [type, [b.processed, b.applied, b.invalid, b.latencyUs.count]]),
    );
    assert.deepEqual(counts, {
      PLAYER_LOGIN: [19, 4, 15, 19],
      PLAYER_LOGOUT: [8, 1, 7, 8],
      PLAYER_MOVE: [11, 5, 6, 11],
      PLAYER_ATTACK: [12, 3, 9, 12],
      PLAYER_CHAT: [10, 2, 8, 10],
    });
    assert.equal(ev.latencyUs.count, 60);

    assert.deepEqual([s.pool.minThreads, s.pool.maxThreads, s.pool.queueCapacity, s.pool.paused], [1, 3, 77, false]);
    assert.ok(s.pool.completed >= 3, String(s.pool.completed));
    assert.ok(s.pool.runUs.count >= 3, String(s.pool.runUs.count));

    assert.deepEqual(
      [s.tasks.submitted, s.tasks.done, s.tasks.failed, s.tasks.cancelled, s.tasks.active, s.tasks.gameLogicTicks],
      [6, 6, 0, 0, 0, 6],
    );
    assert.deepEqual(s.tasks.byKind, { 'player-update': 1, 'game-logic': 3, database: 2 });
    assert.deepEqual(s.players, { online: 3, known: 4 });

    const names = s.workers.map((w) => w.name);
    assert.deepEqual(names.slice(0, 3), ['gs-loop-0', 'gs-loop-1', 'gs-events-0'], names.join());
    assert.deepEqual(names.slice(-2), ['gs-iocp-0', 'gs-iocp-1'], names.join());
    assert.ok(names.slice(3, -2).length >= 1 && names.slice(3, -2).every((n) => /^gs-(pool|timer)-\d+$/.test(n)), names.join());
    for (const w of s.workers) {
      assert.deepEqual(Object.keys(w), ['name', 'tid', 'state', 'items', 'busyMs', 'cpuMs'], w.name);
      assert.ok(Number.isInteger(w.tid) && w.tid > 0, `${w.name} tid ${w.tid}`);
      assert.ok(['idle', 'busy', 'paused', 'stopped'].includes(w.state), `${w.name} state ${w.state}`);
      assert.ok(w.busyMs >= 0 && w.cpuMs >= 0, w.name);
    }
    assert.ok((s.workers.find((w) => w.name === 'gs-events-0')?.items ?? 0) >= 1);

    assert.equal(s.iocp.enabled, true);
    assert.equal(s.iocp.threads, 2);
    assert.equal(s.iocp.maxConcurrency, 2);
    assert.equal(s.pipe.enabled, true);
    assert.equal(s.pipe.path, engine.pipePath);
    assert.ok(s.pipe.path.length > 0);
    assert.deepEqual(s.pipe.requestsByType, {
      PLAYER_LOGIN: 0,
      PLAYER_LOGOUT: 0,
      PLAYER_MOVE: 0,
      SERVER_STATUS: 2,
      SHUTDOWN: 0,
    });
    assert.ok(s.pipe.accepted >= 1 && s.pipe.framesIn >= 1 && s.pipe.bytesIn >= s.pipe.framesIn, JSON.stringify(s.pipe));
    assert.ok(Object.values(s.pipe.errors).every((n) => n === 0), JSON.stringify(s.pipe.errors));
    assert.equal(s.monitor.enabled, true);
    assert.equal(s.monitor.serverName, name);
    assert.ok(s.monitor.segment.includes(name), s.monitor.segment);
    assert.equal(s.monitor.failures, 0);

    for (const [path, h] of histograms(s)) {
      if (h.count === 0) continue;
      assert.ok(h.min <= h.p50 && h.p50 <= h.p90 && h.p90 <= h.p99 && h.p99 <= h.p999, `${path} ${JSON.stringify(h)}`);
      // The mean is exact; min and max are rounded to the clock's resolution.
      assert.ok(h.min * 0.99 <= h.mean && h.mean <= h.max * 1.01, `${path} ${JSON.stringify(h)}`);
    }
  });

  test('reports paused and stopped states', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    assert.equal(engine.snapshot().state, 'stopped');
    await engine.start({ serverName: name, pipe: false, monitor: false });
    await engine.pause();
    let s = engine.snapshot();
    assert.deepEqual([s.state, s.controller.state, s.events.paused, s.pipe.enabled, s.monitor.enabled], ['paused', 'paused', true, false, false]);
    await engine.resume();
    await engine.stop();
    s = engine.snapshot();
    assert.deepEqual([s.state, s.controller.state, s.events.accepting, s.uptimeMs], ['stopped', 'stopped', false, 0]);
  });

  test('grows its buffer when many threads make the snapshot longer', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    await engine.start({ serverName: name, poolMinThreads: 200, poolMaxThreads: 200 });
    // About 240 numbers plus 5 a thread: more than the first buffer holds.
    const s = engine.snapshot();
    const pool = s.workers.filter((w) => w.name.startsWith('gs-pool-'));
    assert.equal(pool.length, s.pool.threads);
    assert.ok(pool.length >= 150, String(pool.length));
    assert.equal(s.workers.at(-1)?.name, 'gs-iocp-1');
    assert.equal(s.monitor.serverName, name);
    assert.equal(s.pool.minThreads, 200);
    assert.equal(engine.snapshot().workers.length, s.workers.length);
  });

  test('with buckets: same object and JSON, and later minus earlier buckets is the window in between', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    await engine.start({ serverName: name });
    const move = (n: number, x: number): GameEventInput[] =>
      Array.from({ length: n }, (_, i) => ({ type: 'PLAYER_MOVE', playerId: 1, data: `${x},${i}` }));
    assert.equal(engine.enqueueEvents([{ type: 'PLAYER_LOGIN', playerId: 1 }, ...move(40, 1)]).accepted, 41);
    await engine.flush();

    const plain = engine.snapshot();
    const before = engine.snapshot({ buckets: true });
    assert.deepEqual(Object.keys(before), Object.keys(plain));
    assert.deepEqual(Object.keys(before.events.latencyUs), H);
    assert.equal(bucketsOf(plain.events.latencyUs), undefined);
    const b = bucketsOf(before.events.latencyUs);
    assert.ok(b, 'buckets of the events latency histogram');
    assert.equal(b.count.reduce((x, y) => x + y, 0), before.events.latencyUs.count);
    assert.ok(b.index.every((ix, k) => k === 0 || ix > (b.index[k - 1] as number)), 'ascending indices');
    assert.ok(b.upperUs.every((u, k) => k === 0 || u > (b.upperUs[k - 1] as number)), 'ascending upper edges');
    // The highest bucket holds the max; its upper edge is at most ~6.25% above it.
    const top = b.upperUs.at(-1) as number;
    assert.ok(top >= before.events.latencyUs.max && top <= before.events.latencyUs.max * 1.07 + 0.001, `${top} vs max ${before.events.latencyUs.max}`);
    assert.deepEqual(windowHistogram(before.events.latencyUs, before.events.latencyUs), { count: 0, p50: 0, p90: 0, p99: 0, max: 0 });
    assert.equal(windowHistogram(before.events.latencyUs, plain.events.latencyUs), null, 'no buckets, no window');

    assert.equal(engine.enqueueEvents(move(25, 2)).accepted, 25);
    await engine.flush();
    const after = engine.snapshot({ buckets: true });
    const all = windowHistogram(after.events.latencyUs, before.events.latencyUs);
    assert.equal(all?.count, 25);
    const moves = windowHistogram(after.events.byType.PLAYER_MOVE.latencyUs, before.events.byType.PLAYER_MOVE.latencyUs);
    assert.equal(moves?.count, 25);
    assert.equal(windowHistogram(after.events.byType.PLAYER_LOGIN.latencyUs, before.events.byType.PLAYER_LOGIN.latencyUs)?.count, 0);
    assert.ok(moves && moves.p50 > 0 && moves.p50 <= moves.p90 && moves.p90 <= moves.p99 && moves.p99 <= moves.max, JSON.stringify(moves));
    assert.ok(moves.max <= after.events.byType.PLAYER_MOVE.latencyUs.max, 'never above the since-start max');
    // Counts that went down (a histogram recreated, as the I/O workers' are on restart) give no window.
    assert.equal(windowHistogram(before.events.latencyUs, after.events.latencyUs), null);
  });
});
