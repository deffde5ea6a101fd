import type { FastifyPluginAsync } from 'fastify';

const health: FastifyPluginAsync = async (app) => {
  app.get('/v1/health', async () => ({ status: 'ok' }));
  app.get('/v1/engine', async () => {
    const s = app.engine.snapshot();
    return { state: s.state, uptimeMs: s.uptimeMs, starts: s.starts, players: s.players, events: { accepted: s.events.accepted, processed: s.events.processed, queueDepth: s.events.queueDepth } };
  });
  app.get('/v1/stats', async () => app.engine.snapshot());
};

export default health;
