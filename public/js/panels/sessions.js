// Sessions panel: the game port's sessions. The table is GET /v1/sessions (first page,
// polled every second: sessions have no per-session topic), the counts in the heading are
// the `sessions` topic, and each row's Kick is DELETE /v1/sessions/{id} (token-protected,
// through the REST client like every mutating button).
import { api, describeProblem, settle } from '../lib/api.js';
import * as fmt from '../lib/format.js';

const PAGE = 50;
const POLL_MS = 1000;
const KICK_REASON = 'kicked by an operator from the dashboard';

/**
 * @typedef {{ id: number, playerId: number | null, remote: string, connectedAtMs: number, state: string,
 *   bytesIn: number, bytesOut: number, sendQueueBytes: number, droppedStates: number, rttUs: number | null }} Session
 */

/**
 * @param {HTMLElement} root the #sessions section
 * @param {import('../lib/telemetry.js').TelemetryClient} telemetry
 */
export function sessionsPanel(root, telemetry) {
  const tbody = /** @type {HTMLTableSectionElement} */ (root.querySelector('tbody'));
  const countEl = /** @type {HTMLElement} */ (root.querySelector('#sessions-count'));
  const result = /** @type {HTMLElement} */ (root.querySelector('#sessions-result'));
  const empty = /** @type {HTMLElement} */ (root.querySelector('#sessions-empty'));
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let poll;

  const show = (/** @type {string} */ text, /** @type {'ok' | 'error' | ''} */ kind = '') => {
    result.textContent = text;
    result.className = `message ${kind}`;
  };
  const failed = (/** @type {string} */ failure) => show(failure, 'error');

  const refresh = async () => {
    clearTimeout(poll);
    try {
      const r = await api('GET', `v1/sessions?limit=${PAGE}`);
      if (!r.ok) return;
      /** @type {Session[]} */
      const sessions = r.data.sessions;
      const now = Date.now();
      tbody.replaceChildren(...sessions.map((s) => row(s, now, (id) => settle(kick(id), failed))));
      root.dataset.rows = String(sessions.length);
      empty.hidden = sessions.length > 0 && r.data.next === null;
      empty.textContent = sessions.length === 0 ? 'No game sessions.' : `The first ${PAGE} sessions by id.`;
    } finally {
      poll = setTimeout(() => settle(refresh(), failed), POLL_MS);
    }
  };

  const kick = async (/** @type {number} */ id) => {
    const r = await api('DELETE', `v1/sessions/${id}`, { reason: KICK_REASON });
    if (r.ok) show(`session ${id} kicked`, 'ok');
    else show(`kick refused (${r.status}): ${describeProblem(r.problem)}`, 'error');
    await refresh();
  };

  telemetry.addEventListener('frame', (ev) => {
    const frame = /** @type {CustomEvent} */ (ev).detail;
    if (frame.topic !== 'sessions') return;
    const s = frame.data;
    countEl.textContent = s.enabled
      ? `(${fmt.count(s.active)} open · port ${s.port} · ${fmt.count(s.acceptsPerSec)} accepts/s${s.draining ? ' · draining' : ''})`
      : '(no game port)';
    root.dataset.active = String(s.active);
  });

  settle(refresh(), failed);
}

/**
 * @param {Session} s
 * @param {number} now Unix ms
 * @param {(id: number) => void} kick
 */
function row(s, now, kick) {
  const tr = document.createElement('tr');
  tr.dataset.id = String(s.id);
  tr.dataset.player = s.playerId === null ? '' : String(s.playerId);
  tr.dataset.state = s.state;
  const action = document.createElement('td');
  if (s.state !== 'closing') {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'danger';
    b.textContent = 'Kick';
    b.title = `KICK operator: "${KICK_REASON}"`;
    b.addEventListener('click', () => {
      b.disabled = true;
      kick(s.id);
    });
    action.append(b);
  }
  tr.append(
    cell(String(s.id), 'num'),
    cell(s.playerId === null ? '—' : String(s.playerId), 'num'),
    cell(s.remote),
    cell(s.state),
    cell(fmt.millis(Math.max(0, now - s.connectedAtMs)), 'num'),
    cell(fmt.bytes(s.bytesIn), 'num'),
    cell(fmt.bytes(s.bytesOut), 'num'),
    cell(fmt.bytes(s.sendQueueBytes), 'num'),
    cell(fmt.count(s.droppedStates), 'num'),
    cell(fmt.micros(s.rttUs), 'num'),
    action,
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
