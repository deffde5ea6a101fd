import { Type, type Static } from 'typebox';

import { EngineStateName, ref } from './common.js';

const int = (min: number, max: number, description?: string) =>
  Type.Optional(Type.Integer({ minimum: min, maximum: max, ...(description ? { description } : {}) }));

/** Body of POST /v1/engine/start; every field optional, the server's configuration fills the rest. */
export const StartConfig = Type.Object(
  {
    loopThreads: int(1, 256, 'game-loop threads'),
    tickRateHz: int(1, 1000, 'game-loop tick rate'),
    tickWorkUs: int(0, 1_000_000, 'synthetic work per tick, µs'),
    poolMinThreads: int(0, 512),
    poolMaxThreads: int(1, 512),
    poolIdleTimeoutMs: int(1, 3_600_000),
    poolQueueCapacity: int(1, 1 << 24),
    serverName: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,48}$', description: 'names the pipe and the shared-memory segment' })),
    iocp: Type.Optional(Type.Boolean()),
    iocpThreads: int(1, 64),
    pipe: Type.Optional(Type.Boolean()),
    monitor: Type.Optional(Type.Boolean()),
    shutdownDeadlineMs: int(0, 3_600_000),
    taskHistory: int(1, 1_000_000),
    maxActiveTasks: int(1, 1_000_000),
    maxTaskFiringsPerSec: int(1, 10_000_000, 'timer firings a second of all periodic tasks together; a task past it is 429 TOO_MANY_TASKS'),
    dbLatencyUs: int(0, 10_000_000),
  },
  { $id: 'StartConfig', additionalProperties: false },
);
export type StartConfig = Static<typeof StartConfig>;

/** Body of POST /v1/engine/pause and /resume: nothing, or an empty object. */
export const NoOptions = Type.Object({}, { $id: 'NoOptions', additionalProperties: false, description: 'takes no options' });

export const StopOptions = Type.Object(
  { deadlineMs: int(0, 3_600_000, 'how long to wait for the drain and the joins (default: the server\'s --stop-deadline)') },
  { $id: 'StopOptions', additionalProperties: false },
);

export const Transition = Type.Object(
  { state: ref(EngineStateName) },
  { $id: 'Transition', description: 'the state the engine is in after the transition' },
);

export const StopReport = Type.Object(
  {
    state: ref(EngineStateName),
    drained: Type.Boolean({ description: 'every accepted event was processed before the deadline' }),
    poolJoined: Type.Boolean(),
    eventsDrained: Type.Integer(),
    tasksCancelled: Type.Integer(),
    durationMs: Type.Number(),
  },
  { $id: 'StopReport' },
);

export const EngineStatus = Type.Object(
  {
    state: ref(EngineStateName),
    uptimeMs: Type.Number(),
    starts: Type.Integer(),
    config: ref(StartConfig),
    players: Type.Object({ online: Type.Integer(), known: Type.Integer() }),
    events: Type.Object({
      accepted: Type.Integer(),
      processed: Type.Integer(),
      queueDepth: Type.Integer(),
      queueCapacity: Type.Integer(),
    }),
    tasks: Type.Object({ submitted: Type.Integer(), active: Type.Integer() }),
  },
  { $id: 'EngineStatus' },
);

export const Health = Type.Object({ status: Type.Literal('ok') }, { $id: 'Health' });
export const Ready = Type.Object({ ready: Type.Boolean(), state: ref(EngineStateName) }, { $id: 'Ready' });
