// POST /v1/ipc/messages: one message to this engine's pipe server, as another server sends it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import { problems, ref } from '../schemas/common.js';
import { PipeMessage, PipeReply } from '../schemas/ipc.js';

const ipcRoutes: FastifyPluginAsyncTypebox = async (app) => {
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

export default ipcRoutes;
