import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

import { defaultLockBenchmarkIterations, defaultLockBenchmarkThreads, lockKinds, runLockBenchmark } from '../engine/index.js';
import { HttpProblem } from '../problems.js';
import { problems, ref } from '../schemas/common.js';
import { JobAccepted, LockBenchmarkRequest, MAX_LOCK_OPS_PER_JOB } from '../schemas/jobs.js';

// POST /v1/benchmarks/locks: the seed's lock comparison as a job (the jobs are served by routes/jobs.ts).
const benchmarkRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/benchmarks/locks',
    {
      schema: {
        tags: ['benchmarks'],
        operationId: 'startLockBenchmark',
        summary: "Run the seed's lock comparison as a job, off the event loop",
        description: 'Answers 202 with the job\'s Location; progress is on the telemetry topic `jobs`. One job runs at a time.',
        body: Type.Union([ref(LockBenchmarkRequest), Type.Null()]),
        response: { 202: ref(JobAccepted), ...problems(400, 401, 409, 413, 429) },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const known = lockKinds();
      if (body.kinds) {
        const unknown = body.kinds.filter((k) => !known.includes(k));
        if (unknown.length > 0) {
          throw new HttpProblem(400, 'Invalid request', `unknown lock kind(s) ${unknown.join(', ')}; known: ${known.join(', ')}`, {
            code: 'VALIDATION',
            field: 'body/kinds',
          });
        }
      }
      // The same defaults the engine applies (lock_benchmark.hpp), so the budget counts what would run.
      const threads = body.threads ?? defaultLockBenchmarkThreads();
      const iterations = body.iterations ?? defaultLockBenchmarkIterations();
      const ops = threads * iterations * (body.kinds?.length ?? known.length);
      if (ops > MAX_LOCK_OPS_PER_JOB) {
        throw new HttpProblem(
          400,
          'Invalid request',
          `threads × iterations × kinds = ${ops.toLocaleString('en')} lock operations; a job may do at most ${MAX_LOCK_OPS_PER_JOB.toLocaleString('en')}`,
          { code: 'VALIDATION', field: 'body' },
        );
      }
      const running = app.jobs.running;
      if (running) {
        reply.header('location', `/v1/jobs/${running.id}`);
        throw new HttpProblem(409, 'Busy', `job ${running.id} is still running; one benchmark runs at a time`, { code: 'BUSY' });
      }
      const job = app.jobs.startLockBenchmark(body, runLockBenchmark);
      const location = `/v1/jobs/${job.id}`;
      return reply.code(202).header('location', location).send({ id: job.id, location });
    },
  );
};

export default benchmarkRoutes;
