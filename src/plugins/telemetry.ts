// PLACEHOLDER, replaced by the telemetry work: the shared snapshot hub.
import fp from 'fastify-plugin';

export interface TelemetryOptions {
  [key: string]: unknown;
}

export default fp<TelemetryOptions>(async () => {}, { name: 'gamesrv-telemetry' });
