// Long-running jobs (the lock benchmark) run off the event loop; their state is kept
// here, bounded, and every change is emitted for the telemetry topic `jobs`.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';

import type { LockBenchmarkOptions, LockBenchmarkProgress, LockBenchmarkRow } from './engine/index.js';

export interface Job {
  id: string;
  kind: 'lock-benchmark';
  status: 'running' | 'done' | 'failed' | 'cancelled';
  progress: LockBenchmarkProgress;
  createdAtMs: number;
  finishedAtMs: number | null;
  request: LockBenchmarkOptions;
  rows: LockBenchmarkRow[] | null;
  error: string | null;
}

export type LockBenchmarkRunner = (
  options: LockBenchmarkOptions,
  onProgress: (p: LockBenchmarkProgress) => void,
  signal: AbortSignal,
) => Promise<{ status: 'ok' | 'cancelled'; rows: LockBenchmarkRow[] }>;

/** How many finished jobs are kept for GET. */
export const JOB_HISTORY = 32;

export class JobStore extends EventEmitter<{ update: [Job] }> {
  readonly #jobs = new Map<string, Job>();
  #running: Job | undefined;
  #abort: AbortController | undefined;
  #cancelReason = 'cancelled: the server is shutting down';
  #settled = new Set<Promise<void>>();

  get running(): Job | undefined {
    return this.#running;
  }

  get(id: string): Job | undefined {
    return this.#jobs.get(id);
  }

  list(): Job[] {
    return [...this.#jobs.values()].reverse();
  }

  /** Starts a lock benchmark; one runs at a time (the measurement owns the CPUs). */
  startLockBenchmark(request: LockBenchmarkOptions, run: LockBenchmarkRunner): Job {
    if (this.#running) throw new Error('a job is already running');
    const job: Job = {
      id: randomUUID(),
      kind: 'lock-benchmark',
      status: 'running',
      progress: { rowsDone: 0, rowsTotal: 0, percent: 0 },
      createdAtMs: Date.now(),
      finishedAtMs: null,
      request,
      rows: null,
      error: null,
    };
    this.#jobs.set(job.id, job);
    this.#trim();
    this.#running = job;
    this.#abort = new AbortController();
    this.#cancelReason = 'cancelled: the server is shutting down';
    this.emit('update', job);
    const done = run(
      request,
      (p) => {
        job.progress = { ...p };
        this.emit('update', job);
      },
      this.#abort.signal,
    ).then(
      (report) => {
        job.rows = report.rows;
        if (report.status === 'cancelled') {
          job.status = 'cancelled';
          job.error = this.#cancelReason;
        } else {
          job.status = 'done';
          job.progress = { ...job.progress, rowsDone: job.progress.rowsTotal, percent: 100 };
        }
      },
      (err: unknown) => {
        job.status = 'failed';
        job.error = err instanceof Error ? err.message : String(err);
      },
    ).finally(() => {
      job.finishedAtMs = Date.now();
      this.#running = undefined;
      this.#abort = undefined;
      this.#settled.delete(done);
      this.emit('update', job);
    });
    this.#settled.add(done);
    return job;
  }

  /**
   * Asks the job to stop if it is running: it then finishes as "cancelled" with the rows
   * done so far. False when there is no such job or it has finished already.
   */
  cancel(id: string, reason: string): boolean {
    if (this.#running?.id !== id || this.#abort === undefined) return false;
    this.#cancelReason = reason;
    this.#abort.abort();
    return true;
  }

  /** Resolves once no job is running (used when the app closes). */
  async idle(): Promise<void> {
    await Promise.all([...this.#settled]);
  }

  #trim(): void {
    for (const [id, j] of this.#jobs) {
      if (this.#jobs.size <= JOB_HISTORY) break;
      if (j.status !== 'running') this.#jobs.delete(id);
    }
  }
}
