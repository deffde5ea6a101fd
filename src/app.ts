// Builds the application as a plugin tree; src/server.ts alone listens, logs and owns signals.
import { randomBytes } from 'node:crypto';

import { AjvCompiler } from '@fastify/ajv-compiler';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';

import { HttpProblem } from './problems.js';
import { SAFE_METHODS } from './methods.js';
import agones, { type AgonesPluginOptions } from './plugins/agones.js';
import auth from './plugins/auth.js';
import originGuard from './plugins/origin.js';
import enginePlugin, { type EnginePluginOptions } from './plugins/engine.js';
import jobs from './plugins/jobs.js';
import problems from './plugins/problems.js';
import schemas from './plugins/schemas.js';
import telemetry from './plugins/telemetry.js';
import type { TelemetryOptions } from './telemetry/options.js';
import benchmarkRoutes from './routes/benchmarks.js';
import dashboardRoutes from './routes/dashboard.js';
import engineRoutes from './routes/engine.js';
import eventRoutes from './routes/events.js';
import health from './routes/health.js';
import ipcRoutes from './routes/ipc.js';
import jobRoutes from './routes/jobs.js';
import metricsRoutes from './routes/metrics.js';
import monitorRoutes from './routes/monitor.js';
import playerRoutes from './routes/players.js';
import statsRoutes from './routes/stats.js';
import storageRoutes from './routes/storage.js';
import taskRoutes from './routes/tasks.js';
import telemetryRoutes from './routes/telemetry.js';
import sessionRoutes from './routes/sessions.js';
import ticketRoutes from './routes/tickets.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The key that signs login tickets (src/tickets.ts); the game port verifies with it. */
    ticketSecret: Buffer;
  }
}

export interface RateLimitOptions {
  /** Mutating requests per window per client address; 0 turns the limit off. */
  max: number;
  windowMs: number;
}

export interface AppOptions extends EnginePluginOptions {
  /** Be an Agones game server (src/agones/): the SDK sidecar's port and the Health() period. */
  agones?: AgonesPluginOptions['agones'];
  fastify?: FastifyServerOptions;
  /** Bearer token for mutating routes and WebSocket control messages; unset = open. */
  token?: string | undefined;
  /** The listen address (always an allowed Host) and more allowed Host names (src/plugins/origin.ts). */
  listenHost?: string | undefined;
  allowedHosts?: readonly string[] | undefined;
  rateLimit?: RateLimitOptions;
  telemetry?: TelemetryOptions;
  /** Serve the Swagger UI at /docs (default true). */
  docsUi?: boolean;
  /**
   * Signs login tickets (src/ticket-secret.ts resolves the server's). Unset: a random one
   * for this app alone, so its tickets are good for its own engine only.
   */
  ticketSecret?: Buffer | undefined;
}


interface OpenApiDoc {
  paths?: Record<string, Record<string, { requestBody?: { required?: boolean; content?: Record<string, { schema?: Record<string, unknown> }> } }>>;
}

/**
 * Bodies declared as `X or null` (lifecycle and benchmark routes, where `curl -X POST`
 * with no body means "no options") become an optional body of X, so generated clients
 * can call them without one.
 */
function optionalBodies<T extends OpenApiDoc>(doc: T): T {
  for (const ops of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(ops)) {
      const body = op.requestBody;
      const json = body?.content?.['application/json'];
      const branches = json?.schema?.['anyOf'] as Record<string, unknown>[] | undefined;
      if (!body || !json || !branches) continue;
      const rest = branches.filter((b) => b['type'] !== 'null' && b['nullable'] !== true);
      if (rest.length === 1 && rest.length < branches.length) {
        json.schema = rest[0]!;
        body.required = false;
      }
    }
  }
  return doc;
}

export const API_VERSION = '1.0.0';

const AJV_OPTIONS = {
  // The union schemas (one event or a batch; five event types) must not lose fields
  // to a branch that failed: no removeAdditional.
  removeAdditional: false,
  // Path and query strings are text: "42" is the number 42 there (and ?x=1 an array of
  // one where an array is wanted). A JSON body has types: "42" is not a number there.
  coerceTypes: 'array',
  useDefaults: true,
  allErrors: false,
  verbose: true,
  discriminator: true,
} as const;

/** One validator compiler for JSON bodies (no type coercion), one for everything else. */
function validatorsByPart() {
  const pool = AjvCompiler();
  return (externalSchemas: unknown, options: { customOptions?: Record<string, unknown>; plugins?: unknown[] }) => {
    const text = pool(externalSchemas as never, { ...options, customOptions: { ...options.customOptions } } as never);
    const json = pool(externalSchemas as never, { ...options, customOptions: { ...options.customOptions, coerceTypes: false } } as never);
    return (route: { httpPart?: string }) => (route.httpPart === 'body' ? json : text)(route as never);
  };
}

/**
 * How the control plane validates requests: Fastify options. The http bench's bare
 * baseline (bench/fixtures/bare-server.ts) takes the same, so both validate alike.
 */
export function validationOptions() {
  return {
    ajv: { customOptions: AJV_OPTIONS },
    schemaController: { compilersFactory: { buildValidator: validatorsByPart() as never } },
  };
}

export async function buildApp(opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: 1024 * 1024,
    ...validationOptions(),
    ...opts.fastify,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(problems);
  await app.register(schemas);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'gamesrv control plane',
        version: API_VERSION,
        description:
          'Start, pause, resume and stop the engine; enqueue events and tasks; read players, stats and the monitor. ' +
          'Errors are RFC 9457 problem details. Live telemetry: WebSocket GET /v1/telemetry (docs/TELEMETRY.md).',
      },
      servers: [{ url: 'http://127.0.0.1:8080', description: '`npm start` (loopback; --host and --port change it)' }],
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'GAMESRV_TOKEN; needed by mutating routes when set' } },
      },
      tags: [
        { name: 'health' },
        { name: 'engine' },
        { name: 'events' },
        { name: 'tasks' },
        { name: 'players' },
        { name: 'tickets' },
        { name: 'io' },
        { name: 'stats' },
        { name: 'benchmarks' },
      ],
    },
    transformObject: (doc) => ('openapiObject' in doc ? optionalBodies(doc.openapiObject as OpenApiDoc) : doc.swaggerObject) as never,
    refResolver: {
      buildLocalReference(json, _baseUri, _fragment, i) {
        return typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`;
      },
    },
  });
  if (opts.docsUi !== false) await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // onRequest order: the origin guard, then the rate limit (so failed authentication
  // counts against it), then the token.
  await app.register(originGuard, { listenHost: opts.listenHost, allowedHosts: opts.allowedHosts });
  const limit = opts.rateLimit ?? { max: 6000, windowMs: 60_000 };
  if (limit.max > 0) {
    await app.register(rateLimit, {
      max: limit.max,
      timeWindow: limit.windowMs,
      allowList: (request) => SAFE_METHODS.has(request.method),
      // request.ip is undefined on a unix socket or an injected request.
      keyGenerator: (request) => request.ip ?? 'local',
      errorResponseBuilder: (_request, context) =>
        new HttpProblem(429, 'Too many requests', `rate limit of ${context.max} mutating requests per window exceeded; retry in ${context.after}`, {
          code: 'RATE_LIMITED',
          retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
        }),
    });
  }
  await app.register(auth, { token: opts.token });
  // Text, as the secret files and GAMESRV_TICKET_SECRET are: the engine takes its UTF-8 bytes.
  const ticketSecret = opts.ticketSecret ?? Buffer.from(randomBytes(32).toString('base64url'), 'utf8');
  app.decorate('ticketSecret', ticketSecret);
  await app.register(enginePlugin, { ...opts, engineOptions: { ...opts.engineOptions, ticketSecret: ticketSecret.toString('utf8') } });
  await app.register(agones, { agones: opts.agones, ...(opts.engineOptions ? { engineOptions: opts.engineOptions } : {}) });
  await app.register(jobs);
  await app.register(telemetry, opts.telemetry ?? {});

  await app.register(health);
  await app.register(statsRoutes);
  await app.register(storageRoutes);
  await app.register(engineRoutes);
  await app.register(eventRoutes);
  await app.register(taskRoutes);
  await app.register(playerRoutes);
  await app.register(ticketRoutes);
  await app.register(sessionRoutes);
  await app.register(monitorRoutes);
  await app.register(ipcRoutes);
  await app.register(benchmarkRoutes);
  await app.register(jobRoutes);
  await app.register(metricsRoutes);
  await app.register(telemetryRoutes);
  await app.register(dashboardRoutes);
  return app;
}
