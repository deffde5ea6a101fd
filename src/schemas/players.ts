import { Type } from 'typebox';

export const Player = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    online: Type.Boolean(),
    x: Type.Number(),
    y: Type.Number(),
    hp: Type.Number(),
    kills: Type.Integer(),
    lastSeenMs: Type.Number(),
  },
  { $id: 'Player' },
);

export const PlayerList = Type.Object(
  {
    online: Type.Integer({ description: 'players online in the whole World' }),
    known: Type.Integer({ description: 'players the World knows, online or not' }),
    players: Type.Array(Type.Ref('Player'), { description: 'this page, by id' }),
    next: Type.Union([Type.String(), Type.Null()], { description: 'the next page (also in the Link header), null on the last' }),
  },
  { $id: 'PlayerList' },
);

export const PlayerListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'players per page' })),
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: 4_294_967_295, default: 0, description: 'the cursor: players with an id above this' })),
});
