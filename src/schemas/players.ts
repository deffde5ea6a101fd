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
  { online: Type.Integer(), players: Type.Array(Type.Ref('Player')) },
  { $id: 'PlayerList' },
);
