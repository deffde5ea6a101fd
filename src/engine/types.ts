// Shapes of everything that crosses the engine API. The binding builds these
// objects in native/src/addon/convert.cpp; keep both sides in step.

export const EVENT_TYPES = ['PLAYER_LOGIN', 'PLAYER_LOGOUT', 'PLAYER_MOVE', 'PLAYER_ATTACK', 'PLAYER_CHAT'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const INVALID_REASONS = [
  'bad_coordinates',
  'unknown_target',
  'target_offline',
  'bad_attack',
  'attacker_offline',
  'already_online',
  'not_online',
  'bad_chat',
  'world_full',
] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

export interface AttackData {
  target: number;
  damage: number;
}

/**
 * One player event. `data` by type: LOGIN an optional name; LOGOUT nothing;
 * MOVE "x,y" (or {x, y}); ATTACK {target, damage}; CHAT the message.
 */
export type GameEventInput =
  | { type: 'PLAYER_LOGIN'; playerId: number; data?: string }
  | { type: 'PLAYER_LOGOUT'; playerId: number; data?: undefined }
  | { type: 'PLAYER_MOVE'; playerId: number; data: string | { x: number; y: number } }
  | { type: 'PLAYER_ATTACK'; playerId: number; data: AttackData }
  | { type: 'PLAYER_CHAT'; playerId: number; data: string };

export interface EnqueueResult {
  accepted: number;
  /** Sequence numbers given to the batch, inclusive. */
  firstSeq: number;
  lastSeq: number;
  /** Free queue capacity after the batch. */
  available: number;
}

export interface EngineOptions {
  /** Accepted-but-unprocessed events the queue holds (default 65536). */
  queueCapacity?: number;
  /** Event-thread idle timeout that drives periodic work, ms (default 1000). */
  idleTimeoutMs?: number;
  maxPlayers?: number;
  chatLogCapacity?: number;
}

export interface EngineConfig {
  loopThreads?: number;
  tickRateHz?: number;
  tickWorkUs?: number;
  poolMinThreads?: number;
  poolMaxThreads?: number;
  poolIdleTimeoutMs?: number;
  poolQueueCapacity?: number;
  taskHistory?: number;
  maxActiveTasks?: number;
  dbLatencyUs?: number;
}

export type EngineState = 'stopped' | 'starting' | 'running' | 'paused' | 'stopping';

export interface TransitionResult {
  state: EngineState;
}

export interface StopReport {
  state: EngineState;
  /** Every accepted event was processed before the deadline (it is processed regardless). */
  drained: boolean;
  poolJoined: boolean;
  eventsDrained: number;
  tasksCancelled: number;
  durationMs: number;
}

export type TaskKind = 'player-update' | 'game-logic' | 'database';
export type TaskStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface TaskSpec {
  kind: TaskKind;
  playerId?: number;
  data?: string;
  query?: string;
  rateHz?: number;
  ticks?: number;
  delayMs?: number;
  intervalMs?: number;
}

export interface TaskInfo {
  id: number;
  kind: TaskKind;
  status: TaskStatus;
  /** JSON text produced by the task. */
  result: string | null;
  error: string | null;
  runs: number;
  createdAtMs: number;
  startedAtMs: number | null;
  finishedAtMs: number | null;
}

export interface Player {
  id: number;
  name: string;
  online: boolean;
  x: number;
  y: number;
  hp: number;
  kills: number;
  lastSeenMs: number;
}

/** Latency summary in microseconds. */
export interface Histogram {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface WorkerInfo {
  name: string;
  tid: number;
  state: 'idle' | 'busy' | 'paused' | 'stopped';
  items: number;
  busyMs: number;
  cpuMs: number;
}

export interface EventTypeStats {
  processed: number;
  applied: number;
  invalid: number;
  latencyUs: Histogram;
}

export interface EngineSnapshot {
  state: EngineState;
  timestampMs: number;
  uptimeMs: number;
  starts: number;
  controller: {
    state: EngineState;
    tickRateHz: number;
    achievedRateHz: number;
    ticks: number;
    overruns: number;
    skippedTicks: number;
    runningMs: number;
    tickWorkUs: number;
    loopThreads: number;
    tickDurationUs: Histogram;
    tickJitterUs: Histogram;
  };
  events: {
    accepted: number;
    processed: number;
    applied: number;
    invalid: number;
    rejectedBatches: number;
    rejectedEvents: number;
    batches: number;
    maxBatch: number;
    heartbeats: number;
    lastSeq: number;
    queueDepth: number;
    queueCapacity: number;
    accepting: boolean;
    paused: boolean;
    invalidByReason: Record<InvalidReason, number>;
    byType: Record<EventType, EventTypeStats>;
    latencyUs: Histogram;
  };
  pool: {
    threads: number;
    idleThreads: number;
    peakThreads: number;
    minThreads: number;
    maxThreads: number;
    queueDepth: number;
    queueCapacity: number;
    submitted: number;
    completed: number;
    failed: number;
    cancelled: number;
    rejected: number;
    threadsCreated: number;
    threadsRetired: number;
    timersActive: number;
    timersFired: number;
    timersCancelled: number;
    timerSkipped: number;
    paused: boolean;
    queueWaitUs: Histogram;
    runUs: Histogram;
    timerLateUs: Histogram;
  };
  tasks: {
    submitted: number;
    done: number;
    failed: number;
    cancelled: number;
    active: number;
    history: number;
    gameLogicTicks: number;
    byKind: Record<TaskKind, number>;
  };
  players: { online: number; known: number };
  /** Every engine thread: loop threads, the event thread, pool threads. */
  workers: WorkerInfo[];
}

/** The raw binding (native/src/addon). Use the Engine facade instead. */
export interface NativeEngine {
  start(config?: EngineConfig): Promise<TransitionResult>;
  pause(): Promise<TransitionResult>;
  resume(): Promise<TransitionResult>;
  stop(options?: { deadlineMs?: number }): Promise<StopReport>;
  close(): Promise<void>;
  enqueueEvents(
    types: Uint8Array,
    playerIds: Uint32Array,
    nums: Float64Array,
    text: string,
    textLengths: Uint32Array,
  ): EnqueueResult;
  flush(options?: { timeoutMs?: number }): Promise<void>;
  submitTask(spec: TaskSpec): { id: number };
  cancelTask(id: number): boolean;
  task(id: number): TaskInfo | null;
  waitTask(id: number, options?: { timeoutMs?: number }): Promise<TaskInfo>;
  tasks(limit?: number): TaskInfo[];
  players(): Player[];
  player(id: number): Player | null;
  snapshot(): EngineSnapshot;
  state(): EngineState;
  isClosed(): boolean;
}

export interface NativeBinding {
  Engine: new (options?: EngineOptions) => NativeEngine;
  napiVersion: number;
}
