// Event injector: `count` copies of one event, sent as one batch to POST /v1/events
// (all or nothing; up to 10,000 a request).
import { api, describeProblem, settle } from '../lib/api.js';
import * as fmt from '../lib/format.js';

const MAX_BATCH = 10_000;

/** What `data` means per type, and a sensible example (the GameEvent schema in the API document). */
const DATA_HINTS = {
  PLAYER_LOGIN: { placeholder: 'player name', example: 'Alice' },
  PLAYER_LOGOUT: { placeholder: '(no data)', example: '' },
  PLAYER_MOVE: { placeholder: 'x,y', example: '100,200' },
  PLAYER_ATTACK: { placeholder: 'target,damage', example: '2,30' },
  PLAYER_CHAT: { placeholder: 'message', example: 'gg' },
};

/**
 * The event's `data` from the form's text, or undefined for none.
 * @param {string} type
 * @param {string} text
 */
function eventData(type, text) {
  if (type === 'PLAYER_LOGOUT') return undefined;
  if (type === 'PLAYER_ATTACK') {
    const [target, damage] = text.split(',').map((s) => Number(s.trim()));
    return { target, damage };
  }
  if (type === 'PLAYER_LOGIN' && text === '') return undefined;
  return text;
}

/** @param {HTMLElement} root the #inject section */
export function injectorPanel(root) {
  const form = /** @type {HTMLFormElement} */ (root.querySelector('form'));
  const result = /** @type {HTMLElement} */ (root.querySelector('#inject-result'));
  const field = (/** @type {string} */ name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
  const submit = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));

  const show = (/** @type {string} */ text, /** @type {string} */ kind) => {
    result.textContent = text;
    result.className = `message ${kind}`;
  };

  field('type').addEventListener('change', () => {
    const hint = DATA_HINTS[/** @type {keyof typeof DATA_HINTS} */ (field('type').value)];
    field('data').placeholder = hint.placeholder;
    field('data').value = hint.example;
    field('data').disabled = field('type').value === 'PLAYER_LOGOUT';
  });

  const send = async () => {
    const type = field('type').value;
    const playerId = Number(field('playerId').value);
    const count = Number(field('count').value);
    if (!Number.isInteger(count) || count < 1 || count > MAX_BATCH) {
      return show(`count must be a whole number from 1 to ${fmt.count(MAX_BATCH)}`, 'error');
    }
    const data = eventData(type, field('data').value.trim());
    const event = data === undefined ? { type, playerId } : { type, playerId, data };
    submit.disabled = true;
    show(`sending ${fmt.count(count)}…`, '');
    const r = await api('POST', 'v1/events', { events: Array.from({ length: count }, () => event) });
    submit.disabled = false;
    if (r.ok) {
      result.dataset.accepted = String(r.data.accepted);
      show(`accepted ${fmt.count(r.data.accepted)} (seq ${r.data.firstSeq}–${r.data.lastSeq}; ${fmt.count(r.data.available)} free in the queue)`, 'ok');
    } else {
      show(`refused (${r.status}): ${describeProblem(r.problem)}`, 'error');
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    settle(send(), (failure) => {
      submit.disabled = false;
      show(failure, 'error');
    });
  });
}
