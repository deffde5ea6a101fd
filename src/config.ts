// Server configuration from flags and environment. Flags win over environment.
import { parseArgs } from 'node:util';

import type { EngineConfig, EngineOptions } from './engine/index.js';
import { defaultTokenPath, readTokenFile } from './local-token.js';

/**
 * Where the bearer token comes from: GAMESRV_TOKEN, --token-file, the generated local
 * secret (src/local-token.ts; the default), or nowhere (--no-auth: mutating routes open
 * to every local user).
 */
export type TokenSource =
  | { kind: 'env'; token: string }
  | { kind: 'file'; token: string; path: string }
  | { kind: 'generated'; path: string }
  | { kind: 'none' };

export interface ServerConfig {
  host: string;
  port: number;
  /** Start the engine when the server starts. */
  autoStart: boolean;
  engineOptions: EngineOptions;
  engineConfig: EngineConfig;
  /** Deadline for the engine stop on shutdown. */
  stopDeadlineMs: number;
  /** Bearer token for mutating routes; resolved by the server (the generated one is a file). */
  tokenSource: TokenSource;
  /** Host header values accepted beside loopback ones and the listen address. */
  allowedHosts: string[];
  /** Mutating requests per minute per client address; 0 = no limit. */
  rateLimitPerMin: number;
  logLevel: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

export const HELP = `gamesrv server

Usage: npm start -- [options]     (or: node dist/server.js [options])

Options (environment variable in brackets):
  --host <addr>            listen address            [GAMESRV_HOST]     default 127.0.0.1
  --port <n>               listen port               [GAMESRV_PORT]     default 8080
  --no-start               do not start the engine at boot
  --loop-threads <n>       game-loop threads         [GAMESRV_LOOP_THREADS]   default 1
  --tick-rate <hz>         game-loop tick rate       [GAMESRV_TICK_RATE]      default 60
  --pool-min <n>           thread-pool minimum       [GAMESRV_POOL_MIN]       default 2
  --pool-max <n>           thread-pool maximum       [GAMESRV_POOL_MAX]       default 8
  --queue-capacity <n>     event queue capacity      [GAMESRV_QUEUE_CAPACITY] default 65536
  --stop-deadline <ms>     engine stop deadline      [GAMESRV_STOP_DEADLINE_MS] default 5000
  --allowed-hosts <list>   comma list of more Host names the server answers to (a DNS
                           name it is reached by); loopback names and the listen address
                           are always allowed                 [GAMESRV_ALLOWED_HOSTS]
  (env only)               bearer token for mutating routes and WebSocket control
                                                     [GAMESRV_TOKEN]
  --token-file <path>      read the bearer token from this file (mode 600)
                                                     [GAMESRV_TOKEN_FILE]
                           With neither, the token is generated at first start into
                           $XDG_STATE_HOME/gamesrv/token (else ~/.local/state/gamesrv/token)
                           and the start-up log prints a dashboard URL carrying it.
  --no-auth                no token: any local user may change the server (loopback only)
                                                     [GAMESRV_NO_AUTH=1]
  --rate-limit <n>         mutating requests per minute per client address, 0 = off
                                                     [GAMESRV_RATE_LIMIT] default 6000
  --log-level <level>      fatal|error|warn|info|debug|trace|silent
                                                     [GAMESRV_LOG_LEVEL] default info
  -h, --help               this text
`;

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
  }
  return n;
}

function tokenSourceOf(file: string | undefined, noAuth: boolean, env: NodeJS.ProcessEnv): TokenSource {
  const fromEnv = env['GAMESRV_TOKEN'];
  const chosen = [fromEnv !== undefined && fromEnv !== '', file !== undefined, noAuth].filter(Boolean).length;
  if (chosen > 1) throw new Error('choose one of GAMESRV_TOKEN, --token-file and --no-auth');
  if (fromEnv !== undefined && fromEnv !== '') return { kind: 'env', token: fromEnv };
  if (file !== undefined) return { kind: 'file', token: readTokenFile(file), path: file };
  if (noAuth) return { kind: 'none' };
  return { kind: 'generated', path: defaultTokenPath(env) };
}

export function loadConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): ServerConfig | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'no-start': { type: 'boolean' },
      'loop-threads': { type: 'string' },
      'tick-rate': { type: 'string' },
      'pool-min': { type: 'string' },
      'pool-max': { type: 'string' },
      'queue-capacity': { type: 'string' },
      'stop-deadline': { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      'no-auth': { type: 'boolean' },
      'allowed-hosts': { type: 'string' },
      'rate-limit': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const poolMin = int('pool-min', values['pool-min'] ?? env['GAMESRV_POOL_MIN'], 2, 0, 512);
  const poolMax = int('pool-max', values['pool-max'] ?? env['GAMESRV_POOL_MAX'], Math.max(8, poolMin), 1, 512);
  if (poolMin > poolMax) throw new Error(`pool-min (${poolMin}) must not exceed pool-max (${poolMax})`);
  const host = values.host ?? (env['GAMESRV_HOST'] || undefined) ?? '127.0.0.1';
  if (values.token !== undefined) {
    throw new Error(
      '--token would leave the token readable by every local user in /proc/<pid>/cmdline; ' +
        'set GAMESRV_TOKEN, or put it in a file (mode 600) and pass --token-file',
    );
  }
  const tokenSource = tokenSourceOf(values['token-file'] ?? (env['GAMESRV_TOKEN_FILE'] || undefined), values['no-auth'] ?? env['GAMESRV_NO_AUTH'] === '1', env);
  if (tokenSource.kind === 'none' && !isLoopback(host)) {
    throw new Error(
      `refusing to listen on ${host} without a token: anyone who can reach it could stop the engine. ` +
        'Drop --no-auth (a token is then generated), set GAMESRV_TOKEN, or listen on 127.0.0.1.',
    );
  }
  const allowedHosts = (values['allowed-hosts'] ?? env['GAMESRV_ALLOWED_HOSTS'] ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  const logLevel = values['log-level'] ?? (env['GAMESRV_LOG_LEVEL'] || undefined) ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`log-level must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  return {
    host,
    tokenSource,
    allowedHosts,
    rateLimitPerMin: int('rate-limit', values['rate-limit'] ?? env['GAMESRV_RATE_LIMIT'], 6000, 0, 10_000_000),
    logLevel,
    port: int('port', values.port ?? env['GAMESRV_PORT'], 8080, 0, 65535),
    autoStart: !values['no-start'],
    engineOptions: {
      queueCapacity: int('queue-capacity', values['queue-capacity'] ?? env['GAMESRV_QUEUE_CAPACITY'], 65536, 1, 1 << 24),
    },
    engineConfig: {
      loopThreads: int('loop-threads', values['loop-threads'] ?? env['GAMESRV_LOOP_THREADS'], 1, 1, 256),
      tickRateHz: int('tick-rate', values['tick-rate'] ?? env['GAMESRV_TICK_RATE'], 60, 1, 1000),
      poolMinThreads: poolMin,
      poolMaxThreads: poolMax,
    },
    stopDeadlineMs: int('stop-deadline', values['stop-deadline'] ?? env['GAMESRV_STOP_DEADLINE_MS'], 5000, 0, 3_600_000),
  };
}
