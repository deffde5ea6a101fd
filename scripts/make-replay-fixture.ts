// Writes test/fixtures/replay-recording/: a small journal with the World hashes recorded
// beside it, the regression fixture of `gamesrv replay --verify` (test/replay.test.ts).
// Three runs of one engine (journal mode, simulated database): each start records the
// World it starts from and each stop the World it ends with. Run it again only when the
// journal format or the World's rules change on purpose, and commit the result:
//   node --import tsx scripts/make-replay-fixture.ts
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { Engine, type GameEventInput } from '../src/engine/index.js';

const dir = join(import.meta.dirname, '..', 'test', 'fixtures', 'replay-recording');
rmSync(dir, { recursive: true, force: true });

const runs: GameEventInput[][][] = [
  [
    Array.from({ length: 8 }, (_, i) => ({ type: 'PLAYER_LOGIN' as const, playerId: i + 1, data: `player ${i + 1}` })),
    [
      { type: 'PLAYER_MOVE', playerId: 1, data: '10.5,-20.25' },
      { type: 'PLAYER_MOVE', playerId: 2, data: { x: 12, y: -18 } },
      { type: 'PLAYER_CHAT', playerId: 1, data: 'hello, world' },
    ],
    [
      { type: 'PLAYER_ATTACK', playerId: 1, data: { target: 2, damage: 60 } },
      { type: 'PLAYER_ATTACK', playerId: 1, data: { target: 2, damage: 60 } },
      { type: 'PLAYER_LOGOUT', playerId: 4 },
    ],
  ],
  [
    [
      { type: 'PLAYER_MOVE', playerId: 3, data: '5000,-4000' },
      { type: 'PLAYER_LOGIN', playerId: 4, data: 'player 4 again' },
      { type: 'PLAYER_CHAT', playerId: 4, data: 'back' },
    ],
    [{ type: 'PLAYER_ATTACK', playerId: 5, data: { target: 6, damage: 25 } }],
  ],
  [
    [
      { type: 'PLAYER_LOGIN', playerId: 9, data: 'late' },
      { type: 'PLAYER_MOVE', playerId: 9, data: { x: -1, y: 1 } },
      { type: 'PLAYER_LOGOUT', playerId: 1 },
    ],
  ],
];

const engine = new Engine();
for (const batches of runs) {
  await engine.start({ iocp: false, pipe: false, monitor: false, dataDir: dir, durability: 'journal', database: 'simulated' });
  for (const batch of batches) await engine.acceptEvents(batch);
  await engine.stop();
}
const s = engine.snapshot();
await engine.close();
console.log(`wrote ${dir}: ${s.journal.lastSeq} events, ${s.journal.worldHashes} World hashes recorded by this process`);
