// Every request the README's curl block makes is one the OpenAPI document accepts: each
// JSON body validates against its operation's requestBody schema, and each request
// without a body goes to an operation whose body is optional.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { Ajv } from 'ajv';

import type { Json } from './helpers/json.js';

const ROOT = new URL('..', import.meta.url);

interface Request {
  method: string;
  path: string;
  body: string | undefined;
}

/** The requests of the README's "Every route with curl" block (continuations joined). */
function readmeRequests(): Request[] {
  const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
  const block = /```sh\n([\s\S]*?)\n```/.exec(readme.slice(readme.indexOf('### Every route with curl')))![1]!;
  const text = block.replace(/\s*\\\n\s*/g, ' ');
  const out: Request[] = [];
  for (const m of text.matchAll(/curl -si? (?:-X (POST|DELETE) )?(?:-H "\$A" )?"?\$S([^\s"]*)"?((?: -H '[^']*')*)(?: -d '([^']*)')?/g)) {
    const path = m[2]!.replace(/^\$(task|job)$/, (_, v: string) => (v === 'task' ? '/v1/tasks/1' : '/v1/jobs/x'));
    out.push({ method: m[1] ?? 'GET', path, body: m[4] });
  }
  return out;
}

/** The document's path template that `path` matches. */
function templateOf(doc: Json, path: string): string | undefined {
  const bare = path.split('?')[0]!;
  return Object.keys(doc['paths']).find((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare));
}

test("every request in the README is one the OpenAPI document accepts", () => {
  const doc = JSON.parse(readFileSync(new URL('openapi/openapi.json', ROOT), 'utf8')) as Json;
  const ajv = new Ajv({ strict: false, discriminator: true });
  const requests = readmeRequests();
  assert.ok(requests.length >= 25, `parsed the README's requests (${requests.length})`);
  let bodies = 0;
  for (const r of requests) {
    if (r.path === '/openapi.json') continue;
    const template = templateOf(doc, r.path);
    assert.ok(template, `${r.method} ${r.path} is in the document`);
    const op = doc['paths'][template!][r.method.toLowerCase()] as Json | undefined;
    assert.ok(op, `${r.method} ${template} is in the document`);
    const requestBody = op!['requestBody'] as Json | undefined;
    if (r.body === undefined) {
      assert.ok(requestBody === undefined || requestBody['required'] !== true, `${r.method} ${template} may be sent without a body`);
      continue;
    }
    assert.ok(requestBody, `${r.method} ${template} takes a body`);
    const schema = requestBody!['content']['application/json']['schema'];
    const validate = ajv.compile({ ...schema, components: doc['components'] });
    assert.ok(validate(JSON.parse(r.body)), `${r.method} ${template} ${r.body}: ${ajv.errorsText(validate.errors)}`);
    bodies += 1;
  }
  assert.ok(bodies >= 8, `bodies checked: ${bodies}`);
});
