import { Type } from 'typebox';

export const PIPE_REQUEST_TYPES = ['PLAYER_LOGIN', 'PLAYER_LOGOUT', 'PLAYER_MOVE', 'SERVER_STATUS', 'SHUTDOWN'] as const;

export const PipeMessage = Type.Object(
  {
    type: Type.Enum(PIPE_REQUEST_TYPES, { type: 'string' }),
    data: Type.Optional(Type.String({ maxLength: 1024, description: 'payload; see docs/PROTOCOL.md' })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000, description: 'default 5000' })),
  },
  { $id: 'PipeMessage', additionalProperties: false },
);

export const PipeReply = Type.Object(
  {
    type: Type.Enum(['ACK', 'STATUS_REPLY', 'ERROR'], { type: 'string' }),
    typeCode: Type.Integer(),
    data: Type.String(),
  },
  { $id: 'PipeReply' },
);
