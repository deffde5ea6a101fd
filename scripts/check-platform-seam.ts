// The platform seam holds: native/src/platform/ does only what its OS makes different.
// Two checks over a tree of C++ sources (test/platform-seam.test.ts runs both on
// native/src/platform and on fixtures that must fail):
// - Markers: names of the portable connection core (native/src/core/connection_core.*,
//   pipe_session.*, completion_port_core.*) and of the protocol's codec that only the core
//   may use. Naming one under platform/ means request handling (decode, dispatch, answer,
//   counters) was written there again.
// - Copies: no run of RUN_LINES or more identical lines shared between a posix/ and a
//   win32/ file. Lines are compared trimmed; blank lines, comment lines, #include lines,
//   lines of punctuation only (`}`, `};`, `{`) and declarations of a core base class's
//   virtuals (`... override;`, which must restate its interface) are left out before runs
//   are formed, so none of them can hide a copy nor make one.
// Usage: node --import tsx scripts/check-platform-seam.ts [platform-dir]  (exit 1 on a finding)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const RUN_LINES = 6;

/** Each marker and why it is the core's alone. */
export const MARKERS: ReadonlyArray<{ pattern: RegExp; why: string }> = [
  { pattern: /\bdecodePipeFrame\b/, why: 'decoding a frame is the pipe session\'s (core/pipe_session.cpp)' },
  { pattern: /\bparsePlayerPayload\b/, why: 'parsing a payload is the pipe session\'s' },
  { pattern: /\bisPipeRequest\b|\bcarriesPlayerPayload\b/, why: 'dispatch by type is the pipe session\'s' },
  { pattern: /\bPipeRequest\b/, why: 'building the handler\'s request is the pipe session\'s' },
  { pattern: /\bhandler_?\s*\(/, why: 'calling the handler is the pipe session\'s' },
  { pattern: /\banswerError\b|\bhandler_failed\b/, why: 'answering (and error replies) is the pipe session\'s' },
  { pattern: /\bPipeServerStats\b|\bPipeErrorCounts\b|\brequestsByType\b/, why: 'the pipe\'s stats are the core\'s' },
  {
    pattern: /\b(framesIn|framesOut|bytesIn|bytesOut|deferredWrites|peakActive|badLength|badPayload|handlerFailed)_?\b/,
    why: 'connection and request counters are the core\'s (ConnectionCounters, PipeSession)',
  },
  { pattern: /\bCompletionPortStats\b/, why: 'the completion port\'s stats are assembled by core/completion_port_core' },
  { pattern: /\bkServerBusy\b|"server busy/, why: 'the refusal text is the pipe session\'s' },
];

export interface Finding {
  file: string;
  line: number;
  text: string;
  why: string;
}

export interface SharedRun {
  posix: string;
  posixLine: number;
  win32: string;
  win32Line: number;
  lines: string[];
}

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourcesUnder(p));
    else if (/\.(c|cc|cpp|h|hpp)$/.test(name)) out.push(p);
  }
  return out;
}

/** The line without its comment; a line inside a block comment reads as empty. */
function codeLines(text: string): string[] {
  let inBlock = false;
  return text.split('\n').map((raw) => {
    let line = raw;
    if (inBlock) {
      const end = line.indexOf('*/');
      if (end < 0) return '';
      line = line.slice(end + 2);
      inBlock = false;
    }
    const start = line.indexOf('/*');
    if (start >= 0 && line.indexOf('*/', start) < 0) {
      line = line.slice(0, start);
      inBlock = true;
    }
    return line.replace(/\/\/.*$/, '').trim();
  });
}

export function findMarkers(platformDir: string): Finding[] {
  const found: Finding[] = [];
  for (const file of sourcesUnder(platformDir)) {
    codeLines(readFileSync(file, 'utf8')).forEach((code, i) => {
      for (const m of MARKERS) {
        if (m.pattern.test(code)) found.push({ file: path.relative(platformDir, file), line: i + 1, text: code, why: m.why });
      }
    });
  }
  return found;
}

function trivial(code: string): boolean {
  return code === '' || code.startsWith('#include') || !/[A-Za-z0-9]/.test(code) || /\boverride;$/.test(code);
}

/** The file's significant lines, with their line numbers. */
function significant(file: string): Array<{ code: string; line: number }> {
  return codeLines(readFileSync(file, 'utf8'))
    .map((code, i) => ({ code: code.replace(/\s+/g, ' '), line: i + 1 }))
    .filter((l) => !trivial(l.code));
}

export function findSharedRuns(platformDir: string, runLines = RUN_LINES): SharedRun[] {
  const posix = sourcesUnder(path.join(platformDir, 'posix'));
  const win32 = sourcesUnder(path.join(platformDir, 'win32'));
  // Every window of runLines significant lines of a win32 file, by its text.
  const windows = new Map<string, Array<{ file: string; line: number }>>();
  for (const file of win32) {
    const lines = significant(file);
    for (let i = 0; i + runLines <= lines.length; ++i) {
      const key = lines.slice(i, i + runLines).map((l) => l.code).join('\n');
      const at = windows.get(key) ?? [];
      at.push({ file, line: lines[i]!.line });
      windows.set(key, at);
    }
  }
  const runs: SharedRun[] = [];
  for (const file of posix) {
    const lines = significant(file);
    let lastReported = -1;  // one report per stretch of overlapping windows
    for (let i = 0; i + runLines <= lines.length; ++i) {
      const key = lines.slice(i, i + runLines).map((l) => l.code).join('\n');
      const match = windows.get(key);
      const first = match?.[0];
      if (!first) continue;
      if (i > lastReported) {
        runs.push({
          posix: path.relative(platformDir, file),
          posixLine: lines[i]!.line,
          win32: path.relative(platformDir, first.file),
          win32Line: first.line,
          lines: key.split('\n'),
        });
      }
      lastReported = i + runLines - 1;
    }
  }
  return runs;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const dir = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../native/src/platform'));
  const markers = findMarkers(dir);
  const runs = findSharedRuns(dir);
  for (const f of markers) console.log(`${f.file}:${f.line}: ${f.text}\n    ${f.why}`);
  for (const r of runs) console.log(`copy: ${r.posix}:${r.posixLine} = ${r.win32}:${r.win32Line}\n    ${r.lines.join('\n    ')}`);
  console.log(`${markers.length} marker(s), ${runs.length} shared run(s) of ${RUN_LINES}+ lines`);
  process.exit(markers.length + runs.length > 0 ? 1 : 0);
}
