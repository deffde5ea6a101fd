// Task form and recent tasks: POST /v1/tasks, GET /v1/tasks (polled while a task is
// queued or running; tasks have no telemetry topic), DELETE /v1/tasks/{id} to cancel.
import { api, describeProblem, settle } from '../lib/api.js';

const RECENT = 8;
const POLL_MS = 1000;
const ACTIVE = new Set(['queued', 'running']);

/** @param {HTMLElement} root the #tasks section */
export function tasksPanel(root) {
  const form = /** @type {HTMLFormElement} */ (root.querySelector('form'));
  const result = /** @type {HTMLElement} */ (root.querySelector('#task-result'));
  const tbody = /** @type {HTMLTableSectionElement} */ (root.querySelector('tbody'));
  const field = (/** @type {string} */ name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let poll;

  const show = (/** @type {string} */ text, /** @type {string} */ kind) => {
    result.textContent = text;
    result.className = `message ${kind}`;
  };

  const showKindFields = () => {
    for (const label of form.querySelectorAll('label[data-kind]')) {
      /** @type {HTMLElement} */ (label).hidden = /** @type {HTMLElement} */ (label).dataset.kind !== field('kind').value;
    }
  };

  /** The body for POST /v1/tasks: the fields of the chosen kind, and the filled-in schedule. */
  const spec = () => {
    const kind = field('kind').value;
    /** @type {Record<string, unknown>} */
    const body = { kind };
    const num = (/** @type {string} */ name) => {
      const v = field(name).value.trim();
      if (v !== '') body[name] = Number(v);
    };
    if (kind === 'database') body.query = field('query').value;
    if (kind === 'player-update') {
      num('playerId');
      if (field('data').value !== '') body.data = field('data').value;
    }
    if (kind === 'game-logic') {
      num('rateHz');
      num('ticks');
    }
    num('delayMs');
    num('intervalMs');
    return body;
  };

  const failed = (/** @type {string} */ failure) => show(failure, 'error');

  const refresh = async () => {
    clearTimeout(poll);
    const r = await api('GET', `v1/tasks?limit=${RECENT}`);
    if (!r.ok) return;
    /** @type {{ id: number, kind: string, status: string, runs: number, result: string | null, error: string | null }[]} */
    const tasks = r.data.tasks;
    tbody.replaceChildren(...tasks.map((t) => row(t, (id) => settle(cancel(id), failed))));
    if (tasks.some((t) => ACTIVE.has(t.status))) poll = setTimeout(() => settle(refresh(), failed), POLL_MS);
  };

  const cancel = async (/** @type {number} */ id) => {
    const r = await api('DELETE', `v1/tasks/${id}`);
    if (r.ok) show(`task ${id}: ${r.data.cancelled ? 'cancelled' : `already ${r.data.task.status}`}`, 'ok');
    else show(`cancel refused (${r.status}): ${describeProblem(r.problem)}`, 'error');
    await refresh();
  };

  field('kind').addEventListener('change', showKindFields);
  const schedule = async () => {
    const r = await api('POST', 'v1/tasks', spec());
    if (r.ok) {
      result.dataset.taskId = String(r.data.id);
      show(`task ${r.data.id} scheduled (${r.data.location})`, 'ok');
    } else {
      show(`refused (${r.status}): ${describeProblem(r.problem)}`, 'error');
    }
    await refresh();
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    settle(schedule(), failed);
  });

  showKindFields();
  settle(refresh(), failed);
}

/**
 * @param {{ id: number, kind: string, status: string, runs: number, result: string | null, error: string | null }} t
 * @param {(id: number) => void} cancel
 */
function row(t, cancel) {
  const tr = document.createElement('tr');
  tr.dataset.id = String(t.id);
  tr.dataset.status = t.status;
  const td = (/** @type {string} */ text, /** @type {string} */ className = '') => {
    const el = document.createElement('td');
    el.textContent = text;
    el.className = className;
    if (className === 'result') el.title = text;
    return el;
  };
  const action = document.createElement('td');
  if (ACTIVE.has(t.status)) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Cancel';
    b.addEventListener('click', () => cancel(t.id));
    action.append(b);
  }
  tr.append(td(String(t.id)), td(t.kind), td(t.status), td(String(t.runs), 'num'), td(t.error ?? t.result ?? '', 'result'), action);
  return tr;
}
