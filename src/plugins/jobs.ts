import fp from 'fastify-plugin';

import { cancelLockBenchmarks } from '../engine/index.js';
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
      if (jobs.running) cancelLockBenchmarks();
      await jobs.idle();
    });
  },
  { name: 'gamesrv-jobs' },
);
