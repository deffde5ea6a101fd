import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { HttpProblem } from '../problems.js';
import { problems, ref } from '../schemas/common.js';
import { PipeMessage, PipeReply } from '../schemas/ipc.js';
import { MonitorStatus } from '../schemas/monitor.js';

const ioRoutes: FastifyPluginAsyncTypebox = async (app) => {
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

  app.post(
    '/v1/ipc/messages',
    {
      schema: {
        tags: ['io'],
        operationId: 'sendPipeMessage',
        summary: "Send one InterServerMessage to this engine's pipe server, as another server would",
        description: 'SHUTDOWN stops the engine. See docs/PROTOCOL.md for the frame and payloads.',
        body: ref(PipeMessage),
        response: { 200: ref(PipeReply), ...problems(400, 401, 409, 413, 429, 502, 504) },
      },
    },
    async (request) => {
      const { type, data, timeoutMs } = request.body;
      const reply = await app.engine.pipeRequest(type, data ?? '', { timeoutMs: timeoutMs ?? 5000 });
      app.engineState.check();
      return reply;
    },
  );
};

export default ioRoutes;
