// Shapes of everything that crosses the engine API. The binding builds these
// objects in native/src/addon/convert.cpp, except EngineSnapshot: its types are
// Static<> of the TypeBox schema (src/schemas/stats.ts), and src/engine/snapshot.ts
// rebuilds it from the flat form native/src/addon/snapshot_layout.cpp writes.
import type { Static } from 'typebox';

import type { Histogram as HistogramSchema } from '../schemas/common.js';
import type {
  EngineSnapshot as EngineSnapshotSchema,
  EventTypeStats as EventTypeStatsSchema,
  WorkerInfo as WorkerInfoSchema,
} from '../schemas/stats.js';
import type { EngineOptions } from '../schemas/engine-config.js';
import type { CompleteEngineConfig } from './arguments.js';
import { EVENT_TYPES, INVALID_REASONS, PIPE_REQUEST_TYPES } from '../schemas/vocabulary.js';

export { EVENT_TYPES, INVALID_REASONS, PIPE_REQUEST_TYPES };
export type { EventType } from '../schemas/vocabulary.js';

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

/**
 * Options of `new Engine()` and the configuration of `start()`: their fields, ranges,
 * defaults and meanings are in src/schemas/engine-config.ts (one table; README's
 * "Engine configuration" lists them).
 */
export type { EngineConfig, EngineOptions, PoolBackend } from '../schemas/engine-config.js';

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

/** One game session (the TCP game port), as GET /v1/sessions lists it. */
export interface SessionInfo {
  id: number;
  /** null until its HELLO was accepted. */
  playerId: number | null;
  remote: string;
  connectedAtMs: number;
  state: 'awaiting-hello' | 'live' | 'closing';
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  sendQueueBytes: number;
  droppedStates: number;
  /** The connection's smoothed round-trip time as the OS measures it, µs; null where the platform does not report one. */
  rttUs: number | null;
}

export interface DrainReport {
  /** Sessions open when the drain began. */
  sessionsAtStart: number;
  /** Sessions still open at the deadline, kicked (reason draining). */
  kicked: number;
  waitedMs: number;
  stop: StopReport;
}

export type TaskKind = 'player-update' | 'game-logic' | 'database';
export type TaskStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface TaskSpec {
  kind: TaskKind;
  playerId?: number;
  data?: string;
  query?: string;
  /** database: values bound to the query's ?-placeholders, in order. */
  params?: (null | number | string)[];
  /** database: rows kept (default 1000); more makes the result `truncated`. */
  maxRows?: number;
  /** database: the query's time limit, ms (default 5000). */
  timeoutMs?: number;
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

/** A player row as the store holds it (flushPlayerAsForTesting). */
export interface StoredPlayerRow {
  id: number;
  name: string;
  x: number;
  y: number;
  hp: number;
  kills: number;
  online: boolean;
  version: number;
}

/** A World rebuilt from a data directory's journal alone (replayJournal, `gamesrv replay`). */
export interface ReplayedJournal {
  events: number;
  records: number;
  lastSeq: number;
  durationUs: number;
  segments: number;
  /** Bytes cut from a torn or corrupt tail when the journal was opened (0: none). */
  cutBytes: number;
  cutReason: string;
  online: number;
  players: Player[];
}

/** What `gamesrv replay --verify` found (verifyJournal). */
export interface VerifiedJournal {
  events: number;
  lastSeq: number;
  durationUs: number;
  /** Bytes cut from a torn or corrupt journal tail when it was opened (0: none). */
  cutBytes: number;
  /** World hashes the server recorded (docs/JOURNAL.md "World hashes"). */
  recorded: number;
  /** Hashes compared: every recorded one unless a divergence stopped the check. */
  checked: number;
  /** Bytes after the hash file's last valid record (a torn append). */
  hashCutBytes: number;
  /** The first recorded hash the replay did not reproduce; null when every one matched. */
  divergence: { seq: number; recordedHash: string; replayedHash: string; problem: string } | null;
}

/** One journaled event as POST /v1/events takes it, with its journal seq and time (readJournal). */
export type JournaledEvent = GameEventInput & { seq: number; atMs: number; session: boolean };

/** A page of a recording (readJournal). */
export interface JournalPage {
  /** The journal's first event on disk (0: empty). */
  firstSeq: number;
  lastSeq: number;
  events: JournaledEvent[];
}

/** Latency summary in microseconds. */
export type Histogram = Static<typeof HistogramSchema>;

/**
 * The non-empty buckets of a histogram, ascending by index (snapshot({ buckets: true })).
 * Counts only grow while the engine runs (`starts` unchanged), so a later snapshot's
 * buckets minus an earlier one's are the values recorded in between.
 */
export interface HistogramBuckets {
  index: number[];
  count: number[];
  /** The largest value each bucket holds, in microseconds. */
  upperUs: number[];
}

export type WorkerInfo = Static<typeof WorkerInfoSchema>;
export type EventTypeStats = Static<typeof EventTypeStatsSchema>;
/** Every counter and histogram of every subsystem (Engine.snapshot(), GET /v1/stats). */
export type EngineSnapshot = Static<typeof EngineSnapshotSchema>;

export type PipeRequestType = (typeof PIPE_REQUEST_TYPES)[number];

export interface PipeReply {
  /** ACK, STATUS_REPLY or ERROR. */
  type: 'ACK' | 'STATUS_REPLY' | 'ERROR';
  typeCode: number;
  data: string;
}

/** The shared-memory status of a server, read from any process. */
export interface MonitorStatus {
  serverName: string;
  segment: string;
  playerCount: number;
  maxPlayers: number;
  cpuPercent: number;
  residentBytes: number;
  pid: number;
  cpuCount: number;
  running: boolean;
  paused: boolean;
  lastUpdateMs: number;
  startedAtMs: number;
  heartbeat: number;
  ageMs: number;
  sequence: number;
  writer: 'alive' | 'dead' | 'unknown';
  stale: boolean;
}

export interface LockBenchmarkOptions {
  threads?: number;
  iterations?: number;
  kinds?: string[];
}

export interface LockBenchmarkProgress {
  rowsDone: number;
  rowsTotal: number;
  percent: number;
}

export interface LockBenchmarkRow {
  kind: string;
  description: string;
  threads: number;
  iterations: number;
  elapsedMs: number;
  opsPerSec: number;
  /** fastest ops/s divided by this row's: 1 for the fastest, >= 1 otherwise. */
  ratioToFastest: number;
  expectedCount: number;
  finalCount: number;
  exact: boolean;
  error: string | null;
}

export interface LockBenchmarkReport {
  status: 'ok' | 'cancelled';
  rows: LockBenchmarkRow[];
}

/** The raw binding (native/src/addon). Use the Engine facade instead. */
/** In `durability: journal` the binding answers an enqueue with the promise of its commit
 *  (`out` is left alone); in `none` it writes `out` and returns undefined. */
export type DurableAck = Promise<EnqueueResult>;

export interface NativeEngine {
  /** Takes only what src/engine/arguments.ts returns: validated and complete. */
  start(config: CompleteEngineConfig): Promise<TransitionResult>;
  pause(): Promise<TransitionResult>;
  resume(): Promise<TransitionResult>;
  stop(options: { deadlineMs: number }): Promise<StopReport>;
  close(): Promise<void>;
  enqueueEvents(
    types: Uint8Array,
    playerIds: Uint32Array,
    nums: Float64Array,
    text: string,
    textLengths: Uint32Array,
    deferWake: boolean,
    /** Receives [accepted, firstSeq, lastSeq, available]. */
    out: Float64Array,
  ): DurableAck | undefined;
  /** enqueueEvents for one event, from scalars (the columns' values at index 0). */
  enqueueOne(type: number, playerId: number, num1: number, num2: number, text: string, deferWake: boolean, out: Float64Array): DurableAck | undefined;
  /** Wakes the event thread after enqueueEvents(..., true). */
  wakeEvents(): void;
  flush(options: { timeoutMs: number }): Promise<void>;
  checkpointStorage(): Promise<{ rows: number; checkpointSeq: number }>;
  flushPlayerAsForTesting(owner: string, row: StoredPlayerRow): Promise<{ written: number; refused: number[] }>;
  submitTask(spec: TaskSpec): { id: number };
  cancelTask(id: number): boolean;
  task(id: number): TaskInfo | null;
  waitTask(id: number, options: { timeoutMs: number }): Promise<TaskInfo>;
  tasks(limit?: number, before?: number): TaskInfo[];
  players(): Player[];
  playersAfter(after: number, limit: number): { players: Player[]; more: boolean; online: number; known: number };
  player(id: number): Player | null;
  /**
   * Writes every number of the snapshot into `values` and returns its text fields
   * joined by '\0', at the places NativeBinding.snapshotLayout names (decoded by
   * src/engine/snapshot.ts). values[0] is the count needed: when it exceeds
   * values.length, nothing else is complete; call again with a larger array.
   * withBuckets appends each histogram's non-empty buckets (read by bucketsOf()).
   */
  snapshotInto(values: Float64Array, withBuckets?: boolean): string;
  state(): EngineState;
  pipePath(): string;
  sessions(offset: number, limit: number): SessionInfo[];
  kickSession(id: number, text: string): boolean;
  broadcast(text: string): number;
  drain(deadlineMs: number, stopDeadlineMs: number, notice: string): Promise<DrainReport>;
  gamePort(): number;
  waitState(state: EngineState, options: { timeoutMs: number }): Promise<void>;
}

/**
 * One field of the snapshot in the binding's flat form. `at`: the offset of its first
 * number in the values (a rows field: of its row count), or a text field's index in
 * the texts. Counter, gauge, flag and label take one number, a histogram one per
 * SnapshotLayout.histogram part; a label's number is an index into `labels`.
 */
export interface SnapshotLayoutField {
  /** Dot-separated keys in the public object. */
  path: string;
  kind: 'counter' | 'gauge' | 'flag' | 'label' | 'histogram' | 'text' | 'rows';
  at: number;
  labels?: string[];
  /** A rows field: each row's columns; its numbers and texts follow the fixed part. */
  columns?: { name: string; kind: SnapshotLayoutField['kind']; labels?: string[] }[];
}

/** The snapshot's flat form, described by the binding's table (native/src/addon/snapshot_layout.cpp). */
export interface SnapshotLayout {
  /** Numbers before the rows: values[0] (the count) and every field's. */
  size: number;
  /** Text fields before the rows' texts. */
  texts: number;
  /** A histogram's parts, in the order of its numbers. */
  histogram: string[];
  /** Every field, in the order of the public object's keys. */
  fields: SnapshotLayoutField[];
}

/**
 * What the engine's ticket verifier says: `ok`, or why not. The claims come with a
 * genuine signature (`ok` or `ticket_expired`); a session is bound to their playerId.
 */
export interface TicketVerdict {
  status: 'ok' | 'bad_ticket' | 'ticket_expired';
  playerId?: number;
  name?: string;
  expiresAt?: number;
}

/** What runBots takes (native/include/gamesrv/bots.hpp BotsConfig). */
export interface BotsOptions {
  host?: string;
  port: number;
  count: number;
  rateHz?: number;
  /** MOVEs as fast as the connection takes them (rateHz then only sizes a step). */
  flood?: boolean;
  durationS?: number;
  threads?: number;
  /** Bot i is player firstPlayerId + i: its ticket's. */
  firstPlayerId: number;
  /** One HELLO ticket per bot. */
  tickets: string[];
  /** Mean seconds between a bot's CHATs; 0: never. */
  chatEveryS?: number;
  seed?: number;
}

/** A latency histogram's summary, microseconds. */
export interface BotsLatency {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** The bots' counters (native/include/gamesrv/bots.hpp BotsSummary): once a second, and at the end. */
export interface BotsSummary {
  elapsedS: number;
  bots: number;
  connected: number;
  live: number;
  failed: number;
  dropped: number;
  movesSent: number;
  movesDeferred: number;
  chatsSent: number;
  pingsSent: number;
  framesReceived: number;
  bytesReceived: number;
  statesReceived: number;
  errorsReceived: number;
  kicksReceived: number;
  lastProblem: string | null;
  rttUs: BotsLatency;
  moveObservedUs: BotsLatency;
}

export interface NativeBinding {
  /** Takes only what src/engine/arguments.ts returns: validated and complete. */
  Engine: new (options: Required<EngineOptions>) => NativeEngine;
  /** The thread-pool backends this platform has ("portable" first). */
  threadPoolBackends: string[];
  napiVersion: number;
  snapshotLayout: SnapshotLayout;
  readMonitor(serverName: string): MonitorStatus;
  replayJournal(options: { dataDir: string; maxPlayers: number; worldSize: number; chatLogCapacity: number }): Promise<ReplayedJournal>;
  verifyJournal(options: { dataDir: string; maxPlayers: number; worldSize: number; chatLogCapacity: number }): Promise<VerifiedJournal>;
  readJournal(options: { dataDir: string; afterSeq: number; maxEvents: number }): Promise<JournalPage>;
  /** The kernel's unacknowledged bytes of a stream socket's fd; -1 where the platform will not say. */
  socketUnackedBytes(fd: number): number;
  pipeSend(path: string, type: string, data: string, timeoutMs: number): Promise<PipeReply>;
  defaultPipePath(serverName: string): string;
  runLockBenchmark(
    options: LockBenchmarkOptions,
    onProgress?: (p: LockBenchmarkProgress) => void,
    handle?: { id?: number },
  ): Promise<LockBenchmarkReport>;
  cancelLockBenchmarks(): number;
  cancelLockBenchmark(id: number): boolean;
  /** What runLockBenchmark uses for an option left out. */
  lockBenchmarkDefaults: { threads: number; iterations: number };
  lockKinds: string[];
  runBots(options: BotsOptions, onProgress?: (s: BotsSummary) => void, handle?: { id?: number }): Promise<BotsSummary>;
  cancelBots(id: number): boolean;
  botLimits: { maxBots: number; maxThreads: number; maxRateHz: number };
  verifyTicket(secret: Buffer, ticket: string, nowSec: number): TicketVerdict;
  ticketFormat: { version: number; keyId: number; maxNameBytes: number; maxTicketChars: number };
  protocol: {
    pipe: { frameBytes: number; headerBytes: number; dataCapacity: number; types: Record<string, number> };
    /** The World's defaults that the HTTP schemas mirror. */
    world: { maxChatBytes: number; maxHp: number };
    shm: {
      magic: number;
      layoutVersion: number;
      segmentBytes: number;
      statusOffset: number;
      lockOffset: number;
      lockBytes: number;
      header: Record<string, number>;
      status: Record<string, number>;
    };
  };
}
