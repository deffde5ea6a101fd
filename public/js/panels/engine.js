// Engine panel: the state (from `state` frames, pushed as it changes), the lifecycle
// buttons (REST; a refusal shows the problem's detail), and the headline counters.
import { api, describeProblem, settle } from '../lib/api.js';
import * as fmt from '../lib/format.js';

/** @type {Record<string, string[]>} which actions each state allows (src/routes/engine.ts) */
const ALLOWED = {
  stopped: ['start'],
  running: ['pause', 'stop'],
  paused: ['resume', 'stop'],
  starting: [],
  stopping: [],
};
const VERB = { start: 'starting', pause: 'pausing', resume: 'resuming', stop: 'stopping' };

/**
 * @param {HTMLElement} root the #engine section
 * @param {import('../lib/telemetry.js').TelemetryClient} telemetry
 */
export function enginePanel(root, telemetry) {
  const $ = (/** @type {string} */ sel) => /** @type {HTMLElement} */ (root.querySelector(sel));
  const stateEl = $('#engine-state');
  const message = $('#engine-message');
  const buttons = /** @type {HTMLButtonElement[]} */ ([...root.querySelectorAll('button[data-action]')]);
  let state = 'unknown';
  let busy = false;

  const show = (/** @type {string} */ text, /** @type {'ok' | 'error' | ''} */ kind = '') => {
    message.textContent = text;
    message.className = `message ${kind}`;
  };

  const setState = (/** @type {string} */ next) => {
    state = next;
    stateEl.textContent = next;
    stateEl.dataset.state = next;
    refreshButtons();
  };

  const refreshButtons = () => {
    const allowed = ALLOWED[state] ?? [];
    for (const b of buttons) b.disabled = busy || !allowed.includes(b.dataset.action ?? '');
  };

  const setCounter = (/** @type {string} */ id, /** @type {number | null} */ value, text = fmt.count(value)) => {
    const el = $(id);
    el.textContent = text;
    if (value != null) el.dataset.value = String(value);
  };

  /** @param {string} action */
  const run = async (action) => {
    busy = true;
    refreshButtons();
    show(`${VERB[/** @type {keyof typeof VERB} */ (action)]}…`);
    const result = await api('POST', `v1/engine/${action}`);
    busy = false;
    if (result.ok) {
      setState(result.data.state);
      const r = result.data;
      show(
        action === 'stop'
          ? `stopped in ${fmt.millis(r.durationMs)}: ${fmt.count(r.eventsDrained)} events drained, ${fmt.count(r.tasksCancelled)} tasks cancelled${r.drained ? '' : ' (deadline hit before the queue drained)'}`
          : `${action}: now ${r.state}`,
        'ok',
      );
    } else {
      if (result.problem.state) setState(result.problem.state);
      else refreshButtons();
      show(`${action} refused (${result.status}): ${describeProblem(result.problem)}`, 'error');
    }
  };

  for (const b of buttons) {
    const action = b.dataset.action ?? '';
    b.addEventListener('click', () =>
      settle(run(action), (failure) => {
        busy = false;
        refreshButtons();
        show(`${action} failed: ${failure}`, 'error');
      }),
    );
  }

  telemetry.addEventListener('frame', (ev) => {
    const { topic, data } = /** @type {CustomEvent} */ (ev).detail;
    if (topic === 'state') setState(data.state);
    else if (topic === 'events') {
      setCounter('#stat-accepted', data.accepted);
      setCounter('#stat-processed', data.processed);
      setCounter('#stat-queue', data.queueDepth, `${fmt.count(data.queueDepth)} / ${fmt.compact(data.queueCapacity)}`);
      setCounter('#stat-invalid', data.invalid);
    } else if (topic === 'monitor') {
      setCounter('#stat-players', data.status?.playerCount ?? null);
    } else if (topic === 'controller') {
      setCounter('#stat-tick', data.achievedRateHz, `${fmt.hertz(data.achievedRateHz)} / ${fmt.hertz(data.tickRateHz)}`);
    }
  });

  // The first numbers before telemetry arrives.
  const first = api('GET', 'v1/engine').then((r) => {
    if (!r.ok) return show(`GET /v1/engine: ${describeProblem(r.problem)}`, 'error');
    if (state === 'unknown') setState(r.data.state);
    if ($('#stat-processed').dataset.value === '') {
      setCounter('#stat-accepted', r.data.events.accepted);
      setCounter('#stat-processed', r.data.events.processed);
      setCounter('#stat-players', r.data.players.online);
    }
  });
  settle(first, (failure) => show(`GET /v1/engine: ${failure}`, 'error'));
}
