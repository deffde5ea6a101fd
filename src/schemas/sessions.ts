// The game port's sessions over HTTP: GET /v1/sessions, DELETE /v1/sessions/{id},
// POST /v1/broadcast, POST /v1/engine/drain (src/routes/sessions.ts).
import { Type, type Static } from 'typebox';

import { ref } from './common.js';
import { MAX_DEADLINE_MS } from './engine-config.js';
import { StopReport } from './engine.js';

/** NOTICE and KICK texts: a u16 length on the wire, kept to a readable line here. */
export const MAX_NOTICE_CHARS = 1000;

/**
 * A hand-off URL: where a drained server's players reconnect. No white space (it ends the
 * NOTICE's last line, docs/PROTOCOL.md "Drain and hand-off").
 */
export const HandoffUrl = Type.String({
  minLength: 1,
  maxLength: 512,
  pattern: '^\\S+$',
  description: 'where players reconnect: the drain NOTICE ends with a line "reconnect <url>"',
});

/** The drain NOTICE: the text, and with a hand-off URL a last line `reconnect <url>`. */
export function drainNoticeText(notice: string, handoffUrl?: string): string {
  return handoffUrl ? `${notice}\nreconnect ${handoffUrl}` : notice;
}

export const SessionInfo = Type.Object(
  {
    id: Type.Integer(),
    playerId: Type.Union([Type.Integer(), Type.Null()], { description: 'null until its HELLO was accepted' }),
    remote: Type.String({ description: 'the peer address, host:port' }),
    connectedAtMs: Type.Integer({ description: 'Unix ms' }),
    state: Type.Union([Type.Literal('awaiting-hello'), Type.Literal('live'), Type.Literal('closing')]),
    bytesIn: Type.Integer(),
    bytesOut: Type.Integer(),
    framesIn: Type.Integer(),
    framesOut: Type.Integer(),
    sendQueueBytes: Type.Integer({ description: 'queued, not yet written' }),
    droppedStates: Type.Integer({ description: 'STATE frames superseded before they were written' }),
    rttUs: Type.Union([Type.Integer(), Type.Null()], {
      description: "the connection's smoothed round-trip time as the OS measures it (Linux TCP_INFO), µs; null where the platform does not report one",
    }),
  },
  { $id: 'SessionInfo' },
);

export const SessionList = Type.Object(
  {
    sessions: Type.Array(ref(SessionInfo)),
    next: Type.Union([Type.String(), Type.Null()], { description: 'the next page, or null' }),
  },
  { $id: 'SessionList' },
);

export const SessionListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'sessions per page' })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0, description: 'sessions to skip, by id' })),
});

const Text = (description: string) => Type.String({ minLength: 1, maxLength: MAX_NOTICE_CHARS, description });

export const KickBody = Type.Object(
  { reason: Type.Optional(Text('the KICK text the player sees')) },
  { $id: 'KickBody', additionalProperties: false },
);

export const BroadcastBody = Type.Object({ text: Text('the NOTICE every session gets') }, { $id: 'BroadcastBody', additionalProperties: false });
export type BroadcastBody = Static<typeof BroadcastBody>;

export const Broadcasted = Type.Object({ sessions: Type.Integer({ description: 'sessions the NOTICE was queued to' }) }, { $id: 'Broadcasted' });

export const DrainOptions = Type.Object(
  {
    deadlineMs: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_DEADLINE_MS, description: 'how long sessions get to leave before the rest are kicked (default 30000)' }),
    ),
    notice: Type.Optional(Text('the NOTICE every session gets')),
    handoffUrl: Type.Optional(HandoffUrl),
  },
  { $id: 'DrainOptions', additionalProperties: false },
);

export const DrainReport = Type.Object(
  {
    sessionsAtStart: Type.Integer(),
    kicked: Type.Integer({ description: 'sessions still open at the deadline, kicked (draining)' }),
    waitedMs: Type.Integer(),
    stop: ref(StopReport),
  },
  { $id: 'DrainReport' },
);
