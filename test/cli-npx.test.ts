// The README's `npx gamesrv …` works as written in a clone: npm exec runs the project's own
// `bin` (package.json) from the project directory, with nothing fetched from the registry
// (--no-install makes a fetch an error instead).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url);

test('the build leaves every bin of package.json executable', () => {
  // npx links a bin without fixing its mode when its cache already holds this path (a
  // second clone in the same place): the build must not leave that to npx.
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { bin: Record<string, string> };
  for (const file of Object.values(pkg.bin)) {
    assert.ok((statSync(new URL(file, ROOT)).mode & 0o111) === 0o111, `${file} is executable`);
  }
});

test('npx gamesrv runs the project CLI from the project directory and below it', { timeout: 60_000 }, async () => {
  for (const cwd of [ROOT, new URL('src/', ROOT)]) {
    const { stdout } = await run('npx', ['--no-install', 'gamesrv', '--help'], { cwd, env: { ...process.env, CI: 'true' } });
    assert.match(stdout, /^Usage:\n {2}gamesrv monitor/m, String(cwd));
  }
});
