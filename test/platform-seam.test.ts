// native/src/platform/ holds only what its OS makes different (scripts/check-platform-seam.ts):
// no request handling of the connection core there, and no run of 6+ identical lines
// shared by a posix and a win32 file. The checks also run on made-up trees that must fail.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { findMarkers, findSharedRuns, RUN_LINES } from '../scripts/check-platform-seam.js';

const platformDir = fileURLToPath(new URL('../native/src/platform', import.meta.url));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gamesrv-seam-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const lines = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `  ${tag}${i} += step(${i});`);

test('native/src/platform names nothing of the request handling the core owns', () => {
  const found = findMarkers(platformDir);
  assert.deepEqual(found.map((f) => `${f.file}:${f.line}: ${f.text} (${f.why})`), []);
});

test(`no posix and win32 file share a run of ${RUN_LINES} identical lines`, () => {
  const runs = findSharedRuns(platformDir);
  assert.deepEqual(runs.map((r) => `${r.posix}:${r.posixLine} = ${r.win32}:${r.win32Line}`), []);
});

test('a platform file that decodes, answers or counts requests is caught', (t) => {
  const dir = tree({
    'posix/pipe_server_posix.cpp': 'void serve() {\n  PipeDecodeResult d = decodePipeFrame(buf, n);\n  framesIn_.fetch_add(1);\n}\n',
    'win32/pipe_server_win32.cpp': '// decodePipeFrame in a comment is no code\nvoid serve() {\n  answerError(PipeError::BadLength, "x", out);\n}\n',
  });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const found = findMarkers(dir).map((f) => `${f.file}:${f.line}`);
  assert.deepEqual(found, ['posix/pipe_server_posix.cpp:2', 'posix/pipe_server_posix.cpp:3', 'win32/pipe_server_win32.cpp:3']);
});

test(`a run of ${RUN_LINES} shared lines is caught, through blank and brace lines; ${RUN_LINES - 1} are not`, (t) => {
  const shared = lines(RUN_LINES, 'same');
  const withNoise = [...shared.slice(0, 2), '', '  }', '  // a comment', ...shared.slice(2)];
  const dir = tree({
    'posix/a_posix.cpp': ['int a() {', ...withNoise, '  return posixOnly();', '}'].join('\n'),
    'win32/a_win32.cpp': ['int a() {', '  prepareWin32();', ...shared, '}'].join('\n'),
    'posix/b_posix.cpp': ['void bPosix() {', ...lines(RUN_LINES - 1, 'short'), '  posixOnly();', '}'].join('\n'),
    'win32/b_win32.cpp': ['void bWin32() {', ...lines(RUN_LINES - 1, 'short'), '  win32Only();', '}'].join('\n'),
  });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const runs = findSharedRuns(dir);
  assert.equal(runs.length, 1, JSON.stringify(runs));
  const [run] = runs;
  assert.equal(run?.posix, path.join('posix', 'a_posix.cpp'));
  assert.equal(run?.win32, path.join('win32', 'a_win32.cpp'));
  assert.equal(run?.posixLine, 2);
  assert.equal(run?.win32Line, 3);
});
