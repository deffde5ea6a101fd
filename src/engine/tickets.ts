// The engine's ticket verifier (native/include/gamesrv/ticket.hpp), callable from
// JavaScript so tests can prove it accepts what src/tickets.ts signs.
import { fromNative } from './errors.js';
import { loadBinding } from './native.js';
import type { TicketVerdict } from './types.js';

/** Verifies `ticket` with `secret` as the game port does when a HELLO carries it. */
export function verifyTicket(secret: Buffer, ticket: string, nowSec: number): TicketVerdict {
  try {
    return loadBinding().verifyTicket(secret, ticket, nowSec);
  } catch (err) {
    throw fromNative(err);
  }
}

/** The verifier's format constants: version, key id and the size limits. */
export function ticketFormat(): { version: number; keyId: number; maxNameBytes: number; maxTicketChars: number } {
  return loadBinding().ticketFormat;
}
