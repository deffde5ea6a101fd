// GET /metrics: Prometheus text with exact engine counters, one engine snapshot per
// scrape, process/Node defaults, and apps that share a process without clashing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { FastifyInstance } from 'fastify';
import { register as globalRegistry } from 'prom-client';

import { build } from './helpers/app.js';

interface Scrape {
  /** value by series as printed: `name` or `name{label="v",...}` */
  series: Map<string, number>;
  /** `# TYPE` by family name */
  types: Map<string, string>;
  text: string;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/;

/** Parses the text format strictly: every line is a comment or a well-formed sample. */
function parse(text: string): Scrape {
  const series = new Map<string, number>();
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      const name = comment[2]!;
      if (comment[1] === 'HELP') {
        assert.ok(!helps.has(name), `one HELP per family: ${name}`);
        helps.add(name);
      } else {
        assert.ok(!types.has(name), `one TYPE per family: ${name}`);
        types.set(name, comment[3]!);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `malformed sample line: ${line}`);
    const key = `${m[1]}${m[2] ?? ''}`;
    assert.ok(!series.has(key), `duplicate series ${key}`);
    series.set(key, Number(m[3]));
  }
  return { series, types, text };
}

function value(scrape: Scrape, key: string): number {
  const v = scrape.series.get(key);
  assert.ok(v !== undefined, `series ${key} missing`);
  return v;
}

async function scrape(app: FastifyInstance): Promise<Scrape> {
  const res = await app.inject('/metrics');
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return parse(res.body);
}

async function enqueue(app: FastifyInstance, events: object[]): Promise<void> {
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: { events } });
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.json().accepted, events.length);
}

const logins = (ids: number[]) => ids.map((playerId) => ({ type: 'PLAYER_LOGIN', playerId }));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function engineState(s: Scrape): string {
  const on = [...s.series].filter(([k, v]) => k.startsWith('gamesrv_engine_state{') && v === 1);
  assert.equal(on.length, 1, 'exactly one state series is 1');
  const states = [...s.series.keys()].filter((k) => k.startsWith('gamesrv_engine_state{'));
  assert.equal(states.length, 5, 'one series per engine state');
  return /state="([a-z]+)"/.exec(on[0]![0])![1]!;
}

describe('GET /metrics', () => {
  test('engine counters are exact after a flush; latency is a summary in seconds', async (t) => {
    const app = await build(t);
    await enqueue(app, logins(range(1, 10)));
    await enqueue(app, [
      ...range(1, 10).map((playerId) => ({ type: 'PLAYER_MOVE', playerId, data: `${playerId},1` })),
      ...range(1, 10).map((playerId) => ({ type: 'PLAYER_MOVE', playerId, data: { x: 2, y: playerId } })),
      { type: 'PLAYER_MOVE', playerId: 99, data: '1,1' },
      { type: 'PLAYER_MOVE', playerId: 98, data: '1,1' },
      { type: 'PLAYER_MOVE', playerId: 1, data: '999999999,1' }, // outside the World: refused as bad_coordinates
      { type: 'PLAYER_MOVE', playerId: 2, data: '999999999,1' }, // outside the World: refused as bad_coordinates
      { type: 'PLAYER_MOVE', playerId: 3, data: '999999999,1' }, // outside the World: refused as bad_coordinates
    ]);
    await app.engine.flush();

    const s = await scrape(app);
    assert.equal(value(s, 'gamesrv_events_accepted_total'), 35);
    assert.equal(value(s, 'gamesrv_events_processed_total{type="PLAYER_LOGIN"}'), 10);
    assert.equal(value(s, 'gamesrv_events_processed_total{type="PLAYER_MOVE"}'), 25);
    assert.equal(value(s, 'gamesrv_events_processed_total{type="PLAYER_LOGOUT"}'), 0);
    assert.equal(value(s, 'gamesrv_events_processed_total{type="PLAYER_ATTACK"}'), 0);
    assert.equal(value(s, 'gamesrv_events_processed_total{type="PLAYER_CHAT"}'), 0);
    assert.equal(value(s, 'gamesrv_events_applied_total{type="PLAYER_MOVE"}'), 20);
    assert.equal(value(s, 'gamesrv_events_invalid_total{reason="attacker_offline"}'), 2);
    assert.equal(value(s, 'gamesrv_events_invalid_total{reason="bad_coordinates"}'), 3);
    assert.equal(value(s, 'gamesrv_events_invalid_total{reason="world_full"}'), 0);
    assert.equal(value(s, 'gamesrv_events_rejected_total'), 0);
    assert.equal(value(s, 'gamesrv_event_queue_depth'), 0);
    assert.equal(value(s, 'gamesrv_event_queue_capacity'), 65536);
    assert.equal(value(s, 'gamesrv_players_online'), 10);
    assert.equal(value(s, 'gamesrv_players_known'), 10);
    assert.equal(value(s, 'gamesrv_engine_starts_total'), 1);
    assert.equal(engineState(s), 'running');

    assert.equal(s.types.get('gamesrv_events_processed_total'), 'counter');
    assert.equal(s.types.get('gamesrv_event_queue_depth'), 'gauge');
    assert.equal(s.types.get('gamesrv_event_latency_seconds'), 'summary');
    assert.equal(s.types.get('gamesrv_pool_queue_wait_seconds'), 'summary');

    // Event histograms do not move after the flush, so a later snapshot shows the same
    // values in microseconds; only the clock's calibration may drift a little (the mean
    // is not rounded, a quantile may round the other way by 1 µs).
    const login = app.engine.snapshot().events.byType.PLAYER_LOGIN.latencyUs;
    const near = (actual: number, us: number, what: string) =>
      assert.ok(Math.abs(actual - us / 1e6) <= Math.max(1e-6, (1e-4 * us) / 1e6), `${what}: ${actual} s vs ${us} µs`);
    const latency = (q: string) => value(s, `gamesrv_event_latency_seconds{type="PLAYER_LOGIN",quantile="${q}"}`);
    assert.equal(value(s, 'gamesrv_event_latency_seconds_count{type="PLAYER_LOGIN"}'), 10);
    near(latency('0.5'), login.p50, 'p50');
    near(latency('0.9'), login.p90, 'p90');
    near(latency('0.99'), login.p99, 'p99');
    near(latency('0.999'), login.p999, 'p999');
    assert.ok(latency('0.5') > 0 && latency('0.5') <= latency('0.999') && latency('0.999') < 60, 'seconds, ordered');
    near(value(s, 'gamesrv_event_latency_seconds_sum{type="PLAYER_LOGIN"}'), login.mean * login.count, 'sum');
    near(value(s, 'gamesrv_event_latency_max_seconds{type="PLAYER_LOGIN"}'), login.max, 'max');
    // No observations: count 0 and NaN quantiles (not a fake 0 s latency).
    assert.equal(value(s, 'gamesrv_event_latency_seconds_count{type="PLAYER_CHAT"}'), 0);
    assert.ok(Number.isNaN(value(s, 'gamesrv_event_latency_seconds{type="PLAYER_CHAT",quantile="0.5"}')));

    for (const name of ['gamesrv_pool_threads', 'gamesrv_iocp_packets_posted_total', 'gamesrv_controller_ticks_total', 'gamesrv_controller_overruns_total', 'gamesrv_controller_tick_rate_hertz']) {
      assert.ok(value(s, name) >= 0, name);
    }
    assert.ok(value(s, 'gamesrv_pool_threads') >= 1);
    assert.ok(value(s, 'gamesrv_controller_ticks_total') >= 1);

    // Process and Node defaults.
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(s.series.has(name), `default metric ${name}`);
    }
    assert.ok(s.types.has('nodejs_gc_duration_seconds'));

    // No per-player labels: label names are only type, reason, state, quantile (and the defaults' own).
    const engineLabelNames = new Set(
      [...s.series.keys()].filter((k) => k.startsWith('gamesrv_')).flatMap((k) => [...k.matchAll(/([a-zA-Z_]+)="/g)].map((m) => m[1])),
    );
    assert.deepEqual([...engineLabelNames].sort(), ['quantile', 'reason', 'state', 'type']);
  });

  test('one engine snapshot per scrape', async (t) => {
    const app = await build(t);
    const engine = app.engine;
    const original = engine.snapshot.bind(engine);
    let calls = 0;
    engine.snapshot = () => {
      calls += 1;
      return original();
    };
    t.after(() => {
      engine.snapshot = original;
    });
    await scrape(app);
    assert.equal(calls, 1);
    await Promise.all([scrape(app), scrape(app), scrape(app)]);
    assert.equal(calls, 4);
  });

  test('the state series follows the engine through pause and stop', async (t) => {
    const app = await build(t);
    const post = (url: string) => app.inject({ method: 'POST', url });
    assert.equal(engineState(await scrape(app)), 'running');
    assert.equal((await post('/v1/engine/pause')).statusCode, 200);
    assert.equal(engineState(await scrape(app)), 'paused');
    await enqueue(app, logins([1, 2, 3]));
    const paused = await scrape(app);
    assert.equal(value(paused, 'gamesrv_event_queue_depth'), 3, 'paused: events queue up');
    assert.equal(value(paused, 'gamesrv_events_processed_total{type="PLAYER_LOGIN"}'), 0);
    assert.equal((await post('/v1/engine/stop')).statusCode, 200);
    const stopped = await scrape(app);
    assert.equal(engineState(stopped), 'stopped');
    assert.equal(value(stopped, 'gamesrv_event_queue_depth'), 0);
    assert.equal(value(stopped, 'gamesrv_events_processed_total{type="PLAYER_LOGIN"}'), 3, 'stop drained the queue');
  });

  test('two apps in one process keep their own engine metrics and share the process ones', async (t) => {
    const a = await build(t);
    const b = await build(t);
    await enqueue(a, logins(range(1, 10)));
    await enqueue(b, logins(range(1, 3)));
    await Promise.all([a.engine.flush(), b.engine.flush()]);
    const [sa, sb] = await Promise.all([scrape(a), scrape(b)]);
    assert.equal(value(sa, 'gamesrv_events_processed_total{type="PLAYER_LOGIN"}'), 10);
    assert.equal(value(sb, 'gamesrv_events_processed_total{type="PLAYER_LOGIN"}'), 3);
    assert.equal(value(sa, 'gamesrv_players_online'), 10);
    assert.equal(value(sb, 'gamesrv_players_online'), 3);
    assert.equal(value(sa, 'process_start_time_seconds'), value(sb, 'process_start_time_seconds'));
    assert.deepEqual([...sa.types.keys()], [...sb.types.keys()], 'the same families in the same order');
    assert.equal(globalRegistry.getMetricsAsArray().length, 0, 'the global registry is never used');
  });
});
