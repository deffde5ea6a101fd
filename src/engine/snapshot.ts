// Rebuilds EngineSnapshot from the flat form the binding writes: one Float64Array of
// numbers and one string of text fields joined by '\0'. Object literals in a fixed
// order give V8 one shape per sub-object, far cheaper than the binding setting each
// property (and creating each key string) through Node-API on every call.
//
// THE LAYOUT: decodeSnapshot() reads exactly the sequence writeSnapshot() writes in
// native/src/addon/convert.cpp. Change both together: test/snapshot.test.ts checks
// the decoded values, and read() checks that it consumed exactly the count written.
import { EngineError } from './errors.js';
import type { EngineSnapshot, EngineState, EventTypeStats, Histogram, HistogramBuckets, WorkerInfo } from './types.js';

/** Codes of gamesrv::EngineState, in enum order (static_assert'ed in convert.cpp). */
const ENGINE_STATES: readonly EngineState[] = ['stopped', 'starting', 'running', 'paused', 'stopping'];
/** Codes of gamesrv::WorkerState, in enum order (static_assert'ed in convert.cpp). */
const WORKER_STATES: readonly WorkerInfo['state'][] = ['idle', 'busy', 'paused', 'stopped'];

/** Text fields before the worker names (see writeSnapshot in convert.hpp). */
const FIXED_TEXTS = 3;

// The array being decoded and the read position. decodeSnapshot() is synchronous and
// never re-entered, so one module-level cursor is safe and keeps the readers tiny.
const EMPTY = new Float64Array(0);
let v = EMPTY;
let at = 0;

const num = (): number => v[at++] as number;
const bool = (): boolean => v[at++] !== 0;
const engineState = (): EngineState => ENGINE_STATES[v[at++] as number] as EngineState;

// Every histogram decoded, in layout order, when the snapshot carries buckets (null otherwise).
let decoded: Histogram[] | null = null;

function hist(): Histogram {
  const h = { count: num(), mean: num(), min: num(), p50: num(), p90: num(), p99: num(), p999: num(), max: num() };
  decoded?.push(h);
  return h;
}

/** The buckets of histograms from snapshots taken with `{ buckets: true }`; kept out of the objects' JSON. */
const BUCKETS = new WeakMap<Histogram, HistogramBuckets>();

/** The non-empty buckets of a histogram from a snapshot taken with `{ buckets: true }`. */
export function bucketsOf(h: Histogram): HistogramBuckets | undefined {
  return BUCKETS.get(h);
}

/** The bucket section after the fixed layout: per histogram, n, then n × (index, count, upperUs). */
function readBuckets(hists: readonly Histogram[]): void {
  for (const h of hists) {
    const n = num();
    const b: HistogramBuckets = { index: new Array<number>(n), count: new Array<number>(n), upperUs: new Array<number>(n) };
    for (let k = 0; k < n; k++) {
      b.index[k] = num();
      b.count[k] = num();
      b.upperUs[k] = num();
    }
    BUCKETS.set(h, b);
  }
}

function typeStats(): EventTypeStats {
  return { processed: num(), applied: num(), invalid: num(), latencyUs: hist() };
}

function workers(names: readonly string[]): WorkerInfo[] {
  const n = num();
  const out: WorkerInfo[] = new Array<WorkerInfo>(n);
  for (let k = 0; k < n; k++) {
    out[k] = {
      name: names[FIXED_TEXTS + k] ?? '',
      tid: num(),
      state: WORKER_STATES[num()] as WorkerInfo['state'],
      items: num(),
      busyMs: num(),
      cpuMs: num(),
    };
  }
  return out;
}

function decodeSnapshot(texts: readonly string[]): EngineSnapshot {
  // Property order is the public JSON order; each value is read where it appears.
  return {
    state: engineState(),
    timestampMs: num(),
    uptimeMs: num(),
    starts: num(),
    controller: {
      state: engineState(),
      tickRateHz: num(),
      achievedRateHz: num(),
      ticks: num(),
      overruns: num(),
      skippedTicks: num(),
      runningMs: num(),
      tickWorkUs: num(),
      loopThreads: num(),
      tickDurationUs: hist(),
      tickJitterUs: hist(),
    },
    events: {
      accepted: num(),
      processed: num(),
      applied: num(),
      invalid: num(),
      rejectedBatches: num(),
      rejectedEvents: num(),
      batches: num(),
      maxBatch: num(),
      heartbeats: num(),
      lastSeq: num(),
      queueDepth: num(),
      queueCapacity: num(),
      accepting: bool(),
      paused: bool(),
      // InvalidReason 1..9, enum order (INVALID_REASONS).
      invalidByReason: {
        bad_coordinates: num(),
        unknown_target: num(),
        target_offline: num(),
        bad_attack: num(),
        attacker_offline: num(),
        already_online: num(),
        not_online: num(),
        bad_chat: num(),
        world_full: num(),
      },
      // EventType enum order (EVENT_TYPES).
      byType: {
        PLAYER_LOGIN: typeStats(),
        PLAYER_LOGOUT: typeStats(),
        PLAYER_MOVE: typeStats(),
        PLAYER_ATTACK: typeStats(),
        PLAYER_CHAT: typeStats(),
      },
      latencyUs: hist(),
    },
    pool: {
      threads: num(),
      idleThreads: num(),
      peakThreads: num(),
      minThreads: num(),
      maxThreads: num(),
      queueDepth: num(),
      queueCapacity: num(),
      submitted: num(),
      completed: num(),
      failed: num(),
      cancelled: num(),
      rejected: num(),
      threadsCreated: num(),
      threadsRetired: num(),
      timersActive: num(),
      timersFired: num(),
      timersCancelled: num(),
      timerSkipped: num(),
      paused: bool(),
      queueWaitUs: hist(),
      runUs: hist(),
      timerLateUs: hist(),
    },
    tasks: {
      submitted: num(),
      done: num(),
      failed: num(),
      cancelled: num(),
      active: num(),
      history: num(),
      gameLogicTicks: num(),
      // TaskKind enum order.
      byKind: { 'player-update': num(), 'game-logic': num(), database: num() },
    },
    players: { online: num(), known: num() },
    // Loop threads, the event thread, pool threads, iocp threads.
    workers: workers(texts),
    iocp: {
      enabled: bool(),
      threads: num(),
      posted: num(),
      postRejected: num(),
      dequeued: num(),
      ioCompletions: num(),
      completionsByKind: { readable: num(), writable: num(), hangup: num(), error: num() },
      bytes: num(),
      queueDepth: num(),
      activeThreads: num(),
      peakActive: num(),
      maxConcurrency: num(),
      handled: num(),
      failed: num(),
      dequeueWaitUs: hist(),
      handlerUs: hist(),
    },
    pipe: {
      enabled: bool(),
      path: texts[0] ?? '',
      accepted: num(),
      refused: num(),
      active: num(),
      peakActive: num(),
      framesIn: num(),
      framesOut: num(),
      bytesIn: num(),
      bytesOut: num(),
      // Pipe message types 1..5 (PIPE_REQUEST_TYPES).
      requestsByType: {
        PLAYER_LOGIN: num(),
        PLAYER_LOGOUT: num(),
        PLAYER_MOVE: num(),
        SERVER_STATUS: num(),
        SHUTDOWN: num(),
      },
      errors: {
        badLength: num(),
        badSize: num(),
        unknownType: num(),
        badPadding: num(),
        badPayload: num(),
        handlerFailed: num(),
        io: num(),
      },
      handlerUs: hist(),
    },
    monitor: {
      enabled: bool(),
      serverName: texts[1] ?? '',
      segment: texts[2] ?? '',
      updates: num(),
      failures: num(),
      recoveries: num(),
      cpuPercent: num(),
      residentBytes: num(),
    },
  };
}

/** Fills `values` (see writeSnapshot in convert.hpp) and returns the text fields. */
export type SnapshotSource = (values: Float64Array, withBuckets: boolean) => string;

/**
 * Owns the Float64Array the binding writes into, reused across calls. It never leaves
 * this object (the binding fills it synchronously and decodeSnapshot() copies every
 * number into the plain object it returns), so reuse cannot leak into results.
 */
export class SnapshotReader {
  #values = new Float64Array(1024);
  #text = '';
  #texts: readonly string[] = [];

  read(fill: SnapshotSource, withBuckets = false): EngineSnapshot {
    let text = fill(this.#values, withBuckets);
    // values[0] is the count the snapshot needs; more workers and buckets can make it grow.
    while ((this.#values[0] as number) > this.#values.length) {
      this.#values = new Float64Array(2 * (this.#values[0] as number));
      text = fill(this.#values, withBuckets);
    }
    if (text !== this.#text) {
      this.#text = text;
      this.#texts = text.split('\0');
    }
    v = this.#values;
    at = 1;
    const hists: Histogram[] = [];
    decoded = withBuckets ? hists : null;
    let snapshot: EngineSnapshot;
    try {
      snapshot = decodeSnapshot(this.#texts);
      if (withBuckets) readBuckets(hists);
    } finally {
      decoded = null;
    }
    const count = v[0] as number;
    v = EMPTY;
    if (at !== count) {
      throw new EngineError('INTERNAL', `snapshot layout mismatch: the binding wrote ${count} numbers, ${at} were read`);
    }
    return snapshot;
  }
}
