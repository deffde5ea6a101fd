// The engine's state as the control plane last saw it, and an event when it moves.
import { EventEmitter } from 'node:events';

import type { Engine } from './engine.js';
import type { EngineState } from './types.js';

export interface StateChange {
  from: EngineState;
  to: EngineState;
  atMs: number;
}

/**
 * Emits 'change' (StateChange) when the engine's state moves. Routes call check() right
 * after every transition they make; a timer catches the ones the engine makes itself.
 */
export class StateWatch extends EventEmitter<{ change: [StateChange] }> {
  #last: EngineState;
  readonly #engine: Engine;
  constructor(engine: Engine) {
    super();
    this.#engine = engine;
    this.#last = engine.state;
  }
  get last(): EngineState {
    return this.#last;
  }
  check(): EngineState {
    const now = this.#engine.closed ? 'stopped' : this.#engine.state;
    if (now !== this.#last) {
      const change = { from: this.#last, to: now, atMs: Date.now() };
      this.#last = now;
      this.emit('change', change);
    }
    return now;
  }
}
