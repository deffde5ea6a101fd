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
      const { id } = app.engine.submitTask(request.body as EngineTaskSpec);
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
        summary: 'Recent tasks, newest first (active ones and the bounded history)',
        querystring: TaskListQuery,
        response: { 200: ref(TaskList), ...problems(400) },
      },
    },
    async (request) => ({ tasks: app.engine.tasks(request.query.limit ?? 100) }),
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

