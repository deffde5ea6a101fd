import { Type } from 'typebox';

/** The most lock operations one benchmark job may do: threads × iterations × kinds. */
export const MAX_LOCK_OPS_PER_JOB = 200_000_000;


export const LockBenchmarkRequest = Type.Object(
  {
    threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'default: the engine default (lockBenchmarkDefaults)' })),
    iterations: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'per thread; default: the engine default (lockBenchmarkDefaults)' })),
    kinds: Type.Optional(
      Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 32, uniqueItems: true, description: 'default: every kind; each at most once' }),
    ),
  },
  { $id: 'LockBenchmarkRequest', additionalProperties: false },
);

export const LockBenchmarkRow = Type.Object(
  {
    kind: Type.String(),
    description: Type.String(),
    threads: Type.Integer(),
    iterations: Type.Integer(),
    elapsedMs: Type.Number(),
    opsPerSec: Type.Number(),
    ratioToFastest: Type.Number({ description: 'fastest ops/s divided by this row\'s' }),
    expectedCount: Type.Number(),
    finalCount: Type.Number(),
    exact: Type.Boolean(),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'LockBenchmarkRow' },
);

export const Job = Type.Object(
  {
    id: Type.String(),
    kind: Type.Literal('lock-benchmark'),
    status: Type.Enum(['running', 'done', 'failed', 'cancelled'], { type: 'string' }),
    progress: Type.Object({ rowsDone: Type.Integer(), rowsTotal: Type.Integer(), percent: Type.Number() }),
    createdAtMs: Type.Number(),
    finishedAtMs: Type.Union([Type.Number(), Type.Null()]),
    request: Type.Ref('LockBenchmarkRequest'),
    rows: Type.Union([Type.Array(Type.Ref('LockBenchmarkRow')), Type.Null()], { description: 'the table, once done' }),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'Job' },
);

export const JobCancelled = Type.Object(
  { id: Type.String(), cancelled: Type.Boolean({ description: 'false when the job had already finished' }), job: Type.Ref('Job') },
  { $id: 'JobCancelled' },
);

export const JobAccepted = Type.Object(
  { id: Type.String(), location: Type.String() },
  { $id: 'JobAccepted' },
);
