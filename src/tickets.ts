// Login tickets: issued here (POST /v1/tickets), verified by the engine's game port when a
// HELLO carries one (native/include/gamesrv/ticket.hpp). The format is described once, in
// docs/PROTOCOL.md "Tickets"; test/tickets.test.ts proves the engine accepts what this
// signs and refuses what it must.
import { createHmac } from 'node:crypto';

/** Payload format version and key id (the only key so far: one secret). */
export const TICKET_VERSION = 1;
export const TICKET_KEY_ID = 0;
/** version, keyId, u32 playerId, u64 expiresAt. */
const FIXED_BYTES = 14;

export interface TicketClaims {
  playerId: number;
  /** 1..64 characters (the schema checked it); UTF-8 in the ticket. */
  name: string;
  /** Unix seconds; the ticket is valid while now < expiresAt. */
  expiresAt: number;
}

/** `base64url(payload).base64url(HMAC-SHA256(secret, payload))`. */
export function signTicket(secret: Buffer, claims: TicketClaims): string {
  const name = Buffer.from(claims.name, 'utf8');
  const payload = Buffer.allocUnsafe(FIXED_BYTES + name.length);
  payload.writeUInt8(TICKET_VERSION, 0);
  payload.writeUInt8(TICKET_KEY_ID, 1);
  payload.writeUInt32LE(claims.playerId, 2);
  payload.writeBigUInt64LE(BigInt(claims.expiresAt), 6);
  name.copy(payload, FIXED_BYTES);
  const mac = createHmac('sha256', secret).update(payload).digest();
  return `${payload.toString('base64url')}.${mac.toString('base64url')}`;
}
