import { Type, type Static } from 'typebox';

import { MAX_NAME_CHARS, NAME_PATTERN, playerId } from './events.js';

/** The most tickets one request may ask for (10,000 bots: 10 requests). */
export const MAX_TICKETS_PER_REQUEST = 1_000;
/** A ticket's lifetime, seconds: its range and the default. */
export const TICKET_TTL = { minimum: 1, maximum: 86_400, default: 300 } as const;

export const TicketRequest = Type.Object(
  {
    playerId,
    name: Type.String({ minLength: 1, maxLength: MAX_NAME_CHARS, pattern: NAME_PATTERN, description: 'player name: no control characters' }),
    // No `default` keyword: Ajv cannot apply one inside TicketsBody's union; the route does.
    ttlSeconds: Type.Optional(
      Type.Integer({
        minimum: TICKET_TTL.minimum,
        maximum: TICKET_TTL.maximum,
        description: `seconds until the ticket expires; default ${TICKET_TTL.default}`,
      }),
    ),
  },
  { $id: 'TicketRequest', additionalProperties: false, description: 'who the ticket admits, and for how long' },
);
export type TicketRequest = Static<typeof TicketRequest>;

export const TicketsBody = Type.Union(
  [
    Type.Ref('TicketRequest'),
    Type.Object(
      { tickets: Type.Array(Type.Ref('TicketRequest'), { minItems: 1, maxItems: MAX_TICKETS_PER_REQUEST }) },
      { additionalProperties: false },
    ),
  ],
  { $id: 'TicketsBody', description: `one ticket request, or {tickets: [...]} with 1..${MAX_TICKETS_PER_REQUEST}` },
);
export type TicketsBody = TicketRequest | { tickets: TicketRequest[] };

export const IssuedTicket = Type.Object(
  {
    playerId: Type.Integer(),
    ticket: Type.String({ description: "HELLO's ticket, as is (ASCII; docs/PROTOCOL.md \"Tickets\")" }),
    expiresAt: Type.Integer({ description: 'Unix seconds; the ticket is valid before this' }),
  },
  { $id: 'IssuedTicket' },
);

export const TicketsIssued = Type.Object(
  { tickets: Type.Array(Type.Ref('IssuedTicket'), { description: 'in the order asked for' }) },
  { $id: 'TicketsIssued' },
);
export type TicketsIssued = { tickets: Static<typeof IssuedTicket>[] };
