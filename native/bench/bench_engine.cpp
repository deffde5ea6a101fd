// The "engine" benchmark suite: each figure of ours against a seed-style baseline run in
// the same process (BENCHMARKS.md). Progress on stderr; one JSON line on stdout.
//
//   bench_engine [--quick] [--reps=N] [--pace=sleep|spin] [--only=events,enqueue,latency,pool,tick,timer]
//
// Throughput figures are medians over N repetitions (default 5), ours and the baseline
// interleaved so that a noisy neighbour hurts both alike. Paced figures (p99s) are the
// median of the per-run p99 over min(N, 3) runs of 2 s. Paced producers sleep to their
// next deadline by default (see Pace in bench_support.hpp): on a 2-core machine two
// spinning producers would leave the consumer thread without a core, and the latency
// measured would be the scheduler's, for ours and the baseline alike.
#include <cmath>
#include <cstdlib>
#include <set>
#include <string>

#include "bench_support.hpp"
#include "event_benches.hpp"
#include "pool_benches.hpp"

namespace gsbench {
namespace {

struct Options {
  bool quick = false;
  int reps = 5;
  int pacedReps = 3;
  Pace pace = Pace::Sleep;
  std::set<std::string> only;  // empty: everything
  bool wants(const std::string& group) const { return only.empty() || only.count(group) > 0; }
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      o.quick = true;
      o.reps = 3;
      o.pacedReps = 1;
    } else if (a.rfind("--reps=", 0) == 0) {
      o.reps = std::max(1, std::atoi(a.c_str() + 7));
      o.pacedReps = std::min(o.pacedReps, o.reps);
    } else if (a == "--pace=spin" || a == "--pace=sleep") {
      o.pace = a == "--pace=spin" ? Pace::Spin : Pace::Sleep;
    } else if (a.rfind("--only=", 0) == 0) {
      std::string list = a.substr(7);
      std::size_t pos = 0;
      while (pos <= list.size()) {
        const std::size_t comma = std::min(list.find(',', pos), list.size());
        if (comma > pos) o.only.insert(list.substr(pos, comma - pos));
        pos = comma + 1;
      }
    } else {
      log("usage: bench_engine [--quick] [--reps=N] [--pace=sleep|spin] [--only=events,enqueue,latency,pool,tick,timer]");
      std::exit(2);
    }
  }
  static const std::set<std::string> kGroups = {"events", "enqueue", "latency", "pool", "tick", "timer"};
  for (const std::string& g : o.only) {
    if (kGroups.count(g) == 0) {
      log("unknown group: %s", g.c_str());
      std::exit(2);
    }
  }
  return o;
}

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

void benchThroughput(const Options& o, Report& report) {
  const std::uint64_t total = o.quick ? 400'000 : 2'000'000;
  constexpr std::size_t kBatch = 100;
  log("== events_per_sec: %d producers, %llu events, trivial handler, median of %d", kProducers,
      static_cast<unsigned long long>(total), o.reps);
  std::vector<double> ours, seed, batched;
  for (int r = 0; r < o.reps; ++r) {
    seed.push_back(seedThroughput(total));
    const Throughput one = oursThroughput(total, 1);
    const Throughput many = oursThroughput(total, kBatch);
    ours.push_back(one.eventsPerSec);
    batched.push_back(many.eventsPerSec);
    log("  rep %d: seed %.3g/s, ours %.3g/s (consumer batches %llu, mean %.0f events), ours batch%zu %.3g/s", r + 1,
        seed.back(), ours.back(), static_cast<unsigned long long>(one.consumerBatches),
        static_cast<double>(total) / static_cast<double>(std::max<std::uint64_t>(1, one.consumerBatches)), kBatch,
        batched.back());
  }
  log("  seed [%s]  ours [%s]  ours batch%zu [%s]", listOf(seed).c_str(), listOf(ours).c_str(), kBatch,
      listOf(batched).c_str());
  report.add("seed_events_per_sec", median(seed), "events/s");
  report.add("events_per_sec", median(ours), "events/s", "seed_events_per_sec");
  report.add("events_per_sec_batch100", median(batched), "events/s", "seed_events_per_sec");
}

void benchEnqueue(const Options& o, Report& report) {
  const double rate = 200'000, seconds = o.quick ? 1.0 : 2.0;
  constexpr std::uint64_t kHandlerNs = 2000;
  log("== producer_enqueue_p99_us: %d paced producers, %.0f events/s total, handler 2 us busy work, %.0f s a run, "
      "median of %d runs, %s pacing",
      kProducers, rate, seconds, o.pacedReps, o.pace == Pace::Spin ? "spin" : "sleep");
  std::vector<double> ours, seed;
  for (int r = 0; r < o.pacedReps; ++r) {
    const PacedResult s = seedPaced(rate, seconds, o.pace, kHandlerNs);
    const PacedResult m = oursPaced(rate, seconds, o.pace, kHandlerNs);
    seed.push_back(us(s.enqueueNs.p99));
    ours.push_back(us(m.enqueueNs.p99));
    log("  run %d: enqueue p50/p90/p99/p99.9 us  seed %.2f/%.2f/%.2f/%.0f  ours %.2f/%.2f/%.2f/%.0f  (ours: consumer "
        "batches %llu; producer lag max: seed %.0f us, ours %.0f us)",
        r + 1, us(s.enqueueNs.p50), us(s.enqueueNs.p90), us(s.enqueueNs.p99), us(s.enqueueNs.p999),
        us(m.enqueueNs.p50), us(m.enqueueNs.p90), us(m.enqueueNs.p99), us(m.enqueueNs.p999),
        static_cast<unsigned long long>(m.consumerBatches), us(s.maxBehindNs), us(m.maxBehindNs));
  }
  report.add("seed_producer_enqueue_p99_us", median(seed), "us");
  report.add("producer_enqueue_p99_us", median(ours), "us", "seed_producer_enqueue_p99_us");
}

void benchLatency(const Options& o, Report& report) {
  const double rate = 100'000, seconds = o.quick ? 1.0 : 2.0;
  constexpr std::uint64_t kHandlerNs = 2000;
  log("== event_latency_p99_us: %d paced producers, %.0f events/s total, handler 2 us busy work, %.0f s a run, "
      "median of %d runs, %s pacing",
      kProducers, rate, seconds, o.pacedReps, o.pace == Pace::Spin ? "spin" : "sleep");
  std::vector<double> ours, seed;
  for (int r = 0; r < o.pacedReps; ++r) {
    const PacedResult s = seedPaced(rate, seconds, o.pace, kHandlerNs);
    const PacedResult m = oursPaced(rate, seconds, o.pace, kHandlerNs);
    seed.push_back(us(s.latencyNs.p99));
    ours.push_back(us(m.latencyNs.p99));
    log("  run %d: latency p50/p90/p99/max us  seed %.1f/%.1f/%.1f/%.0f (n=%llu)  ours %.1f/%.1f/%.1f/%.0f (n=%llu)",
        r + 1, us(s.latencyNs.p50), us(s.latencyNs.p90), us(s.latencyNs.p99), us(s.latencyNs.max),
        static_cast<unsigned long long>(s.latencyNs.count), us(m.latencyNs.p50), us(m.latencyNs.p90),
        us(m.latencyNs.p99), us(m.latencyNs.max), static_cast<unsigned long long>(m.latencyNs.count));
  }
  report.add("seed_event_latency_p99_us", median(seed), "us");
  report.add("event_latency_p99_us", median(ours), "us", "seed_event_latency_p99_us");
}


void benchPool(const Options& o, Report& report) {
  const std::uint64_t n = o.quick ? 100'000 : 500'000;
  log("== pool_tasks_per_sec: %llu empty tasks submitted one by one from one thread, 2 pool threads, median of %d",
      static_cast<unsigned long long>(n), o.reps);
  std::vector<double> ours, naive;
  for (int r = 0; r < o.reps; ++r) {
    const PoolRun b = naivePoolTasks(n);
    const PoolRun m = oursPoolTasks(n);
    naive.push_back(b.tasksPerSec);
    ours.push_back(m.tasksPerSec);
    log("  rep %d: naive %.3g/s, ours %.3g/s (QueueFull retries %llu)", r + 1, b.tasksPerSec, m.tasksPerSec,
        static_cast<unsigned long long>(m.retries));
  }
  report.add("naive_pool_tasks_per_sec", median(naive), "tasks/s");
  report.add("pool_tasks_per_sec", median(ours), "tasks/s", "naive_pool_tasks_per_sec");
}

void benchTick(const Options& o, Report& report) {
  const auto duration = std::chrono::milliseconds(o.quick ? 3000 : 10000);
  log("== tick_rate_error_pct: Controller at 60 Hz (1 loop thread, no work) and the seed's sleep(16 ms) loop, side "
      "by side for %.0f s; rate = (ticks - 1) / (last tick - first tick)",
      static_cast<double>(duration.count()) / 1000);
  const TickResult t = runTicks(60.0, duration);
  if (!t.started) log("  Controller::start failed");
  const double oursErr = std::abs(t.oursHz - 60.0) / 60.0 * 100.0;
  const double seedErr = std::abs(t.seedHz - 60.0) / 60.0 * 100.0;
  log("  ours %.4f Hz (%llu ticks, stats: achieved %.3f Hz, overruns %llu, jitter p99 %.0f us), seed %.4f Hz (%llu "
      "ticks)",
      t.oursHz, static_cast<unsigned long long>(t.oursTicks), t.stats.achievedRateHz,
      static_cast<unsigned long long>(t.stats.overruns), us(t.stats.tickJitterNs.p99), t.seedHz,
      static_cast<unsigned long long>(t.seedTicks));
  report.add("seed_tick_rate_error_pct", seedErr, "%");
  report.add("tick_rate_error_pct", t.started ? oursErr : std::nan(""), "%", "seed_tick_rate_error_pct");
}

void benchTimer(const Options& o, Report& report) {
  const auto duration = std::chrono::milliseconds(o.quick ? 1000 : 2000);
  log("== timer_late_p99_us: %zu live periodic timers (period %.0f ms, deadlines spread), %.0f s a run, lateness "
      "measured by the callbacks, median of %d runs",
      kTimers, static_cast<double>(kTimerPeriodNs) / 1e6, static_cast<double>(duration.count()) / 1000, o.pacedReps);
  std::vector<double> ours, naive;
  for (int r = 0; r < o.pacedReps; ++r) {
    const TimerResult b = naiveTimers(duration);
    const TimerResult m = oursTimers(duration);
    naive.push_back(us(b.lateNs.p99));
    ours.push_back(us(m.lateNs.p99));
    log("  run %d: late p50/p99/max us  naive %.0f/%.0f/%.0f (n=%llu)  ours %.1f/%.1f/%.0f (n=%llu; pool's own "
        "timerLateNs p99 %.1f us, skipped %llu, early %llu)",
        r + 1, us(b.lateNs.p50), us(b.lateNs.p99), us(b.lateNs.max), static_cast<unsigned long long>(b.lateNs.count),
        us(m.lateNs.p50), us(m.lateNs.p99), us(m.lateNs.max), static_cast<unsigned long long>(m.lateNs.count),
        us(m.poolLateNs.p99), static_cast<unsigned long long>(m.skipped), static_cast<unsigned long long>(m.early));
  }
  report.add("naive_timer_late_p99_us", median(naive), "us");
  report.add("timer_late_p99_us", median(ours), "us", "naive_timer_late_p99_us");
}

}  // namespace
}  // namespace gsbench

int main(int argc, char** argv) {
  using namespace gsbench;
  const Options o = parse(argc, argv);
  Report report("engine");
  const std::uint64_t t0 = nowNs();
  if (o.wants("events")) benchThroughput(o, report);
  if (o.wants("enqueue")) benchEnqueue(o, report);
  if (o.wants("latency")) benchLatency(o, report);
  if (o.wants("pool")) benchPool(o, report);
  if (o.wants("tick")) benchTick(o, report);
  if (o.wants("timer")) benchTimer(o, report);
  log("engine suite done in %.1f s", static_cast<double>(nowNs() - t0) / 1e9);
  std::printf("%s\n", report.json().c_str());
  return 0;
}
