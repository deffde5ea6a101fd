import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { HttpProblem } from '../problems.js';
import { IdParams, problems, ref } from '../schemas/common.js';
import { Player, PlayerList, PlayerListQuery } from '../schemas/players.js';

const playerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/players',
    {
      schema: {
        tags: ['players'],
        operationId: 'listPlayers',
        summary: 'The players the World knows, by id, a page at a time (limit, after)',
        querystring: PlayerListQuery,
        response: { 200: ref(PlayerList), ...problems(400) },
      },
    },
    async (request, reply) => {
      const limit = request.query.limit ?? 100;
      const { players, more, online, known } = app.engine.playersAfter(request.query.after ?? 0, limit);
      const last = players.at(-1);
      const next = more && last !== undefined ? `/v1/players?limit=${limit}&after=${last.id}` : null;
      if (next !== null) reply.header('link', `<${next}>; rel="next"`);
      return { online, known, players, next };
    },
  );
  app.get(
    '/v1/players/:id',
    {
      schema: {
        tags: ['players'],
        operationId: 'getPlayer',
        summary: 'One player: position, hp, kills, online',
        params: IdParams,
        response: { 200: ref(Player), ...problems(400, 404) },
      },
    },
    async (request) => {
      const p = app.engine.player(request.params.id);
      if (!p) throw new HttpProblem(404, 'Not found', `no player ${request.params.id}`, { code: 'NOT_FOUND' });
      return p;
    },
  );
};

export default playerRoutes;
