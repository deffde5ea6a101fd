// GET /v1/storage: where the players persist and how the journal stands, from the engine
// snapshot (the same numbers as GET /v1/stats `storage` and `journal`, /metrics, and the
// telemetry `storage` topic, which src/storage-status.ts makes the same way).
// POST /v1/storage/checkpoint: write the changed players now (and, with the journal, the
// checkpoint: the store then holds every event applied so far).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

import { problems, ref } from '../schemas/common.js';
import { NoOptions } from '../schemas/engine.js';
import { StorageStatus } from '../schemas/stats.js';
import { storageStatus } from '../storage-status.js';

const Checkpointed = Type.Object(
  {
    rows: Type.Integer({ description: 'players written' }),
    checkpointSeq: Type.Integer({ description: 'with the journal: the last event the store now holds (0 without one)' }),
  },
  { description: 'what the checkpoint wrote' },
);

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
    async () => storageStatus(app.engine.snapshot()),
  );

  app.post(
    '/v1/storage/checkpoint',
    {
      schema: {
        tags: ['stats'],
        operationId: 'checkpointStorage',
        summary: 'Write the changed players now and, with the journal, the checkpoint',
        description:
          'The periodic flush (--flush-ms) does the same on its own. 409 NO_DATABASE when no database is open (the engine is stopped, or its database is "simulated"); 503 STORAGE_ERROR when the write fails (the players stay changed for the next one).',
        body: Type.Union([ref(NoOptions), Type.Null()]),
        response: { 200: Checkpointed, ...problems(400, 401, 409, 413, 429, 503) },
      },
    },
    async () => app.engine.checkpointStorage(),
  );
};

export default storageRoutes;
