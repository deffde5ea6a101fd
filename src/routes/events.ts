import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

import type { GameEventInput } from '../engine/index.js';
import { problems, ref } from '../schemas/common.js';
import { EventsAccepted, type EventsBody, isRepresentableMove, MAX_CHAT_BYTES, MAX_EVENTS_PER_REQUEST } from '../schemas/events.js';
import { HttpProblem } from '../problems.js';

/** Room for MAX_EVENTS_PER_REQUEST events with ~400-byte chat lines. */
export const EVENTS_BODY_LIMIT = 4 * 1024 * 1024;

/** 400 for event `index`'s data (the field named as the schema's errors name it). */
function invalidData(body: EventsBody, index: number, why: string): HttpProblem {
  const field = 'events' in body ? `body/events/${index}/data` : 'body/data';
  return new HttpProblem(400, 'Invalid request', `${field}: ${why}`, { code: 'VALIDATION', field, index });
}

const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/events',
    {
      bodyLimit: EVENTS_BODY_LIMIT,
      schema: {
        tags: ['events'],
        operationId: 'enqueueEvents',
        summary: `Enqueue one event or a batch of up to ${MAX_EVENTS_PER_REQUEST}, all or nothing`,
        description:
          'A full queue answers 429 with Retry-After and accepts nothing of the batch. While paused, events are accepted and queue up. ' +
          'With durability "journal" the 202 comes once the batch is on disk (docs/JOURNAL.md); a full journal is 429 JOURNAL_FULL, a failed write 503 JOURNAL_IO_ERROR (nothing applied).',
        body: Type.Unsafe<EventsBody>(Type.Ref('EventsBody')),
        response: { 202: ref(EventsAccepted), ...problems(400, 401, 409, 413, 429, 503) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const batch = ('events' in body ? body.events : [body]) as GameEventInput[];
      // What a JSON schema cannot say: chat length in bytes, and coordinates the engine can represent.
      for (let i = 0; i < batch.length; i++) {
        const e = batch[i]!;
        if (e.type === 'PLAYER_CHAT' && Buffer.byteLength(e.data as string, 'utf8') > MAX_CHAT_BYTES) {
          throw invalidData(body, i, `a chat line is at most ${MAX_CHAT_BYTES} UTF-8 bytes`);
        }
        if (e.type === 'PLAYER_MOVE' && typeof e.data === 'string' && !isRepresentableMove(e.data)) {
          throw invalidData(body, i, `${JSON.stringify(e.data)} is out of the range of a double`);
        }
      }
      // durability "none": the result at once; "journal": once the batch's commit completed.
      const accepted = app.engine.acceptEvents(batch);
      return reply.code(202).send(accepted instanceof Promise ? await accepted : accepted);
    },
  );
};

export default eventRoutes;
