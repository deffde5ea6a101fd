import { Type } from 'typebox';

import { AgonesStatus } from './agones.js';
import { EngineStateName, ref } from './common.js';
import { MAX_DEADLINE_MS, StartConfig } from './engine-config.js';

export { StartConfig };

const int = (min: number, max: number, description?: string) =>
  Type.Optional(Type.Integer({ minimum: min, maximum: max, ...(description ? { description } : {}) }));

/** Body of POST /v1/engine/pause and /resume: nothing, or an empty object. */
export const NoOptions = Type.Object({}, { $id: 'NoOptions', additionalProperties: false, description: 'takes no options' });

export const StopOptions = Type.Object(
  { deadlineMs: int(0, MAX_DEADLINE_MS, 'how long to wait for the drain and the joins (default: the server\'s --stop-deadline)') },
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
    agones: Type.Union([ref(AgonesStatus), Type.Null()], { description: 'the Agones lifecycle (--agones); null when off' }),
  },
  { $id: 'EngineStatus' },
);

export const Health = Type.Object({ status: Type.Literal('ok') }, { $id: 'Health' });
export const Ready = Type.Object({ ready: Type.Boolean(), state: ref(EngineStateName) }, { $id: 'Ready' });
