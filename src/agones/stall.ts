// Is the game loop stalled? The snapshot has a tick counter (summed over the loop
// threads), not a last-tick time, so a stall is judged over a window: a running loop that
// made under STALL_FRACTION of the ticks due in the window is stalled. A loop that never
// returns makes none; one whose tick takes far longer than its period (tickWorkUs above
// the period) makes a few. A paused or stopped loop is never stalled: pause is a normal
// state, and Agones must not delete a paused server with its players.
import type { EngineSnapshot } from '../engine/index.js';

/** A window shorter than this many tick periods says nothing at low tick rates. */
export const STALL_WINDOW_TICKS = 10;
/** Under this share of the due ticks, the loop is stalled. */
export const STALL_FRACTION = 0.1;

type Controller = Pick<EngineSnapshot['controller'], 'state' | 'ticks' | 'tickRateHz' | 'loopThreads'>;

/** Not thread-safe: JS thread only. */
export class StallDetector {
  readonly #minWindowMs: number;
  #base: { atMs: number; ticks: number } | undefined;
  #stalled = false;

  /** `minWindowMs`: the shortest window judged (the health period: one verdict per ping at most). */
  constructor(minWindowMs: number) {
    this.#minWindowMs = minWindowMs;
  }

  get stalled(): boolean {
    return this.#stalled;
  }

  /** Takes a sample; returns whether the loop is stalled (the verdict holds until a window closes). */
  observe(nowMs: number, c: Controller): boolean {
    if (c.state !== 'running' || c.tickRateHz <= 0) {
      this.#base = undefined;
      this.#stalled = false;
      return false;
    }
    // A restart resets the count's base (the counter itself spans runs).
    if (this.#base === undefined || c.ticks < this.#base.ticks) {
      this.#base = { atMs: nowMs, ticks: c.ticks };
      return this.#stalled;
    }
    const windowMs = Math.max(this.#minWindowMs, (STALL_WINDOW_TICKS * 1000) / c.tickRateHz);
    const elapsed = nowMs - this.#base.atMs;
    if (elapsed < windowMs) return this.#stalled;
    const due = (elapsed / 1000) * c.tickRateHz * Math.max(1, c.loopThreads);
    this.#stalled = c.ticks - this.#base.ticks < due * STALL_FRACTION;
    this.#base = { atMs: nowMs, ticks: c.ticks };
    return this.#stalled;
  }
}
