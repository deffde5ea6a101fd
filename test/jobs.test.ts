// Lock benchmark jobs: a server-side budget, unique kinds, and DELETE /v1/jobs/{id}.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { lockKinds } from '../src/engine/index.js';
import { MAX_LOCK_OPS_PER_JOB } from '../src/schemas/jobs.js';
import { build } from './helpers/app.js';

test('a job over the lock-operation budget is refused, and so are repeated kinds', async (t) => {
  const app = await build(t);
  const kinds = lockKinds();
  const over = await app.inject({ method: 'POST', url: '/v1/benchmarks/locks', payload: { threads: 64, iterations: 100_000_000 } });
  assert.equal(over.statusCode, 400);
  assert.equal(over.json().code, 'VALIDATION');
  assert.match(over.json().detail, /lock operations/);
  // Exactly at the budget with one kind is fine as far as the budget goes (not run here).
  const perThread = MAX_LOCK_OPS_PER_JOB / 2 + 1;
  const justOver = await app.inject({ method: 'POST', url: '/v1/benchmarks/locks', payload: { threads: 2, iterations: perThread, kinds: [kinds[0]] } });
  assert.equal(justOver.statusCode, 400);
  const twice = await app.inject({ method: 'POST', url: '/v1/benchmarks/locks', payload: { threads: 1, iterations: 10, kinds: [kinds[0], kinds[0]] } });
  assert.equal(twice.statusCode, 400);
  assert.equal(twice.json().code, 'VALIDATION');
  assert.deepEqual((await app.inject('/v1/jobs')).json().jobs, []);
});

test('DELETE /v1/jobs/{id} cancels a running job; it keeps its rows so far; a finished one is left alone', { timeout: 60_000 }, async (t) => {
  const app = await build(t);
  const started = await app.inject({
    method: 'POST',
    url: '/v1/benchmarks/locks',
    // Minutes of work if it ran to the end: it must be the cancellation that ends it.
    payload: { threads: 2, iterations: 100_000_000, kinds: [lockKinds()[0]] },
  });
  assert.equal(started.statusCode, 202);
  const { id } = started.json() as { id: string };
  const finished = new Promise<void>((resolve) => {
    const on = (job: { id: string; status: string }) => {
      if (job.id === id && job.status !== 'running') {
        app.jobs.off('update', on);
        resolve();
      }
    };
    app.jobs.on('update', on);
  });
  const res = await app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().cancelled, true);
  await finished;
  const job = (await app.inject(`/v1/jobs/${id}`)).json();
  assert.equal(job.status, 'cancelled');
  assert.match(job.error, /DELETE/);
  // Cancelling again: it has finished, nothing happens.
  const again = await app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` });
  assert.equal(again.statusCode, 200);
  assert.equal(again.json().cancelled, false);
  assert.equal(again.json().job.status, 'cancelled');
  assert.equal((await app.inject({ method: 'DELETE', url: '/v1/jobs/no-such-job' })).statusCode, 404);
});
