// Threads panel: the `workers` topic as a table, the engine's `top -H`.
import * as fmt from '../lib/format.js';

/**
 * @param {HTMLElement} root the #threads section
 * @param {import('../lib/telemetry.js').TelemetryClient} telemetry
 */
export function threadsPanel(root, telemetry) {
  const tbody = /** @type {HTMLTableSectionElement} */ (root.querySelector('tbody'));
  const countEl = /** @type {HTMLElement} */ (root.querySelector('#threads-count'));

  telemetry.addEventListener('frame', (ev) => {
    const frame = /** @type {CustomEvent} */ (ev).detail;
    if (frame.topic !== 'workers') return;
    /** @type {{ name: string, tid: number, state: string, items: number, busyPercent: number | null, cpuPercent: number | null, cpuMs: number }[]} */
    const threads = frame.data.threads;
    tbody.replaceChildren(...threads.map(row));
    countEl.textContent = `(${threads.length})`;
    root.dataset.rows = String(threads.length);
  });
}

/** @param {{ name: string, tid: number, state: string, items: number, busyPercent: number | null, cpuPercent: number | null, cpuMs: number }} t */
function row(t) {
  const tr = document.createElement('tr');
  const state = cell(t.state);
  state.className = 'tstate';
  state.dataset.state = t.state;
  tr.append(
    cell(t.name),
    cell(String(t.tid)),
    state,
    busyBar(t.busyPercent),
    cell(fmt.percent(t.cpuPercent), 'num'),
    cell(fmt.millis(t.cpuMs), 'num'),
    cell(fmt.count(t.items), 'num'),
  );
  return tr;
}

/** @param {string} text @param {string} [className] */
function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** @param {number | null} pct */
function busyBar(pct) {
  const td = document.createElement('td');
  const bar = document.createElement('div');
  bar.className = 'bar';
  const track = document.createElement('div');
  track.className = 'track';
  const fill = document.createElement('div');
  fill.className = 'fill';
  fill.style.width = `${pct ?? 0}%`;
  track.append(fill);
  const label = document.createElement('span');
  label.className = 'pct';
  label.textContent = fmt.percent(pct);
  bar.append(track, label);
  td.append(bar);
  return td;
}
