// GET /v1/stats: the engine snapshot as JSON (the same numbers /metrics exposes).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { ref } from '../schemas/common.js';
import { EngineSnapshot } from '../schemas/stats.js';

const statsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/stats',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getStats',
        summary: 'Every counter and histogram of every engine subsystem',
        response: { 200: ref(EngineSnapshot) },
      },
    },
    async () => app.engine.snapshot(),
  );
};

export default statsRoutes;
