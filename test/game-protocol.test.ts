// docs/PROTOCOL.md's game protocol section must match the tables compiled into the engine
// (gamesrv/game_protocol.hpp, exported by the addon as `gameProtocol`). The C++ test
// native/test/test_game_protocol.cpp checks those tables against the codec's bytes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { loadBinding } from '../src/engine/native.js';

interface FieldLayout {
  name: string;
  offset: number;
  size: number; // 0: variable
  type: string;
}
interface GameProtocol {
  constants: Record<string, number>;
  clientTypes: Record<string, number>;
  serverTypes: Record<string, number>;
  errorCodes: Record<string, number>;
  kickReasons: Record<string, number>;
  layouts: { name: string; type: number; fields: FieldLayout[] }[];
}

// Not in NativeBinding's type (src/ is another part of the issue): read as what it is.
const gp = (loadBinding() as unknown as { gameProtocol: GameProtocol }).gameProtocol;
const doc = readFileSync(new URL('../docs/PROTOCOL.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## 3. Game protocol (TCP)'), doc.indexOf('\n## 4.'));

/** The cells of the table rows under the heading line that starts with `heading` (up to the next heading). */
function tableAfter(heading: string): string[][] {
  const lines = section.split('\n');
  const at = lines.findIndex((l) => l === heading || l.startsWith(`${heading} `));
  assert.ok(at >= 0, `docs/PROTOCOL.md has the heading "${heading}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(at + 1)) {
    if (line.startsWith('#')) break;
    if (!line.startsWith('|') || /^\|[-:| ]+\|$/.test(line)) continue;
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    );
  }
  return rows.slice(1); // without the header row
}

const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;

function headingOf(layout: GameProtocol['layouts'][number]): string {
  if (layout.type === 0) return `#### Block \`${layout.name}\``;
  const side = layout.type < 0x80 ? 'Client' : 'Server';
  return `#### ${side} \`${layout.name}\` (${hex(layout.type)})`;
}

test('the engine exports every message of the draft', () => {
  assert.deepEqual(Object.keys(gp.clientTypes), ['HELLO', 'MOVE', 'ATTACK', 'CHAT', 'PING', 'BYE']);
  assert.equal(Object.keys(gp.serverTypes).length, 10);
  assert.equal(Object.keys(gp.errorCodes).length, 16);
  assert.equal(Object.keys(gp.kickReasons).length, 7);
  assert.equal(gp.layouts.length, 6 + 10 + 2); // every message, plus the CELL and ENTRY blocks
});

test('every message type and layout matches the engine, field by field', () => {
  const types = new Map<string, number>();
  for (const [name, value] of Object.entries(gp.clientTypes)) types.set(`Client ${name}`, value);
  for (const [name, value] of Object.entries(gp.serverTypes)) types.set(`Server ${name}`, value);
  for (const layout of gp.layouts) {
    if (layout.type !== 0) {
      const side = layout.type < 0x80 ? 'Client' : 'Server';
      assert.equal(types.get(`${side} ${layout.name}`), layout.type, `${side} ${layout.name}`);
      types.delete(`${side} ${layout.name}`);
    }
    const heading = headingOf(layout);
    const rows = tableAfter(heading);
    assert.equal(rows.length, layout.fields.length, `${heading}: one row per field`);
    layout.fields.forEach((f, i) => {
      const [offset, size, name, type] = rows[i] ?? [];
      assert.equal(name, `\`${f.name}\``, `${heading} row ${i}`);
      assert.equal(Number(offset), f.offset, `${heading} ${f.name} offset`);
      assert.equal(type, f.type, `${heading} ${f.name} type`);
      if (f.size > 0) assert.equal(Number(size), f.size, `${heading} ${f.name} size`);
      else assert.ok(Number.isNaN(Number(size)), `${heading} ${f.name}: a variable size, not a number`);
    });
  }
  assert.deepEqual([...types.keys()], [], 'every message type has a layout');
});

test('the frame header and the limits match the engine', () => {
  const frame = tableAfter('### Frames');
  assert.deepEqual(
    frame.map(([o, s, n, t]) => [o, s, n, t]),
    [
      ['0', String(gp.constants['lengthBytes']), '`length`', 'u32'],
      [String(gp.constants['lengthBytes']), '1', '`type`', 'u8'],
      [String(gp.constants['frameHeaderBytes']), 'length - 1', '`payload`', 'bytes'],
    ],
  );
  const limits = new Map(tableAfter('### Limits').map(([name, value]) => [name, Number(value)]));
  for (const [name, value] of Object.entries(gp.constants)) assert.equal(limits.get(`\`${name}\``), value, name);
  assert.equal(limits.size, Object.keys(gp.constants).length, 'no limit documented that the engine lacks');
  assert.equal(gp.constants['maxServerFrame'], 16 * 1024 * 1024);
});

test('error codes and kick reasons match the engine, number and name', () => {
  const codes = tableAfter('### Error codes').map(([n, name]) => [name, Number(n)]);
  assert.deepEqual(codes, Object.entries(gp.errorCodes).map(([name, n]) => [`\`${name}\``, n]));
  const reasons = tableAfter('### Kick reasons').map(([n, name]) => [name, Number(n)]);
  assert.deepEqual(reasons, Object.entries(gp.kickReasons).map(([name, n]) => [`\`${name}\``, n]));
});
