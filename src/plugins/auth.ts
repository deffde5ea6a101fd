// Bearer-token check for every mutating request (and, through `app.authorize`, for the
// telemetry WebSocket's control messages). Off when no token is configured.
import { createHash, timingSafeEqual } from 'node:crypto';

import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

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

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const digest = (s: string) => createHash('sha256').update(s).digest();

export function bearerOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

export default fp<AuthOptions>(
  async (app, opts) => {
    const token = opts.token !== undefined && opts.token !== '' ? opts.token : undefined;
    // Comparing fixed-length digests keeps the time independent of where, and whether
    // by length, a wrong token differs.
    const expected = token !== undefined ? digest(token) : undefined;
    const authorize = (header: string | undefined): boolean => {
      if (expected === undefined) return true;
      const given = bearerOf(header);
      return given !== undefined && timingSafeEqual(digest(given), expected);
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
