// Reading the deployment files for test/deploy.test.ts: a Dockerfile's instructions, YAML
// documents, the Dockerfile's ignore file. Just enough of each format for the files in
// deploy/ (the test fails loudly on anything it cannot read).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parseAllDocuments } from 'yaml';

import type { Json } from './json.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

export interface Instruction {
  op: string;
  args: string;
  stage: string;
}

/** A Dockerfile's instructions, continuation lines joined, comments dropped, each with its stage. */
export function parseDockerfile(text: string): Instruction[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue; // also inside a continued instruction, as Docker reads it
    const line = raw.trimEnd();
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    if (whole !== '') lines.push(whole);
  }
  let stage = '';
  return lines.map((l) => {
    const m = /^(\w+)\s+(.*)$/.exec(l);
    assert.ok(m, `Dockerfile line "${l}"`);
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage = /\bAS\s+(\S+)/i.exec(m[2]!)?.[1] ?? m[2]!;
    return { op, args: m[2]!, stage };
  });
}

/** The exec form of ENTRYPOINT/CMD/VOLUME; the shell form is refused (signals would go to sh). */
export function execForm(i: Instruction, problems: string[]): string[] {
  try {
    const v: unknown = JSON.parse(i.args);
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  } catch {
    // reported below
  }
  problems.push(`Dockerfile ${i.op} ${i.args}: not the exec (JSON) form`);
  return [];
}

/** ENV k=v pairs (values without blanks or quotes, as ours are). */
export function envPairs(args: string): [string, string][] {
  return args.split(/\s+/).filter((p) => p !== '').map((p) => {
    const eq = p.indexOf('=');
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}

/** Every YAML document of a file, or the parse errors. */
export function yamlDocs(text: string, name: string, problems: string[]): Json[] {
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  const out: Json[] = [];
  for (const d of list) {
    for (const e of [...d.errors, ...d.warnings]) problems.push(`${name}: YAML: ${e.message}`);
    const js = d.toJS() as unknown;
    if (js !== null && js !== undefined) out.push(js as Json);
  }
  return out;
}

/** Does a .dockerignore pattern (the forms ours uses: a name, a path, `*` within a segment) exclude `path`? */
export function ignored(path: string, patterns: string[]): boolean {
  const rx = (p: string) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}(/.*)?$`);
  return patterns.some((p) => rx(p.replace(/^\/|\/$/g, '')).test(path));
}

export interface DeployFiles {
  dockerfile: string;
  dockerignore: string;
  /** Every YAML file under deploy/, by path. */
  yaml: Record<string, string>;
}

export function readDeployFiles(): DeployFiles {
  const yaml: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(e.name)) yaml[path] = read(path);
    }
  };
  walk('deploy');
  return { dockerfile: read('deploy/Dockerfile'), dockerignore: read('deploy/Dockerfile.dockerignore'), yaml };
}
