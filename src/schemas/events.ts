import { Type, type Static } from 'typebox';

import { discriminated } from './common.js';

/** The most events one request may carry (the body limit is sized for it). */
export const MAX_EVENTS_PER_REQUEST = 10_000;

const playerId = Type.Integer({ minimum: 1, maximum: 4_294_967_295 });

export const GameEvent = discriminated(
  Type.Union([
    Type.Object(
      { type: Type.Literal('PLAYER_LOGIN'), playerId, data: Type.Optional(Type.String({ maxLength: 64, description: 'player name' })) },
      { additionalProperties: false },
    ),
    Type.Object({ type: Type.Literal('PLAYER_LOGOUT'), playerId }, { additionalProperties: false }),
    Type.Object(
      {
        type: Type.Literal('PLAYER_MOVE'),
        playerId,
        data: Type.Union([
          Type.String({ maxLength: 64, description: '"x,y"' }),
          Type.Object({ x: Type.Number(), y: Type.Number() }, { additionalProperties: false }),
        ]),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('PLAYER_ATTACK'),
        playerId,
        data: Type.Object({ target: playerId, damage: Type.Number({ minimum: 0 }) }, { additionalProperties: false }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      { type: Type.Literal('PLAYER_CHAT'), playerId, data: Type.String({ maxLength: 1000 }) },
      { additionalProperties: false },
    ),
  ]),
  'type',
  { $id: 'GameEvent', description: 'one player event; `data` by type as in DESIGN.md "The World"' },
);
export type GameEvent = Static<typeof GameEvent>;

export const EventsBody = Type.Union(
  [
    Type.Ref('GameEvent'),
    Type.Object(
      { events: Type.Array(Type.Ref('GameEvent'), { minItems: 1, maxItems: MAX_EVENTS_PER_REQUEST }) },
      { additionalProperties: false },
    ),
  ],
  { $id: 'EventsBody', description: `one event, or {events: [...]} with 1..${MAX_EVENTS_PER_REQUEST} events accepted all-or-nothing` },
);
export type EventsBody = GameEvent | { events: GameEvent[] };

export const EventsAccepted = Type.Object(
  {
    accepted: Type.Integer(),
    firstSeq: Type.Integer({ description: 'sequence number of the first event, inclusive' }),
    lastSeq: Type.Integer({ description: 'sequence number of the last event, inclusive' }),
    available: Type.Integer({ description: 'free queue capacity after the batch' }),
  },
  { $id: 'EventsAccepted' },
);
