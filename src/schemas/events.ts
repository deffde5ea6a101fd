import { Type, type Static } from 'typebox';

import { discriminated } from './common.js';

/** The most events one request may carry (the body limit is sized for it). */
export const MAX_EVENTS_PER_REQUEST = 10_000;

/**
 * The World's limit on a chat line, in UTF-8 bytes (WorldConfig::maxChatBytes; the
 * binding's protocol.world.maxChatBytes, which test/protocol.test.ts compares). The
 * schema's maxLength counts characters, so the route checks bytes too.
 */
export const MAX_CHAT_BYTES = 512;

/**
 * A coordinate as docs/PROTOCOL.md's grammar has it: a decimal number, no '+', spaces,
 * hex, inf or nan. Finiteness (no overflow, no underflow to 0) is checked by
 * isProtocolCoordinate; test/coordinates.test.ts checks both against the engine's parser.
 */
const COORDINATE = '-?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][-+]?[0-9]+)?';
export const MOVE_TEXT_PATTERN = `^${COORDINATE},${COORDINATE}$`;
const COORDINATE_RE = new RegExp(`^${COORDINATE}$`);

/** What the engine's parseCoordinate accepts: the grammar, and a finite, representable value. */
export function isProtocolCoordinate(text: string): boolean {
  if (!COORDINATE_RE.test(text)) return false;
  const value = Number(text);
  // from_chars refuses what overflows, and what underflows to 0 from a non-zero mantissa.
  return Number.isFinite(value) && (value !== 0 || !/[1-9]/.test(text.split(/[eE]/)[0]!));
}

/**
 * For text that already matches MOVE_TEXT_PATTERN (the schema checked it): true when both
 * coordinates are representable. Number() is enough unless a value reads as 0 or not
 * finite; only then is the full check run.
 */
export function isRepresentableMove(text: string): boolean {
  const comma = text.indexOf(',');
  const x = Number(text.slice(0, comma));
  const y = Number(text.slice(comma + 1));
  return (
    (x !== 0 && Number.isFinite(x) ? true : isProtocolCoordinate(text.slice(0, comma))) &&
    (y !== 0 && Number.isFinite(y) ? true : isProtocolCoordinate(text.slice(comma + 1)))
  );
}

/** Player names: printable, as the pipe's LOGIN grammar has them (no control characters). */
export const NAME_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$';
/** The longest player name, in characters (LOGIN's data, a ticket's name). */
export const MAX_NAME_CHARS = 64;

export const playerId = Type.Integer({ minimum: 1, maximum: 4_294_967_295 });

export const GameEvent = discriminated(
  Type.Union([
    Type.Object(
      {
        type: Type.Literal('PLAYER_LOGIN'),
        playerId,
        data: Type.Optional(Type.String({ maxLength: MAX_NAME_CHARS, pattern: NAME_PATTERN, description: 'player name: no control characters' })),
      },
      { additionalProperties: false },
    ),
    Type.Object({ type: Type.Literal('PLAYER_LOGOUT'), playerId }, { additionalProperties: false }),
    Type.Object(
      {
        type: Type.Literal('PLAYER_MOVE'),
        playerId,
        data: Type.Union([
          Type.String({ maxLength: 64, pattern: MOVE_TEXT_PATTERN, description: '"x,y": decimal numbers as in docs/PROTOCOL.md (no spaces, "+", hex, inf or nan)' }),
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
      {
        type: Type.Literal('PLAYER_CHAT'),
        playerId,
        data: Type.String({ minLength: 1, maxLength: MAX_CHAT_BYTES, description: `1 to ${MAX_CHAT_BYTES} UTF-8 bytes` }),
      },
      { additionalProperties: false },
    ),
  ]),
  'type',
  { $id: 'GameEvent', description: 'one player event, chosen by `type`; each type has its own `data`' },
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
