// Storage panel: where the players persist and how the journal stands. The values are the
// `storage` topic, whose data is GET /v1/storage's answer (one shape: the page reads it
// once at load, before telemetry, and again after a checkpoint). "Checkpoint now" is
// POST /v1/storage/checkpoint, token-protected, through the REST client like every
// mutating button; a refusal (409 NO_DATABASE without a database) shows its code and detail.
import { api, describeProblem, settle } from '../lib/api.js';
import * as fmt from '../lib/format.js';

/**
 * @typedef {{ count: number, p50: number, p99: number }} Histogram
 * @typedef {{ database: string, location: string, open: boolean, loaded: number, flushes: number,
 *   rowsFlushed: number, flushFailures: number, dirty: number, lastError: string, schemaVersion: number,
 *   checkpointSeq: number, flushUs: Histogram }} StorageStats
 * @typedef {{ mode: string, segments: number, diskBytes: number, lastSeq: number, appliedSeq: number }} JournalStats
 * @typedef {{ storage: StorageStats, journal: JournalStats }} StorageStatus
 */

/**
 * @param {HTMLElement} root the #storage section
 * @param {import('../lib/telemetry.js').TelemetryClient} telemetry
 */
export function storagePanel(root, telemetry) {
  const $ = (/** @type {string} */ sel) => /** @type {HTMLElement} */ (root.querySelector(sel));
  const result = $('#storage-result');
  const button = /** @type {HTMLButtonElement} */ ($('#storage-checkpoint'));

  const show = (/** @type {string} */ text, /** @type {'ok' | 'error' | ''} */ kind = '', code = '') => {
    result.textContent = text;
    result.className = `message ${kind}`;
    result.dataset.code = code;
  };

  /** Sets one value; `value` (when given) goes to data-value for tests and scripts. */
  const set = (/** @type {string} */ id, /** @type {string} */ text, /** @type {string | number | undefined} */ value = undefined) => {
    const el = $(id);
    el.textContent = text;
    if (value !== undefined) el.dataset.value = String(value);
  };

  /** @param {StorageStatus} status */
  const render = ({ storage: s, journal: j }) => {
    const persists = s.database !== 'simulated';
    $('#storage-backend').textContent = persists ? `(${s.database}${s.open ? '' : ', closed'})` : '(simulated: nothing persists)';
    root.dataset.database = s.database;
    root.dataset.open = String(s.open);
    set('#storage-location', s.location === '' ? '—' : s.location, s.location);
    set('#storage-schema', s.schemaVersion === 0 ? '—' : String(s.schemaVersion), s.schemaVersion);
    set('#storage-checkpoint-seq', fmt.count(s.checkpointSeq), s.checkpointSeq);
    set('#storage-dirty', fmt.count(s.dirty), s.dirty);
    set('#storage-flushes', s.flushFailures > 0 ? `${fmt.count(s.flushes)} (${fmt.count(s.flushFailures)} failed)` : fmt.count(s.flushes), s.flushes);
    set('#storage-rows', fmt.count(s.rowsFlushed), s.rowsFlushed);
    set('#storage-flush-latency', s.flushUs.count === 0 ? '—' : `${fmt.micros(s.flushUs.p50)} / ${fmt.micros(s.flushUs.p99)}`);
    set('#storage-journal-mode', j.mode, j.mode);
    set('#storage-segments', fmt.count(j.segments), j.segments);
    set('#storage-journal-size', fmt.bytes(j.diskBytes), j.diskBytes);
    set('#storage-last-seq', fmt.count(j.lastSeq), j.lastSeq);
    set('#storage-applied-seq', fmt.count(j.appliedSeq), j.appliedSeq);
    const error = $('#storage-error');
    error.hidden = s.lastError === '';
    error.textContent = s.lastError === '' ? '' : `last flush failed: ${s.lastError}`;
  };

  /** A frame has been shown: the read at load, answered later, would be older. */
  let framed = false;

  const load = async (/** @type {boolean} */ first) => {
    const r = await api('GET', 'v1/storage');
    if (r.ok) {
      if (!(first && framed)) render(r.data);
    } else show(`GET /v1/storage: ${describeProblem(r.problem)}`, 'error', r.problem.code ?? '');
  };

  const checkpoint = async () => {
    button.disabled = true;
    show('checkpointing…');
    try {
      const r = await api('POST', 'v1/storage/checkpoint');
      if (r.ok) {
        const { rows, checkpointSeq } = r.data;
        const held = checkpointSeq > 0 ? `; the store holds every event to #${fmt.count(checkpointSeq)}` : '';
        show(`checkpoint: ${fmt.count(rows)} player${rows === 1 ? '' : 's'} written${held}`, 'ok');
        // At once rather than at the next frame.
        await load(false);
      } else {
        const code = r.problem.code ?? '';
        show(`checkpoint refused (${r.status}${code === '' ? '' : ` ${code}`}): ${describeProblem(r.problem)}`, 'error', code);
      }
    } finally {
      button.disabled = false;
    }
  };

  button.addEventListener('click', () =>
    settle(checkpoint(), (failure) => {
      button.disabled = false;
      show(`checkpoint failed: ${failure}`, 'error');
    }),
  );

  telemetry.addEventListener('frame', (ev) => {
    const frame = /** @type {CustomEvent} */ (ev).detail;
    if (frame.topic !== 'storage') return;
    framed = true;
    render(frame.data);
  });

  settle(load(true), (failure) => show(`GET /v1/storage: ${failure}`, 'error'));
}
