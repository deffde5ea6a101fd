// The typed, promise-based facade over the native engine. Lifecycle calls run
// off the JS thread and resolve when the transition is done; everything else is
// a short synchronous call. Every failure is an EngineError with a stable code.
import { engineConfig, engineOptions, stopDeadlineMs, timeoutMs } from './arguments.js';
import { EngineError, fromNative } from './errors.js';
import { loadBinding } from './native.js';
import { SnapshotReader } from './snapshot.js';
import { MAX_DEADLINE_MS } from '../schemas/engine-config.js';
import { drainNoticeText } from '../schemas/sessions.js';
import {
  type BotsOptions,
  type BotsSummary,
  type EngineConfig,
  type EngineOptions,
  type EngineSnapshot,
  type EngineState,
  type DurableAck,
  type EnqueueResult,
  type LockBenchmarkOptions,
  type LockBenchmarkProgress,
  type LockBenchmarkReport,
  type MonitorStatus,
  type PipeReply,
  type PipeRequestType,
  type GameEventInput,
  type NativeEngine,
  type Player,
  type JournalPage,
  type ReplayedJournal,
  type VerifiedJournal,
  type StopReport,
  type StoredPlayerRow,
  type DrainReport,
  type SessionInfo,
  type TaskInfo,
  type TaskSpec,
  type TransitionResult,
} from './types.js';

// Codes of the native EventType: indexes in EVENT_TYPES.
const LOGIN = 0;
const LOGOUT = 1;
const MOVE = 2;
const ATTACK = 3;
const CHAT = 4;

/** The EventType code of `type`, or -1. A switch rather than a lookup table: no
 *  megamorphic keyed load, and inherited keys such as "constructor" stay unknown. */
function typeCode(type: unknown): number {
  switch (type) {
    case 'PLAYER_LOGIN':
      return LOGIN;
    case 'PLAYER_LOGOUT':
      return LOGOUT;
    case 'PLAYER_MOVE':
      return MOVE;
    case 'PLAYER_ATTACK':
      return ATTACK;
    case 'PLAYER_CHAT':
      return CHAT;
    default:
      return -1;
  }
}

const MAX_U32 = 0xffffffff;

function invalid(index: number, message: string): EngineError {
  return new EngineError('INVALID_ARGUMENT', `event ${index}: ${message}`, { index });
}

/** Event columns for one crossing of the native boundary. */
interface EncodedBatch {
  types: Uint8Array;
  playerIds: Uint32Array;
  nums: Float64Array;
  text: string;
  textLengths: Uint32Array;
}

/** Column buffers an Engine reuses for small batches (see encodeEvents). */
export class EventColumns {
  readonly types: Uint8Array;
  readonly playerIds: Uint32Array;
  readonly nums: Float64Array;
  readonly textLengths: Uint32Array;
  constructor(readonly capacity: number) {
    this.types = new Uint8Array(capacity);
    this.playerIds = new Uint32Array(capacity);
    this.nums = new Float64Array(2 * capacity);
    this.textLengths = new Uint32Array(capacity);
  }
}

/** Batches up to this many events are packed into an Engine's reused columns. */
const REUSED_COLUMNS = 256;
/**
 * The least time between two wake-ups of the event thread for events enqueued here
 * (enqueueEvents): under load, events are handed over in batches at most this old.
 */
export const WAKE_GAP_MS = 1;

/**
 * Validates a batch and packs it into columns; throws INVALID_ARGUMENT naming the event.
 * With `reuse` large enough, the columns are views of its buffers, valid until the next
 * call with the same `reuse`: a request of one event then allocates no array buffers
 * (four fresh small typed arrays, each made external when the binding reads it, cost
 * more than the rest of the crossing; bench/http.bench.ts).
 */
export function encodeEvents(batch: readonly GameEventInput[], reuse?: EventColumns): EncodedBatch {
  const n = batch.length;
  const fits = reuse !== undefined && n <= reuse.capacity;
  const types = fits ? reuse.types.subarray(0, n) : new Uint8Array(n);
  const playerIds = fits ? reuse.playerIds.subarray(0, n) : new Uint32Array(n);
  const nums = fits ? reuse.nums.subarray(0, 2 * n) : new Float64Array(2 * n);
  const textLengths = fits ? reuse.textLengths.subarray(0, n) : new Uint32Array(n);
  // One string for the whole batch: `+=` builds a rope the binding flattens in one
  // pass, cheaper than collecting pieces and joining them.
  let allText = '';
  for (let i = 0; i < n; i++) {
    const text = encodeEvent(batch[i], i, types, playerIds, nums);
    textLengths[i] = text.length;
    if (text.length > 0) allText += text;
  }
  return { types, playerIds, nums, text: allText, textLengths };
}

/**
 * Validates event `i` of a batch and writes its columns at `i`; returns its text (the
 * caller records the length). Throws INVALID_ARGUMENT naming the event.
 */
function encodeEvent(e: GameEventInput | undefined, i: number, types: Uint8Array, playerIds: Uint32Array, nums: Float64Array): string {
  if (e === null || typeof e !== 'object') throw invalid(i, 'must be an object');
  const code = typeCode(e.type);
  if (code < 0) throw invalid(i, `unknown type ${JSON.stringify(e.type)}`);
  const id = e.playerId;
  if (!Number.isInteger(id) || id < 0 || id > MAX_U32) throw invalid(i, 'playerId must be an integer in [0, 2^32-1]');
  types[i] = code;
  playerIds[i] = id;
  nums[2 * i] = 0;
  nums[2 * i + 1] = 0;
  const data: unknown = e.data;
  let text = '';
  switch (code) {
    case LOGIN:
    case CHAT:
      if (typeof data === 'string') text = data;
      else if (data !== undefined) throw invalid(i, 'data must be a string');
      break;
    case MOVE:
      text = typeof data === 'string' ? data : moveText(i, data);
      break;
    case ATTACK: {
      if (data === null || typeof data !== 'object') throw invalid(i, 'PLAYER_ATTACK data must be {target, damage}');
      const { target, damage } = data as { target?: unknown; damage?: unknown };
      // Non-numbers become NaN and are reported by the engine as an invalid payload.
      nums[2 * i] = typeof target === 'number' ? target : Number.NaN;
      nums[2 * i + 1] = typeof damage === 'number' ? damage : Number.NaN;
      break;
    }
  }
  return text;
}

/** PLAYER_MOVE's {x, y} form as "x,y" (kept off the string fast path). */
function moveText(index: number, data: unknown): string {
  if (data !== null && typeof data === 'object' && 'x' in data && 'y' in data) {
    const { x, y } = data as { x: unknown; y: unknown };
    return `${String(x)},${String(y)}`;
  }
  throw invalid(index, 'PLAYER_MOVE data must be "x,y" or {x, y}');
}

export class Engine {
  readonly #native: NativeEngine;
  readonly #poolBackends: readonly string[];
  readonly #snapshots = new SnapshotReader();
  readonly #columns = new EventColumns(REUSED_COLUMNS);
  /** enqueueEvents' result from the binding: accepted, firstSeq, lastSeq, available. */
  readonly #enqueued = new Float64Array(4);
  #wakeScheduled = false;
  /** performance.now() of the last wake-up of the event thread. */
  #lastWake = -Infinity;
  readonly #wake = (): void => {
    if (this.#closing !== undefined) {
      this.#wakeScheduled = false;
      return; // stopping drains every accepted event
    }
    const now = performance.now();
    const wait = this.#lastWake + WAKE_GAP_MS - now;
    if (wait > 0) {
      // Woken moments ago: the events of this turn join the next wake-up instead.
      setTimeout(this.#wake, wait).unref();
      return;
    }
    this.#wakeScheduled = false;
    this.#lastWake = now;
    try {
      this.#native.wakeEvents();
    } catch (err) {
      // Closed meanwhile: the stop that closed it drained every accepted event.
      const e = fromNative(err);
      if (e.code !== 'ENGINE_CLOSED') throw e;
    }
  };
  readonly #fillSnapshot = (values: Float64Array, withBuckets: boolean): string =>
    this.#native.snapshotInto(values, withBuckets);
  #closing: Promise<void> | undefined;
  #durability: 'none' | 'journal' = 'none';
  /** The World's bounds: players' x and y stay within ±worldSize (the option, filled in). */
  readonly worldSize: number;

  /** Throws INVALID_ARGUMENT when `options` break the schema (src/schemas/engine-config.ts). */
  constructor(options: EngineOptions = {}) {
    const complete = engineOptions(options);
    this.worldSize = complete.worldSize;
    const { Engine: NativeCtor, threadPoolBackends } = loadBinding();
    this.#poolBackends = threadPoolBackends;
    try {
      this.#native = new NativeCtor(complete);
    } catch (err) {
      throw fromNative(err);
    }
  }

  get state(): EngineState {
    return this.#native.state();
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Rejects with INVALID_ARGUMENT when `config` breaks the schema (src/schemas/engine-config.ts). */
  async start(config: EngineConfig = {}): Promise<TransitionResult> {
    const complete = engineConfig(config, this.#poolBackends);
    const result = await this.#settle(() => this.#native.start(complete));
    this.#durability = complete.durability;
    return result;
  }

  /** The durability of the current (or last) run: "none" until a start says otherwise. */
  get durability(): 'none' | 'journal' {
    return this.#durability;
  }

  async pause(): Promise<TransitionResult> {
    return this.#settle(() => this.#native.pause());
  }

  async resume(): Promise<TransitionResult> {
    return this.#settle(() => this.#native.resume());
  }

  /** Stops accepting, drains every accepted event, cancels unfinished tasks, joins every thread. */
  async stop(options: { deadlineMs?: number } = {}): Promise<StopReport> {
    const deadlineMs = stopDeadlineMs(options);
    return this.#settle(() => this.#native.stop({ deadlineMs }));
  }

  /**
   * Accepts the whole batch or nothing. Throws QUEUE_FULL (with `available`) when it
   * does not fit, ENGINE_NOT_RUNNING when stopped, INVALID_ARGUMENT (with `index`).
   * Synchronous: for `durability: "none"` only (a journaled batch is acknowledged by its
   * commit: use acceptEvents, which serves both modes); in journal mode it throws
   * DURABLE_MODE and takes nothing.
   */
  enqueueEvents(batch: readonly GameEventInput[]): EnqueueResult {
    if (this.#durability === 'journal') {
      throw new EngineError('DURABLE_MODE', 'the engine runs with durability "journal": acceptEvents() acknowledges a batch once it is on disk');
    }
    const ack = this.#enqueue(batch);
    if (ack !== undefined) {
      // Only in the microtask between a journal start's completion and #durability's update:
      // the batch was taken and will be applied, but this call cannot wait for its commit.
      ack.catch(() => {});
      throw new EngineError('DURABLE_MODE', 'the engine runs with durability "journal": the batch was taken without its acknowledgement; use acceptEvents()');
    }
    return this.#acknowledged();
  }

  /**
   * enqueueEvents for either durability. `none`: the result, at once (the synchronous fast
   * path). `journal`: a promise resolved once the batch's journal commit (write + data sync)
   * completed and the batch is queued for the event thread, with journal sequence numbers;
   * an immediate refusal still throws (QUEUE_FULL, JOURNAL_FULL, ENGINE_NOT_RUNNING, ...),
   * a failed commit rejects with JOURNAL_IO_ERROR (nothing of the batch applied).
   */
  acceptEvents(batch: readonly GameEventInput[]): EnqueueResult | Promise<EnqueueResult> {
    const ack = this.#enqueue(batch);
    if (ack === undefined) return this.#acknowledged();
    return ack.catch((err: unknown) => {
      throw fromNative(err);
    });
  }

  #enqueue(batch: readonly GameEventInput[]): DurableAck | undefined {
    if (!Array.isArray(batch) || batch.length === 0) {
      throw new EngineError('INVALID_ARGUMENT', 'enqueueEvents needs a non-empty array of events');
    }
    const out = this.#enqueued;
    try {
      if (batch.length === 1) {
        // One event, the usual request: scalars across, no column views to make.
        const c = this.#columns;
        const text = encodeEvent(batch[0] as GameEventInput | undefined, 0, c.types, c.playerIds, c.nums);
        return this.#native.enqueueOne(c.types[0]!, c.playerIds[0]!, c.nums[0]!, c.nums[1]!, text, true, out);
      }
      const b = encodeEvents(batch, this.#columns);
      return this.#native.enqueueEvents(b.types, b.playerIds, b.nums, b.text, b.textLengths, true, out);
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** The result a synchronous enqueue left in #enqueued, and the deferred wake-up. */
  #acknowledged(): EnqueueResult {
    const out = this.#enqueued;
    const result: EnqueueResult = { accepted: out[0]!, firstSeq: out[1]!, lastSeq: out[2]!, available: out[3]! };
    // The event thread is woken after every request of the event-loop turn has enqueued,
    // and at most once every WAKE_GAP_MS: a wake-up costs this thread microseconds on
    // the project's VMs (the switch to the event thread, when both share a core), more
    // than the enqueue itself (bench/http.bench.ts). The events wait at most that long.
    if (!this.#wakeScheduled) {
      this.#wakeScheduled = true;
      setImmediate(this.#wake);
    }
    return result;
  }

  /**
   * Resolves once every event accepted before the call has been processed;
   * rejects with TIMEOUT after `timeoutMs` (default 30 s), e.g. while paused.
   */
  /**
   * Writes the changed players to the database now and, with the journal, the checkpoint
   * (the store then holds every event applied so far). Rejects with NO_DATABASE when no
   * database is open (stopped, or "simulated"), STORAGE_ERROR when the write fails.
   */
  async checkpointStorage(): Promise<{ rows: number; checkpointSeq: number }> {
    return this.#settle(() => this.#native.checkpointStorage());
  }

  /**
   * Test hook: writes one player row through the open store's owner-checked flush under
   * `owner`'s name, as a late flush from that server would be; says whether it was refused.
   */
  async flushPlayerAsForTesting(owner: string, row: StoredPlayerRow): Promise<{ written: number; refused: number[] }> {
    return this.#settle(() => this.#native.flushPlayerAsForTesting(owner, row));
  }

  async flush(options: { timeoutMs?: number } = {}): Promise<void> {
    const wait = { timeoutMs: timeoutMs(options) };
    return this.#settle(() => this.#native.flush(wait));
  }

  submitTask(spec: TaskSpec): { id: number } {
    return this.#call(() => this.#native.submitTask(spec));
  }

  cancelTask(id: number): boolean {
    return this.#call(() => this.#native.cancelTask(id));
  }

  task(id: number): TaskInfo | null {
    return this.#call(() => this.#native.task(id));
  }

  /** Resolves with the task once it is done, failed or cancelled; NOT_FOUND / TIMEOUT otherwise. */
  async waitTask(id: number, options: { timeoutMs?: number } = {}): Promise<TaskInfo> {
    const wait = { timeoutMs: timeoutMs(options) };
    return this.#settle(() => this.#native.waitTask(id, wait));
  }

  /** Up to `limit` tasks, newest first; with `before`, only tasks with a lower id (a page cursor). */
  tasks(limit = 100, before?: number): TaskInfo[] {
    return this.#call(() => this.#native.tasks(limit, before));
  }

  /** Every player, by id. Copies the whole World: for a page, use playersAfter(). */
  players(): Player[] {
    return this.#call(() => this.#native.players());
  }

  /** Up to `limit` players with an id above `after`, by id; `more` when others follow; the World's counts. */
  playersAfter(after: number, limit: number): { players: Player[]; more: boolean; online: number; known: number } {
    return this.#call(() => this.#native.playersAfter(after, limit));
  }

  player(id: number): Player | null {
    return this.#call(() => this.#native.player(id));
  }

  /**
   * Every counter and histogram of every subsystem, as one plain object. With
   * `{ buckets: true }` each histogram's buckets come along too, for quantiles over an
   * interval (bucketsOf(); they are not part of the object or its JSON).
   */
  snapshot(options?: { buckets?: boolean }): EngineSnapshot {
    try {
      return this.#snapshots.read(this.#fillSnapshot, options?.buckets === true);
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** Resolves once the engine is in `state` (e.g. after a pipe SHUTDOWN); TIMEOUT otherwise. */
  async waitForState(state: EngineState, options: { timeoutMs?: number } = {}): Promise<void> {
    const wait = { timeoutMs: timeoutMs(options) };
    return this.#settle(() => this.#native.waitState(state, wait));
  }

  /** The socket path of this engine's pipe server ("" when the pipe is off or stopped). */
  get pipePath(): string {
    return this.#call(() => this.#native.pipePath());
  }

  /** The game port's bound port (docs/PROTOCOL.md), or null when no game port is open. */
  get gamePort(): number | null {
    const port = this.#call(() => this.#native.gamePort());
    return port === 0 ? null : port;
  }

  /** Game sessions by id, `offset` first, at most `limit` (default 100). */
  sessions(options: { offset?: number; limit?: number } = {}): SessionInfo[] {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? 100;
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1) {
      throw new EngineError('INVALID_ARGUMENT', 'sessions: offset must be an integer >= 0 and limit an integer >= 1');
    }
    return this.#call(() => this.#native.sessions(offset, limit));
  }

  /** Kicks a session (KICK operator, with `text`); false when no such session is open. */
  kickSession(id: number, text = 'kicked by an operator'): boolean {
    if (!Number.isInteger(id) || id < 1) throw new EngineError('INVALID_ARGUMENT', 'kickSession: id must be a positive integer');
    return this.#call(() => this.#native.kickSession(id, text));
  }

  /** A NOTICE to every session; returns how many it was queued to. */
  broadcast(text: string): number {
    return this.#call(() => this.#native.broadcast(text));
  }

  /**
   * The graceful drain fleet managers call before they remove a server: stop admitting
   * players (HELLO answers ERROR draining), NOTICE every session, wait until none is left
   * or `deadlineMs` passes (then kick the rest), then stop the engine (within
   * `stopDeadlineMs`, default the engine's shutdownDeadlineMs). With `handoffUrl`, the
   * NOTICE ends with a line `reconnect <handoffUrl>` (docs/PROTOCOL.md).
   */
  async drain(options: { deadlineMs?: number; notice?: string; stopDeadlineMs?: number; handoffUrl?: string } = {}): Promise<DrainReport> {
    const deadlineMs = options.deadlineMs ?? 30_000;
    if (!Number.isInteger(deadlineMs) || deadlineMs < 0 || deadlineMs > MAX_DEADLINE_MS) {
      throw new EngineError('INVALID_ARGUMENT', `drain: deadlineMs must be an integer in [0, ${MAX_DEADLINE_MS}]`);
    }
    if (options.handoffUrl !== undefined && !/^\S{1,512}$/.test(options.handoffUrl)) {
      throw new EngineError('INVALID_ARGUMENT', 'drain: handoffUrl must be 1 to 512 characters without white space');
    }
    const notice = drainNoticeText(options.notice ?? 'this server is shutting down: please reconnect', options.handoffUrl);
    const stopMs = stopDeadlineMs(options.stopDeadlineMs === undefined ? {} : { deadlineMs: options.stopDeadlineMs });
    return this.#settle(() => this.#native.drain(deadlineMs, stopMs, notice));
  }

  /** Sends one InterServerMessage to this engine's pipe server, as a client would. */
  async pipeRequest(type: PipeRequestType, data = '', options: { timeoutMs?: number } = {}): Promise<PipeReply> {
    const path = this.pipePath;
    if (!path) throw new EngineError('ENGINE_NOT_RUNNING', 'the pipe server is not running');
    return pipeSend(path, type, data, options);
  }

  /** The shared-memory status this engine publishes, read the way another process reads it. */
  readMonitor(): MonitorStatus {
    const name = this.snapshot().monitor.serverName;
    return readMonitor(name);
  }

  /** Stops the engine if needed and releases it. Idempotent: later calls return the same promise. */
  close(): Promise<void> {
    this.#closing ??= this.#native.close().catch((err: unknown) => {
      throw fromNative(err);
    });
    return this.#closing;
  }

  /** A native call, its errors as EngineErrors. */
  #call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw fromNative(err);
    }
  }

  /** A native promise, its rejections as EngineErrors. */
  async #settle<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw fromNative(err);
    }
  }
}

/**
 * Rebuilds a World from `<dataDir>/journal` alone, off the JS thread and without an engine
 * (`gamesrv replay`): every journaled event applied with its recorded time. `options` are
 * the World's (maxPlayers, worldSize, chatLogCapacity: the server's, for the same World).
 * Opening the journal cuts a torn tail as a start would; no server may run on `dataDir`.
 */
export async function replayJournal(dataDir: string, options: EngineOptions = {}): Promise<ReplayedJournal> {
  const o = engineOptions(options);
  try {
    return await loadBinding().replayJournal({ dataDir, maxPlayers: o.maxPlayers, worldSize: o.worldSize, chatLogCapacity: o.chatLogCapacity });
  } catch (err) {
    throw fromNative(err);
  }
}

/**
 * Replays `<dataDir>/journal` from its first event into a fresh World and compares every
 * World hash the server recorded beside it (`gamesrv replay --verify`, docs/JOURNAL.md
 * "World hashes"): the first mismatch is reported, not thrown. Throws JOURNAL_REPLAY_FAILED
 * when the journal cannot be read or does not start at seq 1.
 */
export async function verifyJournal(dataDir: string, options: EngineOptions = {}): Promise<VerifiedJournal> {
  const o = engineOptions(options);
  try {
    return await loadBinding().verifyJournal({ dataDir, maxPlayers: o.maxPlayers, worldSize: o.worldSize, chatLogCapacity: o.chatLogCapacity });
  } catch (err) {
    throw fromNative(err);
  }
}

/** Up to `maxEvents` journaled events after `afterSeq`, as POST /v1/events takes them (`gamesrv replay --to`). */
export async function readJournal(dataDir: string, afterSeq: number, maxEvents: number): Promise<JournalPage> {
  try {
    return await loadBinding().readJournal({ dataDir, afterSeq, maxEvents });
  } catch (err) {
    throw fromNative(err);
  }
}

/** Reads a server's shared-memory status; works from any process on the machine. */
export function readMonitor(serverName = 'gamesrv'): MonitorStatus {
  try {
    return loadBinding().readMonitor(serverName);
  } catch (err) {
    throw fromNative(err);
  }
}

/** Sends one InterServerMessage over a pipe socket and returns the reply. */
export async function pipeSend(
  path: string,
  type: PipeRequestType | (string & {}),
  data = '',
  options: { timeoutMs?: number } = {},
): Promise<PipeReply> {
  try {
    return await loadBinding().pipeSend(path, type, data, options.timeoutMs ?? 5000);
  } catch (err) {
    throw fromNative(err);
  }
}

/**
 * Bytes a stream socket's kernel send queue holds that its peer has not acknowledged
 * (Linux SIOCOUTQ), or undefined where the platform will not say or `fd` is not one.
 */
export function socketUnackedBytes(fd: number): number | undefined {
  const n = loadBinding().socketUnackedBytes(fd);
  return n >= 0 ? n : undefined;
}

/** The pipe socket path a server of that name listens on by default. */
export function defaultPipePath(serverName = 'gamesrv'): string {
  return loadBinding().defaultPipePath(serverName);
}

/**
 * The seed's Critical Section vs Mutex comparison, off the JS thread. `onProgress`
 * runs on the JS thread while it goes. Aborting `signal` stops it soon after: it then
 * resolves with status "cancelled" and the rows finished so far.
 */
export async function runLockBenchmark(
  options: LockBenchmarkOptions = {},
  onProgress?: (p: LockBenchmarkProgress) => void,
  signal?: AbortSignal,
): Promise<LockBenchmarkReport> {
  const binding = loadBinding();
  return cancellable((handle) => binding.runLockBenchmark(options, onProgress, handle), (id) => binding.cancelLockBenchmark(id), signal);
}

/**
 * Runs game-port bots (native, off the JS thread; see native/include/gamesrv/bots.hpp)
 * until options.durationS has passed or `signal` aborts; `onProgress` gets the counters
 * about once a second. Resolves with the final counters once every bot has left.
 */
export async function runBots(
  options: BotsOptions,
  onProgress?: (s: BotsSummary) => void,
  signal?: AbortSignal,
): Promise<BotsSummary> {
  const binding = loadBinding();
  return cancellable((handle) => binding.runBots(options, onProgress, handle), (id) => binding.cancelBots(id), signal);
}

/**
 * A native run started with a handle the binding fills with its id; aborting `signal`
 * cancels it by that id. Errors come out as EngineErrors.
 */
async function cancellable<T>(start: (handle: { id?: number }) => Promise<T>, cancelById: (id: number) => unknown, signal?: AbortSignal): Promise<T> {
  const handle: { id?: number } = {};
  let running: Promise<T>;
  try {
    running = start(handle);
  } catch (err) {
    throw fromNative(err);
  }
  const cancel = () => {
    if (handle.id !== undefined) cancelById(handle.id);
  };
  if (signal?.aborted) cancel();
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    return await running;
  } catch (err) {
    throw fromNative(err);
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}

/** The wire and shared-memory constants compiled into the engine (see docs/PROTOCOL.md). */
export function protocolConstants(): ReturnType<typeof loadBinding>['protocol'] {
  return loadBinding().protocol;
}

/** The threads runLockBenchmark starts per kind when `threads` is left out. */
export function defaultLockBenchmarkThreads(): number {
  return loadBinding().lockBenchmarkDefaults.threads;
}

/** The iterations per thread runLockBenchmark does when `iterations` is left out. */
export function defaultLockBenchmarkIterations(): number {
  return loadBinding().lockBenchmarkDefaults.iterations;
}

/** The lock kinds runLockBenchmark knows on this platform, in table order. */
export function lockKinds(): string[] {
  return [...loadBinding().lockKinds];
}

/**
 * Asks every running lock benchmark of this process to stop; each resolves soon after
 * with status "cancelled" and the rows finished so far. Returns how many were asked.
 */
export function cancelLockBenchmarks(): number {
  return loadBinding().cancelLockBenchmarks();
}
