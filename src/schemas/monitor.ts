import { Type } from 'typebox';

export const MonitorStatus = Type.Object(
  {
    serverName: Type.String(),
    segment: Type.String(),
    playerCount: Type.Integer(),
    maxPlayers: Type.Integer(),
    cpuPercent: Type.Number(),
    residentBytes: Type.Number(),
    pid: Type.Integer(),
    cpuCount: Type.Integer(),
    running: Type.Boolean(),
    paused: Type.Boolean(),
    lastUpdateMs: Type.Number(),
    startedAtMs: Type.Number(),
    heartbeat: Type.Number(),
    ageMs: Type.Number(),
    sequence: Type.Number(),
    writer: Type.Enum(['alive', 'dead', 'unknown'], { type: 'string' }),
    stale: Type.Boolean(),
  },
  { $id: 'MonitorStatus', description: 'the shared-memory status segment, read as another process reads it' },
);
