// Decorates the app with its telemetry hub (src/telemetry/, docs/TELEMETRY.md), feeds it
// engine state changes and job updates, and registers @fastify/websocket so that closing
// the app closes every telemetry client with a reason before the engine stops.
import websocket from '@fastify/websocket';
import fp from 'fastify-plugin';

import type { Job } from '../jobs.js';
import { ENGINE_CONFIG_DEFAULTS } from '../schemas/engine-config.js';
import { TelemetryHub } from '../telemetry/hub.js';
import type { TelemetryOptions } from '../telemetry/options.js';
import type { StateChange } from '../engine/state-watch.js';

declare module 'fastify' {
  interface FastifyInstance {
    telemetry: TelemetryHub;
  }
}

export default fp<TelemetryOptions>(
  async (app, opts) => {
    const hub = new TelemetryHub(
      {
        engine: app.engine,
        aoiRadius: () => (app.runningConfig() ?? app.engineDefaults).aoiRadius ?? ENGINE_CONFIG_DEFAULTS.aoiRadius,
        state: () => app.engineState.last,
        runningJob: () => app.jobs.running,
        agonesState: () => app.agones?.status().state ?? null,
        log: app.log,
      },
      opts,
    );
    app.decorate('telemetry', hub);
    const onState = (change: StateChange) => hub.onStateChange(change);
    const onJob = (job: Job) => hub.onJobUpdate(job);
    const onAgones = () => hub.onAgonesState();
    app.engineState.on('change', onState);
    app.jobs.on('update', onJob);
    app.agones?.on('state', onAgones);
    const shutdown = async () => {
      app.engineState.off('change', onState);
      app.jobs.off('update', onJob);
      app.agones?.off('state', onAgones);
      await hub.shutdown();
    };
    // Registered here, not in the route plugin, so app.injectWS and the upgrade handling
    // live on the root instance. Its default preClose would close every client with no
    // code (1005); ours says why, while the server is still up.
    await app.register(websocket, {
      options: { maxPayload: hub.limits.maxPayloadBytes },
      preClose: async () => {
        await shutdown();
        app.websocketServer.close();
      },
      errorHandler: (err, socket, request) => {
        request.log.info({ err: { message: err.message } }, 'telemetry socket error');
        // A maxPayload violation arrives here after ws sent its 1009 close frame: let it go out.
        if (socket.readyState === socket.OPEN) socket.terminate();
      },
    });
    app.addHook('onClose', shutdown);
  },
  { name: 'gamesrv-telemetry', dependencies: ['gamesrv-engine', 'gamesrv-jobs', 'gamesrv-agones'] },
);
