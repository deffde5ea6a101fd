// The engine's inter-process side seen from outside: the CLI in another process reads
// the shared-memory status and talks over the pipe; a pipe SHUTDOWN stops the engine
// gracefully without losing an accepted event.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';

import { Engine, EngineError, readMonitor } from '../src/engine/index.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const name = `test-ipc-${process.pid}`;

async function gamesrv(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', cli, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('pipe and shared-memory monitor', () => {
  test('another process reads the live player count after logins through the pipe', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    await engine.start({ serverName: name, tickRateHz: 60 });
    for (const data of ['1:alice', '2:bob', '3']) {
      const reply = await engine.pipeRequest('PLAYER_LOGIN', data);
      assert.equal(reply.type, 'ACK', reply.data);
      assert.match(reply.data, /^seq=\d+$/);
    }
    await engine.flush();
    assert.equal(engine.player(1)?.name, 'alice');

    const out = await gamesrv('monitor', '--name', name, '--json');
    assert.equal(out.code, 0, out.stderr);
    const status = JSON.parse(out.stdout) as { playerCount: number; pid: number; running: boolean; writer: string };
    assert.equal(status.playerCount, 3);
    assert.equal(status.pid, process.pid);
    assert.equal(status.running, true);
    assert.equal(status.writer, 'alive');

    const reply = await engine.pipeRequest('PLAYER_LOGOUT', '2');
    assert.equal(reply.type, 'ACK');
    await engine.flush();
    // A player-count change is published at once, not at the next one-second refresh.
    assert.equal(readMonitor(name).playerCount, 2);
  });

  test('`gamesrv pipe SERVER_STATUS` prints the real status', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    await engine.start({ serverName: name });
    engine.enqueueEvents([
      { type: 'PLAYER_LOGIN', playerId: 10 },
      { type: 'PLAYER_LOGIN', playerId: 11 },
    ]);
    await engine.flush();
    const out = await gamesrv('pipe', 'SERVER_STATUS', '--name', name, '--json');
    assert.equal(out.code, 0, out.stderr);
    const reply = JSON.parse(out.stdout) as { type: string; data: string };
    assert.equal(reply.type, 'STATUS_REPLY');
    const status = JSON.parse(reply.data) as Record<string, unknown>;
    assert.equal(status['server'], name);
    assert.equal(status['state'], 'running');
    assert.equal(status['playersOnline'], 2);
    assert.equal(status['pid'], process.pid);
    assert.equal(typeof status['cpuPercent'], 'number');
    assert.ok((status['residentBytes'] as number) > 0);
  });

  test('a malformed payload gets an ERROR reply and the CLI exits 1', async (t) => {
    const engine = new Engine();
    t.after(() => engine.close());
    await engine.start({ serverName: name });
    const out = await gamesrv('pipe', 'PLAYER_MOVE', 'north', '--name', name);
    assert.equal(out.code, 1);
    assert.match(out.stdout, /^ERROR bad_payload/);
    assert.equal(engine.snapshot().pipe.errors.badPayload, 1);
    assert.equal(engine.snapshot().events.accepted, 0);
  });

  test('a pipe SHUTDOWN stops the engine gracefully with no accepted event lost', async (t) => {
    const engine = new Engine({ queueCapacity: 1 << 20 });
    t.after(() => engine.close());
    await engine.start({ serverName: name });
    let accepted = 0;
    for (let b = 0; b < 50; b++) {
      const batch = Array.from({ length: 1000 }, (_, i) => ({ type: 'PLAYER_MOVE' as const, playerId: i, data: `${b},${i}` }));
      accepted += engine.enqueueEvents(batch).accepted;
    }
    const out = await gamesrv('pipe', 'SHUTDOWN', '--name', name);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^ACK stopping/);
    await engine.waitForState('stopped', { timeoutMs: 20_000 });
    const s = engine.snapshot();
    assert.equal(s.events.accepted, accepted);
    assert.equal(s.events.processed, accepted);
    // The server is gone from both channels.
    assert.throws(() => readMonitor(name), (err: unknown) => err instanceof EngineError && err.code === 'NOT_FOUND');
    const gone = await gamesrv('pipe', 'SERVER_STATUS', '--name', name);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /PIPE_ERROR/);
  });

  test('`gamesrv monitor` of a server that is not running fails clearly', async () => {
    const out = await gamesrv('monitor', '--name', `${name}-absent`);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /NOT_FOUND/);
  });

  test('a second engine with the same server name is refused at start', async (t) => {
    const a = new Engine();
    const b = new Engine();
    t.after(async () => {
      await a.close();
      await b.close();
    });
    await a.start({ serverName: name });
    await assert.rejects(b.start({ serverName: name }), (err: unknown) => {
      assert.ok(err instanceof EngineError);
      assert.equal(err.code, 'START_FAILED');
      assert.match(err.message, /running/);
      return true;
    });
    assert.equal(b.state, 'stopped');
  });
});
