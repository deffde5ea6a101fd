// Server configuration from flags and environment. Flags win over environment.
import { parseArgs } from 'node:util';

import type { EngineConfig, EngineOptions } from './engine/index.js';

export interface ServerConfig {
  host: string;
  port: number;
  /** Start the engine when the server starts. */
  autoStart: boolean;
  engineOptions: EngineOptions;
  engineConfig: EngineConfig;
  /** Deadline for the engine stop on shutdown. */
  stopDeadlineMs: number;
  /** Bearer token for mutating routes; undefined = open (loopback only). */
  token: string | undefined;
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
  --token <t>              bearer token for mutating routes and WebSocket control
                                                     [GAMESRV_TOKEN]    default none
                           (required when --host is not a loopback address)
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
  const rawToken = values.token ?? env['GAMESRV_TOKEN'];
  const token = rawToken !== undefined && rawToken !== '' ? rawToken : undefined;
  if (token === undefined && !isLoopback(host)) {
    throw new Error(
      `refusing to listen on ${host} without a token: anyone who can reach it could stop the engine. ` +
        'Set GAMESRV_TOKEN (or --token), or listen on 127.0.0.1.',
    );
  }
  const logLevel = values['log-level'] ?? (env['GAMESRV_LOG_LEVEL'] || undefined) ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`log-level must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  return {
    host,
    token,
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
