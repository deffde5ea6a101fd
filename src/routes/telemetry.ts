// PLACEHOLDER, replaced by the telemetry work: WS GET /v1/telemetry.
import type { FastifyPluginAsync } from 'fastify';

const telemetryRoutes: FastifyPluginAsync = async () => {};
export default telemetryRoutes;
