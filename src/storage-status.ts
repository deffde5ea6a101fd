// The answer of GET /v1/storage and the data of the telemetry `storage` topic: one shape
// (StorageStatus), made in one place from an engine snapshot, so the two cannot drift.
import type { EngineSnapshot } from './engine/index.js';
import type { StorageStatus } from './schemas/stats.js';

/** The snapshot's database (`storage`) and journal sections, as GET /v1/storage answers them. */
export function storageStatus(snap: Pick<EngineSnapshot, 'storage' | 'journal'>): StorageStatus {
  return { storage: snap.storage, journal: snap.journal };
}
