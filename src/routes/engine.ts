import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

import type { EngineConfig, EngineState } from '../engine/index.js';
import { HttpProblem } from '../problems.js';
import { problems, ref } from '../schemas/common.js';
import { EngineStatus, NoOptions, StartConfig, StopOptions, StopReport, Transition } from '../schemas/engine.js';

/** A URL with its password replaced by "***" (the configuration is readable without a token). */
export function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url === '' ? '' : '(not a URL)';
  }
}

const shown = (config: EngineConfig): EngineConfig =>
  config.databaseUrl ? { ...config, databaseUrl: withoutPassword(config.databaseUrl) } : config;

// An empty POST (curl -X POST) has no body; the schemas accept that as "no options".
const optional = <T extends Parameters<typeof ref>[0]>(s: T) => Type.Union([ref(s), Type.Null()]);

const engineRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const conflict = (action: string, allowed: EngineState[]) => {
    const state = app.engineState.check();
    if (!allowed.includes(state)) {
      throw new HttpProblem(409, 'Wrong engine state', `cannot ${action} while ${state}`, {
        code: 'INVALID_STATE',
        state,
      });
    }
  };

  app.get(
    '/v1/engine',
    { schema: { tags: ['engine'], operationId: 'getEngine', summary: 'State, the running configuration (when stopped: the one a start without a body uses), uptime and counts', response: { 200: ref(EngineStatus) } } },
    async () => {
      const s = app.engine.snapshot();
      return {
        state: s.state,
        uptimeMs: s.uptimeMs,
        starts: s.starts,
        config: shown(app.runningConfig() ?? app.engineDefaults),
        players: s.players,
        events: {
          accepted: s.events.accepted,
          processed: s.events.processed,
          queueDepth: s.events.queueDepth,
          queueCapacity: s.events.queueCapacity,
        },
        tasks: { submitted: s.tasks.submitted, active: s.tasks.active },
        agones: app.agones?.status() ?? null,
      };
    },
  );

  app.post(
    '/v1/engine/start',
    {
      schema: {
        tags: ['engine'],
        operationId: 'startEngine',
        summary: 'Start the engine (stopped → running); fields override the server configuration',
        body: optional(StartConfig),
        response: { 200: ref(Transition), ...problems(400, 401, 409, 413, 429, 500) },
      },
    },
    async (request) => {
      conflict('start', ['stopped']);
      const config: EngineConfig = { ...app.engineDefaults, ...(request.body ?? {}) };
      return app.startEngine(config);
    },
  );

  for (const [action, allowed] of [
    ['pause', ['running']],
    ['resume', ['paused']],
  ] as const) {
    app.post(
      `/v1/engine/${action}`,
      {
        schema: {
          tags: ['engine'],
          operationId: action === 'pause' ? 'pauseEngine' : 'resumeEngine',
          summary: action === 'pause' ? 'Pause (running → paused): events queue up, ticks stop' : 'Resume (paused → running)',
          body: optional(NoOptions),
          response: { 200: ref(Transition), ...problems(400, 401, 409, 413, 429) },
        },
      },
      async () => {
        conflict(action, [...allowed]);
        try {
          return await (action === 'pause' ? app.engine.pause() : app.engine.resume());
        } finally {
          app.engineState.check();
        }
      },
    );
  }

  app.post(
    '/v1/engine/stop',
    {
      schema: {
        tags: ['engine'],
        operationId: 'stopEngine',
        summary: 'Stop (running or paused → stopped): drains every accepted event, cancels unfinished tasks',
        body: optional(StopOptions),
        response: { 200: ref(StopReport), ...problems(400, 401, 409, 413, 429) },
      },
    },
    async (request) => {
      conflict('stop', ['running', 'paused']);
      try {
        return await app.engine.stop({ deadlineMs: request.body?.deadlineMs ?? app.stopDeadlineMs });
      } finally {
        app.engineState.check();
      }
    },
  );
};

export default engineRoutes;
