/** Stable error codes raised by the engine. */
export type EngineErrorCode =
  | 'ENGINE_NOT_RUNNING'
  | 'ENGINE_CLOSED'
  | 'INVALID_STATE'
  | 'INVALID_ARGUMENT'
  | 'QUEUE_FULL'
  | 'JOURNAL_FULL'
  | 'JOURNAL_BATCH_TOO_LARGE'
  | 'JOURNAL_IO_ERROR'
  | 'DURABLE_MODE'
  | 'JOURNAL_REPLAY_FAILED'
  | 'NO_DATABASE'
  | 'STORAGE_ERROR'
  | 'TOO_MANY_TASKS'
  | 'START_FAILED'
  | 'TIMEOUT'
  | 'NOT_FOUND'
  | 'PIPE_ERROR'
  | 'PERMISSION_DENIED'
  | 'LAYOUT_MISMATCH'
  | 'BUSY'
  | 'MONITOR_ERROR'
  | 'ADDON_NOT_FOUND'
  | 'INTERNAL';

export interface EngineErrorDetails {
  /** Engine state when a transition was refused (INVALID_STATE, START_FAILED). */
  state?: string;
  /** Free queue capacity when a batch was refused (QUEUE_FULL). */
  available?: number;
  /** Index of the offending event in a batch (INVALID_ARGUMENT). */
  index?: number;
}

/** Every failure of the engine API. `code` is stable; `message` is for people. */
export class EngineError extends Error implements EngineErrorDetails {
  override readonly name = 'EngineError';
  readonly code: EngineErrorCode;
  readonly state?: string;
  readonly available?: number;
  readonly index?: number;

  constructor(code: EngineErrorCode, message: string, details: EngineErrorDetails = {}) {
    super(message);
    this.code = code;
    if (details.state !== undefined) this.state = details.state;
    if (details.available !== undefined) this.available = details.available;
    if (details.index !== undefined) this.index = details.index;
  }
}

interface NativeErrorShape {
  code?: unknown;
  message?: unknown;
  state?: unknown;
  available?: unknown;
}

/**
 * Turns an error thrown by the binding into an EngineError created here, so its
 * stack is the caller's, not the binding's.
 */
export function fromNative(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const e = (err ?? {}) as NativeErrorShape;
  const code = typeof e.code === 'string' ? (e.code as EngineErrorCode) : 'INTERNAL';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const details: EngineErrorDetails = {};
  if (typeof e.state === 'string') details.state = e.state;
  if (typeof e.available === 'number') details.available = e.available;
  return new EngineError(code, message, details);
}
