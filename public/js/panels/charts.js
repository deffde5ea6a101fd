// Charts panel: one TimeChart per question an operator asks, fed by the telemetry topics.
// Rates and percentiles are the server's, over each frame's window (windowMs, the time
// since the snapshot before): a spike shows when it happens (docs/TELEMETRY.md).
import { TimeChart } from '../lib/chart.js';
import * as fmt from '../lib/format.js';

const EVENT_TYPES = ['PLAYER_LOGIN', 'PLAYER_LOGOUT', 'PLAYER_MOVE', 'PLAYER_ATTACK', 'PLAYER_CHAT'];
const TYPE_COLORS = ['c1', 'c2', 'c3', 'c4', 'c5'];
const short = (/** @type {string} */ type) => type.replace('PLAYER_', '').toLowerCase();

// A window with nothing in it (no events of a type, no pool task) has no percentile: its
// sample is undefined, which the line passes over; null (no window at all) breaks it.
/** p99 and p50 of a window histogram. */
const p99p50 = (/** @type {any} */ w) => (w == null ? [null, null] : w.count > 0 ? [w.p99, w.p50] : [undefined, undefined]);
/** p99 of a window histogram. */
const p99 = (/** @type {any} */ w) => (w == null ? null : w.count > 0 ? w.p99 : undefined);

/**
 * Each chart: its spec, the topic it reads, and `sample(data, ts)` giving its values.
 * @returns {{ topic: string, spec: import('../lib/chart.js').ChartSpec, sample: (data: any) => (number | null | undefined)[] }[]}
 */
function definitions() {
  return [
    {
      topic: 'events',
      spec: {
        id: 'events',
        title: 'Events/s and queue depth',
        series: [
          { label: 'processed/s', color: 'c1', scale: 'rate', format: fmt.compact },
          { label: 'accepted/s', color: 'c3', scale: 'rate', dash: [4, 3], format: fmt.compact },
          { label: 'queue depth', color: 'c2', scale: 'depth', format: fmt.count },
        ],
        axes: [{ scale: 'rate', format: fmt.compact }, { scale: 'depth', format: fmt.compact, side: 'right' }],
      },
      sample: (d) => [d.processedPerSec, d.acceptedPerSec, d.queueDepth],
    },
    {
      topic: 'events',
      spec: {
        id: 'latency',
        title: 'Event latency by type: p99 (solid), p50 (dashed)',
        series: EVENT_TYPES.flatMap((t, i) => [
          { label: `${short(t)} p99`, color: TYPE_COLORS[i], scale: 'us', dots: true, format: fmt.micros },
          { label: `${short(t)} p50`, color: TYPE_COLORS[i], scale: 'us', dash: [3, 3], dots: true, format: fmt.micros },
        ]),
        axes: [{ scale: 'us', format: fmt.micros }],
      },
      sample: (d) => EVENT_TYPES.flatMap((t) => p99p50(d.byType[t]?.windowLatencyUs)),
    },
    {
      topic: 'pool',
      spec: {
        id: 'pool',
        title: 'Thread pool p99: queue wait and run',
        series: [
          { label: 'queue wait p99', color: 'c4', scale: 'us', dots: true, format: fmt.micros },
          { label: 'run p99', color: 'c6', scale: 'us', dots: true, format: fmt.micros },
          { label: 'queued', color: 'c2', scale: 'depth', dash: [4, 3], format: fmt.count },
        ],
        axes: [{ scale: 'us', format: fmt.micros }, { scale: 'depth', format: fmt.compact, side: 'right' }],
      },
      sample: (d) => [p99(d.windowQueueWaitUs), p99(d.windowRunUs), d.queueDepth],
    },
    {
      topic: 'iocp',
      spec: {
        id: 'iocp',
        title: 'IOCP packets/s and concurrency',
        series: [
          { label: 'packets/s', color: 'c1', scale: 'rate', format: fmt.compact },
          { label: 'active threads', color: 'c2', scale: 'threads', format: fmt.count },
          { label: 'max concurrency', color: 'c5', scale: 'threads', dash: [4, 3], format: fmt.count },
        ],
        axes: [{ scale: 'rate', format: fmt.compact }, { scale: 'threads', format: fmt.compact, side: 'right' }],
      },
      sample: (d) => [d.dequeuedPerSec, d.activeThreads, d.maxConcurrency],
    },
    {
      topic: 'controller',
      spec: {
        id: 'ticks',
        title: 'Tick rate, jitter p99 and overruns',
        series: [
          { label: 'achieved', color: 'c3', scale: 'hz', format: fmt.hertz },
          { label: 'configured', color: 'c3', scale: 'hz', dash: [2, 4], format: fmt.hertz },
          { label: 'jitter p99', color: 'c4', scale: 'us', format: fmt.micros },
          { label: 'overruns', color: 'c2', scale: 'marks', points: true, format: (v) => (v == null ? '—' : `+${v}`) },
        ],
        axes: [{ scale: 'hz', format: fmt.compact }, { scale: 'us', format: fmt.micros, side: 'right' }],
        // Overrun marks sit near the top, taller for more overruns in the frame.
        ranges: { marks: (max) => [0, (max ?? 1) * 1.15] },
      },
      sample: (d) => [d.achievedRateHz, d.tickRateHz, p99(d.windowTickJitterUs), d.overrunsInWindow || null],
    },
    {
      topic: 'monitor',
      spec: {
        id: 'process',
        title: 'Process CPU and resident memory',
        series: [
          { label: 'CPU', color: 'c1', scale: 'pct', format: fmt.percent },
          { label: 'RSS', color: 'c6', scale: 'bytes', format: fmt.bytes },
        ],
        axes: [{ scale: 'pct', format: (v) => `${v}%` }, { scale: 'bytes', format: fmt.bytesShort, side: 'right' }],
      },
      sample: (d) => [d.cpuPercent, d.residentBytes],
    },
    {
      topic: 'monitor',
      spec: {
        id: 'players',
        title: 'Players online',
        series: [{ label: 'online', color: 'c3', scale: 'players', format: fmt.count }],
        axes: [{ scale: 'players', format: fmt.compact }],
        ranges: { players: (max) => [0, Math.max(5, Math.ceil((max ?? 0) * 1.2))] },
      },
      sample: (d) => [d.status?.playerCount ?? null],
    },
  ];
}

/**
 * @param {HTMLElement} root the #charts section
 * @param {import('../lib/telemetry.js').TelemetryClient} telemetry
 * @param {{ windowSec: number }} opts
 */
export function chartsPanel(root, telemetry, { windowSec }) {
  const grid = /** @type {HTMLElement} */ (root.querySelector('.chart-grid'));
  /** @type {HTMLElement} */ (root.querySelector('#charts-window')).textContent = String(Math.round(windowSec / 60));
  const charts = definitions().map((d) => ({ ...d, chart: new TimeChart(grid, d.spec, windowSec) }));

  telemetry.addEventListener('frame', (ev) => {
    const frame = /** @type {CustomEvent} */ (ev).detail;
    for (const c of charts) if (c.topic === frame.topic) c.chart.push(frame.ts, c.sample(frame.data));
  });
  telemetry.addEventListener('status', (ev) => {
    if (/** @type {CustomEvent} */ (ev).detail.status === 'reconnecting') for (const c of charts) c.chart.gap();
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    for (const c of charts) c.chart.build();
  });
}

export const CHART_TOPICS = ['events', 'pool', 'iocp', 'controller', 'monitor'];
