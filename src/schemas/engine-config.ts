// The engine's configuration, written once: every option of `new Engine(options)` and
// `engine.start(config)`, with its range, its default and what it means. Everything
// else is derived from these two schemas: the facade validates its arguments against
// them and fills the defaults (src/engine/config.ts), the HTTP body StartConfig is
// EngineConfig without the defaults (the server's configuration fills those), the
// server's flags, environment variables and --help come from them (src/config.ts), and
// the native binding gets a complete, validated config and keeps no limits of its own
// (test/config-limits.test.ts keeps it that way).
import { Type, type Static, type TSchema } from 'typebox';

const int = (minimum: number, maximum: number, def: number, description: string) =>
  Type.Optional(Type.Integer({ minimum, maximum, default: def, description }));
const flag = (def: boolean, description: string) => Type.Optional(Type.Boolean({ default: def, description }));

/** Stop deadlines and time-outs: at most an hour. */
export const MAX_DEADLINE_MS = 3_600_000;

/** The thread-pool backends; "native" is the old name of "win32-threadpool", kept working. */
export const PoolBackend = Type.Union(
  [
    Type.Literal('portable', { description: 'the engine\'s own elastic pool, on every platform' }),
    Type.Literal('win32-threadpool', { description: 'the Windows Threadpool API (CreateThreadpoolWork); Windows only' }),
    Type.Literal('native', { deprecated: true, description: 'deprecated alias of "win32-threadpool"' }),
  ],
  { default: 'portable', description: 'thread-pool implementation ("native": deprecated alias of "win32-threadpool")' },
);
export type PoolBackend = Static<typeof PoolBackend>;

/** Options of `new Engine(options)`: fixed for the engine's lifetime. */
export const EngineOptions = Type.Object(
  {
    queueCapacity: int(1, 1 << 24, 65536, 'accepted-but-unprocessed events the queue holds'),
    idleTimeoutMs: int(1, MAX_DEADLINE_MS, 1000, 'event-thread idle time-out that drives its periodic work, ms'),
    maxPlayers: int(1, 10_000_000, 100_000, 'players the World holds (online or known); past it a LOGIN is world_full'),
    chatLogCapacity: int(1, 1_000_000, 256, 'chat messages the World keeps'),
    worldSize: int(1, 1_000_000_000, 100_000, 'the square world: players\' x and y stay within ±worldSize'),
    ticketSecret: Type.Optional(
      Type.String({ maxLength: 1024, default: '', description: 'the secret game tickets are signed with (POST /v1/tickets); a game port with ticket auth needs one' }),
    ),
  },
  { $id: 'EngineOptions', additionalProperties: false },
);
export type EngineOptions = Static<typeof EngineOptions>;

/** Configuration of `engine.start(config)`: every field optional, each has a default. */
export const EngineConfig = Type.Object(
  {
    loopThreads: int(1, 256, 1, 'game-loop threads (gs-loop-N)'),
    tickRateHz: int(1, 1000, 60, 'game-loop tick rate, on absolute deadlines'),
    tickWorkUs: int(0, 1_000_000, 0, 'synthetic CPU work per tick, µs'),
    poolMinThreads: int(0, 512, 2, 'thread-pool minimum (gs-pool-N)'),
    poolMaxThreads: int(1, 512, 8, 'thread-pool maximum'),
    poolIdleTimeoutMs: int(1, MAX_DEADLINE_MS, 5000, 'idle pool threads above the minimum retire after this, ms'),
    poolQueueCapacity: int(1, 1 << 24, 65536, 'queued pool work items'),
    poolBackend: Type.Optional(PoolBackend),
    serverName: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9_-]{1,48}$', default: 'gamesrv', description: 'names the pipe and the shared-memory segment' }),
    ),
    iocp: flag(true, 'the completion port and its threads (gs-iocp-N)'),
    iocpThreads: int(1, 64, 2, 'completion-port threads, and its concurrency limit'),
    pipe: flag(true, 'the inter-server pipe server, on the completion port (needs iocp)'),
    pipePath: Type.Optional(
      Type.String({
        maxLength: 107,
        default: '',
        description: 'the pipe\'s socket path, at most 107 bytes; "": $XDG_RUNTIME_DIR/gamesrv-<serverName>.sock, else /tmp/gamesrv-<uid>-<serverName>.sock',
      }),
    ),
    monitor: flag(true, 'the shared-memory status segment'),
    shutdownDeadlineMs: int(0, MAX_DEADLINE_MS, 5000, 'stop deadline when a pipe SHUTDOWN asks the engine to stop, and for close(), ms'),
    taskHistory: int(1, 1_000_000, 1024, 'finished tasks kept for task(id)'),
    maxActiveTasks: int(1, 1_000_000, 65536, 'queued + running tasks; more is 429 TOO_MANY_TASKS'),
    maxTaskFiringsPerSec: int(1, 10_000_000, 10_000, 'timer firings a second of all periodic tasks together; a task past it is 429 TOO_MANY_TASKS'),
    dbLatencyUs: int(0, 10_000_000, 2000, 'latency of the simulated database, µs'),
    dataDir: Type.Optional(
      Type.String({
        maxLength: 4096,
        default: '',
        description: 'the directory of the engine\'s files (the SQLite database, the journal), created mode 0700 when missing; "": none, everything stays in memory',
      }),
    ),
    database: Type.Optional(
      Type.Union(
        [
          Type.Literal('simulated', { description: 'nothing persists; database tasks wait dbLatencyUs and return no rows' }),
          Type.Literal('sqlite', { description: 'players persist in <dataDir>/gamesrv.db; database tasks run read-only SQL' }),
          Type.Literal('postgres', { description: 'players persist in PostgreSQL at databaseUrl' }),
        ],
        {
          default: 'simulated',
          description: 'where players persist and database tasks run: "simulated", "sqlite" (needs dataDir) or "postgres" (needs databaseUrl)',
        },
      ),
    ),
    databaseUrl: Type.Optional(
      Type.String({ maxLength: 4096, default: '', description: 'the PostgreSQL connection URL (postgres://…) for database "postgres"' }),
    ),
    flushMs: int(1, MAX_DEADLINE_MS, 1000, 'changed players are written to the database this often (and at stop), ms'),
    leaseMs: int(
      1000,
      MAX_DEADLINE_MS,
      15_000,
      'a player row\'s owner lease (servers sharing a database): a server holds its online players\' rows this long past each renewal (every leaseMs/3, and each flush); another server admits such a player after the release or the expiry, ms',
    ),
    durability: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('journal')], {
        default: 'none',
        description:
          '"journal": an accepted event is on disk (<dataDir>/journal, group commit, fdatasync) before it is acknowledged, and a start replays the journal (docs/JOURNAL.md; needs dataDir); "none": acknowledged once queued, lost by a crash before it is applied',
      }),
    ),
    sessionPort: int(-1, 65535, -1, 'the TCP game port players connect to (docs/PROTOCOL.md); -1: none, 0: any free port'),
    gameHost: Type.Optional(
      Type.String({ maxLength: 64, default: '127.0.0.1', description: 'the game port\'s bind address, an IPv4 or IPv6 literal' }),
    ),
    gameAuth: Type.Optional(
      Type.Union([Type.Literal('ticket'), Type.Literal('none')], {
        default: 'ticket',
        description: 'HELLO carries a signed ticket ("ticket"), or just "<playerId>[:<name>]" ("none": local testing, loopback only)',
      }),
    ),
    aoiRadius: int(1, 1_000_000, 100, 'area of interest: the grid\'s cell size; a player sees its 3x3 cells'),
    replicationHz: int(0, 1000, 0, 'STATE frames a second to each session; 0: the tick rate'),
    maxSessions: int(1, 1_000_000, 10_000, 'game sessions open at once; past it a connection gets ERROR server_full'),
    sessionMessageRate: int(
      1,
      1_000_000,
      60,
      'frames a second a game session may send, sustained (bursts of twice that); over it ERROR rate_limited, the tenth offence KICK rate_limited',
    ),
  },
  { $id: 'EngineConfig', additionalProperties: false },
);
export type EngineConfig = Static<typeof EngineConfig>;

/** Options of flush(), waitTask() and waitForState(). */
export const WaitOptions = Type.Object(
  { timeoutMs: int(0, MAX_DEADLINE_MS, 30_000, 'how long to wait before TIMEOUT, ms') },
  { $id: 'WaitOptions', additionalProperties: false },
);

/** Every field's `default`, as the complete object the binding takes. */
function defaultsOf<T extends TSchema & { properties: Record<string, TSchema> }>(schema: T): Required<Static<T>> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema.properties)) {
    const value = (field as { default?: unknown }).default;
    if (value === undefined) throw new Error(`${key} has no default`);
    out[key] = value;
  }
  return out as Required<Static<T>>;
}

export const ENGINE_OPTION_DEFAULTS = defaultsOf(EngineOptions);
export const ENGINE_CONFIG_DEFAULTS = defaultsOf(EngineConfig);
export const WAIT_DEFAULTS = defaultsOf(WaitOptions);

/** The range of an integer field, for messages and the server's flags. */
export function rangeOf(field: TSchema): { minimum: number; maximum: number } | undefined {
  const { minimum, maximum } = field as { minimum?: unknown; maximum?: unknown };
  return typeof minimum === 'number' && typeof maximum === 'number' ? { minimum, maximum } : undefined;
}

/**
 * Body of POST /v1/engine/start: EngineConfig without `default` keywords (the request
 * validator would fill them in and override the server's configuration); each field's
 * description names the engine default instead.
 */
export const StartConfig = Type.Unsafe<EngineConfig>({
  $id: 'StartConfig',
  type: 'object',
  additionalProperties: false,
  description: 'every field optional; the server\'s configuration fills the rest',
  properties: Object.fromEntries(
    Object.entries(EngineConfig.properties).map(([key, field]) => {
      const { default: def, description, ...rest } = field as { default?: unknown; description?: string };
      return [key, { ...rest, description: `${description ?? key}; engine default: ${JSON.stringify(def)}` }];
    }),
  ),
});
export type StartConfig = Static<typeof StartConfig>;
