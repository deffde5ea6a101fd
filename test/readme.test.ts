// The README's "Every route with curl" block, run as written with bash and curl against
// the server as `npm start` runs it (its own state directory, so its own generated token;
// any free port in place of 8080). Every request must succeed (2xx).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';

const ROOT = new URL('..', import.meta.url);

/** The first ```sh block after `heading` in README.md. */
function shellBlockAfter(heading: string): string {
  const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
  const at = readme.indexOf(heading);
  assert.ok(at !== -1, `README has "${heading}"`);
  const m = /```sh\n([\s\S]*?)\n```/.exec(readme.slice(at));
  assert.ok(m, `a sh block after "${heading}"`);
  return m[1]!;
}

test("the README's curl commands work as written against npm start", { timeout: 90_000 }, async (t) => {
  const block = shellBlockAfter('### Every route with curl');
  assert.match(block, /^S=127\.0\.0\.1:8080$/m);

  const state = mkdtempSync(join(tmpdir(), 'gamesrv-readme-'));
  t.after(() => rmSync(state, { recursive: true, force: true }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GAMESRV_')));
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts', '--port', '0', '--game-port', '0', '--log-level', 'warn'], {
    cwd: ROOT,
    env: { ...env, XDG_STATE_HOME: state },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.after(() => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  });
  // The dashboard line on stderr names the port.
  const port = await new Promise<string>((resolve, reject) => {
    createInterface({ input: server.stderr }).on('line', (line) => {
      const m = /^gamesrv: dashboard http:\/\/127\.0\.0\.1:(\d+)\//.exec(line);
      if (m) resolve(m[1]!);
    });
    server.once('exit', (code) => reject(new Error(`server exited (${code}) before listening`)));
  });

  // Every curl reports its status on a line of its own on stderr, so command
  // substitutions capture exactly what the README's reader would see.
  const script = [
    'set -euo pipefail',
    `curl() { command curl --write-out '%{stderr}\\n@@ %{http_code} %{method} %{url_effective}\\n' "$@"; }`,
    block.replace(/^S=127\.0\.0\.1:8080$/m, `S=127.0.0.1:${port}`),
  ].join('\n');
  const bash = spawn('bash', ['-c', script], { env: { ...env, XDG_STATE_HOME: state }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  bash.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  bash.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const [code] = (await once(bash, 'exit')) as [number | null];
  assert.equal(code, 0, `bash failed: ${err}\n${out}`);

  const statuses = [...err.matchAll(/^@@ (\d{3}) (\S+) (\S+)$/gm)].map((m) => ({ code: Number(m[1]), method: m[2]!, url: m[3]! }));
  const curls = block.match(/(^|\$\()curl /gm)?.length ?? 0;
  assert.ok(curls >= 25, `the block has the README's requests (${curls})`);
  assert.equal(statuses.length, curls, 'every curl ran');
  const failed = statuses.filter((s) => s.code < 200 || s.code > 299);
  assert.deepEqual(failed, [], `every request succeeded:\n${out}\n${err}`);
  // Mutating requests were made, and with the generated token.
  assert.ok(statuses.filter((s) => s.method === 'POST').length >= 10);
  assert.ok(statuses.some((s) => s.method === 'DELETE' && /\/v1\/tasks\/\d+$/.test(s.url)));
  assert.ok(statuses.some((s) => s.method === 'GET' && /\/v1\/jobs\/[0-9a-f-]{36}$/.test(s.url)), JSON.stringify(statuses));

  server.kill('SIGTERM');
  const [exit] = (await once(server, 'exit')) as [number | null];
  assert.equal(exit, 0);
});
