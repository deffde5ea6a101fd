// One time-series chart: a uPlot over a sliding window of the last `windowSec` seconds.
// Colours come from the page's CSS custom properties, so the chart is rebuilt (with its
// data) when the colour scheme changes. The figure's data-points attribute counts the
// samples it holds, data-series the series with a value among them, for people and for
// the browser test.
import uPlot from '../../vendor/uplot/uPlot.esm.js';

const HEIGHT = 150;
/** Whole seconds and minutes: the x axis never labels fractions of a second. */
const TIME_STEPS_SEC = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });

/**
 * points: marks only, no line (events such as overruns); dots: a line with a dot on every
 * sample, so a lone sample between empty ones shows.
 * @typedef {{ label: string, color: string, scale?: string, dash?: number[], points?: boolean,
 *   dots?: boolean, format: (v: number | null) => string }} SeriesSpec
 * @typedef {{ id: string, title: string, series: SeriesSpec[],
 *   axes: { scale: string, format: (v: number) => string, side?: 'left' | 'right' }[],
 *   ranges?: Record<string, (max: number | null) => [number, number]> }} ChartSpec
 */

export class TimeChart {
  /** @type {number[]} seconds since the epoch */
  #x = [];
  /** @type {(number | null | undefined)[][]} */
  #ys;
  #samples = 0;
  /** @type {uPlot | null} */
  #plot = null;

  /**
   * @param {HTMLElement} parent
   * @param {ChartSpec} spec
   * @param {number} windowSec
   */
  constructor(parent, spec, windowSec) {
    this.spec = spec;
    this.windowSec = windowSec;
    this.#ys = spec.series.map(() => []);
    this.figure = document.createElement('figure');
    this.figure.className = 'chart';
    this.figure.id = `chart-${spec.id}`;
    this.figure.dataset.points = '0';
    const caption = document.createElement('figcaption');
    caption.textContent = spec.title;
    this.plotEl = document.createElement('div');
    this.plotEl.className = 'plot';
    this.figure.append(caption, this.plotEl);
    parent.append(this.figure);
    this.build();
    new ResizeObserver(() => this.#plot?.setSize({ width: this.#width(), height: HEIGHT })).observe(this.plotEl);
  }

  /**
   * Adds one sample at `tsMs`; `values` in the order of spec.series. null is a gap in the
   * line; undefined (nothing measured in this sample) is passed over, the line goes on.
   * @param {number} tsMs
   * @param {(number | null | undefined)[]} values
   */
  push(tsMs, values) {
    const t = tsMs / 1000;
    const last = this.#x.at(-1);
    if (last !== undefined && t <= last) return;
    this.#x.push(t);
    values.forEach((v, i) => this.#ys[i]?.push(v));
    this.#samples += 1;
    this.#trim(t - this.windowSec);
    this.#render();
  }

  /** Breaks the lines (a disconnection): the next sample is not joined to the last. */
  gap() {
    const last = this.#x.at(-1);
    if (last === undefined || this.#ys.every((y) => y.at(-1) === null)) return;
    this.#x.push(last + 0.001);
    for (const y of this.#ys) y.push(null);
  }

  /** (Re)creates the uPlot with the current colours; the data is kept. */
  build() {
    this.#plot?.destroy();
    const css = getComputedStyle(document.documentElement);
    const color = (/** @type {string} */ name) => css.getPropertyValue(`--${name}`).trim() || name;
    const fg = color('muted');
    const grid = color('grid');
    const spec = this.spec;
    /** @type {uPlot.Options} */
    const opts = {
      width: this.#width(),
      height: HEIGHT,
      legend: { live: true },
      hooks: { ready: [() => this.#showNewest()] },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: (_u, min, max) => this.#xRange(min, max) },
        ...Object.fromEntries(
          [...new Set(spec.series.map((s) => s.scale ?? 'y'))].map((scale) => [
            scale,
            /** @type {uPlot.Scale} */ ({ range: (_u, _min, max) => (spec.ranges?.[scale] ?? zeroTo)(max) }),
          ]),
        ),
      },
      series: [
        { value: (_u, v) => (v == null ? '—' : new Date(v * 1000).toLocaleTimeString()) },
        ...spec.series.map((s) => ({
          label: s.label,
          scale: s.scale ?? 'y',
          stroke: color(s.color),
          width: s.points ? 0 : 1.5,
          dash: s.dash,
          spanGaps: false,
          points: s.points || s.dots
            ? { show: true, size: s.points ? 7 : 4, fill: color(s.color), stroke: color(s.color) }
            : { show: false },
          paths: s.points ? () => null : undefined,
          value: (/** @type {uPlot} */ _u, /** @type {number | null} */ v) => s.format(v),
        })),
      ],
      axes: [
        {
          stroke: fg,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          space: 70,
          incrs: TIME_STEPS_SEC,
          values: (_u, splits) => splits.map((s) => CLOCK.format(s * 1000)),
        },
        ...spec.axes.map((a) => ({
          scale: a.scale,
          side: a.side === 'right' ? 1 : 3,
          stroke: fg,
          size: 56,
          grid: { show: a.side !== 'right', stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: (/** @type {uPlot} */ _u, /** @type {number[]} */ vals) => vals.map((v) => a.format(v)),
        })),
      ],
    };
    this.#plot = new uPlot(opts, this.#data(), this.plotEl);
  }

  /**
   * Fills the width until the window is full, then slides.
   * @param {number | null} min @param {number | null} max
   * @returns {[number, number]}
   */
  #xRange(min, max) {
    const now = Date.now() / 1000;
    if (max == null || min == null) return [now - this.windowSec, now];
    return min < max ? [Math.max(min, max - this.windowSec), max] : [max - 1, max];
  }

  /**
   * Drops samples older than `from` (seconds), keeping one so the line enters from the left.
   * @param {number} from
   */
  #trim(from) {
    let n = 0;
    while (n + 1 < this.#x.length && (this.#x[n + 1] ?? Infinity) < from) n += 1;
    if (n === 0) return;
    this.#x.splice(0, n);
    for (const y of this.#ys) y.splice(0, n);
  }

  #render() {
    this.#plot?.setData(this.#data());
    this.#showNewest();
    this.figure.dataset.points = String(this.#samples);
    this.figure.dataset.series = String(this.#ys.filter((y) => y.some((v) => v != null)).length);
  }

  /** Without a cursor on the plot, the legend shows the newest values. */
  #showNewest() {
    const plot = this.#plot;
    if (plot === null || this.#x.length === 0) return;
    if (plot.cursor.left === undefined || plot.cursor.left < 0) plot.setLegend({ idx: this.#x.length - 1 });
  }

  #data() {
    return /** @type {uPlot.AlignedData} */ ([this.#x, ...this.#ys]);
  }

  #width() {
    return Math.max(200, Math.floor(this.plotEl.clientWidth || this.plotEl.parentElement?.clientWidth || 400));
  }
}

/** @param {number | null} max @returns {[number, number]} */
function zeroTo(max) {
  return [0, max != null && max > 0 ? max * 1.1 : 1];
}
