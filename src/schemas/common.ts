// Shared building blocks of the API's schemas. Every named schema carries an `$id`, is
// registered once with app.addSchema (src/plugins/schemas.ts) and is used in routes
// through ref(), so the OpenAPI document names it and generated clients get its type.
import { Type, type Static, type TSchema } from 'typebox';

/** A `$ref` to a registered schema, typed as that schema. */
export function ref<T extends TSchema>(schema: T) {
  const id = (schema as { $id?: unknown }).$id;
  if (typeof id !== 'string') throw new Error('ref() needs a schema with an $id');
  return Type.Unsafe<Static<T>>(Type.Ref(id));
}

/**
 * A union told apart by one property (`type` of an event, `kind` of a task): `oneOf` +
 * `discriminator`, so the validator checks only the branch the client named and says
 * which field is wrong, and OpenAPI generators produce a tagged union.
 */
export function discriminated<T extends TSchema & { anyOf: TSchema[] }>(union: T, propertyName: string, options: Record<string, unknown>) {
  return Type.Unsafe<Static<T>>({ ...options, type: 'object', oneOf: union.anyOf, discriminator: { propertyName } });
}

export const ENGINE_STATES = ['stopped', 'starting', 'running', 'paused', 'stopping'] as const;

export const EngineStateName = Type.Enum(ENGINE_STATES, {
  $id: 'EngineStateName',
  type: 'string',
  description: 'stopped → starting → running ⇄ paused → stopping → stopped',
});

/** RFC 9457 problem details; every error response of the API has this shape. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI naming the problem type; see docs/API.md' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.Optional(Type.String({ description: 'the request path' })),
    code: Type.Optional(Type.String({ description: 'stable machine-readable code, e.g. QUEUE_FULL' })),
    field: Type.Optional(Type.String({ description: 'JSON pointer-like path of the failing field' })),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), {
        description: 'every validation failure',
      }),
    ),
    state: Type.Optional(ref(EngineStateName)),
    available: Type.Optional(Type.Integer({ description: 'free queue capacity when QUEUE_FULL' })),
    index: Type.Optional(Type.Integer({ description: 'index of the offending event in a batch' })),
    retryAfterSeconds: Type.Optional(Type.Integer()),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' },
);
export type Problem = Static<typeof Problem>;

export const Histogram = Type.Object(
  {
    count: Type.Number(),
    mean: Type.Number(),
    min: Type.Number(),
    p50: Type.Number(),
    p90: Type.Number(),
    p99: Type.Number(),
    p999: Type.Number(),
    max: Type.Number(),
  },
  { $id: 'Histogram', description: 'percentiles in the unit named by the field (Us = microseconds)' },
);

export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1 }) });

/** A problem response as the document shows it: application/problem+json with the Problem schema. */
function problemResponse() {
  return { description: 'RFC 9457 problem details', content: { 'application/problem+json': { schema: ref(Problem) } } };
}

/** Problem responses for a route: `problems(400, 409)`. */
export function problems(...codes: number[]): Record<number, ReturnType<typeof problemResponse>> {
  const out: Record<number, ReturnType<typeof problemResponse>> = {};
  for (const c of codes) out[c] = problemResponse();
  return out;
}
