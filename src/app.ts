// Builds the application as a plugin tree; src/server.ts alone listens.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';

import enginePlugin, { type EnginePluginOptions } from './plugins/engine.js';
import health from './routes/health.js';

export interface AppOptions extends EnginePluginOptions {
  fastify?: FastifyServerOptions;
}

export async function buildApp(opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(opts.fastify ?? {});
  await app.register(enginePlugin, opts);
  await app.register(health);
  return app;
}
