// Bearer-token check for every mutating request (and, through `app.authorize`, for the
// telemetry WebSocket's control messages). Off when no token is configured.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

import { SAFE_METHODS } from '../methods.js';
import { HttpProblem } from '../problems.js';
import { problems } from '../schemas/common.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** True when `header` (an Authorization value) carries the token, or no token is set. */
    authorize(header: string | undefined): boolean;
    authEnabled: boolean;
  }
}

export interface AuthOptions {
  token?: string | undefined;
}


export function bearerOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/**
 * Whether `given` is `expected`, in a time that depends only on the expected length:
 * every code unit is compared, whether or where a wrong token differs (a length mismatch
 * is folded into the same result). No buffers or hashes per request: an ArrayBuffer a
 * request, or hashing both sides, cost microseconds (bench/http.bench.ts).
 */
export function sameSecret(given: string, expected: string): boolean {
  let diff = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) diff |= (given.charCodeAt(i) | 0) ^ expected.charCodeAt(i);
  return diff === 0;
}

export default fp<AuthOptions>(
  async (app, opts) => {
    const token = opts.token !== undefined && opts.token !== '' ? opts.token : undefined;
    const expected = token;
    const authorize = (header: string | undefined): boolean => {
      if (expected === undefined) return true;
      const given = bearerOf(header);
      return given !== undefined && sameSecret(given, expected);
    };
    app.decorate('authorize', authorize);
    app.decorate('authEnabled', expected !== undefined);
    // A callback hook (no promise per request).
    const check = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
      if (SAFE_METHODS.has(request.method) || authorize(request.headers.authorization)) return done();
      reply.header('www-authenticate', 'Bearer realm="gamesrv"');
      done(
        new HttpProblem(401, 'Unauthorized', 'this route needs Authorization: Bearer <token> (GAMESRV_TOKEN, --token-file or the generated token file)', {
          code: 'UNAUTHORIZED',
        }),
      );
    };
    // A route-level hook, appended after the rate limit's (which @fastify/rate-limit also
    // adds per route, and which a context-level hook would run before): a request with a
    // wrong token counts against the limit. The OpenAPI document says which operations
    // take the token (whether or not one is set).
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (methods.every((m) => SAFE_METHODS.has(m))) return;
      if (!route.schema?.hide) route.schema = { ...route.schema, security: [{ bearer: [] }], response: { ...problems(401), ...(route.schema?.response as object) } };
      if (expected === undefined) return;
      const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [...existing, check];
    });
  },
  { name: 'gamesrv-auth' },
);
