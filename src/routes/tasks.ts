import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

import type { TaskSpec as EngineTaskSpec } from '../engine/index.js';
import { HttpProblem } from '../problems.js';
import { IdParams, problems, ref } from '../schemas/common.js';
import { Task, TaskCancelled, TaskCreated, TaskList, TaskListQuery, TaskSpec } from '../schemas/tasks.js';

const taskRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const find = (id: number) => {
    const task = app.engine.task(id);
    if (!task) {
      throw new HttpProblem(404, 'Not found', `no task ${id} (unknown, or dropped from the bounded history)`, {
        code: 'NOT_FOUND',
      });
    }
    return task;
  };

  app.post(
    '/v1/tasks',
    {
      schema: {
        tags: ['tasks'],
        operationId: 'createTask',
        summary: 'Schedule a task: player-update, game-logic or database; optional delayMs / intervalMs',
        body: ref(TaskSpec),
        response: { 202: ref(TaskCreated), ...problems(400, 401, 409, 413, 429) },
      },
    },
    async (request, reply) => {
      const spec = request.body;
      if (spec.kind === 'game-logic') {
        // A task that never ends must be asked for, not had by leaving a field out.
        if ((spec.ticks === undefined) === (spec.forever === undefined)) {
          throw new HttpProblem(
            400,
            'Invalid request',
            spec.ticks === undefined
              ? 'a game-logic task needs ticks (how many), or "forever": true to run until cancelled'
              : 'give ticks or "forever": true, not both',
            { code: 'VALIDATION', field: 'body/ticks' },
          );
        }
      }
      const { forever: _forever, ...engineSpec } = spec as typeof spec & { forever?: true };
      const { id } = app.engine.submitTask(engineSpec as EngineTaskSpec);
      const location = `/v1/tasks/${id}`;
      return reply.code(202).header('location', location).send({ id, location });
    },
  );

  app.get(
    '/v1/tasks',
    {
      schema: {
        tags: ['tasks'],
        operationId: 'listTasks',
        summary: 'Recent tasks, newest first (active ones and the bounded history), a page at a time (limit, after)',
        querystring: TaskListQuery,
        response: { 200: ref(TaskList), ...problems(400) },
      },
    },
    async (request, reply) => {
      const limit = request.query.limit ?? 100;
      // One more than the page tells whether another page follows.
      const tasks = app.engine.tasks(limit + 1, request.query.after);
      const more = tasks.length > limit;
      if (more) tasks.length = limit;
      const next = more ? `/v1/tasks?limit=${limit}&after=${tasks[tasks.length - 1]!.id}` : null;
      if (next !== null) reply.header('link', `<${next}>; rel="next"`);
      return { tasks, next };
    },
  );

  app.get(
    '/v1/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        operationId: 'getTask',
        summary: 'One task: status, result, timestamps',
        params: IdParams,
        response: { 200: ref(Task), ...problems(400, 404) },
      },
    },
    async (request) => find(request.params.id),
  );

  app.delete(
    '/v1/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        operationId: 'cancelTask',
        summary: 'Cancel a task (a periodic one stops; a finished one is left as it was)',
        params: IdParams,
        response: { 200: ref(TaskCancelled), ...problems(400, 401, 404, 413, 429) },
      },
    },
    async (request) => {
      const id = request.params.id;
      find(id);
      const cancelled = app.engine.cancelTask(id);
      return { id, cancelled, task: find(id) };
    },
  );
};

export default taskRoutes;

