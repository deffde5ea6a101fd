// PLACEHOLDER, replaced by the metrics work: GET /metrics.
import type { FastifyPluginAsync } from 'fastify';

const metricsRoutes: FastifyPluginAsync = async () => {};
export default metricsRoutes;
