import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { HttpProblem } from '../problems.js';
import { problems, ref } from '../schemas/common.js';
import { MonitorStatus } from '../schemas/monitor.js';

// GET /v1/monitor: the shared-memory status segment.
const monitorRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/monitor',
    {
      schema: {
        tags: ['io'],
        operationId: 'getMonitor',
        summary: 'The shared-memory status segment, read the way another process reads it',
        response: { 200: ref(MonitorStatus), ...problems(503) },
      },
    },
    async () => {
      const m = app.engine.snapshot().monitor;
      if (!m.enabled || m.serverName === '') {
        throw new HttpProblem(503, 'Monitor unavailable', 'the status segment is not published (engine stopped, or started with monitor: false)', {
          code: 'MONITOR_ERROR',
        });
      }
      return app.engine.readMonitor();
    },
  );
};

export default monitorRoutes;
