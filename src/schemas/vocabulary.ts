// The engine's names that cross the wire: event types (in the native EventType's order:
// a type's code is its index), why the World refused an event, and the pipe's request
// types. The schemas build their enums from these; the engine facade re-exports them.

export const EVENT_TYPES = ['PLAYER_LOGIN', 'PLAYER_LOGOUT', 'PLAYER_MOVE', 'PLAYER_ATTACK', 'PLAYER_CHAT'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const INVALID_REASONS = [
  'bad_coordinates',
  'unknown_target',
  'target_offline',
  'bad_attack',
  'attacker_offline',
  'already_online',
  'not_online',
  'bad_chat',
  'world_full',
] as const;

export const PIPE_REQUEST_TYPES = ['PLAYER_LOGIN', 'PLAYER_LOGOUT', 'PLAYER_MOVE', 'SERVER_STATUS', 'SHUTDOWN'] as const;
