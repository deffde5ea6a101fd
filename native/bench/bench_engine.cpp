// The "engine" benchmark suite: each figure of ours against a seed-style baseline run in
// the same process (DESIGN.md §6). Progress on stderr; one JSON line on stdout.
//
//   bench_engine [--quick] [--reps=N] [--only=events,enqueue,latency,pool,tick,timer]
//
// Throughput figures are medians over N repetitions (default 5), ours and the baseline
// interleaved so that a noisy neighbour hurts both alike. Paced figures (p99s) are the
// median of the per-run p99 over N_paced repetitions (default 3).
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "bench_support.hpp"
#include "event_benches.hpp"

namespace gsbench {
namespace {

struct Options {
  bool quick = false;
  int reps = 5;
  int pacedReps = 3;
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
    } else if (a.rfind("--only=", 0) == 0) {
      std::string list = a.substr(7);
      std::size_t pos = 0;
      while (pos <= list.size()) {
        const std::size_t comma = std::min(list.find(',', pos), list.size());
        if (comma > pos) o.only.insert(list.substr(pos, comma - pos));
        pos = comma + 1;
      }
    } else {
      log("usage: bench_engine [--quick] [--reps=N] [--only=events,enqueue,latency,pool,tick,timer]");
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
    ours.push_back(oursThroughput(total, 1));
    batched.push_back(oursThroughput(total, kBatch));
    log("  rep %d: seed %.3g/s, ours %.3g/s, ours batch%zu %.3g/s", r + 1, seed.back(), ours.back(), kBatch,
        batched.back());
  }
  report.add("seed_events_per_sec", median(seed), "events/s");
  report.add("events_per_sec", median(ours), "events/s", "seed_events_per_sec");
  report.add("events_per_sec_batch100", median(batched), "events/s", "seed_events_per_sec");
}

void benchEnqueue(const Options& o, Report& report) {
  const double rate = 200'000, seconds = o.quick ? 1.0 : 2.0;
  constexpr std::uint64_t kHandlerNs = 2000;
  log("== producer_enqueue_p99_us: %d paced producers, %.0f events/s total, handler 2 us busy work, %.0f s a run, "
      "median of %d runs",
      kProducers, rate, seconds, o.pacedReps);
  std::vector<double> ours, seed;
  for (int r = 0; r < o.pacedReps; ++r) {
    const PacedResult s = seedPaced(rate, seconds, kHandlerNs);
    const PacedResult m = oursPaced(rate, seconds, kHandlerNs);
    seed.push_back(us(s.enqueueNs.p99));
    ours.push_back(us(m.enqueueNs.p99));
    log("  run %d: enqueue p50/p99/max us  seed %.2f/%.2f/%.0f  ours %.2f/%.2f/%.0f  (producer lag max: seed %.0f us, "
        "ours %.0f us)",
        r + 1, us(s.enqueueNs.p50), us(s.enqueueNs.p99), us(s.enqueueNs.max), us(m.enqueueNs.p50), us(m.enqueueNs.p99),
        us(m.enqueueNs.max), us(s.maxBehindNs), us(m.maxBehindNs));
  }
  report.add("seed_producer_enqueue_p99_us", median(seed), "us");
  report.add("producer_enqueue_p99_us", median(ours), "us", "seed_producer_enqueue_p99_us");
}

void benchLatency(const Options& o, Report& report) {
  const double rate = 100'000, seconds = o.quick ? 1.0 : 2.0;
  constexpr std::uint64_t kHandlerNs = 2000;
  log("== event_latency_p99_us: %d paced producers, %.0f events/s total, handler 2 us busy work, %.0f s a run, "
      "median of %d runs",
      kProducers, rate, seconds, o.pacedReps);
  std::vector<double> ours, seed;
  for (int r = 0; r < o.pacedReps; ++r) {
    const PacedResult s = seedPaced(rate, seconds, kHandlerNs);
    const PacedResult m = oursPaced(rate, seconds, kHandlerNs);
    seed.push_back(us(s.latencyNs.p99));
    ours.push_back(us(m.latencyNs.p99));
    log("  run %d: latency p50/p99/max us  seed %.1f/%.1f/%.0f (n=%llu)  ours %.1f/%.1f/%.0f (n=%llu)", r + 1,
        us(s.latencyNs.p50), us(s.latencyNs.p99), us(s.latencyNs.max),
        static_cast<unsigned long long>(s.latencyNs.count), us(m.latencyNs.p50), us(m.latencyNs.p99),
        us(m.latencyNs.max), static_cast<unsigned long long>(m.latencyNs.count));
  }
  report.add("seed_event_latency_p99_us", median(seed), "us");
  report.add("event_latency_p99_us", median(ours), "us", "seed_event_latency_p99_us");
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
  log("engine suite done in %.1f s", static_cast<double>(nowNs() - t0) / 1e9);
  std::printf("%s\n", report.json().c_str());
  return 0;
}
