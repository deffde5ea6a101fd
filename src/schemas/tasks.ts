import { Type, type Static } from 'typebox';

import { discriminated } from './common.js';

export const TASK_KINDS = ['player-update', 'game-logic', 'database'] as const;
export const TASK_STATUSES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;

const schedule = {
  delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000, description: 'run once after this delay' })),
  intervalMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400_000, description: 'run every intervalMs until cancelled' })),
};

export const TaskSpec = discriminated(
  Type.Union([
    Type.Object(
      {
        kind: Type.Literal('player-update'),
        playerId: Type.Integer({ minimum: 1, maximum: 4_294_967_295 }),
        data: Type.Optional(Type.String({ maxLength: 1000 })),
        ...schedule,
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: Type.Literal('game-logic'),
        rateHz: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 60' })),
        ticks: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'stop after this many ticks; required unless forever' })),
        forever: Type.Optional(Type.Literal(true, { description: 'run until cancelled (instead of ticks)' })),
        ...schedule,
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: Type.Literal('database'),
        query: Type.String({ minLength: 1, maxLength: 4000, description: 'one read-only SQL statement (SELECT / WITH); ? placeholders take params' }),
        params: Type.Optional(
          Type.Array(Type.Union([Type.Null(), Type.Number(), Type.String({ maxLength: 4000 })]), {
            maxItems: 999,
            description: 'values bound to the ?-placeholders, in order',
          }),
        ),
        maxRows: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'rows kept, default 1000; more rows make the result "truncated": true' })),
        timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000, description: 'the query\'s time limit, default 5000 ms' })),
        ...schedule,
      },
      { additionalProperties: false },
    ),
  ]),
  'kind',
  { $id: 'TaskSpec', description: 'a task; the fields by kind' },
);
export type TaskSpec = Static<typeof TaskSpec>;

export const TaskCreated = Type.Object(
  { id: Type.Integer(), location: Type.String({ description: 'path of the task' }) },
  { $id: 'TaskCreated' },
);

export const Task = Type.Object(
  {
    id: Type.Integer(),
    kind: Type.Enum(TASK_KINDS, { type: 'string' }),
    status: Type.Enum(TASK_STATUSES, { type: 'string' }),
    result: Type.Union([Type.String(), Type.Null()], {
      description:
        'JSON text produced by the task. database (sqlite, postgres): {"columns":[...],"rows":[[...],...],"rowCount":N,"truncated":false,"latencyUs":N} ' +
        '(blobs as hex strings); database (simulated): {"query":"...","rows":[],"latencyUs":N}',
    }),
    error: Type.Union([Type.String(), Type.Null()]),
    runs: Type.Integer(),
    createdAtMs: Type.Number(),
    startedAtMs: Type.Union([Type.Number(), Type.Null()]),
    finishedAtMs: Type.Union([Type.Number(), Type.Null()]),
  },
  { $id: 'Task' },
);

export const TaskList = Type.Object(
  {
    tasks: Type.Array(Type.Ref('Task'), { description: 'this page, newest (highest id) first' }),
    next: Type.Union([Type.String(), Type.Null()], { description: 'the next page (also in the Link header), null on the last' }),
  },
  { $id: 'TaskList' },
);

export const TaskCancelled = Type.Object(
  { id: Type.Integer(), cancelled: Type.Boolean({ description: 'false when the task had already finished' }), task: Type.Ref('Task') },
  { $id: 'TaskCancelled' },
);

export const TaskListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'tasks per page' })),
  after: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1, description: 'the cursor: the page after this task, i.e. tasks with a lower id' }),
  ),
});
