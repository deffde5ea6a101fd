// The "napi" benchmark suite: what crossing the Node-API boundary costs.
//
//   node --import tsx bench/napi.bench.ts [--quick]
//
// Rows (BENCHMARKS.md), each a median over REPS repetitions run in this process:
// - napi_enqueue_ns_per_event: Engine.enqueueEvents() of prebuilt 1,000-event batches
//   (validation, column packing, the native call, the copy into the queue), per event;
//   baseline: JSON.stringify of the same batches, per event (what a JSON boundary would
//   cost at the very least). js_build_batch_ns_per_event (building the batch objects) is
//   reported alongside, without a baseline, for scale.
// - snapshot_us: Engine.snapshot(), every counter and histogram as one plain object;
//   baseline: JSON.stringify of that object.
// - snapshot_buckets_us: Engine.snapshot({ buckets: true }), as the telemetry hub takes it
//   (every histogram's non-empty buckets too, for window percentiles); baseline: snapshot_us.
// Progress goes to stderr; stdout gets exactly one JSON line.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { Engine, type GameEventInput } from '../src/engine/index.js';

interface Row {
  name: string;
  value: number;
  unit: string;
  baseline: string | null;
  ratio: number | null;
}

const quick = process.argv.includes('--quick');
const REPS = quick ? 3 : 5;
const BATCH = 1000;
const BATCHES_PER_REP = quick ? 100 : 300;
const SNAPSHOTS_PER_REP = quick ? 500 : 2000;
const PLAYERS = 1000;

const log = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1 ? (v[(n - 1) / 2] as number) : ((v[n / 2 - 1] as number) + (v[n / 2] as number)) / 2;
}

const fmt = (values: number[]): string => values.map((x) => x.toPrecision(3)).join(' ');

function moveBatch(offset: number): GameEventInput[] {
  const batch = new Array<GameEventInput>(BATCH);
  for (let i = 0; i < BATCH; i++) {
    batch[i] = { type: 'PLAYER_MOVE', playerId: (offset + i) % PLAYERS, data: `${i % 100},${(i * 7) % 100}` };
  }
  return batch;
}

/** Nanoseconds per event spent in `fn(batch)` over `batches`, after one untimed pass. */
function nsPerEvent(batches: GameEventInput[][], fn: (batch: GameEventInput[]) => unknown): number {
  const t0 = performance.now();
  for (const b of batches) fn(b);
  return ((performance.now() - t0) * 1e6) / (batches.length * BATCH);
}

async function waitDrained(engine: Engine, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (engine.snapshot().events.queueDepth > 0) {
    if (Date.now() > deadline) throw new Error('event queue did not drain');
    await sleep(5);
  }
}

async function main(): Promise<void> {
  const engine = new Engine({ queueCapacity: 1 << 22 });
  const rows: Row[] = [];
  try {
    await engine.start();
    const logins: GameEventInput[] = [];
    for (let id = 0; id < PLAYERS; id++) logins.push({ type: 'PLAYER_LOGIN', playerId: id, data: `p${id}` });
    engine.enqueueEvents(logins);

    // Distinct batch objects, so the timed loop does not revisit one hot array.
    const batches: GameEventInput[][] = [];
    for (let k = 0; k < BATCHES_PER_REP; k++) batches.push(moveBatch(k * 13));

    log(`== napi_enqueue_ns_per_event: ${BATCHES_PER_REP} batches of ${BATCH} PLAYER_MOVE a rep, median of ${REPS}`);
    nsPerEvent(batches.slice(0, 50), (b) => engine.enqueueEvents(b)); // warm-up (JIT)
    nsPerEvent(batches.slice(0, 50), (b) => JSON.stringify(b));
    await waitDrained(engine);
    const enqueue: number[] = [];
    const stringify: number[] = [];
    const build: number[] = [];
    let sink = 0;
    for (let r = 0; r < REPS; r++) {
      stringify.push(nsPerEvent(batches, (b) => (sink += JSON.stringify(b).length)));
      enqueue.push(nsPerEvent(batches, (b) => engine.enqueueEvents(b)));
      const t0 = performance.now();
      for (let k = 0; k < BATCHES_PER_REP; k++) sink += moveBatch(k * 13 + r).length;
      build.push(((performance.now() - t0) * 1e6) / (BATCHES_PER_REP * BATCH));
      log(`  rep ${r + 1}: enqueue ${enqueue[r]?.toFixed(1)} ns/event, JSON.stringify ${stringify[r]?.toFixed(1)} ns/event, build ${build[r]?.toFixed(1)} ns/event`);
      await waitDrained(engine); // the consumer thread must not compete with the next rep
    }
    const ev = engine.snapshot().events;
    log(`  engine: accepted ${ev.accepted}, processed ${ev.processed}, applied ${ev.applied}, invalid ${ev.invalid}`);

    log(`== snapshot_us: ${SNAPSHOTS_PER_REP} calls a rep, mean per call, median of ${REPS}`);
    for (let i = 0; i < 200; i++) sink += JSON.stringify(engine.snapshot()).length; // warm-up
    const snap: number[] = [];
    const snapJson: number[] = [];
    const snapBuckets: number[] = [];
    for (let r = 0; r < REPS; r++) {
      let t0 = performance.now();
      for (let i = 0; i < SNAPSHOTS_PER_REP; i++) sink += engine.snapshot().uptimeMs;
      snap.push(((performance.now() - t0) * 1e3) / SNAPSHOTS_PER_REP);
      t0 = performance.now();
      for (let i = 0; i < SNAPSHOTS_PER_REP; i++) sink += engine.snapshot({ buckets: true }).uptimeMs;
      snapBuckets.push(((performance.now() - t0) * 1e3) / SNAPSHOTS_PER_REP);
      const s = engine.snapshot();
      t0 = performance.now();
      for (let i = 0; i < SNAPSHOTS_PER_REP; i++) sink += JSON.stringify(s).length;
      snapJson.push(((performance.now() - t0) * 1e3) / SNAPSHOTS_PER_REP);
      log(
        `  rep ${r + 1}: snapshot ${snap[r]?.toFixed(2)} us, with buckets ${snapBuckets[r]?.toFixed(2)} us, ` +
          `JSON.stringify(snapshot) ${snapJson[r]?.toFixed(2)} us`,
      );
    }
    log(`  medians: enqueue [${fmt(enqueue)}] stringify [${fmt(stringify)}] snapshot [${fmt(snap)}] (sink ${sink % 10})`);

    const add = (name: string, value: number, unit: string, baseline: string | null = null): void => {
      const base = baseline === null ? undefined : rows.find((x) => x.name === baseline);
      const ratio = base !== undefined && base.value !== 0 ? value / base.value : null;
      rows.push({ name, value: Number(value.toPrecision(6)), unit, baseline, ratio: ratio === null ? null : Number(ratio.toPrecision(6)) });
    };
    add('json_stringify_batch_ns_per_event', median(stringify), 'ns/event');
    add('js_build_batch_ns_per_event', median(build), 'ns/event');
    add('napi_enqueue_ns_per_event', median(enqueue), 'ns/event', 'json_stringify_batch_ns_per_event');
    add('json_stringify_snapshot_us', median(snapJson), 'us');
    add('snapshot_us', median(snap), 'us', 'json_stringify_snapshot_us');
    add('snapshot_buckets_us', median(snapBuckets), 'us', 'snapshot_us');
  } finally {
    await engine.close();
  }
  process.stdout.write(`${JSON.stringify({ suite: 'napi', results: rows })}\n`);
}

main().catch((err: unknown) => {
  log(`napi bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
