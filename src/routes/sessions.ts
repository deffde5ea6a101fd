import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

import { HttpProblem } from '../problems.js';
import { IdParams, problems, ref } from '../schemas/common.js';
import { Broadcasted, BroadcastBody, DrainOptions, DrainReport, KickBody, SessionList, SessionListQuery } from '../schemas/sessions.js';

// An empty POST or DELETE (curl -X …) has no body: the schemas accept that as "no options".
const optional = <T extends Parameters<typeof ref>[0]>(s: T) => Type.Union([ref(s), Type.Null()]);

const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/sessions',
    {
      schema: {
        tags: ['sessions'],
        operationId: 'listSessions',
        summary: 'Game sessions (the TCP game port), by id, a page at a time (limit, offset)',
        querystring: SessionListQuery,
        response: { 200: ref(SessionList), ...problems(400) },
      },
    },
    async (request, reply) => {
      const limit = request.query.limit ?? 100;
      const offset = request.query.offset ?? 0;
      // One more than the page tells whether there is a next one.
      const rows = app.engine.sessions({ offset, limit: limit + 1 });
      const sessions = rows.slice(0, limit);
      const next = rows.length > limit ? `/v1/sessions?limit=${limit}&offset=${offset + limit}` : null;
      if (next !== null) reply.header('link', `<${next}>; rel="next"`);
      return { sessions, next };
    },
  );

  app.delete(
    '/v1/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        operationId: 'kickSession',
        summary: 'Kick a session: KICK operator with the reason, then close',
        params: IdParams,
        body: optional(KickBody),
        response: { 204: Type.Null(), ...problems(400, 401, 404, 413, 429) },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      if (id > 0xffffffff || !app.engine.kickSession(id, request.body?.reason ?? 'kicked by an operator')) {
        throw new HttpProblem(404, 'Not found', `no open session ${id}`, { code: 'NOT_FOUND' });
      }
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/broadcast',
    {
      schema: {
        tags: ['sessions'],
        operationId: 'broadcast',
        summary: 'A NOTICE to every game session',
        body: ref(BroadcastBody),
        response: { 200: ref(Broadcasted), ...problems(400, 401, 413, 429) },
      },
    },
    async (request) => ({ sessions: app.engine.broadcast(request.body.text) }),
  );

  app.post(
    '/v1/engine/drain',
    {
      schema: {
        tags: ['engine'],
        operationId: 'drainEngine',
        summary: 'Drain, then stop: refuse new players, NOTICE every session, wait until none is left or the deadline passes (then kick the rest)',
        body: optional(DrainOptions),
        response: { 200: ref(DrainReport), ...problems(400, 401, 409, 413, 429) },
      },
    },
    async (request) => {
      const state = app.engineState.check();
      if (state !== 'running' && state !== 'paused') {
        throw new HttpProblem(409, 'Wrong engine state', `cannot drain while ${state}`, { code: 'INVALID_STATE', state });
      }
      const handoffUrl = request.body?.handoffUrl ?? app.handoffUrl;
      try {
        const report = await app.engine.drain({
          deadlineMs: request.body?.deadlineMs ?? 30_000,
          stopDeadlineMs: app.stopDeadlineMs,
          ...(request.body?.notice !== undefined ? { notice: request.body.notice } : {}),
          ...(handoffUrl ? { handoffUrl } : {}),
        });
        // The drain stopped the engine, whose stop made the final storage flush: only now
        // may Agones delete this server.
        await app.agones?.shutdown();
        return report;
      } finally {
        app.engineState.check();
      }
    },
  );
};

export default sessionRoutes;
