// Turns every error into an RFC 9457 problem (application/problem+json). Nothing of a
// stack trace leaves the server; 5xx details are logged, not sent.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

import { EngineError, type EngineState } from '../engine/index.js';
import {
  ENGINE_ERROR_STATUS,
  HTTP_TITLES,
  HttpProblem,
  PROBLEM_CONTENT_TYPE,
  problemType,
  type ProblemExtras,
} from '../problems.js';
import type { Problem } from '../schemas/common.js';

/** Seconds a client should wait after QUEUE_FULL / TOO_MANY_TASKS. */
const RETRY_AFTER_S = 1;

interface ValidationIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
  /** the failing value and its schema (ajv's verbose option) */
  data?: unknown;
  parentSchema?: { oneOf?: { properties?: Record<string, { const?: unknown }> }[] };
}

function fieldOf(issue: ValidationIssue, context: string | undefined): string {
  let path = issue.instancePath ?? '';
  if (issue.keyword === 'discriminator' && typeof issue.params?.['tag'] === 'string') {
    path += `/${issue.params['tag']}`;
  } else if (issue.keyword === 'required' && typeof issue.params?.['missingProperty'] === 'string') {
    path += `/${issue.params['missingProperty']}`;
  } else if (issue.keyword === 'additionalProperties' && typeof issue.params?.['additionalProperty'] === 'string') {
    path += `/${issue.params['additionalProperty']}`;
  }
  return `${context ?? 'body'}${path}`;
}

function messageOf(issue: ValidationIssue): string {
  if (issue.keyword === 'discriminator') {
    const tag = typeof issue.params?.['tag'] === 'string' ? issue.params['tag'] : '';
    const allowed = (issue.parentSchema?.oneOf ?? []).map((b) => b.properties?.[tag]?.const).filter((v) => v !== undefined);
    if (allowed.length > 0) return `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
  }
  return issue.message ?? 'is invalid';
}

/**
 * A union (one event or a batch, one of five event types) fails in every branch; the
 * branch that got deepest into the input is the one the client meant.
 */
function validationProblem(err: FastifyError): Problem {
  const issues = (err.validation ?? []) as ValidationIssue[];
  const context = err.validationContext;
  // Depth of the value that failed (not of a missing property): an error inside the
  // batch's events beats "missing property type" of the single-event branch at the root.
  const depth = (i: ValidationIssue) => (i.instancePath ?? '').split('/').length;
  const meaningful = issues.filter((i) => i.keyword !== 'anyOf' && i.keyword !== 'oneOf');
  const pool = meaningful.length > 0 ? meaningful : issues;
  const maxDepth = Math.max(...pool.map(depth));
  // The branch chosen by `type`/`kind` mismatch errors say little; prefer others at the deepest level.
  const deepest = pool.filter((i) => depth(i) === maxDepth);
  const best = deepest.find((i) => i.keyword !== 'const' && i.keyword !== 'enum') ?? deepest[0] ?? pool[0];
  const seen = new Set<string>();
  const errors: { field: string; message: string }[] = [];
  for (const i of pool) {
    const field = fieldOf(i, context);
    const message = messageOf(i);
    const key = `${field}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push({ field, message });
    if (errors.length >= 20) break;
  }
  const field = best ? fieldOf(best, context) : (context ?? 'body');
  const message = best ? messageOf(best) : 'is invalid';
  return {
    type: problemType('VALIDATION'),
    title: 'Invalid request',
    status: 400,
    detail: `${field} ${message}`,
    code: 'VALIDATION',
    field,
    errors,
  };
}

function fromExtras(status: number, title: string, detail: string, extras: ProblemExtras): Problem {
  return {
    type: problemType(extras.code ?? `HTTP_${status}`),
    title,
    status,
    detail,
    ...extras,
  };
}

export function toProblem(err: unknown, request: FastifyRequest): Problem {
  if (err instanceof HttpProblem) return fromExtras(err.statusCode, err.title, err.message, err.extras);
  if (err instanceof EngineError) {
    const { status, title } = ENGINE_ERROR_STATUS[err.code] ?? ENGINE_ERROR_STATUS.INTERNAL;
    const extras: ProblemExtras = { code: err.code };
    if (err.state !== undefined) extras.state = err.state as EngineState;
    if (err.available !== undefined) extras.available = err.available;
    if (err.index !== undefined) {
      extras.index = err.index;
      extras.field = `body/events/${err.index}`;
    }
    if (status === 429) extras.retryAfterSeconds = RETRY_AFTER_S;
    // 5xx engine errors carry the engine's own message (no stack); it names the cause.
    return fromExtras(status, title, err.message, extras);
  }
  const fe = err as FastifyError;
  if (fe?.validation) return validationProblem(fe);
  const status = typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 600 ? fe.statusCode : 500;
  if (status >= 500) {
    return fromExtras(500, HTTP_TITLES[500]!, `internal error (request ${request.id})`, { code: 'INTERNAL' });
  }
  return fromExtras(status, HTTP_TITLES[status] ?? 'Error', fe?.message ?? 'request failed', {
    code: typeof fe?.code === 'string' ? fe.code : `HTTP_${status}`,
  });
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  if (problem.retryAfterSeconds !== undefined && !reply.hasHeader('retry-after')) {
    reply.header('retry-after', String(problem.retryAfterSeconds));
  }
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

export default fp(
  async (app) => {
    app.setErrorHandler((err, request, reply) => {
      const problem = toProblem(err, request);
      problem.instance = request.url.split('?')[0];
      if (problem.status >= 500) request.log.error({ err }, 'request failed');
      else request.log.info({ code: problem.code, status: problem.status }, problem.detail);
      return sendProblem(reply, problem);
    });
    app.setNotFoundHandler((request, reply) => {
      return sendProblem(reply, {
        type: problemType('ROUTE_NOT_FOUND'),
        title: 'Not found',
        status: 404,
        detail: `no route ${request.method} ${request.url.split('?')[0]}`,
        code: 'ROUTE_NOT_FOUND',
        instance: request.url.split('?')[0],
      });
    });
  },
  { name: 'gamesrv-problems' },
);
