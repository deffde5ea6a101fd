// `gamesrv replay --to URL`: re-sends a journal's events to a running server as load, in
// journal order, through POST /v1/events. One request is in flight at a time, so the
// target applies them in the recorded order; `speed` keeps the recorded pacing (2: twice as
// fast), `max` sends batches back to back. A 429 (queue or journal full) is back-pressure:
// the batch is sent again after the server's Retry-After. Any other refusal stops the run.
import { setTimeout as sleep } from 'node:timers/promises';

import { readJournal, type JournaledEvent } from './engine/index.js';
import { MAX_EVENTS_PER_REQUEST } from './schemas/events.js';

/** Events read from the journal per page (memory stays bounded whatever its size). */
const PAGE_EVENTS = 50_000;
/** Events per request at `--speed max` (the route's limit is MAX_EVENTS_PER_REQUEST). */
export const REPLAY_BATCH_EVENTS = Math.min(1_000, MAX_EVENTS_PER_REQUEST);
/** Wait before resending a refused batch when the server gave no Retry-After, ms. */
const DEFAULT_RETRY_MS = 100;

export interface ReplayLoadOptions {
  dataDir: string;
  /** The server's base URL (http://host:port). */
  to: string;
  /** Pacing: recorded time divided by this; 'max' for none. */
  speed: number | 'max';
  token?: string;
  /** Replays only events after this seq. */
  afterSeq?: number;
  onProgress?: (r: ReplayLoadReport) => void;
}

export interface ReplayLoadReport {
  events: number;
  requests: number;
  /** Batches sent again after a 429. */
  retries: number;
  lastSeq: number;
  durationMs: number;
  eventsPerSec: number;
}

export class ReplayLoadError extends Error {}

function body(batch: JournaledEvent[]): string {
  return JSON.stringify({
    events: batch.map(({ seq: _seq, atMs: _atMs, session: _session, ...event }) => event),
  });
}

export async function replayLoad(o: ReplayLoadOptions): Promise<ReplayLoadReport> {
  const url = new URL('/v1/events', o.to).toString();
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.token) headers['authorization'] = `Bearer ${o.token}`;
  const report: ReplayLoadReport = { events: 0, requests: 0, retries: 0, lastSeq: o.afterSeq ?? 0, durationMs: 0, eventsPerSec: 0 };
  const t0 = performance.now();
  let firstAtMs: number | undefined;

  const send = async (batch: JournaledEvent[]): Promise<void> => {
    const payload = body(batch);
    for (;;) {
      const res = await fetch(url, { method: 'POST', headers, body: payload });
      report.requests++;
      const text = await res.text();
      if (res.status === 202) break;
      if (res.status === 429) {
        report.retries++;
        const after = Number(res.headers.get('retry-after'));
        await sleep(Number.isFinite(after) && after > 0 ? after * 1000 : DEFAULT_RETRY_MS);
        continue;
      }
      throw new ReplayLoadError(`POST ${url} answered ${res.status} for the events ${batch[0]!.seq}..${batch.at(-1)!.seq}: ${text}`);
    }
    report.events += batch.length;
    report.lastSeq = batch.at(-1)!.seq;
    o.onProgress?.(report);
  };

  let after = o.afterSeq ?? 0;
  for (;;) {
    const page = await readJournal(o.dataDir, after, PAGE_EVENTS);
    if (page.events.length === 0) break;
    let batch: JournaledEvent[] = [];
    for (const e of page.events) {
      // A batch holds events recorded at one time (paced) or up to the batch size (max).
      const paced = o.speed !== 'max';
      if (batch.length > 0 && (batch.length >= REPLAY_BATCH_EVENTS || (paced && e.atMs !== batch[0]!.atMs))) {
        await send(batch);
        batch = [];
      }
      if (batch.length === 0 && o.speed !== 'max') {
        firstAtMs ??= e.atMs;
        const dueMs = (e.atMs - firstAtMs) / o.speed - (performance.now() - t0);
        if (dueMs > 0) await sleep(dueMs);
      }
      batch.push(e);
    }
    if (batch.length > 0) await send(batch);
    after = page.events.at(-1)!.seq;
  }
  report.durationMs = performance.now() - t0;
  report.eventsPerSec = report.durationMs > 0 ? (report.events * 1000) / report.durationMs : 0;
  return report;
}
