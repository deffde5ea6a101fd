// docs/PROTOCOL.md must match the constants compiled into the engine.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { protocolConstants } from '../src/engine/index.js';
import { MAX_CHAT_BYTES } from '../src/schemas/events.js';

const doc = readFileSync(new URL('../docs/PROTOCOL.md', import.meta.url), 'utf8');
const c = protocolConstants();

/** The offset column of the table row whose field cell is `name`. */
function documentedOffset(name: string): number {
  const row = doc.split('\n').find((l) => new RegExp(`^\\|\\s*\\d+\\s*\\|\\s*\\d+\\s*\\|\\s*\`${name}\``).test(l));
  assert.ok(row, `docs/PROTOCOL.md has a table row for ${name}`);
  return Number(row.split('|')[1]);
}

test('the pipe frame sizes and message types match the engine', () => {
  assert.match(doc, new RegExp(`Frame size: \\*\\*${c.pipe.frameBytes}\\*\\* bytes \\(header ${c.pipe.headerBytes}, data capacity ${c.pipe.dataCapacity}\\)`));
  for (const [name, value] of Object.entries(c.pipe.types)) {
    assert.match(doc, new RegExp(`\\| \`${name}\` \\| ${value} \\|`), `${name} = ${value}`);
  }
});

test('the shared-memory layout matches the engine, field by field', () => {
  assert.match(doc, new RegExp(`mode \`0600\`, \\*\\*${c.shm.segmentBytes}\\*\\* bytes`));
  assert.match(doc, new RegExp(`\`0x${c.shm.magic.toString(16).toUpperCase()}\``));
  assert.match(doc, new RegExp(`\\(layout version ${c.shm.layoutVersion}\\)`));
  for (const [field, offset] of Object.entries(c.shm.header)) assert.equal(documentedOffset(field), offset, field);
  for (const [field, offset] of Object.entries(c.shm.status)) assert.equal(documentedOffset(field), offset, field);
  assert.match(doc, new RegExp(`\\| ${c.shm.lockOffset} \\| ${c.shm.lockBytes} \\| writer lock`));
});

test('the HTTP schema\'s chat limit is the World\'s, in bytes', () => {
  assert.equal(MAX_CHAT_BYTES, c.world.maxChatBytes);
});
