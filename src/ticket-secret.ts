// The key that signs login tickets (src/tickets.ts). Like the bearer token
// (src/local-token.ts) it is text, at least MIN_TICKET_SECRET_CHARS characters, whose
// UTF-8 bytes are the HMAC key: GAMESRV_TICKET_SECRET, --ticket-secret-file, or, with
// neither, generated at first start into `ticket-secret` beside the token file (mode
// 0600). A fleet whose servers accept each other's tickets shares one secret through the
// variable or the file.
import { dirname, join } from 'node:path';

import { defaultTokenPath, loadOrCreateToken, readTokenFile } from './local-token.js';

/** A generated secret has 43 (32 random bytes); a chosen one must not be much weaker. */
export const MIN_TICKET_SECRET_CHARS = 32;

export type TicketSecretSource =
  | { kind: 'env'; secret: string }
  | { kind: 'file'; secret: string; path: string }
  | { kind: 'generated'; path: string };

export function defaultTicketSecretPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dirname(defaultTokenPath(env)), 'ticket-secret');
}

function checked(secret: string, where: string): string {
  if (secret.length < MIN_TICKET_SECRET_CHARS) {
    throw new Error(`the ticket secret in ${where} has ${secret.length} characters; it needs at least ${MIN_TICKET_SECRET_CHARS}`);
  }
  return secret;
}

/** Where the secret comes from; reads a given file now, so a bad one stops the start. */
export function ticketSecretSourceOf(file: string | undefined, env: NodeJS.ProcessEnv): TicketSecretSource {
  const fromEnv = env['GAMESRV_TICKET_SECRET'];
  const given = fromEnv !== undefined && fromEnv !== '';
  if (given && file !== undefined) throw new Error('choose one of GAMESRV_TICKET_SECRET and --ticket-secret-file');
  if (given) return { kind: 'env', secret: checked(fromEnv, 'GAMESRV_TICKET_SECRET') };
  if (file !== undefined) return { kind: 'file', secret: checked(readTokenFile(file), file), path: file };
  return { kind: 'generated', path: defaultTicketSecretPath(env) };
}

/** The key's bytes, and a line for the log about where it lives. */
export function resolveTicketSecret(source: TicketSecretSource): { secret: Buffer; where: string } {
  switch (source.kind) {
    case 'env':
      return { secret: Buffer.from(source.secret, 'utf8'), where: 'GAMESRV_TICKET_SECRET' };
    case 'file':
      return { secret: Buffer.from(source.secret, 'utf8'), where: source.path };
    case 'generated': {
      const { token, created } = loadOrCreateToken(source.path);
      return { secret: Buffer.from(checked(token, source.path), 'utf8'), where: `${source.path}${created ? ' (created)' : ''}` };
    }
  }
}
