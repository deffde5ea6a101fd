// Decorates the app with one Engine; closing the app closes the engine.
import fp from 'fastify-plugin';

import { Engine, type EngineConfig, type EngineOptions } from '../engine/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    engine: Engine;
  }
}

export interface EnginePluginOptions {
  engineOptions?: EngineOptions;
  engineConfig?: EngineConfig;
  autoStart?: boolean;
}

export default fp<EnginePluginOptions>(
  async (app, opts) => {
    const engine = new Engine(opts.engineOptions);
    app.decorate('engine', engine);
    app.addHook('onClose', async () => {
      await engine.close();
    });
    if (opts.autoStart) await engine.start(opts.engineConfig);
  },
  { name: 'gamesrv-engine' },
);
