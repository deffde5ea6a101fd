// POST /v1/tickets: the login server's step. Signs tickets a game client presents in
// HELLO; the engine's game port verifies them (src/tickets.ts, docs/PROTOCOL.md "Tickets").
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

import { problems, ref } from '../schemas/common.js';
import { MAX_TICKETS_PER_REQUEST, TICKET_TTL, TicketsIssued, type TicketRequest, type TicketsBody } from '../schemas/tickets.js';
import { signTicket } from '../tickets.js';

const ticketRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/tickets',
    {
      schema: {
        tags: ['tickets'],
        operationId: 'issueTickets',
        summary: `Issue login tickets for the game port: one, or a batch of up to ${MAX_TICKETS_PER_REQUEST}`,
        description:
          `Each ticket admits its player, under its name, until expiresAt (now + ttlSeconds, ${TICKET_TTL.minimum}..${TICKET_TTL.maximum}, ` +
          `default ${TICKET_TTL.default}). HMAC-SHA256 with the server's ticket secret; a session that presents one is that player's.`,
        body: Type.Unsafe<TicketsBody>(Type.Ref('TicketsBody')),
        response: { 201: ref(TicketsIssued), ...problems(400, 401, 413, 429) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const asked: TicketRequest[] = 'tickets' in body ? body.tickets : [body];
      const now = Math.floor(Date.now() / 1000);
      const secret = app.ticketSecret;
      const tickets = asked.map(({ playerId, name, ttlSeconds }) => {
        const expiresAt = now + (ttlSeconds ?? TICKET_TTL.default);
        return { playerId, ticket: signTicket(secret, { playerId, name, expiresAt }), expiresAt };
      });
      return reply.code(201).send({ tickets });
    },
  );
};

export default ticketRoutes;
