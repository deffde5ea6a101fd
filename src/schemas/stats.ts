// The engine snapshot (GET /v1/stats): the one TypeScript description of it.
// EngineSnapshot in src/engine/types.ts is Static<> of these, and test/snapshot.test.ts
// checks them key for key against the binding's layout (the table in
// native/src/addon/snapshot_layout.cpp) and a live snapshot. Property order here is the
// order of GET /v1/stats; CONTRIBUTING.md shows how to add a field.
import { Type, type Static, type TSchema } from 'typebox';

import { INVALID_REASONS, EVENT_TYPES, PIPE_REQUEST_TYPES } from './vocabulary.js';
import { EngineStateName, Histogram, ref } from './common.js';
import { TASK_KINDS } from './tasks.js';

const N = () => Type.Number();
const I = () => Type.Integer();
const B = () => Type.Boolean();
const H = () => ref(Histogram);
/** An object with one property a key, every value `value()`. */
const record = <const K extends readonly string[], T extends TSchema>(keys: K, value: () => T) =>
  Type.Object(Object.fromEntries(keys.map((k) => [k, value()])) as { [P in K[number]]: T });

export const WorkerInfo = Type.Object(
  {
    name: Type.String(),
    tid: I(),
    state: Type.Enum(['idle', 'busy', 'paused', 'stopped'], { type: 'string' }),
    items: N(),
    busyMs: N(),
    cpuMs: N(),
  },
  { $id: 'WorkerInfo', description: 'one engine thread' },
);

export const EventTypeStats = Type.Object(
  { processed: N(), applied: N(), invalid: N(), latencyUs: H() },
  { $id: 'EventTypeStats' },
);

export const ControllerStats = Type.Object(
  {
    state: ref(EngineStateName),
    tickRateHz: N(),
    achievedRateHz: N(),
    ticks: N(),
    overruns: N(),
    skippedTicks: N(),
    runningMs: N(),
    tickWorkUs: N(),
    loopThreads: I(),
    tickDurationUs: H(),
    tickJitterUs: H(),
  },
  { $id: 'ControllerStats' },
);

export const EventStats = Type.Object(
  {
    accepted: N(),
    processed: N(),
    applied: N(),
    invalid: N(),
    rejectedBatches: N(),
    rejectedEvents: N(),
    batches: N(),
    maxBatch: N(),
    heartbeats: N(),
    lastSeq: N(),
    queueDepth: N(),
    queueCapacity: N(),
    accepting: B(),
    paused: B(),
    invalidByReason: record(INVALID_REASONS, N),
    byType: record(EVENT_TYPES, () => ref(EventTypeStats)),
    latencyUs: H(),
  },
  { $id: 'EventStats' },
);

export const PoolStats = Type.Object(
  {
    threads: N(),
    idleThreads: N(),
    peakThreads: N(),
    minThreads: N(),
    maxThreads: N(),
    queueDepth: N(),
    queueCapacity: N(),
    submitted: N(),
    completed: N(),
    failed: N(),
    cancelled: N(),
    rejected: N(),
    threadsCreated: N(),
    threadsRetired: N(),
    timersActive: N(),
    timersFired: N(),
    timersCancelled: N(),
    timerSkipped: N(),
    paused: B(),
    queueWaitUs: H(),
    runUs: H(),
    timerLateUs: H(),
  },
  { $id: 'PoolStats' },
);

export const TaskStats = Type.Object(
  {
    submitted: N(),
    done: N(),
    failed: N(),
    cancelled: N(),
    active: N(),
    history: N(),
    gameLogicTicks: N(),
    byKind: record(TASK_KINDS, N),
  },
  { $id: 'TaskStats' },
);

export const IocpStats = Type.Object(
  {
    enabled: B(),
    threads: N(),
    posted: N(),
    postRejected: N(),
    dequeued: N(),
    ioCompletions: N(),
    completionsByKind: record(['readable', 'writable', 'hangup', 'error'], N),
    bytes: N(),
    queueDepth: N(),
    activeThreads: N(),
    peakActive: N(),
    maxConcurrency: N(),
    handled: N(),
    failed: N(),
    dequeueWaitUs: H(),
    handlerUs: H(),
  },
  { $id: 'IocpStats' },
);

export const PipeStats = Type.Object(
  {
    enabled: B(),
    path: Type.String(),
    accepted: N(),
    refused: N(),
    active: N(),
    peakActive: N(),
    framesIn: N(),
    framesOut: N(),
    bytesIn: N(),
    bytesOut: N(),
    requestsByType: record(PIPE_REQUEST_TYPES, N),
    errors: record(['badLength', 'badSize', 'unknownType', 'badPadding', 'badPayload', 'handlerFailed', 'io'], N),
    laterReplies: N(), // replies the handler deferred (journal mode: ACK after the commit)
    laterDropped: N(), // of those, dropped: the connection closed (or the server stopped) first
    handlerUs: H(),
  },
  { $id: 'PipeStats' },
);

export const MonitorStats = Type.Object(
  {
    enabled: B(),
    serverName: Type.String(),
    segment: Type.String(),
    updates: N(),
    failures: N(),
    recoveries: N(),
    cpuPercent: N(),
    residentBytes: N(),
  },
  { $id: 'MonitorStats' },
);

export const StorageStats = Type.Object(
  {
    database: Type.String({ description: 'the last start\'s database: simulated, sqlite or postgres' }),
    location: Type.String({ description: 'the database file, or the URL without its password; "" when none was opened' }),
    open: B(),
    loaded: N(),
    flushes: N(),
    rowsFlushed: N(),
    flushFailures: N(),
    flushRefusedNotOwner: Type.Number({
      description: 'rows a flush did not write because another server owns them now (or stored a newer version); dropped, not retried',
    }),
    lastRefusal: Type.String({ description: 'why the last refused row was refused ("" when none was)' }),
    leasesAcquired: Type.Number({ description: 'logins whose player lease this server took (servers sharing a database)' }),
    leasesHeldElsewhere: Type.Number({ description: 'lease requests that found the player held by another server (the login waited)' }),
    leaseRenewalFailures: Type.Number({ description: 'lease renewals between flushes that failed (the next one retries; lastError says why)' }),
    dirty: N(),
    lastError: Type.String({ description: 'the last failed flush\'s error ("" after a success)' }),
    schemaVersion: Type.Number({ description: 'the store\'s schema version when it was opened (0: none opened)' }),
    checkpointSeq: Type.Number({ description: 'with a journal: the last event the store holds (a start replays what follows it)' }),
    flushUs: H(),
  },
  { $id: 'StorageStats', description: 'players written behind to the database (write-behind flushes, each one transaction)' },
);

export const SessionStats = Type.Object(
  {
    enabled: B(),
    port: N(),
    draining: B(),
    accepted: N(),
    refused: N(),
    closed: N(),
    active: N(),
    peakActive: N(),
    framesIn: N(),
    framesOut: N(),
    bytesIn: N(),
    bytesOut: N(),
    hellos: N(),
    helloRefused: N(),
    replaced: N(),
    inputs: N(),
    inputsRefused: N(),
    inputsHeld: N(),
    rateLimited: N(),
    droppedStates: N(),
    sendQueueBytes: N(),
    replications: N(),
    stateFrames: N(),
    leaveFrames: N(),
    chatsDelivered: N(),
    replicationBytes: N(),
    replicationUs: H(),
    replicationCpuUs: H(),
  },
  { $id: 'SessionStats', description: 'the TCP game port (docs/PROTOCOL.md): sessions, inputs, replication' },
);

export const JournalStats = Type.Object(
  {
    mode: Type.Enum(['none', 'journal'] as const, { type: 'string', description: 'the durability of the current (or last) run' }),
    commits: N(),
    syncs: N(),
    batches: N(),
    events: N(),
    bytes: N(),
    pendingBytes: N(),
    refusedFull: N(),
    failedBatches: N(),
    commitP99Us: N(),
    lastSeq: N(),
    appliedSeq: N(),
    segments: N(),
    diskBytes: N(),
    replayedEvents: N(),
    replayUs: N(),
    cutBytes: N(),
    worldHashes: Type.Number({ description: 'World hashes recorded beside the journal by this process (`gamesrv replay --verify` checks them)' }),
    worldHashFailures: Type.Number({ description: 'World hash records whose write or pruning failed (a diagnostic lost; no event is)' }),
  },
  {
    $id: 'JournalStats',
    description:
      'durability "journal" (docs/JOURNAL.md): commits (one data sync each), batches, events and bytes made durable; refused (journal full) and failed (I/O error) batches; the last durable and last applied sequence numbers; what the last start replayed and cut',
  },
);

export const EngineSnapshot = Type.Object(
  {
    state: ref(EngineStateName),
    timestampMs: N(),
    uptimeMs: N(),
    starts: N(),
    controller: ref(ControllerStats),
    events: ref(EventStats),
    pool: ref(PoolStats),
    tasks: ref(TaskStats),
    storage: ref(StorageStats),
    players: Type.Object({ online: N(), known: N() }),
    iocp: ref(IocpStats),
    pipe: ref(PipeStats),
    monitor: ref(MonitorStats),
    sessions: ref(SessionStats),
    journal: ref(JournalStats),
    workers: Type.Array(ref(WorkerInfo)),
  },
  { $id: 'EngineSnapshot', description: 'every counter and histogram of every subsystem' },
);

/** GET /v1/storage: the snapshot's `storage` and `journal` parts. */
export const StorageStatus = Type.Object(
  { storage: ref(StorageStats), journal: ref(JournalStats) },
  { $id: 'StorageStatus', description: 'the database (backend, location without a password, schema version, checkpoint, flushes) and the journal' },
);
export type StorageStatus = Static<typeof StorageStatus>;
