// Decorates the app with one Engine and a state watch; closing the app stops the engine
// within the configured deadline, then closes it.
import fp from 'fastify-plugin';

import { Engine, EngineError, type EngineConfig, type EngineOptions, type TransitionResult } from '../engine/index.js';
import { StateWatch } from '../engine/state-watch.js';
import { ENGINE_CONFIG_DEFAULTS } from '../schemas/engine-config.js';

declare module 'fastify' {
  interface FastifyInstance {
    engine: Engine;
    engineState: StateWatch;
    /** The configuration POST /v1/engine/start starts from. */
    engineDefaults: EngineConfig;
    /**
     * Starts the engine with `config` and remembers it as the running configuration. One
     * start at a time: a second call while one is in flight is refused (INVALID_STATE).
     */
    startEngine(config: EngineConfig): Promise<TransitionResult>;
    /** The configuration the engine runs with (running, paused, stopping), else null. */
    runningConfig(): EngineConfig | null;
    stopDeadlineMs: number;
    /** Where players reconnect when this server drains ("" none; --handoff-url). */
    handoffUrl: string;
  }
}

export interface EnginePluginOptions {
  engineOptions?: EngineOptions;
  engineConfig?: EngineConfig;
  autoStart?: boolean;
  /** Deadline of the engine stop when the app closes (and the default of POST /v1/engine/stop); default the engine's shutdownDeadlineMs. */
  stopDeadlineMs?: number;
  /** The drain NOTICE's reconnect hint (--handoff-url); a drain request's handoffUrl wins. */
  handoffUrl?: string;
  /** How often engine-initiated changes (a pipe SHUTDOWN) are looked for; default 100 ms. */
  stateCheckMs?: number;
}


export default fp<EnginePluginOptions>(
  async (app, opts) => {
    const engine = new Engine(opts.engineOptions);
    const watch = new StateWatch(engine);
    const stopDeadlineMs = opts.stopDeadlineMs ?? ENGINE_CONFIG_DEFAULTS.shutdownDeadlineMs;
    app.decorate('engine', engine);
    app.decorate('engineState', watch);
    // The engine's own deadline (pipe SHUTDOWN, close(), process clean-up) is the server's.
    app.decorate('engineDefaults', { shutdownDeadlineMs: stopDeadlineMs, ...(opts.engineConfig ?? {}) });
    app.decorate('stopDeadlineMs', stopDeadlineMs);
    app.decorate('handoffUrl', opts.handoffUrl ?? '');
    const timer = setInterval(() => watch.check(), opts.stateCheckMs ?? 100);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      const state = engine.state;
      if (!engine.closed && (state === 'running' || state === 'paused')) {
        const report = await engine.stop({ deadlineMs: stopDeadlineMs });
        const { accepted, processed } = engine.snapshot().events;
        // The final counts, so an operator (and the shutdown test) can see nothing was lost.
        app.log.info({ report, events: { accepted, processed } }, 'engine stopped');
      }
      watch.check();
      await engine.close();
      watch.check();
    });
    let started: EngineConfig | null = null;
    let starting = false;
    app.decorate('startEngine', async (config: EngineConfig) => {
      if (starting) throw new EngineError('INVALID_STATE', 'cannot start while another start is in progress', { state: 'starting' });
      starting = true;
      try {
        const result = await engine.start(config);
        started = { ...config };
        return result;
      } finally {
        starting = false;
        watch.check();
      }
    });
    app.decorate('runningConfig', () => (engine.closed || engine.state === 'stopped' ? null : started));
    if (opts.autoStart) await app.startEngine({ ...app.engineDefaults });
  },
  { name: 'gamesrv-engine' },
);
