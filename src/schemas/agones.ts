// The server as an Agones game server (src/agones/): what GET /v1/engine, the telemetry
// `state` frame and /metrics say about it.
import { Type, type Static } from 'typebox';

import { ref } from './common.js';

/** The SDK sidecar's gRPC port when AGONES_SDK_GRPC_PORT is unset (the SDK's own default). */
export const DEFAULT_SDK_PORT = 9357;

/** The GameServer states Agones reports through WatchGameServer (agones.dev/v1 GameServerState). */
export const AGONES_STATES = [
  'PortAllocation',
  'Creating',
  'Starting',
  'Scheduled',
  'RequestReady',
  'Ready',
  'Reserved',
  'Allocated',
  'Unhealthy',
  'Shutdown',
  'Error',
] as const;
export type AgonesStateName = (typeof AGONES_STATES)[number];

export const AgonesState = Type.Enum(AGONES_STATES, {
  $id: 'AgonesState',
  type: 'string',
  description: 'the GameServer state Agones last reported (WatchGameServer)',
});

export const AgonesStatus = Type.Object(
  {
    state: Type.Union([ref(AgonesState), Type.Null()], { description: 'null until the first WatchGameServer update' }),
    connected: Type.Boolean({ description: 'the SDK sidecar answered (connect retries until it does)' }),
    ready: Type.Boolean({ description: 'Ready() was sent: the engine ran and its game port listened' }),
    healthy: Type.Boolean({ description: 'Health() is being pinged; false while a running game loop stalls' }),
    healthPings: Type.Integer({ description: 'Health() pings sent' }),
    shutdown: Type.Boolean({ description: 'Shutdown() was sent (after the drain and the final storage flush)' }),
  },
  { $id: 'AgonesStatus', description: 'the Agones lifecycle (src/agones/); null in GET /v1/engine when the server is not an Agones game server' },
);
export type AgonesStatus = Static<typeof AgonesStatus>;
