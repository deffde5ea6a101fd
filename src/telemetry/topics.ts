// The data of each periodic topic, built from one EngineSnapshot. Rates, percentages and
// window percentiles come from the delta against an earlier snapshot (the baseline) over
// the time between them; snapshots are taken with their histogram buckets for that.
import { bucketsOf, protocolConstants, readMonitor, type Engine, type EngineSnapshot, type Histogram } from '../engine/index.js';
import { storageStatus } from '../storage-status.js';
import {
  WORLD_MAX_POINTS,
  type ControllerData,
  type EventsData,
  type EventTypeData,
  type IocpData,
  type PeriodicTopic,
  type PoolData,
  type SessionsData,
  type WindowHistogram,
  type WorkersData,
  type WorldData,
  type WorldPoint,
} from '../schemas/telemetry.js';

const round1 = (x: number) => Math.round(x * 10) / 10;

export interface Baseline {
  snap: EngineSnapshot;
  /** performance.now() when it was taken. */
  at: number;
}

/**
 * The snapshots rates are computed against: `last`, or `prev` when `last` is too recent.
 * A kick tick can come right after a regular one; rates over a window of a few ms would be
 * noise, so a snapshot closer than half a period (at least 10 ms) to `last` is neither a
 * baseline nor kept as one.
 */
export class RateBaselines {
  #prev: Baseline | undefined;
  #last: Baseline | undefined;

  /** The snapshot to compute rates against: the last one, unless it is under half a period old. */
  against(now: number, snap: EngineSnapshot, periodMs: number): Baseline | undefined {
    const minWindow = Math.max(10, periodMs / 2);
    const candidate = this.#last !== undefined && now - this.#last.at >= minWindow ? this.#last : this.#prev;
    // Counters restart with the engine.
    if (candidate === undefined || candidate.snap.starts !== snap.starts || now - candidate.at <= 0) return undefined;
    return candidate;
  }

  remember(now: number, snap: EngineSnapshot, periodMs: number): void {
    const minWindow = Math.max(10, periodMs / 2);
    if (this.#last === undefined || now - this.#last.at >= minWindow) {
      this.#prev = this.#last;
      this.#last = { snap, at: now };
    }
  }

  clear(): void {
    this.#prev = undefined;
    this.#last = undefined;
  }
}

/**
 * Topics whose data is the snapshot's alone, with no rates: one JSON per tick serves every
 * connection due, whatever baseline its other topics are computed against.
 */
export const RATELESS_TOPICS: ReadonlySet<PeriodicTopic> = new Set<PeriodicTopic>(['monitor', 'storage']);

/** The data of one periodic topic from the snapshot (`world` is not: see worldData); `base` undefined gives null rates. */
export function topicData(topic: Exclude<PeriodicTopic, 'world'>, snap: EngineSnapshot, base: Baseline | undefined, now: number): unknown {
  const windowMs = base === undefined ? null : round1(now - base.at);
  switch (topic) {
    case 'workers':
      return workersData(snap, base?.snap, windowMs);
    case 'events':
      return eventsData(snap, base?.snap, windowMs);
    case 'monitor':
      return monitorData(snap);
    case 'iocp':
      return iocpData(snap, base?.snap, windowMs);
    case 'pool':
      return poolData(snap, base?.snap, windowMs);
    case 'controller':
      return controllerData(snap, base?.snap, windowMs);
    case 'sessions':
      return sessionsData(snap, base?.snap, windowMs);
    case 'storage':
      return storageStatus(snap);
  }
}

const QUANTILES = [0.5, 0.9, 0.99] as const;

/**
 * Count and percentiles of the values `now` holds that `then` (the same histogram in the
 * baseline snapshot) does not: what was recorded over the window. Percentiles are bucket
 * upper edges (~6% precision), as in the since-start summary, and never above its max.
 * Null when either snapshot lacks buckets, or when a count went down: the histogram was
 * recreated in between (the I/O workers are, on every stop and start).
 */
export function windowHistogram(now: Histogram, then: Histogram | undefined): WindowHistogram | null {
  if (then === undefined || now.count < then.count) return null;
  const a = bucketsOf(now);
  const b = bucketsOf(then);
  if (a === undefined || b === undefined) return null;
  const upper: number[] = [];
  const count: number[] = [];
  let total = 0;
  let j = 0;
  for (let k = 0; k < a.index.length; k++) {
    const index = a.index[k] as number;
    if (j < b.index.length && (b.index[j] as number) < index) return null; // a bucket emptied
    let before = 0;
    if (j < b.index.length && b.index[j] === index) before = b.count[j++] as number;
    const d = (a.count[k] as number) - before;
    if (d < 0) return null;
    if (d > 0) {
      upper.push(Math.min(a.upperUs[k] as number, now.max));
      count.push(d);
      total += d;
    }
  }
  if (j < b.index.length) return null; // buckets above all of now's emptied
  const [p50 = 0, p90 = 0, p99 = 0] = QUANTILES.map((q) => {
    const rank = Math.max(1, Math.floor(q * total + 0.5));
    let seen = 0;
    return upper.find((_u, k) => (seen += count[k] as number) >= rank);
  });
  return { count: total, p50, p90, p99, max: upper.at(-1) ?? 0 };
}

function iocpData(snap: EngineSnapshot, base: EngineSnapshot | undefined, windowMs: number | null): IocpData {
  const i = snap.iocp;
  const b = base?.iocp;
  return {
    ...i,
    windowMs,
    dequeuedPerSec: rate(i.dequeued, b?.dequeued, windowMs),
    handledPerSec: rate(i.handled, b?.handled, windowMs),
    windowHandlerUs: windowHistogram(i.handlerUs, b?.handlerUs),
  };
}

function sessionsData(snap: EngineSnapshot, base: EngineSnapshot | undefined, windowMs: number | null): SessionsData {
  const g = snap.sessions;
  const b = base?.sessions;
  return {
    ...g,
    windowMs,
    acceptsPerSec: rate(g.accepted, b?.accepted, windowMs),
    framesInPerSec: rate(g.framesIn, b?.framesIn, windowMs),
    framesOutPerSec: rate(g.framesOut, b?.framesOut, windowMs),
    bytesInPerSec: rate(g.bytesIn, b?.bytesIn, windowMs),
    bytesOutPerSec: rate(g.bytesOut, b?.bytesOut, windowMs),
    windowReplicationUs: windowHistogram(g.replicationUs, b?.replicationUs),
  };
}

function poolData(snap: EngineSnapshot, base: EngineSnapshot | undefined, windowMs: number | null): PoolData {
  const p = snap.pool;
  const b = base?.pool;
  return {
    ...p,
    windowMs,
    submittedPerSec: rate(p.submitted, b?.submitted, windowMs),
    completedPerSec: rate(p.completed, b?.completed, windowMs),
    windowQueueWaitUs: windowHistogram(p.queueWaitUs, b?.queueWaitUs),
    windowRunUs: windowHistogram(p.runUs, b?.runUs),
  };
}

function controllerData(snap: EngineSnapshot, base: EngineSnapshot | undefined, windowMs: number | null): ControllerData {
  const c = snap.controller;
  const b = base?.controller;
  return {
    ...c,
    windowMs,
    overrunsInWindow: b === undefined || c.overruns < b.overruns ? null : c.overruns - b.overruns,
    windowTickDurationUs: windowHistogram(c.tickDurationUs, b?.tickDurationUs),
    windowTickJitterUs: windowHistogram(c.tickJitterUs, b?.tickJitterUs),
  };
}

/** A monitor that cannot be read still gives a frame, with the error in it. */
function monitorData(snap: EngineSnapshot): unknown {
  try {
    return { ...snap.monitor, status: readMonitor(snap.monitor.serverName), error: null };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : 'MONITOR_ERROR';
    return { ...snap.monitor, status: null, error: { code, detail: String(e.message ?? err) } };
  }
}

/** A per-second rate of a counter, or null without a usable window. */
function rate(now: number, then: number | undefined, windowMs: number | null): number | null {
  if (then === undefined || windowMs === null || windowMs <= 0 || now < then) return null;
  return round1(((now - then) * 1000) / windowMs);
}

function percentOf(now: number, then: number | undefined, windowMs: number | null): number | null {
  if (then === undefined || windowMs === null || windowMs <= 0 || now < then) return null;
  return round1(Math.min(100, ((now - then) * 100) / windowMs));
}

export function workersData(snap: EngineSnapshot, base: EngineSnapshot | undefined, windowMs: number | null): WorkersData {
  const before = new Map(base?.workers.map((w) => [w.tid, w]));
  return {
    windowMs,
    threads: snap.workers.map((w) => {
      const b = before.get(w.tid);
      const same = b !== undefined && b.name === w.name;
      return {
        name: w.name,
        tid: w.tid,
        state: w.state,
        items: w.items,
        busyMs: w.busyMs,
        cpuMs: w.cpuMs,
        busyPercent: percentOf(w.busyMs, same ? b.busyMs : undefined, windowMs),
        cpuPercent: percentOf(w.cpuMs, same ? b.cpuMs : undefined, windowMs),
      };
    }),
  };
}

export function eventsData(snap: EngineSnapshot, base: EngineSnapshot | undefined, windowMs: number | null): EventsData {
  const e = snap.events;
  const b = base?.events;
  const byType = {} as Record<keyof typeof e.byType, EventTypeData>;
  for (const type of Object.keys(e.byType) as (keyof typeof e.byType)[]) {
    const s = e.byType[type];
    byType[type] = {
      processed: s.processed,
      applied: s.applied,
      invalid: s.invalid,
      processedPerSec: rate(s.processed, b?.byType[type].processed, windowMs),
      latencyUs: s.latencyUs,
      windowLatencyUs: windowHistogram(s.latencyUs, b?.byType[type].latencyUs),
    };
  }
  return {
    windowMs,
    accepted: e.accepted,
    processed: e.processed,
    applied: e.applied,
    invalid: e.invalid,
    queueDepth: e.queueDepth,
    queueCapacity: e.queueCapacity,
    accepting: e.accepting,
    paused: e.paused,
    acceptedPerSec: rate(e.accepted, b?.accepted, windowMs),
    processedPerSec: rate(e.processed, b?.processed, windowMs),
    latencyUs: e.latencyUs,
    windowLatencyUs: windowHistogram(e.latencyUs, b?.latencyUs),
    byType,
  };
}

/** Players read a page at a time, so no call copies the whole World. */
const WORLD_PAGE = 5000;

/**
 * The `world` topic: the online players' positions and hp, at most `maxPoints` of them
 * (an even sample by id when more are online), with the World's bounds and the AOI grid's
 * cell size. Reads pages of players by id and stops once it has met every online player.
 */
export function worldData(engine: Pick<Engine, 'playersAfter' | 'worldSize'>, aoiRadius: number, maxPoints = WORLD_MAX_POINTS): WorldData {
  const points: WorldPoint[] = [];
  let online = 0;
  /** Online players met so far: the rank of the next one. */
  let rank = 0;
  let after = 0;
  for (let first = true; ; first = false) {
    const page = engine.playersAfter(after, WORLD_PAGE);
    if (first) online = page.online;
    for (const p of page.players) {
      if (!p.online) continue;
      // Rank i is taken when floor(i·max/online) steps up from rank i-1's (rank 0 always):
      // exactly max of the first `online`, every online/max ranks.
      const take = online <= maxPoints || Math.floor((rank * maxPoints) / online) > Math.floor(((rank - 1) * maxPoints) / online);
      rank += 1;
      if (take && points.length < maxPoints) points.push({ id: p.id, x: round1(p.x), y: round1(p.y), hp: p.hp });
    }
    const last = page.players.at(-1);
    if (!page.more || last === undefined || rank >= online || points.length >= maxPoints) break;
    after = last.id;
  }
  return {
    worldMin: -engine.worldSize,
    worldMax: engine.worldSize,
    aoiRadius,
    maxHp: protocolConstants().world.maxHp,
    online,
    sampled: points.length,
    points,
  };
}
