// GET /v1/storage: where the players persist and how the journal stands, from the engine
// snapshot (the same numbers as GET /v1/stats `storage` and `journal`, and /metrics).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { ref } from '../schemas/common.js';
import { StorageStatus } from '../schemas/stats.js';

const storageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/storage',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getStorage',
        summary: 'The database and the journal: backend, location, schema version, checkpoint, flushes, segments',
        response: { 200: ref(StorageStatus) },
      },
    },
    async () => {
      const s = app.engine.snapshot();
      return { storage: s.storage, journal: s.journal };
    },
  );
};

export default storageRoutes;
