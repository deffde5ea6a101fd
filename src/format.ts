// Human-readable sizes and durations for messages and the CLI (the dashboard, a browser
// module without a build step, has its own in public/js/lib/format.js).

const BYTE_UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** 512 bytes, 256 KiB, 4 MiB, 12.3 MiB: whole numbers stay whole, others get one decimal. */
export function formatBytes(n: number): string {
  let x = n;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < BYTE_UNITS.length - 1) {
    x /= 1024;
    i += 1;
  }
  return `${Number.isInteger(x) ? x : x.toFixed(1)} ${BYTE_UNITS[i]}`;
}

/** 200 ms, 5 s. */
export function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
