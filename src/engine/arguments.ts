// The Engine facade's arguments, checked against the schema table
// (src/schemas/engine-config.ts) and completed with its defaults. The binding takes only
// what comes out of here: complete, validated configs whose fields it reads without
// checking ranges of its own (JS validates, C++ trusts a plain struct).
import { Compile } from 'typebox/compile';
import type { TSchema } from 'typebox';

import {
  ENGINE_CONFIG_DEFAULTS,
  ENGINE_OPTION_DEFAULTS,
  EngineConfig,
  EngineOptions,
  WaitOptions,
  WAIT_DEFAULTS,
  type PoolBackend,
} from '../schemas/engine-config.js';
import { StopOptions } from '../schemas/engine.js';
import { EngineError } from './errors.js';

/** What the binding's start() takes: every field present, "native" resolved. */
export type CompleteEngineConfig = Required<EngineConfig> & { poolBackend: Exclude<PoolBackend, 'native'> };

interface Issue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

interface Checker {
  schema: TSchema & { properties: Record<string, TSchema> };
  Check(value: unknown): boolean;
  Errors(value: unknown): Iterable<Issue>;
}

function checker(schema: TSchema & { properties: Record<string, TSchema> }): Checker {
  const compiled = Compile(schema);
  return { schema, Check: (v) => compiled.Check(v), Errors: (v) => compiled.Errors(v) as Iterable<Issue> };
}

const OPTIONS = checker(EngineOptions);
const CONFIG = checker(EngineConfig);
const STOP = checker(StopOptions as TSchema & { properties: Record<string, TSchema> });
const WAIT = checker(WaitOptions);

/** The values of a union of literals, for "must be one of" messages. */
function literals(field: TSchema | undefined): string[] | undefined {
  const anyOf = (field as { anyOf?: { const?: unknown }[] } | undefined)?.anyOf;
  if (!anyOf?.every((s) => typeof s.const === 'string')) return undefined;
  return anyOf.map((s) => String(s.const));
}

/** The first problem with `value`, worded for people, as INVALID_ARGUMENT. */
function refusal(what: string, check: Checker, value: object): EngineError {
  const issues = [...check.Errors(value)];
  const extra = issues.find((i) => i.keyword === 'additionalProperties');
  if (extra) {
    const names = (extra.params['additionalProperties'] as string[] | undefined) ?? [];
    return new EngineError('INVALID_ARGUMENT', `${what}: unknown option ${names.map((n) => JSON.stringify(n)).join(', ')}`);
  }
  const issue = issues.find((i) => i.instancePath !== '' && i.keyword !== 'boolean') ?? issues[0];
  const key = issue?.instancePath.slice(1) ?? '';
  const field = check.schema.properties[key];
  const got = JSON.stringify((value as Record<string, unknown>)[key]);
  const allowed = literals(field);
  const message = allowed ? `must be one of ${allowed.join(', ')}` : (issue?.message ?? 'is invalid');
  return new EngineError('INVALID_ARGUMENT', `${what}.${key} ${message} (got ${got})`);
}

/** `value` as an object of its defined fields ({} for undefined or null); INVALID_ARGUMENT otherwise. */
function fieldsOf(what: string, value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new EngineError('INVALID_ARGUMENT', `${what} must be an object`);
  // An absent field, undefined and null all mean "the default".
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null));
}

function validated<T>(what: string, check: Checker, value: unknown): T {
  const fields = fieldsOf(what, value);
  if (!check.Check(fields)) throw refusal(what, check, fields);
  return fields as T;
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** new Engine(options): validated, every default filled. */
export function engineOptions(value: unknown): Required<EngineOptions> {
  return { ...ENGINE_OPTION_DEFAULTS, ...validated<EngineOptions>('options', OPTIONS, value) };
}

/**
 * engine.start(config): validated, every default filled, the deprecated "native" pool
 * backend resolved, and the checks that span fields (`available` lists the pool backends
 * this platform has).
 */
export function engineConfig(value: unknown, available: readonly string[]): CompleteEngineConfig {
  const given = validated<EngineConfig>('config', CONFIG, value);
  const c = { ...ENGINE_CONFIG_DEFAULTS, ...given };
  const bad = (message: string) => new EngineError('INVALID_ARGUMENT', `config.${message}`);
  if (c.poolMinThreads > c.poolMaxThreads) throw bad(`poolMinThreads (${c.poolMinThreads}) must not exceed poolMaxThreads (${c.poolMaxThreads})`);
  if (c.pipe && !c.iocp) throw bad('pipe needs iocp: the pipe server runs on the completion port');
  const maxPathBytes = (EngineConfig.properties.pipePath as unknown as { maxLength: number }).maxLength;
  if (Buffer.byteLength(c.pipePath) > maxPathBytes) throw bad(`pipePath is longer than ${maxPathBytes} bytes`);
  if (c.sessionPort >= 0 && c.gameAuth === 'none' && !isLoopback(c.gameHost)) {
    throw bad(`gameAuth "none" is for local testing: the game host ${c.gameHost} is not a loopback address`);
  }
  if (c.durability === 'journal' && c.dataDir === '') {
    throw bad('durability "journal" needs dataDir: the journal lives in <dataDir>/journal');
  }
  const poolBackend = c.poolBackend === 'native' ? 'win32-threadpool' : c.poolBackend;
  if (!available.includes(poolBackend)) {
    throw bad(`poolBackend "${c.poolBackend}" is not available here (available: ${available.join(', ')})`);
  }
  return { ...c, poolBackend };
}

/** engine.stop(options): the deadline, default the engine's default shutdown deadline. */
export function stopDeadlineMs(value: unknown): number {
  const { deadlineMs } = validated<{ deadlineMs?: number }>('options', STOP, value);
  return deadlineMs ?? ENGINE_CONFIG_DEFAULTS.shutdownDeadlineMs;
}

/** flush / waitTask / waitForState options: the time-out. */
export function timeoutMs(value: unknown): number {
  const { timeoutMs } = validated<{ timeoutMs?: number }>('options', WAIT, value);
  return timeoutMs ?? WAIT_DEFAULTS.timeoutMs;
}
