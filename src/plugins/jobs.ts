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
    // A running native benchmark cannot be interrupted; closing waits for it.
    app.addHook('onClose', async () => jobs.idle());
  },
  { name: 'gamesrv-jobs' },
);
