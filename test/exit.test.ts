// Exit behaviour in a child process (better-sqlite3's at-exit test, adapted).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const child = fileURLToPath(new URL('./fixtures/child-engine.ts', import.meta.url));

function run(mode: string) {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { proc, exited, output: () => out, errors: () => err };
}

test('a process with a running engine exits cleanly after close()', async () => {
  const c = run('close');
  const [code, signal] = await c.exited;
  assert.equal(signal, null, c.errors());
  assert.equal(code, 0, c.errors());
  assert.match(c.output(), /"closed":true,"state":"stopped"/);
});

test('a process with a running engine exits cleanly on SIGTERM', async () => {
  const c = run('sigterm');
  // Wait for the child to say it is running before signalling it.
  await new Promise<void>((resolve, reject) => {
    c.proc.stdout.on('data', () => {
      if (c.output().includes('ready')) resolve();
    });
    c.proc.once('exit', () => reject(new Error(`child exited early: ${c.errors()}`)));
  });
  c.proc.kill('SIGTERM');
  const [code, signal] = await c.exited;
  assert.equal(signal, null, c.errors());
  assert.equal(code, 0, c.errors());
  assert.match(c.output(), /"closed":true,"state":"stopped"/);
});

test('a process that never calls close() still exits: the cleanup hook stops the engine', async () => {
  const c = run('forget');
  const [code, signal] = await c.exited;
  assert.equal(signal, null, c.errors());
  assert.equal(code, 0, c.errors());
  assert.match(c.output(), /"state":"running"/);
});
