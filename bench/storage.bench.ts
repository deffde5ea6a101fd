// The "storage" suite's rows measured through the TypeScript facade (the native rows are
// native/bench/bench_storage.cpp; scripts/bench.sh runs both and prints one line).
//
//   node --import tsx bench/storage.bench.ts [--quick]
//
// Rows
// - db_point_query_p99_us: a `database` task `SELECT … FROM players WHERE id = ?` on SQLite
//   (10,000 saved players), from Engine.submitTask() to its result seen through
//   Engine.waitTask(), one at a time; p99 over every query of the run. Baseline:
//   db_point_query_simulated_p99_us, the same task path with the simulated database at
//   0 µs latency (what the task machinery costs without any SQL).
// Progress goes to stderr; stdout gets exactly one JSON line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { Engine, type EngineConfig, type GameEventInput } from '../src/engine/index.js';

const quick = process.argv.includes('--quick');
const PLAYERS = 10_000;
const QUERIES = quick ? 2000 : 10_000;
const WARMUP = 200;
const QUERY = 'SELECT id, name, x, y, hp, kills FROM players WHERE id = ?';

const log = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

async function pointQueries(config: EngineConfig, label: string): Promise<number[]> {
  const engine = new Engine({ maxPlayers: PLAYERS });
  try {
    await engine.start({ pipe: false, monitor: false, serverName: `bench-storage-${process.pid}-${label}`, ...config });
    const logins: GameEventInput[] = [];
    for (let id = 1; id <= PLAYERS; id++) logins.push({ type: 'PLAYER_LOGIN', playerId: id, data: `p${id}` });
    for (let i = 0; i < logins.length; i += 1000) engine.enqueueEvents(logins.slice(i, i + 1000));
    await engine.flush();
    const run = async (n: number): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const { id } = engine.submitTask({ kind: 'database', query: QUERY, params: [(i * 7919) % PLAYERS + 1] });
        const task = await engine.waitTask(id);
        out.push((performance.now() - t0) * 1000);
        if (task.status !== 'done') throw new Error(`query ${i} ${task.status}: ${task.error}`);
      }
      return out;
    };
    await run(WARMUP);  // the first query also writes the 10,000 dirty players
    const us = await run(QUERIES);
    await engine.stop();
    return us.sort((a, b) => a - b);
  } finally {
    await engine.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'gamesrv-bench-storage-'));
try {
  const sqlite = await pointQueries({ database: 'sqlite', dataDir: dir }, 'sqlite');
  const simulated = await pointQueries({ database: 'simulated', dbLatencyUs: 0 }, 'simulated');
  const p99 = quantile(sqlite, 0.99);
  const baseP99 = quantile(simulated, 0.99);
  log(`db point query (${QUERIES} sequential): sqlite p50 ${quantile(sqlite, 0.5).toFixed(0)} µs, p99 ${p99.toFixed(0)} µs; ` +
    `simulated p50 ${quantile(simulated, 0.5).toFixed(0)} µs, p99 ${baseP99.toFixed(0)} µs`);
  log(`target: db_point_query_p99_us <= 1000: ${p99 <= 1000 ? 'met' : 'NOT met'}`);
  const rows = [
    { name: 'db_point_query_p99_us', value: Math.round(p99), unit: 'us', baseline: 'db_point_query_simulated_p99_us', ratio: Number((p99 / baseP99).toFixed(3)) },
    { name: 'db_point_query_simulated_p99_us', value: Math.round(baseP99), unit: 'us', baseline: null, ratio: null },
  ];
  process.stdout.write(`${JSON.stringify({ suite: 'storage', results: rows })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
