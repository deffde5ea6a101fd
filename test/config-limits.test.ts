// The engine's configuration limits live in one table (src/schemas/engine-config.ts):
// the facade and the HTTP API refuse what it refuses, at the same edge, and the native
// binding holds no range of its own for a config field.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';

import type { TSchema } from 'typebox';

import { HELP, SETTINGS, loadConfig } from '../src/config.js';
import { Engine, EngineError } from '../src/engine/index.js';
import { engineConfig, engineOptions, stopDeadlineMs, timeoutMs } from '../src/engine/arguments.js';
import { loadBinding } from '../src/engine/native.js';
import { ENGINE_CONFIG_DEFAULTS, ENGINE_OPTION_DEFAULTS, EngineConfig, EngineOptions, WaitOptions } from '../src/schemas/engine-config.js';
import { StopOptions } from '../src/schemas/engine.js';
import { build, uniqueServerName } from './helpers/app.js';

/** A default as --help and README print it. */
const shown = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

type Fields = Record<string, TSchema & { type?: string; minimum?: number; maximum?: number; maxLength?: number; pattern?: string }>;
const TABLES: [string, Fields][] = [
  ['EngineOptions', EngineOptions.properties as Fields],
  ['EngineConfig', EngineConfig.properties as Fields],
  ['WaitOptions', WaitOptions.properties as Fields],
  ['StopOptions', StopOptions.properties as Fields],
];

/** Every number a config field's schema limits it with (ranges, lengths, pattern counts). */
function limitsOf(field: Fields[string]): number[] {
  const out = [field.minimum, field.maximum, field.maxLength].filter((n): n is number => typeof n === 'number');
  for (const m of (field.pattern ?? '').matchAll(/\{(\d+),(\d+)\}/g)) out.push(Number(m[1]), Number(m[2]));
  return out.filter((n) => n > 1);
}

/** The ways C++ could spell the integer n: 65536, 65'536, 1 << 16. */
function spellings(n: number): string[] {
  const out = [String(n), n.toLocaleString('en-US').replaceAll(',', "'")];
  const log2 = Math.log2(n);
  if (Number.isInteger(log2)) out.push(`1 << ${log2}`, `1<<${log2}`, `1u << ${log2}`, `1ull << ${log2}`);
  return [...new Set(out)];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A number literal other than a single digit (argument positions: requireString(info, 0, …)). */
const NUMBER = /(?<![\w.'])(?:\d[\d']+(?:\.\d*)?(?:[eE][+-]?\d+)?|\d(?:\.\d*)?[eE][+-]?\d+|\d\.\d*)(?![\w'])/;

/**
 * Range literals of config fields in C++ source: (1) a statement that names a config
 * field ("loopThreads") and carries a number (argument positions such as info[1] aside);
 * (2) anywhere, a field's limit of 10,000 or more spelled as an integer (smaller ones,
 * such as 64 or 1000, are too common to tell apart; float literals such as 1000.0 or
 * 1e6 are unit conversions).
 */
export function rangeLiterals(source: string, file: string): string[] {
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/\[\d+\]/g, '[]');
  const found: string[] = [];
  const fields = new Set(TABLES.flatMap(([, f]) => Object.keys(f)));
  for (const statement of code.split(/[;{}]/)) {
    for (const name of fields) {
      const m = statement.includes(`"${name}"`) ? NUMBER.exec(statement) : null;
      if (m) found.push(`${file}: "${name}" beside the literal ${m[0]}: ${statement.trim()}`);
    }
  }
  for (const [table, f] of TABLES) {
    for (const [name, field] of Object.entries(f)) {
      for (const n of limitsOf(field).filter((l) => l >= 10_000)) {
        for (const spelling of spellings(n)) {
          if (new RegExp(`(?<![\\w.'])${escape(spelling)}(?![\\w.'])`).test(code)) {
            found.push(`${file}: ${spelling}, a limit of ${table}.${name}`);
          }
        }
      }
    }
  }
  return found;
}

test('native/src/addon holds no range literal of a config field', () => {
  const dir = new URL('../native/src/addon/', import.meta.url);
  const files = readdirSync(dir).filter((f) => /\.(cpp|hpp|h)$/.test(f));
  assert.ok(files.includes('engine_wrap.cpp'));
  const found = files.flatMap((f) => rangeLiterals(readFileSync(new URL(f, dir), 'utf8'), f));
  assert.deepEqual(found, []);
});

test('the check finds the literals the binding used to carry', () => {
  const old = [
    'c.tasks.historyCapacity = intField(env, o, "taskHistory", c.tasks.historyCapacity, 1, 1 << 20);',
    'c.dbLatencyUs = static_cast<std::uint32_t>(intField(env, o, "dbLatencyUs", c.dbLatencyUs, 0, 60000000));',
    'if (limit > 1 << 24) fail();',
    'opts.world.maxPlayers = intField(env, o, "maxPlayers", opts.world.maxPlayers, 1, 1e7);',
  ].join('\n');
  const found = rangeLiterals(old, 'old.cpp');
  for (const needle of ['"taskHistory" beside the literal 20', '"dbLatencyUs" beside', '1 << 24, a limit of EngineOptions.queueCapacity', '"maxPlayers" beside']) {
    assert.ok(found.some((f) => f.includes(needle)), `${needle} in ${JSON.stringify(found)}`);
  }
  assert.deepEqual(rangeLiterals('double us(std::uint64_t ns) { return ns / 1000.0; }', 'ok.cpp'), []);
});

test('the binding takes only complete configs: it has no defaults of its own', () => {
  const { Engine: Raw } = loadBinding();
  assert.throws(() => new Raw({} as never), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && /queueCapacity/.test(e.message));
});

const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof EngineError && e.code === 'INVALID_ARGUMENT' && pattern.test(e.message));

test('the facade accepts every integer field at its bounds and refuses one past them', () => {
  const backends = loadBinding().threadPoolBackends;
  const checks: [Fields, (v: Record<string, number>) => unknown][] = [
    [EngineOptions.properties as Fields, (v) => engineOptions(v)],
    // The pool bounds only make sense together; each is tried against a partner that fits.
    [EngineConfig.properties as Fields, (v) => engineConfig({ poolMinThreads: 0, poolMaxThreads: 512, ...v }, backends)],
    [WaitOptions.properties as Fields, (v) => timeoutMs(v)],
    [StopOptions.properties as Fields, (v) => stopDeadlineMs(v)],
  ];
  let fields = 0;
  for (const [props, check] of checks) {
    for (const [name, field] of Object.entries(props)) {
      if (field.type !== 'integer') continue;
      fields += 1;
      const { minimum, maximum } = field as { minimum: number; maximum: number };
      check({ [name]: maximum });
      check({ [name]: minimum });
      refused(() => check({ [name]: maximum + 1 }), new RegExp(`${name} must be <= ${maximum} \\(got ${maximum + 1}\\)`));
      refused(() => check({ [name]: minimum - 1 }), new RegExp(`${name} must be >= ${minimum}`));
      refused(() => check({ [name]: minimum + 0.5 }), new RegExp(`${name} must be integer`));
    }
  }
  assert.ok(fields >= 19, `every integer option was tried (${fields})`);
});

test('the facade fills every default from the table and checks what spans fields', () => {
  const backends = loadBinding().threadPoolBackends;
  assert.deepEqual(engineConfig(undefined, backends), ENGINE_CONFIG_DEFAULTS);
  assert.equal(engineConfig({ tickRateHz: undefined, loopThreads: null } as never, backends).tickRateHz, 60);
  refused(() => engineConfig({ poolMinThreads: 9 }, backends), /poolMinThreads \(9\) must not exceed poolMaxThreads \(8\)/);
  refused(() => engineConfig({ iocp: false }, backends), /pipe needs iocp/);
  assert.equal(engineConfig({ iocp: false, pipe: false }, backends).iocp, false);
  refused(() => engineConfig({ pipePath: 'é'.repeat(60) }, backends), /pipePath is longer than 107 bytes/);
  refused(() => engineConfig({ tickRate: 30 } as never, backends), /unknown option "tickRate"/);
  refused(() => engineConfig('fast', backends), /config must be an object/);
  refused(() => engineConfig({ poolBackend: 'threads' as never }, backends), /poolBackend must be one of portable, win32-threadpool, native/);
  // The deprecated name still means the Windows Threadpool.
  assert.equal(engineConfig({ poolBackend: 'native' }, ['portable', 'win32-threadpool']).poolBackend, 'win32-threadpool');
  refused(() => engineConfig({ poolBackend: 'native' }, ['portable']), /"native" is not available here \(available: portable\)/);
});

test('the edges where the binding and the schema used to disagree hold for the facade and over HTTP', async (t) => {
  // taskHistory, maxActiveTasks: 1,000,000 (the binding took up to 2^20 and 2^24);
  // dbLatencyUs: 10 s (the binding took 60 s).
  const edges = { taskHistory: 1_000_000, maxActiveTasks: 1_000_000, dbLatencyUs: 10_000_000 } as const;
  const engine = new Engine();
  t.after(() => engine.close());
  for (const [name, max] of Object.entries(edges)) {
    await assert.rejects(engine.start({ [name]: max + 1 }), (e: unknown) => e instanceof EngineError && e.code === 'INVALID_ARGUMENT');
  }
  assert.throws(() => new Engine({ queueCapacity: 2 ** 24 + 1 }), (e: unknown) => e instanceof EngineError && e.code === 'INVALID_ARGUMENT');
  await engine.start({ ...edges, serverName: uniqueServerName('edges'), pipe: false, monitor: false });
  await engine.stop();

  const app = await build(t, { autoStart: false });
  for (const [name, max] of Object.entries(edges)) {
    const r = await app.inject({ method: 'POST', url: '/v1/engine/start', payload: { [name]: max + 1 } });
    assert.equal(r.statusCode, 400, r.body);
    assert.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(r.json().field, `body/${name}`);
  }
  const ok = await app.inject({ method: 'POST', url: '/v1/engine/start', payload: edges });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal((await app.inject('/v1/engine')).json().config.taskHistory, 1_000_000);
});

test("README's engine configuration tables follow the schema table", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Engine configuration'), readme.indexOf('## Other processes'));
  const rows = new Map([...section.matchAll(/^\| `(\w+)` \|([^|]*)\|([^|]*)\|/gm)].map((m) => [m[1]!, { def: m[2]!.trim(), range: m[3]!.trim() }]));
  const number = (n: number) => (n >= 10_000 ? n.toLocaleString('en-US') : String(n));
  for (const props of [EngineConfig.properties, EngineOptions.properties] as Fields[]) {
    for (const [name, field] of Object.entries(props)) {
      const row = rows.get(name);
      assert.ok(row, `README lists ${name}`);
      const f = field as Fields[string] & { default: unknown; anyOf?: { const: string; deprecated?: boolean }[] };
      if (typeof f.default === 'number') assert.equal(row.def, String(f.default), `${name}: default`);
      if (typeof f.default === 'boolean') assert.equal(row.def, f.default ? 'on' : 'off', `${name}: default`);
      if (typeof f.default === 'string' && f.default !== '') assert.equal(row.def, `\`${f.default}\``, `${name}: default`);
      if (f.type === 'integer') assert.equal(row.range, `${number(f.minimum!)}–${number(f.maximum!)}`, `${name}: range`);
      if (f.maxLength !== undefined) assert.equal(row.range, `≤ ${f.maxLength} bytes`, `${name}: range`);
      if (f.anyOf) {
        const current = f.anyOf.filter((s) => !s.deprecated).map((s) => `\`${s.const}\``);
        assert.equal(row.range, current.join(', '), `${name}: values`);
      }
    }
  }
});

test('the server flags take their ranges and defaults from the same schemas, and so do --help and README', () => {
  const d = loadConfig([], { HOME: '/h' });
  assert.ok(d !== 'help');
  const { loopThreads, tickRateHz, poolMinThreads, poolMaxThreads, shutdownDeadlineMs, gameHost, gameAuth, serverName, sessionMessageRate, flushMs, leaseMs } = ENGINE_CONFIG_DEFAULTS;
  // The server opens a game port by default (the library does not: sessionPort -1).
  const sessionPort = (SETTINGS.gamePort.schema as unknown as { default: number }).default;
  assert.ok(sessionPort > 0 && ENGINE_CONFIG_DEFAULTS.sessionPort === -1);
  // The server keeps its files in the user's state directory, one per server name.
  const dataDir = '/h/.local/state/gamesrv/gamesrv';
  // ... and its players in SQLite there (the library: the simulated database, no files).
  // npm start journals every event (the library does not: durability "none").
  const durability = (SETTINGS.durability.schema as unknown as { default: string }).default;
  assert.ok(durability === 'journal' && ENGINE_CONFIG_DEFAULTS.durability === 'none');
  const database = 'sqlite';
  assert.deepEqual(d.engineConfig, { loopThreads, tickRateHz, poolMinThreads, poolMaxThreads, serverName, dataDir, database, flushMs, leaseMs, durability, sessionPort, gameHost, gameAuth, sessionMessageRate });
  assert.equal(ENGINE_CONFIG_DEFAULTS.dataDir, '', 'the library keeps everything in memory');
  assert.equal(ENGINE_CONFIG_DEFAULTS.database, 'simulated');
  const pg = loadConfig(['--database', 'postgres'], { HOME: '/h', GAMESRV_DATABASE_URL: 'postgres://u:secret@db/gs' });
  assert.ok(pg !== 'help');
  assert.equal(pg.engineConfig.databaseUrl, 'postgres://u:secret@db/gs', 'the URL comes from the environment too');
  assert.throws(() => loadConfig(['--database', 'postgres'], { HOME: '/h' }), /--database postgres needs a URL: set GAMESRV_DATABASE_URL/);
  assert.throws(() => loadConfig(['--database', 'mysql'], { HOME: '/h' }), /database must be simulated, sqlite or postgres/);
  assert.match(HELP, /--database-url <url>[\s\S]*readable by every local user/);
  const none = loadConfig([], { HOME: '/h', GAMESRV_DURABILITY: 'none' });
  assert.ok(none !== 'help');
  assert.equal(none.engineConfig.durability, 'none');
  assert.throws(() => loadConfig(['--durability', 'fsync'], { HOME: '/h' }), /durability must be journal or none/);
  const named = loadConfig(['--server-name', 'eu-1'], { HOME: '/h', XDG_STATE_HOME: '/s' });
  assert.ok(named !== 'help');
  assert.equal(named.engineConfig.serverName, 'eu-1');
  assert.equal(named.engineConfig.dataDir, '/s/gamesrv/eu-1');
  const given = loadConfig(['--data-dir', '/var/lib/gs'], { HOME: '/h', GAMESRV_DATA_DIR: '/ignored' });
  assert.ok(given !== 'help');
  assert.equal(given.engineConfig.dataDir, '/var/lib/gs', 'the flag wins over the environment');
  assert.throws(() => loadConfig([], { HOME: '/h', GAMESRV_SERVER_NAME: 'no/slash' }), /server-name must match/);
  assert.equal(d.handoffUrl, '', 'no reconnect hint unless given');
  const handoff = loadConfig(['--handoff-url', 'gamesrv://b.example:7777'], { HOME: '/h', GAMESRV_HANDOFF_URL: 'ignored' });
  assert.ok(handoff !== 'help');
  assert.equal(handoff.handoffUrl, 'gamesrv://b.example:7777');
  const fromEnvHandoff = loadConfig([], { HOME: '/h', GAMESRV_HANDOFF_URL: 'tcp://10.0.0.2:7777' });
  assert.ok(fromEnvHandoff !== 'help');
  assert.equal(fromEnvHandoff.handoffUrl, 'tcp://10.0.0.2:7777');
  assert.throws(() => loadConfig(['--handoff-url', 'two words'], { HOME: '/h' }), /handoff-url must be 1 to 512 characters without white space/);
  const leased = loadConfig(['--lease-ms', '30000'], { HOME: '/h' });
  assert.ok(leased !== 'help');
  assert.equal(leased.engineConfig.leaseMs, 30_000);
  assert.throws(() => loadConfig(['--lease-ms', '999'], { HOME: '/h' }), /lease-ms must be an integer between 1000 and 3600000/);
  assert.deepEqual(d.engineOptions, { queueCapacity: ENGINE_OPTION_DEFAULTS.queueCapacity, worldSize: ENGINE_OPTION_DEFAULTS.worldSize });
  assert.equal(d.stopDeadlineMs, shutdownDeadlineMs);
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const serverTable = readme.slice(readme.indexOf('### Configuration\n'), readme.indexOf('### Security defaults'));
  let checked = 0;
  for (const s of Object.values(SETTINGS) as { flag?: string; env?: string; schema?: TSchema }[]) {
    const f = s.schema as { minimum?: number; maximum?: number; default?: unknown } | undefined;
    if (!s.flag || f?.default === undefined) continue;
    const row = serverTable.split('\n').find((l) => l.includes(`\`--${s.flag}\``));
    assert.ok(row, `README lists --${s.flag}`);
    const flags = row.split('|')[1]!.split('/').map((x) => x.trim());
    const defaults = row.split('|')[3]!.split('/').map((x) => x.trim());
    assert.equal(defaults[flags.indexOf(`\`--${s.flag}\``)], `\`${shown(f.default)}\``, `README's default of --${s.flag}`);
    if (f.minimum === undefined) continue;
    checked += 1;
    assert.match(HELP, new RegExp(`--${s.flag} .*\\n\\s+${f.minimum}-${f.maximum}, default ${shown(f.default)}.*\\[${s.env}\\]`));
    const flagged = loadConfig([`--${s.flag}`, String(f.maximum)], { HOME: '/h' });
    assert.ok(flagged !== 'help');
    assert.throws(() => loadConfig([`--${s.flag}`, String(f.maximum! + 1)], { HOME: '/h' }), new RegExp(`${s.flag} must be an integer between ${f.minimum} and ${f.maximum}`));
    assert.throws(() => loadConfig([], { HOME: '/h', [s.env!]: String(f.minimum! - 1) }), new RegExp(`${s.flag} must be an integer between`));
  }
  assert.ok(checked >= 8, `every numeric flag was tried (${checked})`);
});
