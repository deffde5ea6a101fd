// /v1/jobs: the jobs the benchmark routes start (src/jobs.ts): list, read, cancel.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

import { HttpProblem } from '../problems.js';
import { problems, ref } from '../schemas/common.js';
import { Job, JobCancelled } from '../schemas/jobs.js';

const jobRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.delete(
    '/v1/jobs/:id',
    {
      schema: {
        tags: ['benchmarks'],
        operationId: 'cancelJob',
        summary: 'Cancel a running job: it stops within moments and keeps the rows done so far (a finished one is left as it was)',
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 200: ref(JobCancelled), ...problems(400, 401, 404, 413, 429) },
      },
    },
    async (request) => {
      const job = app.jobs.get(request.params.id);
      if (!job) throw new HttpProblem(404, 'Not found', `no job ${request.params.id}`, { code: 'NOT_FOUND' });
      const cancelled = app.jobs.cancel(job.id, 'cancelled by DELETE /v1/jobs/{id}');
      return { id: job.id, cancelled, job };
    },
  );

  app.get(
    '/v1/jobs',
    { schema: { tags: ['benchmarks'], operationId: 'listJobs', summary: 'Recent jobs, newest first', response: { 200: Type.Object({ jobs: Type.Array(ref(Job)) }) } } },
    async () => ({ jobs: app.jobs.list() }),
  );

  app.get(
    '/v1/jobs/:id',
    {
      schema: {
        tags: ['benchmarks'],
        operationId: 'getJob',
        summary: 'A job: status, progress and, once done, the table',
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 200: ref(Job), ...problems(404) },
      },
    },
    async (request) => {
      const job = app.jobs.get(request.params.id);
      if (!job) throw new HttpProblem(404, 'Not found', `no job ${request.params.id}`, { code: 'NOT_FOUND' });
      return job;
    },
  );
};

export default jobRoutes;
