// World map panel: the `world` topic on a canvas. The square world [worldMin, worldMax]²
// fills the canvas (x to the right, y up); each online player is a dot at its position,
// coloured by hp (green at maxHp, through yellow, to red at 0); the AOI grid's cell edges
// (every aoiRadius from worldMin) are drawn when they are at least MIN_GRID_PX apart. The
// canvas's data-points attribute counts the dots drawn, data-grid-lines the grid lines,
// for people and for the browser test.
import * as fmt from '../lib/format.js';

/** Closer grid lines would only grey the map out. */
const MIN_GRID_PX = 4;

/**
 * @typedef {{ worldMin: number, worldMax: number, aoiRadius: number, maxHp: number, online: number,
 *   sampled: number, points: { id: number, x: number, y: number, hp: number }[] }} World
 */

/**
 * The dot colour of `hp` out of `maxHp`: hue 120 (green) down to 0 (red).
 * @param {number} hp @param {number} maxHp
 */
export function hpColor(hp, maxHp) {
  const f = maxHp > 0 ? Math.min(1, Math.max(0, hp / maxHp)) : 0;
  return `hsl(${Math.round(120 * f)} 75% 42%)`;
}

/**
 * @param {HTMLElement} root the #world section
 * @param {import('../lib/telemetry.js').TelemetryClient} telemetry
 */
export function worldPanel(root, telemetry) {
  const canvas = /** @type {HTMLCanvasElement} */ (root.querySelector('canvas'));
  const countEl = /** @type {HTMLElement} */ (root.querySelector('#world-count'));
  const legend = /** @type {HTMLElement} */ (root.querySelector('#world-legend'));
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  /** @type {World | null} */
  let world = null;

  const draw = () => {
    const size = Math.floor(canvas.clientWidth);
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(size * dpr)) {
      canvas.width = Math.round(size * dpr);
      canvas.height = Math.round(size * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const css = getComputedStyle(root);
    const color = (/** @type {string} */ name) => css.getPropertyValue(`--${name}`).trim() || name;
    ctx.fillStyle = color('bg');
    ctx.fillRect(0, 0, size, size);
    if (world === null || size <= 0) return;
    const w = world;
    const scale = size / (w.worldMax - w.worldMin);
    const px = (/** @type {number} */ x) => (x - w.worldMin) * scale;
    const py = (/** @type {number} */ y) => (w.worldMax - y) * scale;

    const cellPx = w.aoiRadius * scale;
    let lines = 0;
    if (cellPx >= MIN_GRID_PX) {
      ctx.strokeStyle = color('border');
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let v = w.worldMin + w.aoiRadius; v < w.worldMax; v += w.aoiRadius) {
        // Half-pixel offsets keep 1 px lines crisp.
        const a = Math.round(px(v)) + 0.5;
        const b = Math.round(py(v)) + 0.5;
        ctx.moveTo(a, 0);
        ctx.lineTo(a, size);
        ctx.moveTo(0, b);
        ctx.lineTo(size, b);
        lines += 2;
      }
      ctx.stroke();
    }
    canvas.dataset.gridLines = String(lines);

    const r = w.points.length > 500 ? 2 : 3.5;
    for (const p of w.points) {
      ctx.fillStyle = hpColor(p.hp, w.maxHp);
      ctx.beginPath();
      ctx.arc(px(p.x), py(p.y), r, 0, 2 * Math.PI);
      ctx.fill();
    }
    canvas.dataset.points = String(w.points.length);

    const sampled = w.sampled < w.online ? `${fmt.count(w.sampled)} of ${fmt.count(w.online)} online (an even sample)` : `${fmt.count(w.online)} online`;
    countEl.textContent = `(${sampled})`;
    const grid = cellPx >= MIN_GRID_PX ? `AOI grid every ${fmt.count(w.aoiRadius)}` : `AOI cells of ${fmt.count(w.aoiRadius)} (under ${MIN_GRID_PX} px here: not drawn)`;
    legend.textContent = `x, y from ${fmt.count(w.worldMin)} to ${fmt.count(w.worldMax)} (y up) · ${grid} · hp 0 to ${w.maxHp}`;
  };

  telemetry.addEventListener('frame', (ev) => {
    const frame = /** @type {CustomEvent} */ (ev).detail;
    if (frame.topic !== 'world') return;
    world = frame.data;
    root.dataset.online = String(frame.data.online);
    draw();
  });
  new ResizeObserver(draw).observe(canvas);
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', draw);
}
