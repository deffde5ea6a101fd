// Decorates the app with its Agones lifecycle (src/agones/), or null when the server is
// not an Agones game server; closing the app closes it (every wait and stream).
import fp from 'fastify-plugin';

import { AgonesLifecycle, type AgonesOptions } from '../agones/lifecycle.js';
import type { EngineOptions } from '../engine/index.js';
import { ENGINE_CONFIG_DEFAULTS, ENGINE_OPTION_DEFAULTS } from '../schemas/engine-config.js';

declare module 'fastify' {
  interface FastifyInstance {
    agones: AgonesLifecycle | null;
  }
}

export interface AgonesPluginOptions {
  /** Be an Agones game server (--agones, AGONES_SDK_GRPC_PORT); unset: not. */
  agones?: AgonesOptions | undefined;
  engineOptions?: EngineOptions;
}

export default fp<AgonesPluginOptions>(
  async (app, opts) => {
    if (opts.agones === undefined) {
      app.decorate('agones', null);
      return;
    }
    const lifecycle = new AgonesLifecycle(
      {
        engine: app.engine,
        engineState: app.engineState,
        expectsGamePort: () => ((app.runningConfig() ?? app.engineDefaults).sessionPort ?? ENGINE_CONFIG_DEFAULTS.sessionPort) !== -1,
        maxPlayers: opts.engineOptions?.maxPlayers ?? ENGINE_OPTION_DEFAULTS.maxPlayers,
        log: app.log,
      },
      opts.agones,
    );
    app.decorate('agones', lifecycle);
    app.addHook('onClose', async () => lifecycle.close());
    lifecycle.start();
  },
  { name: 'gamesrv-agones', dependencies: ['gamesrv-engine'] },
);
