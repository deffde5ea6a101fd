// Number formatting for counters, axes and legends. Every formatter takes null (no data
// yet, or a rate without a window) and shows it as a dash.

/** @typedef {number | null | undefined} MaybeNumber */

const DASH = '—';
const grouped = new Intl.NumberFormat('en-US');

/** 1234567 → "1,234,567" @param {MaybeNumber} v */
export function count(v) {
  return v == null ? DASH : grouped.format(v);
}

/** Compact, for axes: 950, 1.2k, 3.4M @param {MaybeNumber} v */
export function compact(v) {
  if (v == null) return DASH;
  const a = Math.abs(v);
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

/** Microseconds: 850 µs, 1.2 ms, 3.4 s @param {MaybeNumber} v */
export function micros(v) {
  if (v == null) return DASH;
  if (v >= 1e6) return `${trim(v / 1e6)} s`;
  if (v >= 1e3) return `${trim(v / 1e3)} ms`;
  return `${trim(v)} µs`;
}

/** Milliseconds of CPU or busy time: 850 ms, 12.3 s, 4m 05s @param {MaybeNumber} v */
export function millis(v) {
  if (v == null) return DASH;
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${trim(v / 1000)} s`;
  const s = Math.round(v / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

/** Bytes: 512 B, 12.3 MiB @param {MaybeNumber} v */
export function bytes(v) {
  if (v == null) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i += 1;
  }
  return `${trim(x)} ${units[i]}`;
}

/** Bytes on an axis: 512B, 191M @param {MaybeNumber} v */
export function bytesShort(v) {
  return bytes(v).replace(/ ([KMGT])iB$/, '$1').replace(' B', 'B');
}

/** @param {MaybeNumber} v */
export function percent(v) {
  return v == null ? DASH : `${trim(v)} %`;
}

/** @param {MaybeNumber} v */
export function hertz(v) {
  return v == null ? DASH : `${trim(v)} Hz`;
}

/** At most one decimal, none for large values. @param {number} v */
function trim(v) {
  const a = Math.abs(v);
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return a >= 10 ? v.toFixed(1).replace(/\.0$/, '') : v.toFixed(2).replace(/\.?0+$/, '');
}
