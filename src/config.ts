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
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const poolMin = int('pool-min', values['pool-min'] ?? env['GAMESRV_POOL_MIN'], 2, 0, 512);
  const poolMax = int('pool-max', values['pool-max'] ?? env['GAMESRV_POOL_MAX'], Math.max(8, poolMin), 1, 512);
  if (poolMin > poolMax) throw new Error(`pool-min (${poolMin}) must not exceed pool-max (${poolMax})`);
  return {
    host: values.host ?? env['GAMESRV_HOST'] ?? '127.0.0.1',
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
