import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { ref } from '../schemas/common.js';
import { Health, Ready } from '../schemas/engine.js';

// /v1/health (liveness) and /v1/ready (readiness).
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/health',
    { schema: { tags: ['health'], operationId: 'getHealth', summary: 'Liveness: the process answers', response: { 200: ref(Health) } } },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/v1/ready',
    {
      schema: {
        tags: ['health'],
        operationId: 'getReady',
        summary: 'Readiness: 200 while the engine is running, 503 otherwise',
        response: { 200: ref(Ready), 503: ref(Ready) },
      },
    },
    async (_request, reply) => {
      const state = app.engineState.check();
      const ready = state === 'running';
      return reply.code(ready ? 200 : 503).send({ ready, state });
    },
  );
};

export default health;
