// Connection panel: the telemetry socket's status in the header (live, reconnecting with
// its countdown, needs a token, or stale when frames stop arriving on a live socket), and
// a marker that stays once the server has coalesced frames for this page (`dropped`).

const STALE_AFTER_INTERVALS = 3;

/**
 * @param {HTMLElement} root the #connection element
 * @param {import('../lib/telemetry.js').TelemetryClient} telemetry
 */
export function connectionPanel(root, telemetry) {
  const text = /** @type {HTMLElement} */ (root.querySelector('.status-text'));
  const marker = /** @type {HTMLElement} */ (root.querySelector('#coalesced'));
  let lastFrameAt = performance.now();
  let dropped = 0;
  /** @type {import('../lib/telemetry.js').Status} */
  let status = telemetry.status;

  const render = () => {
    const stale = status.status === 'live' && performance.now() - lastFrameAt > STALE_AFTER_INTERVALS * telemetry.intervalMs + 1000;
    root.dataset.status = stale ? 'stale' : status.status;
    root.dataset.connections = String(status.connections);
    text.textContent = describe(status, stale, telemetry.intervalMs);
  };

  telemetry.addEventListener('status', (ev) => {
    status = /** @type {CustomEvent} */ (ev).detail;
    lastFrameAt = performance.now();
    render();
  });
  telemetry.addEventListener('frame', (ev) => {
    const frame = /** @type {CustomEvent} */ (ev).detail;
    const wasStale = root.dataset.status === 'stale';
    lastFrameAt = performance.now();
    if (wasStale) render();
    if (frame.dropped > 0) {
      dropped += frame.dropped;
      marker.hidden = false;
      marker.dataset.dropped = String(dropped);
      marker.textContent = `coalesced: ${dropped} frame${dropped === 1 ? '' : 's'} dropped (last ${new Date(frame.ts).toLocaleTimeString()})`;
    }
  });
  setInterval(render, 1000);
  render();
}

/**
 * @param {import('../lib/telemetry.js').Status} s
 * @param {boolean} stale
 * @param {number} intervalMs
 */
function describe(s, stale, intervalMs) {
  switch (s.status) {
    case 'connecting':
      return 'connecting…';
    case 'live':
      return stale ? 'no frames for a while (stale)' : `live · every ${intervalMs >= 1000 ? `${intervalMs / 1000} s` : `${intervalMs} ms`}`;
    case 'unauthorized':
      return `needs the token: ${s.detail ?? ''}`;
    case 'reconnecting': {
      const why = s.closeCode !== undefined ? `closed ${s.closeCode}${s.closeReason ? ` ${s.closeReason}` : ''}; ` : '';
      const when = s.delayMs !== undefined ? `retrying in ${(s.delayMs / 1000).toFixed(1)} s` : 'retrying now';
      return `reconnecting (${why}${when}, attempt ${s.attempt})`;
    }
  }
}
