import fp from 'fastify-plugin';

import { JobStore } from '../jobs.js';

declare module 'fastify' {
  interface FastifyInstance {
    jobs: JobStore;
  }
}

export default fp(
  async (app) => {
    const jobs = new JobStore();
    app.decorate('jobs', jobs);
    // Closing cancels a running benchmark (it stops within milliseconds) and waits for it.
    app.addHook('onClose', async () => {
      if (jobs.running) jobs.cancel(jobs.running.id, 'cancelled: the server is shutting down');
      await jobs.idle();
    });
  },
  { name: 'gamesrv-jobs' },
);
