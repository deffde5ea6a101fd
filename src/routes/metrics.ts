// GET /metrics: Prometheus text format. Process and Node metrics come from prom-client's
// default collectors; engine metrics are read from ONE engine snapshot per scrape, in
// base units (seconds, bytes), with no per-player labels.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { collectDefaultMetrics, type Metric, Registry } from 'prom-client';
import { Type } from 'typebox';

import {
  EVENT_TYPES,
  INVALID_REASONS,
  type EngineSnapshot,
  type EngineState,
  type Histogram,
} from '../engine/index.js';
import { AGONES_STATES, type AgonesStatus } from '../schemas/agones.js';
import { ENGINE_STATES } from '../schemas/common.js';
import type { TelemetryStats } from '../telemetry/hub.js';

type Labels = Record<string, string>;

interface Sample {
  value: number;
  labels?: Labels;
  /** For a summary's `_sum` and `_count` lines. */
  metricName?: string;
}

interface Family<S = EngineSnapshot> {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'summary';
  samples(s: S): Sample[];
}

/** Microseconds to seconds (a division: `x * 1e-6` prints 0.00026076699999999996). */
const seconds = (us: number): number => us / 1e6;

const counter = (name: string, help: string, read: (s: EngineSnapshot) => number): Family => ({
  name,
  help,
  type: 'counter',
  samples: (s) => [{ value: read(s) }],
});

const gauge = (name: string, help: string, read: (s: EngineSnapshot) => number): Family => ({
  name,
  help,
  type: 'gauge',
  samples: (s) => [{ value: read(s) }],
});

const QUANTILES = [
  ['0.5', 'p50'],
  ['0.9', 'p90'],
  ['0.99', 'p99'],
  ['0.999', 'p999'],
] as const;

/**
 * A Prometheus summary built from an engine Histogram in microseconds. The engine's
 * histograms are cumulative over the engine's life (never reset), so the quantiles
 * are lifetime quantiles, not a sliding window; `_sum` is mean × count. Quantiles of
 * an empty histogram are NaN (no observations), as the Go client writes them.
 */
function summarySamples(h: Histogram, labels: Labels, name: string): Sample[] {
  const out: Sample[] = QUANTILES.map(([quantile, field]) => ({
    labels: { ...labels, quantile },
    value: h.count > 0 ? seconds(h[field]) : Number.NaN,
  }));
  out.push({ metricName: `${name}_sum`, labels, value: seconds(h.mean * h.count) });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

const summary = (name: string, help: string, read: (s: EngineSnapshot) => Histogram): Family => ({
  name,
  help,
  type: 'summary',
  samples: (s) => summarySamples(read(s), {}, name),
});

const ENGINE_FAMILIES: readonly Family[] = [
  {
    name: 'gamesrv_engine_state',
    help: 'Engine state: 1 for the current state, 0 for the others',
    type: 'gauge',
    samples: (s) => ENGINE_STATES.map((state: EngineState) => ({ labels: { state }, value: state === s.state ? 1 : 0 })),
  },
  gauge('gamesrv_engine_uptime_seconds', 'Time since the engine last started', (s) => s.uptimeMs / 1000),
  counter('gamesrv_engine_starts_total', 'Engine starts', (s) => s.starts),

  counter('gamesrv_events_accepted_total', 'Events accepted into the queue', (s) => s.events.accepted),
  {
    name: 'gamesrv_events_processed_total',
    help: 'Events processed by the event thread, by event type',
    type: 'counter',
    samples: (s) => EVENT_TYPES.map((type) => ({ labels: { type }, value: s.events.byType[type].processed })),
  },
  {
    name: 'gamesrv_events_applied_total',
    help: 'Processed events that changed the world, by event type',
    type: 'counter',
    samples: (s) => EVENT_TYPES.map((type) => ({ labels: { type }, value: s.events.byType[type].applied })),
  },
  {
    name: 'gamesrv_events_invalid_total',
    help: 'Processed events the world refused, by reason',
    type: 'counter',
    samples: (s) => INVALID_REASONS.map((reason) => ({ labels: { reason }, value: s.events.invalidByReason[reason] })),
  },
  counter('gamesrv_events_rejected_total', 'Events refused because the queue was full (nothing of their batch was accepted)', (s) => s.events.rejectedEvents),
  gauge('gamesrv_event_queue_depth', 'Accepted events not yet processed', (s) => s.events.queueDepth),
  gauge('gamesrv_event_queue_capacity', 'Events the queue holds', (s) => s.events.queueCapacity),
  {
    name: 'gamesrv_event_latency_seconds',
    help: 'Time from acceptance to processed, by event type; quantiles over the engine lifetime',
    type: 'summary',
    samples: (s) => EVENT_TYPES.flatMap((type) => summarySamples(s.events.byType[type].latencyUs, { type }, 'gamesrv_event_latency_seconds')),
  },
  {
    name: 'gamesrv_event_latency_max_seconds',
    help: 'Largest acceptance-to-processed time seen, by event type',
    type: 'gauge',
    samples: (s) => EVENT_TYPES.map((type) => ({ labels: { type }, value: seconds(s.events.byType[type].latencyUs.max) })),
  },

  gauge('gamesrv_pool_threads', 'Thread-pool threads', (s) => s.pool.threads),
  gauge('gamesrv_pool_idle_threads', 'Thread-pool threads waiting for work', (s) => s.pool.idleThreads),
  gauge('gamesrv_pool_max_threads', 'Thread-pool thread limit', (s) => s.pool.maxThreads),
  gauge('gamesrv_pool_queue_depth', 'Work items queued for the thread pool', (s) => s.pool.queueDepth),
  gauge('gamesrv_pool_queue_capacity', 'Work items the thread-pool queue holds', (s) => s.pool.queueCapacity),
  counter('gamesrv_pool_submitted_total', 'Work items submitted to the thread pool', (s) => s.pool.submitted),
  counter('gamesrv_pool_completed_total', 'Work items the thread pool completed', (s) => s.pool.completed),
  counter('gamesrv_pool_failed_total', 'Work items that failed', (s) => s.pool.failed),
  counter('gamesrv_pool_cancelled_total', 'Work items cancelled before they ran', (s) => s.pool.cancelled),
  counter('gamesrv_pool_rejected_total', 'Work items refused by a full queue', (s) => s.pool.rejected),
  summary('gamesrv_pool_queue_wait_seconds', 'Time a work item waited in the queue; quantiles over the engine lifetime', (s) => s.pool.queueWaitUs),
  summary('gamesrv_pool_run_seconds', 'Time a work item ran; quantiles over the engine lifetime', (s) => s.pool.runUs),

  gauge('gamesrv_tasks_active', 'Scheduled tasks not yet finished', (s) => s.tasks.active),

  counter('gamesrv_storage_flushes_total', 'Write-behind flushes of changed players (one transaction each)', (s) => s.storage.flushes),
  counter('gamesrv_storage_rows_flushed_total', 'Player rows written by flushes', (s) => s.storage.rowsFlushed),
  counter('gamesrv_storage_flush_refused_not_owner_total', 'Player rows a flush did not write: another server owns them now', (s) => s.storage.flushRefusedNotOwner),
  counter('gamesrv_storage_flush_failures_total', 'Flushes that failed (their rows stay dirty and are retried)', (s) => s.storage.flushFailures),
  gauge('gamesrv_storage_dirty_players', 'Changed players waiting for the next flush', (s) => s.storage.dirty),
  gauge('gamesrv_storage_checkpoint_seq', 'With a journal: the last event the database holds (a start replays what follows it)', (s) => s.storage.checkpointSeq),
  summary('gamesrv_storage_flush_seconds', 'Time a flush took, from taking the rows to the commit; quantiles over the engine lifetime', (s) => s.storage.flushUs),

  gauge('gamesrv_iocp_threads', 'Completion-port threads', (s) => s.iocp.threads),
  gauge('gamesrv_iocp_active_threads', 'Completion-port threads handling a packet', (s) => s.iocp.activeThreads),
  gauge('gamesrv_iocp_queue_depth', 'Packets waiting on the completion port', (s) => s.iocp.queueDepth),
  counter('gamesrv_iocp_packets_posted_total', 'Packets posted to the completion port', (s) => s.iocp.posted),
  counter('gamesrv_iocp_packets_dequeued_total', 'Packets dequeued from the completion port', (s) => s.iocp.dequeued),
  counter('gamesrv_iocp_bytes_total', 'Bytes moved by I/O completions', (s) => s.iocp.bytes),

  counter('gamesrv_controller_ticks_total', 'Game-loop ticks', (s) => s.controller.ticks),
  counter('gamesrv_controller_overruns_total', 'Ticks whose work took longer than the tick period', (s) => s.controller.overruns),
  counter('gamesrv_controller_skipped_ticks_total', 'Ticks skipped to catch up after overruns', (s) => s.controller.skippedTicks),
  gauge('gamesrv_controller_tick_rate_hertz', 'Achieved tick rate', (s) => s.controller.achievedRateHz),
  gauge('gamesrv_controller_target_tick_rate_hertz', 'Configured tick rate', (s) => s.controller.tickRateHz),
  summary('gamesrv_controller_tick_duration_seconds', 'Work time of one tick; quantiles over the engine lifetime', (s) => s.controller.tickDurationUs),

  gauge('gamesrv_sessions_active', 'Game sessions open (the TCP game port)', (s) => s.sessions.active),
  counter('gamesrv_sessions_accepted_total', 'Game connections accepted', (s) => s.sessions.accepted),
  counter('gamesrv_sessions_refused_total', 'Game connections refused (server full, draining)', (s) => s.sessions.refused),
  counter('gamesrv_sessions_closed_total', 'Game sessions ended', (s) => s.sessions.closed),
  counter('gamesrv_sessions_frames_in_total', 'Game frames received', (s) => s.sessions.framesIn),
  counter('gamesrv_sessions_frames_out_total', 'Game frames sent', (s) => s.sessions.framesOut),
  counter('gamesrv_sessions_bytes_in_total', 'Game bytes received', (s) => s.sessions.bytesIn),
  counter('gamesrv_sessions_bytes_out_total', 'Game bytes sent', (s) => s.sessions.bytesOut),
  counter('gamesrv_sessions_dropped_states_total', 'STATE frames superseded before they were written', (s) => s.sessions.droppedStates),
  gauge('gamesrv_sessions_send_queue_bytes', 'Bytes queued to game sessions, not yet written', (s) => s.sessions.sendQueueBytes),
  counter('gamesrv_sessions_replication_bytes_total', 'CELL bytes handed to sessions by replication', (s) => s.sessions.replicationBytes),
  summary('gamesrv_sessions_replication_seconds', 'One replication: serialize changed cells, hand them to every session; quantiles over the engine lifetime', (s) => s.sessions.replicationUs),
  summary('gamesrv_sessions_replication_cpu_seconds', "One replication's CPU time on the replicating thread (the sockets' writes are the I/O threads'); quantiles over the engine lifetime", (s) => s.sessions.replicationCpuUs),
  gauge('gamesrv_players_online', 'Players online', (s) => s.players.online),
  gauge('gamesrv_players_known', 'Players the world knows', (s) => s.players.known),
];

/** The telemetry WebSocket's connections and flow control (docs/TELEMETRY.md). */
const TELEMETRY_FAMILIES: readonly Family<TelemetryStats>[] = [
  { name: 'gamesrv_telemetry_connections', help: 'Open telemetry WebSocket connections', type: 'gauge', samples: (t) => [{ value: t.connections }] },
  {
    name: 'gamesrv_telemetry_stalled_connections',
    help: 'Telemetry connections whose frames are held back (send buffer above the high watermark)',
    type: 'gauge',
    samples: (t) => [{ value: t.stalled }],
  },
  { name: 'gamesrv_telemetry_frames_sent_total', help: 'Telemetry frames sent', type: 'counter', samples: (t) => [{ value: t.framesSent }] },
  {
    name: 'gamesrv_telemetry_frames_coalesced_total',
    help: 'Telemetry frames replaced by a newer one of the same topic before they were sent (a slow client)',
    type: 'counter',
    samples: (t) => [{ value: t.framesDropped }],
  },
  {
    name: 'gamesrv_telemetry_closed_total',
    help: 'Telemetry connections the server closed, by reason: too_slow (4000), idle (4002), over_capacity (1013)',
    type: 'counter',
    samples: (t) => [
      { labels: { reason: 'too_slow' }, value: t.slowClosed },
      { labels: { reason: 'idle' }, value: t.idleClosed },
      { labels: { reason: 'over_capacity' }, value: t.refused },
    ],
  },
];

/** The Agones lifecycle (src/agones/); no samples when the server is not an Agones game server. */
const AGONES_FAMILIES: readonly Family<AgonesStatus | null>[] = [
  {
    name: 'gamesrv_agones_state',
    help: 'The GameServer state Agones reports (WatchGameServer): 1 for the current state, 0 for the others',
    type: 'gauge',
    samples: (a) => (a === null ? [] : AGONES_STATES.map((state) => ({ labels: { state }, value: state === a.state ? 1 : 0 }))),
  },
  {
    name: 'gamesrv_agones_healthy',
    help: 'Health() is being pinged (0 while a running game loop stalls)',
    type: 'gauge',
    samples: (a) => (a === null ? [] : [{ value: a.healthy ? 1 : 0 }]),
  },
  {
    name: 'gamesrv_agones_health_pings_total',
    help: 'Health() pings sent to the Agones SDK sidecar',
    type: 'counter',
    samples: (a) => (a === null ? [] : [{ value: a.healthPings }]),
  },
];

/**
 * A metric family prom-client's Registry can render: it needs only name, help, type and
 * get() (and reset() for resetMetrics()). prom-client's typings list only its own
 * classes, none of which can report precomputed quantiles, hence the cast at registration.
 */
class SnapshotFamily<S> {
  readonly name: string;
  readonly help: string;
  readonly type: Family['type'];
  readonly aggregator = 'sum';
  readonly #family: Family<S>;
  readonly #snapshot: () => S;

  constructor(family: Family<S>, snapshot: () => S) {
    this.name = family.name;
    this.help = family.help;
    this.type = family.type;
    this.#family = family;
    this.#snapshot = snapshot;
  }

  async get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.#family.samples(this.#snapshot()) };
  }

  reset(): void {}
}

/**
 * Process and Node metrics are per process, so they are collected once per process:
 * each collectDefaultMetrics() call starts a GC observer and an event-loop-delay timer
 * that are never stopped, and tests build many apps in one process. Their metric
 * objects are then merged into every app's own registry (the global one is never used).
 */
let processMetrics: Registry | undefined;
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // The snapshots of the scrape in progress (engine and telemetry hub). register.metrics()
  // calls every family's get() in one synchronous pass before its first await, so all
  // families read the snapshots taken just before it, and overlapping scrapes cannot mix.
  let scrape: EngineSnapshot | undefined;
  const snapshot = () => scrape ?? app.engine.snapshot();
  let telemetryScrape: TelemetryStats | undefined;
  const telemetryStats = () => telemetryScrape ?? app.telemetry.stats();
  const engine = new Registry();
  for (const family of ENGINE_FAMILIES) {
    engine.registerMetric(new SnapshotFamily(family, snapshot) as unknown as Metric);
  }
  for (const family of TELEMETRY_FAMILIES) {
    engine.registerMetric(new SnapshotFamily(family, telemetryStats) as unknown as Metric);
  }
  const agones = () => app.agones?.status() ?? null;
  for (const family of AGONES_FAMILIES) {
    engine.registerMetric(new SnapshotFamily(family, agones) as unknown as Metric);
  }
  const register = Registry.merge([processRegistry(), engine]);

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['stats'],
        operationId: 'getMetrics',
        summary: 'Prometheus metrics: process, Node, engine and telemetry connections (text exposition format 0.0.4)',
        produces: ['text/plain'],
        response: { 200: Type.String({ description: 'Prometheus text exposition format' }) },
      },
    },
    async (_request, reply) => {
      scrape = app.engine.snapshot();
      telemetryScrape = app.telemetry.stats();
      let text: string;
      try {
        text = await register.metrics();
      } finally {
        scrape = undefined;
        telemetryScrape = undefined;
      }
      return reply.type(register.contentType).send(text);
    },
  );
};

export default metricsRoutes;
