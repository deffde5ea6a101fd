// Server configuration from flags and environment. Flags win over environment. One
// table (SETTINGS) names each setting's flag, environment variable and schema; ranges,
// defaults and meanings come from the schema (for the engine's settings, the engine's
// own table in src/schemas/engine-config.ts), and so do the parsing and --help.
import { parseArgs } from 'node:util';

import { Type, type TSchema } from 'typebox';

import type { EngineConfig, EngineOptions } from './engine/index.js';
import { defaultDataDir, defaultTokenPath, readTokenFile } from './local-token.js';
import { ticketSecretSourceOf, type TicketSecretSource } from './ticket-secret.js';
import { ENGINE_CONFIG_DEFAULTS, EngineConfig as EngineConfigSchema, EngineOptions as EngineOptionsSchema, MAX_DEADLINE_MS } from './schemas/engine-config.js';
import { isLoopback } from './engine/arguments.js';
import { DEFAULT_SDK_PORT } from './schemas/agones.js';

export { isLoopback };

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

interface Setting {
  /** The flag without its dashes; none for a setting only the environment carries. */
  flag?: string;
  env?: string;
  /** The flag's value placeholder; none for a switch. */
  arg?: string;
  /** Range, default and meaning of a value; a switch or a free text has `help` instead. */
  schema?: TSchema;
  help?: string;
  /** Help lines after the first. */
  more?: string[];
  /** Follows the default in --help. */
  defaultNote?: string;
}

const engineField = (name: keyof typeof EngineConfigSchema.properties) => EngineConfigSchema.properties[name] as TSchema;

/** Every server setting, in --help order. */
export const SETTINGS = {
  host: { flag: 'host', env: 'GAMESRV_HOST', arg: '<addr>', schema: Type.String({ default: '127.0.0.1', description: 'listen address' }) },
  port: { flag: 'port', env: 'GAMESRV_PORT', arg: '<n>', schema: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'listen port (0: any free port)' }) },
  noStart: { flag: 'no-start', help: 'do not start the engine at boot' },
  loopThreads: { flag: 'loop-threads', env: 'GAMESRV_LOOP_THREADS', arg: '<n>', schema: engineField('loopThreads') },
  tickRate: { flag: 'tick-rate', env: 'GAMESRV_TICK_RATE', arg: '<hz>', schema: engineField('tickRateHz') },
  poolMin: { flag: 'pool-min', env: 'GAMESRV_POOL_MIN', arg: '<n>', schema: engineField('poolMinThreads') },
  poolMax: { flag: 'pool-max', env: 'GAMESRV_POOL_MAX', arg: '<n>', schema: engineField('poolMaxThreads'), defaultNote: '(at least --pool-min)' },
  gamePort: {
    flag: 'game-port',
    env: 'GAMESRV_GAME_PORT',
    arg: '<n>',
    schema: Type.Integer({ minimum: -1, maximum: 65535, default: 7777, description: 'the TCP game port players connect to (0: any free port, -1: none)' }),
  },
  serverName: { flag: 'server-name', env: 'GAMESRV_SERVER_NAME', arg: '<name>', schema: engineField('serverName') },
  dataDir: {
    flag: 'data-dir',
    env: 'GAMESRV_DATA_DIR',
    arg: '<dir>',
    help: 'the directory of the server\'s database and journal (mode 700)',
    more: ['default $XDG_STATE_HOME/gamesrv/<server-name>', '(else ~/.local/state/gamesrv/<server-name>)'],
  },
  database: {
    flag: 'database',
    env: 'GAMESRV_DATABASE',
    arg: '<kind>',
    schema: Type.Union(
      (['simulated', 'sqlite', 'postgres'] as const).map((k) => Type.Literal(k)),
      { default: 'sqlite', description: 'where players persist and database tasks run: simulated|sqlite|postgres' },
    ),
    more: ['sqlite: <data-dir>/gamesrv.db; postgres: needs --database-url'],
  },
  databaseUrl: {
    flag: 'database-url',
    env: 'GAMESRV_DATABASE_URL',
    arg: '<url>',
    help: 'PostgreSQL URL (postgres://user:pass@host/db) for --database postgres',
    more: ['A password on the command line is readable by every local user', '(/proc/<pid>/cmdline): prefer GAMESRV_DATABASE_URL'],
  },
  flushMs: { flag: 'flush-ms', env: 'GAMESRV_FLUSH_MS', arg: '<ms>', schema: engineField('flushMs') },
  leaseMs: { flag: 'lease-ms', env: 'GAMESRV_LEASE_MS', arg: '<ms>', schema: engineField('leaseMs') },
  durability: {
    flag: 'durability',
    env: 'GAMESRV_DURABILITY',
    arg: '<mode>',
    schema: Type.Union([Type.Literal('journal'), Type.Literal('none')], {
      default: 'journal',
      description: 'journal: an event is on disk in <data-dir>/journal before its 202 / ACK, and a restart replays it; none: acknowledged once queued',
    }),
  },
  gameHost: { flag: 'game-host', env: 'GAMESRV_GAME_HOST', arg: '<addr>', schema: engineField('gameHost') },
  sessionRate: { flag: 'session-rate', env: 'GAMESRV_SESSION_RATE', arg: '<n>', schema: engineField('sessionMessageRate') },
  gameAuth: { flag: 'game-auth', env: 'GAMESRV_GAME_AUTH', arg: '<mode>', schema: engineField('gameAuth') },
  worldSize: { flag: 'world-size', env: 'GAMESRV_WORLD_SIZE', arg: '<n>', schema: EngineOptionsSchema.properties.worldSize as TSchema },
  queueCapacity: { flag: 'queue-capacity', env: 'GAMESRV_QUEUE_CAPACITY', arg: '<n>', schema: EngineOptionsSchema.properties.queueCapacity as TSchema },
  stopDeadline: {
    flag: 'stop-deadline',
    env: 'GAMESRV_STOP_DEADLINE_MS',
    arg: '<ms>',
    schema: Type.Integer({
      minimum: 0,
      maximum: MAX_DEADLINE_MS,
      default: ENGINE_CONFIG_DEFAULTS.shutdownDeadlineMs,
      description: 'engine stop deadline (drain and join), ms; also its shutdownDeadlineMs',
    }),
  },
  drainDeadline: {
    flag: 'drain-deadline',
    env: 'GAMESRV_DRAIN_DEADLINE_MS',
    arg: '<ms>',
    schema: Type.Integer({
      minimum: 0,
      maximum: MAX_DEADLINE_MS,
      default: 10_000,
      description: 'on SIGTERM, how long game sessions get to leave before the rest are kicked, ms',
    }),
  },
  agones: {
    flag: 'agones',
    env: 'AGONES_SDK_GRPC_PORT',
    help: 'be an Agones game server: Ready, Health, the players Counter,',
    more: [
      'Shutdown after a drain (README "Agones"); also on when',
      `AGONES_SDK_GRPC_PORT (the SDK sidecar's port, default ${DEFAULT_SDK_PORT}) is set`,
    ],
  },
  agonesHealthMs: {
    flag: 'agones-health-ms',
    env: 'GAMESRV_AGONES_HEALTH_MS',
    arg: '<ms>',
    schema: Type.Integer({
      minimum: 100,
      maximum: 60_000,
      default: 2000,
      description: 'with --agones: the Health() ping period, ms (keep it under the GameServer\'s health periodSeconds)',
    }),
  },
  handoffUrl: {
    flag: 'handoff-url',
    env: 'GAMESRV_HANDOFF_URL',
    arg: '<url>',
    help: 'where players reconnect when this server drains: the drain',
    more: ['NOTICE ends with a line "reconnect <url>" (a drain request\'s', 'handoffUrl wins over it)'],
  },
  allowedHosts: {
    flag: 'allowed-hosts',
    env: 'GAMESRV_ALLOWED_HOSTS',
    arg: '<list>',
    help: 'comma list of more Host names the server answers to (a DNS',
    more: ['name it is reached by); loopback names and the listen address', 'are always allowed'],
  },
  token: { env: 'GAMESRV_TOKEN', help: 'bearer token for mutating routes and WebSocket control' },
  tokenFile: {
    flag: 'token-file',
    env: 'GAMESRV_TOKEN_FILE',
    arg: '<path>',
    help: 'read the bearer token from this file (mode 600)',
    more: [
      'With neither, the token is generated at first start into',
      '$XDG_STATE_HOME/gamesrv/token (else ~/.local/state/gamesrv/token)',
      'and the start-up log prints a dashboard URL carrying it.',
    ],
  },
  ticketSecret: { env: 'GAMESRV_TICKET_SECRET', help: 'secret that signs login tickets (32 characters or more)' },
  ticketSecretFile: {
    flag: 'ticket-secret-file',
    env: 'GAMESRV_TICKET_SECRET_FILE',
    arg: '<path>',
    help: 'read the ticket secret from this file (mode 600)',
    more: ['With neither, it is generated at first start into', '$XDG_STATE_HOME/gamesrv/ticket-secret, beside the token'],
  },
  noAuth: { flag: 'no-auth', env: 'GAMESRV_NO_AUTH=1', help: 'no token: any local user may change the server (loopback only)' },
  rateLimit: {
    flag: 'rate-limit',
    env: 'GAMESRV_RATE_LIMIT',
    arg: '<n>',
    schema: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 6000, description: 'mutating requests per minute per client address, 0 = off' }),
  },
  logLevel: {
    flag: 'log-level',
    env: 'GAMESRV_LOG_LEVEL',
    arg: '<level>',
    schema: Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { default: 'info', description: LOG_LEVELS.join('|') }),
  },
} satisfies Record<string, Setting>;

interface Described {
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
}
const described = (schema: TSchema) => schema as Described;

function helpOf(s: Setting): string {
  const left = s.flag ? `--${s.flag}${s.arg ? ` ${s.arg}` : ''}` : '(env only)';
  const d = s.schema ? described(s.schema) : {};
  const value = [
    d.minimum !== undefined ? `${d.minimum}-${d.maximum}` : '',
    d.default !== undefined ? `default ${typeof d.default === 'string' ? d.default : JSON.stringify(d.default)}${s.defaultNote ? ` ${s.defaultNote}` : ''}` : '',
  ].filter((f) => f !== '');
  const facts = [value.join(', '), s.env ? `[${s.env}]` : ''].filter((f) => f !== '').join('  ');
  const lines = [s.help ?? d.description ?? '', ...(s.more ?? []), facts].filter((l) => l !== '');
  return lines.map((l, i) => `  ${(i === 0 ? left : '').padEnd(25)}${l}`).join('\n');
}

export const HELP = `gamesrv server

Usage: npm start -- [options]     (or: node dist/server.js [options])

Options (environment variable in brackets):
${Object.values(SETTINGS as Record<string, Setting>).map(helpOf).join('\n')}
  -h, --help               this text
`;

/** A setting's integer from its flag or environment value, or its default; in its schema's range. */
function int(setting: Setting, raw: string | undefined, fallback?: number): number {
  const { minimum, maximum, default: def } = described(setting.schema!);
  if (raw === undefined || raw === '') return fallback ?? (def as number);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < minimum! || n > maximum!) {
    throw new Error(`${setting.flag} must be an integer between ${minimum} and ${maximum} (got "${raw}")`);
  }
  return n;
}

/** --handoff-url: "" when not given; else a URL without white space (its NOTICE line ends with it). */
function handoffUrlOf(raw: string | undefined): string {
  if (raw === undefined || raw === '') return '';
  if (!/^\S{1,512}$/.test(raw)) throw new Error(`handoff-url must be 1 to 512 characters without white space (got "${raw}")`);
  return raw;
}

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
  /** The key that signs login tickets (src/ticket-secret.ts). */
  ticketSecretSource: TicketSecretSource;
  /** On SIGTERM: how long game sessions get to leave (a drain) before the engine stops. */
  drainDeadlineMs: number;
  /** Where players reconnect when this server drains ("" none): the drain NOTICE's `reconnect` line. */
  handoffUrl: string;
  /** Host header values accepted beside loopback ones and the listen address. */
  allowedHosts: string[];
  /** Mutating requests per minute per client address; 0 = no limit. */
  rateLimitPerMin: number;
  logLevel: string;
  /** Be an Agones game server (src/agones/): the SDK sidecar's gRPC port and the Health() period; null: not. */
  agones: { port: number; healthMs: number } | null;
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
  const settings: Setting[] = Object.values(SETTINGS);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    // Refused below with a reason: a token on the command line is readable by every local user.
    token: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const s of settings) if (s.flag) options[s.flag] = { type: s.arg ? 'string' : 'boolean' };
  const { values } = parseArgs({ args: argv, options, strict: true }) as { values: Record<string, string | boolean | undefined> };
  if (values['help']) return 'help';
  /** The setting's text from its flag, else its environment variable ('' counts as unset). */
  const text = (s: Setting): string | undefined => (values[s.flag!] as string | undefined) ?? ((s.env && env[s.env]) || undefined);
  const on = (s: Setting): boolean => {
    const [name, value] = s.env!.split('=');
    return (values[s.flag!] as boolean | undefined) ?? env[name!] === value;
  };
  const poolMin = int(SETTINGS.poolMin, text(SETTINGS.poolMin));
  const poolMax = int(SETTINGS.poolMax, text(SETTINGS.poolMax), Math.max(described(SETTINGS.poolMax.schema).default as number, poolMin));
  if (poolMin > poolMax) throw new Error(`pool-min (${poolMin}) must not exceed pool-max (${poolMax})`);
  const host = text(SETTINGS.host) ?? (described(SETTINGS.host.schema).default as string);
  if (values['token'] !== undefined) {
    throw new Error(
      '--token would leave the token readable by every local user in /proc/<pid>/cmdline; ' +
        'set GAMESRV_TOKEN, or put it in a file (mode 600) and pass --token-file',
    );
  }
  const tokenSource = tokenSourceOf(text(SETTINGS.tokenFile), on(SETTINGS.noAuth), env);
  if (tokenSource.kind === 'none' && !isLoopback(host)) {
    throw new Error(
      `refusing to listen on ${host} without a token: anyone who can reach it could stop the engine. ` +
        'Drop --no-auth (a token is then generated), set GAMESRV_TOKEN, or listen on 127.0.0.1.',
    );
  }
  const allowedHosts = ((values['allowed-hosts'] as string | undefined) ?? env['GAMESRV_ALLOWED_HOSTS'] ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  const gameAuth = text(SETTINGS.gameAuth) ?? (described(SETTINGS.gameAuth.schema).default as string);
  if (gameAuth !== 'ticket' && gameAuth !== 'none') throw new Error(`game-auth must be ticket or none (got "${gameAuth}")`);
  const gameHost = text(SETTINGS.gameHost) ?? (described(SETTINGS.gameHost.schema).default as string);
  if (gameAuth === 'none' && !isLoopback(gameHost)) {
    throw new Error(`refusing --game-auth none on ${gameHost}: without tickets anyone who reaches the port plays as any player. Use tickets, or --game-host 127.0.0.1.`);
  }
  const durability = text(SETTINGS.durability) ?? (described(SETTINGS.durability.schema).default as string);
  if (durability !== 'journal' && durability !== 'none') throw new Error(`durability must be journal or none (got "${durability}")`);
  const serverName = text(SETTINGS.serverName) ?? (described(SETTINGS.serverName.schema).default as string);
  const namePattern = (described(SETTINGS.serverName.schema) as { pattern?: string }).pattern!;
  if (!new RegExp(namePattern).test(serverName)) throw new Error(`server-name must match ${namePattern} (got "${serverName}")`);
  const database = text(SETTINGS.database) ?? (described(SETTINGS.database.schema).default as string);
  if (database !== 'simulated' && database !== 'sqlite' && database !== 'postgres') {
    throw new Error(`database must be simulated, sqlite or postgres (got "${database}")`);
  }
  const databaseUrl = text(SETTINGS.databaseUrl) ?? '';
  if (database === 'postgres' && databaseUrl === '') {
    throw new Error('--database postgres needs a URL: set GAMESRV_DATABASE_URL (or --database-url, readable by other local users)');
  }
  const sdkPort = env['AGONES_SDK_GRPC_PORT'] ?? '';
  if (sdkPort !== '' && !/^\d+$/.test(sdkPort)) throw new Error(`AGONES_SDK_GRPC_PORT must be a port number (got "${sdkPort}")`);
  if (sdkPort !== '' && (Number(sdkPort) < 1 || Number(sdkPort) > 65535)) throw new Error(`AGONES_SDK_GRPC_PORT must be between 1 and 65535 (got "${sdkPort}")`);
  const agonesOn = values['agones'] === true || sdkPort !== '';
  const agonesHealthMs = int(SETTINGS.agonesHealthMs, text(SETTINGS.agonesHealthMs));
  const logLevel = text(SETTINGS.logLevel) ?? (described(SETTINGS.logLevel.schema).default as string);
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new Error(`log-level must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  return {
    host,
    tokenSource,
    ticketSecretSource: ticketSecretSourceOf(text(SETTINGS.ticketSecretFile), env),
    allowedHosts,
    rateLimitPerMin: int(SETTINGS.rateLimit, text(SETTINGS.rateLimit)),
    logLevel,
    port: int(SETTINGS.port, text(SETTINGS.port)),
    autoStart: !values['no-start'],
    engineOptions: { queueCapacity: int(SETTINGS.queueCapacity, text(SETTINGS.queueCapacity)), worldSize: int(SETTINGS.worldSize, text(SETTINGS.worldSize)) },
    engineConfig: {
      loopThreads: int(SETTINGS.loopThreads, text(SETTINGS.loopThreads)),
      tickRateHz: int(SETTINGS.tickRate, text(SETTINGS.tickRate)),
      poolMinThreads: poolMin,
      poolMaxThreads: poolMax,
      serverName,
      dataDir: text(SETTINGS.dataDir) ?? defaultDataDir(serverName, env),
      database,
      ...(databaseUrl !== '' ? { databaseUrl } : {}),
      flushMs: int(SETTINGS.flushMs, text(SETTINGS.flushMs)),
      leaseMs: int(SETTINGS.leaseMs, text(SETTINGS.leaseMs)),
      durability,
      sessionPort: int(SETTINGS.gamePort, text(SETTINGS.gamePort)),
      gameHost,
      gameAuth: gameAuth === 'none' ? 'none' : 'ticket',
      sessionMessageRate: int(SETTINGS.sessionRate, text(SETTINGS.sessionRate)),
    },
    stopDeadlineMs: int(SETTINGS.stopDeadline, text(SETTINGS.stopDeadline)),
    drainDeadlineMs: int(SETTINGS.drainDeadline, text(SETTINGS.drainDeadline)),
    agones: agonesOn ? { port: sdkPort !== '' ? Number(sdkPort) : DEFAULT_SDK_PORT, healthMs: agonesHealthMs } : null,
    handoffUrl: handoffUrlOf(text(SETTINGS.handoffUrl)),
  };
}
