// RFC 9457 problem details: the one error shape of the API (docs/API.md lists the types).
import type { EngineErrorCode, EngineState } from './engine/index.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemExtras {
  code?: string;
  field?: string;
  errors?: { field: string; message: string }[];
  state?: EngineState;
  available?: number;
  index?: number;
  retryAfterSeconds?: number;
}

/** An error a handler throws to answer with a given problem. */
export class HttpProblem extends Error {
  readonly statusCode: number;
  readonly title: string;
  readonly extras: ProblemExtras;
  constructor(statusCode: number, title: string, detail: string, extras: ProblemExtras = {}) {
    super(detail);
    this.name = 'HttpProblem';
    this.statusCode = statusCode;
    this.title = title;
    this.extras = extras;
  }
}

export function problemType(code: string): string {
  return `urn:gamesrv:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

/** HTTP status and title of each engine error code. */
export const ENGINE_ERROR_STATUS: Record<EngineErrorCode, { status: number; title: string }> = {
  ENGINE_NOT_RUNNING: { status: 409, title: 'Engine not running' },
  INVALID_STATE: { status: 409, title: 'Wrong engine state' },
  BUSY: { status: 409, title: 'Busy' },
  INVALID_ARGUMENT: { status: 400, title: 'Invalid argument' },
  QUEUE_FULL: { status: 429, title: 'Event queue full' },
  // Journal mode (docs/JOURNAL.md): too many bytes wait for their commit — back-pressure
  // like a full queue, so the same 429 and Retry-After; nothing of the batch was taken.
  JOURNAL_FULL: { status: 429, title: 'Event journal full' },
  JOURNAL_BATCH_TOO_LARGE: { status: 413, title: 'Batch too large for the journal' },
  JOURNAL_IO_ERROR: { status: 503, title: 'Event journal write failed' },
  DURABLE_MODE: { status: 500, title: 'Synchronous enqueue in journal mode' },
  JOURNAL_REPLAY_FAILED: { status: 500, title: 'Journal replay failed' },
  TOO_MANY_TASKS: { status: 429, title: 'Too many active tasks' },
  // POST /v1/storage/checkpoint with no database open (stopped, or "simulated").
  NO_DATABASE: { status: 409, title: 'No database open' },
  STORAGE_ERROR: { status: 503, title: 'Database write failed' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  TIMEOUT: { status: 504, title: 'Timed out' },
  PIPE_ERROR: { status: 502, title: 'Pipe error' },
  ENGINE_CLOSED: { status: 503, title: 'Engine closed' },
  MONITOR_ERROR: { status: 503, title: 'Monitor unavailable' },
  LAYOUT_MISMATCH: { status: 502, title: 'Monitor layout mismatch' },
  PERMISSION_DENIED: { status: 403, title: 'Permission denied' },
  START_FAILED: { status: 500, title: 'Engine failed to start' },
  ADDON_NOT_FOUND: { status: 500, title: 'Engine addon missing' },
  INTERNAL: { status: 500, title: 'Internal engine error' },
};

export const HTTP_TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  406: 'Not acceptable',
  409: 'Conflict',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  500: 'Internal server error',
  503: 'Service unavailable',
};
