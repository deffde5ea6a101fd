import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { HttpProblem } from '../problems.js';
import { IdParams, problems, ref } from '../schemas/common.js';
import { Player, PlayerList } from '../schemas/players.js';

const playerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/players',
    { schema: { tags: ['players'], operationId: 'listPlayers', summary: 'Every player the World knows', response: { 200: ref(PlayerList) } } },
    async () => {
      const players = app.engine.players();
      return { online: players.filter((p) => p.online).length, players };
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
