// The telemetry WebSocket (GET /v1/telemetry, docs/TELEMETRY.md): what clients send, the
// frame every server message is, and the `data` of each topic. The WebSocket route is
// hidden from OpenAPI, so these are not registered with app.addSchema; they type the hub
// (src/telemetry/hub.ts) and let the tests check frames field by field.
import { Type, type Static } from 'typebox';

import { EVENT_TYPES } from './vocabulary.js';
import { AgonesState } from './agones.js';
import { EngineStateName, Histogram, ref } from './common.js';
import { Job } from './jobs.js';
import { MonitorStatus } from './monitor.js';
import { ControllerStats, IocpStats, MonitorStats, PoolStats, SessionStats, StorageStatus } from './stats.js';

/** Topics sent every intervalMs, from one engine snapshot per hub tick. */
export const PERIODIC_TOPICS = ['workers', 'iocp', 'monitor', 'events', 'pool', 'controller', 'sessions', 'storage', 'world'] as const;
export type PeriodicTopic = (typeof PERIODIC_TOPICS)[number];

/** Everything a client can subscribe to: the periodic topics and `jobs` (pushed on each change). */
export const TELEMETRY_TOPICS = [...PERIODIC_TOPICS, 'jobs'] as const;
export type TelemetryTopic = (typeof TELEMETRY_TOPICS)[number];

/** Frames the server sends without a subscription: replies to client messages, and `state`. */
export const CONTROL_TOPICS = ['state', 'subscribed', 'unsubscribed', 'authenticated', 'error'] as const;
export type ControlTopic = (typeof CONTROL_TOPICS)[number];
export type FrameTopic = TelemetryTopic | ControlTopic;

/** Close codes the server uses (besides ws's own 1009 for a message above maxPayloadBytes). */
export const CLOSE_CODES = {
  /** The app is closing (SIGTERM/SIGINT). */
  shutdown: 1001,
  /** Send buffer above hardLimitBytes for hardLimitMs, or frames held back for maxStallMs. */
  tooSlow: 4000,
  /** maxAuthFailures `auth` messages with a wrong token. */
  authFailures: 4001,
  /** Over maxConnections, or maxConnectionsPerAddress from one address: try again later. */
  overCapacity: 1013,
  /** No pong to the server's ping within pingIntervalMs. */
  idle: 4002,
} as const;

/** Stable codes of error frames. */
export const TELEMETRY_ERROR_CODES = [
  'BAD_JSON',
  'BAD_MESSAGE',
  'TOO_LARGE',
  'UNKNOWN_OP',
  'UNKNOWN_TOPIC',
  'BAD_INTERVAL',
  'UNAUTHORIZED',
  'RATE_LIMITED',
] as const;
export type TelemetryErrorCode = (typeof TELEMETRY_ERROR_CODES)[number];

const Topic = Type.Enum(TELEMETRY_TOPICS);
const Topics = Type.Array(Topic, { minItems: 1, maxItems: 16 });

// ---- client → server -------------------------------------------------------------------

export const SubscribeMessage = Type.Object(
  {
    op: Type.Literal('subscribe'),
    topics: Topics,
    intervalMs: Type.Optional(
      Type.Integer({ minimum: 50, maximum: 60_000, description: 'default 1000; applies to every topic of the connection' }),
    ),
  },
  { $id: 'TelemetrySubscribe' },
);

export const UnsubscribeMessage = Type.Object(
  { op: Type.Literal('unsubscribe'), topics: Topics },
  { $id: 'TelemetryUnsubscribe' },
);

export const AuthMessage = Type.Object(
  { op: Type.Literal('auth'), token: Type.String({ minLength: 1, maxLength: 4096 }) },
  { $id: 'TelemetryAuth', description: 'for clients that cannot set Authorization on the upgrade (browsers)' },
);

export type SubscribeMessage = Static<typeof SubscribeMessage>;
export type UnsubscribeMessage = Static<typeof UnsubscribeMessage>;
export type AuthMessage = Static<typeof AuthMessage>;
export type ClientMessage = SubscribeMessage | UnsubscribeMessage | AuthMessage;

// ---- server → client -------------------------------------------------------------------

export const TelemetryFrame = Type.Object(
  {
    topic: Type.Enum([...TELEMETRY_TOPICS, ...CONTROL_TOPICS]),
    seq: Type.Integer({ minimum: 1, description: 'per connection, +1 for every frame sent' }),
    ts: Type.Number({ description: 'ms since the epoch when the data was taken' }),
    dropped: Type.Optional(
      Type.Integer({ minimum: 1, description: 'frames of this topic replaced by newer ones while the client was slow' }),
    ),
    data: Type.Unknown(),
  },
  { $id: 'TelemetryFrame' },
);

const Rate = () => Type.Union([Type.Number(), Type.Null()], { description: 'per second over windowMs; null without a window' });
const WindowMs = () =>
  Type.Union([Type.Number(), Type.Null()], {
    description: 'ms between the snapshot this frame is from and the one its rates are computed against',
  });

export const WindowHistogram = Type.Object(
  {
    count: Type.Number({ description: 'values recorded over windowMs' }),
    p50: Type.Number(),
    p90: Type.Number(),
    p99: Type.Number(),
    max: Type.Number(),
  },
  {
    $id: 'TelemetryWindowHistogram',
    description:
      'the values recorded over windowMs only (the since-start histogram beside it covers everything): ' +
      'percentiles are bucket upper edges, ~6% precision, in microseconds; all 0 when count is 0',
  },
);

/** Percentiles over the window; null without a window. */
const Window = () => Type.Union([ref(WindowHistogram), Type.Null()]);

export const StateData = Type.Object(
  {
    state: ref(EngineStateName),
    from: Type.Union([ref(EngineStateName), Type.Null()], { description: 'null in the frame sent on connect' }),
    atMs: Type.Number(),
    agones: Type.Union([ref(AgonesState), Type.Null()], {
      description: 'the Agones GameServer state (--agones; README "Agones"), null when off or not yet known; a frame whose from equals state is an Agones change',
    }),
  },
  { $id: 'TelemetryStateData' },
);

export const SubscribedData = Type.Object(
  { topics: Type.Array(Topic, { description: 'every topic the connection is now subscribed to' }), intervalMs: Type.Integer() },
  { $id: 'TelemetrySubscribedData' },
);

export const UnsubscribedData = Type.Object(
  { topics: Type.Array(Topic, { description: 'the topics still subscribed' }), intervalMs: Type.Integer() },
  { $id: 'TelemetryUnsubscribedData' },
);

export const AuthenticatedData = Type.Object(
  { tokenRequired: Type.Boolean() },
  { $id: 'TelemetryAuthenticatedData' },
);

export const ErrorData = Type.Object(
  { code: Type.Enum(TELEMETRY_ERROR_CODES), detail: Type.String() },
  { $id: 'TelemetryErrorData' },
);

export const WorkerData = Type.Object(
  {
    name: Type.String({ description: 'gs-loop-N, gs-events-N, gs-pool-N, gs-timer-N, gs-iocp-N' }),
    tid: Type.Integer(),
    state: Type.Enum(['idle', 'busy', 'paused', 'stopped']),
    items: Type.Number({ description: 'work items handled since the thread started' }),
    busyMs: Type.Number(),
    cpuMs: Type.Number({ description: 'CPU time of the thread' }),
    busyPercent: Type.Union([Type.Number(), Type.Null()], { description: 'busy time over windowMs, 0..100' }),
    cpuPercent: Type.Union([Type.Number(), Type.Null()], { description: 'CPU time over windowMs, 0..100' }),
  },
  { $id: 'TelemetryWorker' },
);

export const WorkersData = Type.Object(
  { windowMs: WindowMs(), threads: Type.Array(WorkerData) },
  { $id: 'TelemetryWorkersData' },
);

export const EventTypeData = Type.Object(
  {
    processed: Type.Number(),
    applied: Type.Number(),
    invalid: Type.Number(),
    processedPerSec: Rate(),
    latencyUs: ref(Histogram),
    windowLatencyUs: Window(),
  },
  { $id: 'TelemetryEventTypeData' },
);

export const EventsData = Type.Object(
  {
    windowMs: WindowMs(),
    accepted: Type.Number(),
    processed: Type.Number(),
    applied: Type.Number(),
    invalid: Type.Number(),
    queueDepth: Type.Number(),
    queueCapacity: Type.Number(),
    accepting: Type.Boolean(),
    paused: Type.Boolean(),
    acceptedPerSec: Rate(),
    processedPerSec: Rate(),
    latencyUs: ref(Histogram),
    windowLatencyUs: Window(),
    byType: Type.Object(Object.fromEntries(EVENT_TYPES.map((t) => [t, EventTypeData])) as Record<(typeof EVENT_TYPES)[number], typeof EventTypeData>),
  },
  { $id: 'TelemetryEventsData' },
);

export const MonitorData = Type.Intersect(
  [
    ref(MonitorStats),
    Type.Object({
      status: Type.Union([ref(MonitorStatus), Type.Null()], { description: 'the shared-memory segment as another process reads it' }),
      error: Type.Union([Type.Object({ code: Type.String(), detail: Type.String() }), Type.Null()], {
        description: 'why status is null (e.g. NOT_FOUND while the engine is stopped)',
      }),
    }),
  ],
  { $id: 'TelemetryMonitorData' },
);

export const IocpData = Type.Intersect(
  [
    ref(IocpStats),
    Type.Object({
      windowMs: WindowMs(),
      dequeuedPerSec: Rate(),
      handledPerSec: Rate(),
      windowHandlerUs: Window(),
    }),
  ],
  { $id: 'TelemetryIocpData' },
);

export const SessionsData = Type.Intersect(
  [
    ref(SessionStats),
    Type.Object({
      windowMs: WindowMs(),
      acceptsPerSec: Rate(),
      framesInPerSec: Rate(),
      framesOutPerSec: Rate(),
      bytesInPerSec: Rate(),
      bytesOutPerSec: Rate(),
      windowReplicationUs: Window(),
    }),
  ],
  { $id: 'TelemetrySessionsData' },
);

export const PoolData = Type.Intersect(
  [
    ref(PoolStats),
    Type.Object({
      windowMs: WindowMs(),
      submittedPerSec: Rate(),
      completedPerSec: Rate(),
      windowQueueWaitUs: Window(),
      windowRunUs: Window(),
    }),
  ],
  { $id: 'TelemetryPoolData' },
);

export const ControllerData = Type.Intersect(
  [
    ref(ControllerStats),
    Type.Object({
      windowMs: WindowMs(),
      overrunsInWindow: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'ticks over budget within windowMs' }),
      windowTickDurationUs: Window(),
      windowTickJitterUs: Window(),
    }),
  ],
  { $id: 'TelemetryControllerData' },
);

/** The most players a `world` frame carries; with more online, an even sample of them. */
export const WORLD_MAX_POINTS = 2000;

export const WorldPoint = Type.Object(
  {
    id: Type.Integer({ description: 'the player id' }),
    x: Type.Number({ description: 'world coordinates, rounded to 0.1' }),
    y: Type.Number(),
    hp: Type.Integer({ description: 'hit points, at most maxHp' }),
  },
  { $id: 'TelemetryWorldPoint' },
);

export const WorldData = Type.Object(
  {
    worldMin: Type.Number({ description: 'the world\'s low edge, both axes (-worldSize)' }),
    worldMax: Type.Number({ description: 'the world\'s high edge, both axes (worldSize)' }),
    aoiRadius: Type.Number({
      description: 'the AOI grid\'s cell size (the running configuration\'s, else the one a start would use): cell edges are at worldMin + k·aoiRadius',
    }),
    maxHp: Type.Integer({ description: 'the hit points a player logs in with' }),
    online: Type.Integer({ minimum: 0, description: 'players online in the World' }),
    sampled: Type.Integer({
      minimum: 0,
      maximum: WORLD_MAX_POINTS,
      description: `how many of the online players points holds: all of them up to ${WORLD_MAX_POINTS}, else an even sample of ${WORLD_MAX_POINTS}`,
    }),
    points: Type.Array(WorldPoint, { maxItems: WORLD_MAX_POINTS, description: 'online players by id' }),
  },
  { $id: 'TelemetryWorldData' },
);

/**
 * The data of each topic: iocp, pool and controller are the snapshot's own sections plus
 * rates and window percentiles; storage is GET /v1/storage's answer itself (one schema).
 */
export const TOPIC_DATA = {
  workers: WorkersData,
  iocp: IocpData,
  monitor: MonitorData,
  events: EventsData,
  pool: PoolData,
  controller: ControllerData,
  sessions: SessionsData,
  storage: ref(StorageStatus),
  world: WorldData,
  jobs: ref(Job),
  state: StateData,
  subscribed: SubscribedData,
  unsubscribed: UnsubscribedData,
  authenticated: AuthenticatedData,
  error: ErrorData,
} as const;

export type StateData = Static<typeof StateData>;
export type WorkersData = Static<typeof WorkersData>;
export type EventsData = Static<typeof EventsData>;
export type EventTypeData = Static<typeof EventTypeData>;
export type WindowHistogram = Static<typeof WindowHistogram>;
export type IocpData = Static<typeof IocpData>;
export type PoolData = Static<typeof PoolData>;
export type SessionsData = Static<typeof SessionsData>;
export type WorldData = Static<typeof WorldData>;
export type WorldPoint = Static<typeof WorldPoint>;
export type ControllerData = Static<typeof ControllerData>;
export type ErrorData = Static<typeof ErrorData>;
