// PLACEHOLDER, replaced by the dashboard work: GET / and its static assets.
import type { FastifyPluginAsync } from 'fastify';

const dashboardRoutes: FastifyPluginAsync = async () => {};
export default dashboardRoutes;
