// The local secret (docs/API.md "Other local users"): with no GAMESRV_TOKEN, no
// --token-file and no --no-auth, the server's token is a random one kept in a file only
// its user can read, created at first start: `$XDG_STATE_HOME/gamesrv/token`, else
// `~/.local/state/gamesrv/token`. Any local user can reach a loopback port; only this
// user can read the file, so only this user (and what they run) can change the server.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** The user's gamesrv state directory: `$XDG_STATE_HOME/gamesrv`, else `~/.local/state/gamesrv`. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const state = env['XDG_STATE_HOME'];
  const base = state !== undefined && state.startsWith('/') ? state : join(env['HOME'] || homedir(), '.local', 'state');
  return join(base, 'gamesrv');
}

/** Where the generated token lives for this environment. */
export function defaultTokenPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'token');
}

/** A server's data directory when --data-dir is not given: `<stateDir>/<serverName>`. */
export function defaultDataDir(serverName: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), serverName);
}

/** Bytes of randomness in a generated token (base64url: 43 characters). */
const TOKEN_BYTES = 32;

function refuseIfShared(path: string): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`${path} is readable by other users (mode ${mode.toString(8)}); chmod 600 it, or delete it for a new token`);
  }
}

/** Reads a token file: the first line, trimmed. Refuses a file other users can read, or an empty one. */
export function readTokenFile(path: string): string {
  refuseIfShared(path);
  const token = readFileSync(path, 'utf8').split('\n', 1)[0]!.trim();
  if (token === '') throw new Error(`${path} holds no token`);
  return token;
}

/** The token in `path`, created (mode 0600, directory 0700) when there is none yet. */
export function loadOrCreateToken(path: string): { token: string; created: boolean } {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600); // exclusive: two servers starting at once agree on one token
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { token: readTokenFile(path), created: false };
  }
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  try {
    writeSync(fd, `${token}\n`);
  } finally {
    closeSync(fd);
  }
  return { token, created: true };
}

/** The token a command-line client sends: GAMESRV_TOKEN, else the generated token file. */
export function clientToken(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['GAMESRV_TOKEN'];
  if (fromEnv) return fromEnv;
  return readTokenFile(defaultTokenPath(env));
}
