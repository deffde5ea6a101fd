// The "locks" benchmark suite: the seed's Critical Section vs Mutex comparison (4.4.1)
// over every lock kind of this platform. A table on stderr; one JSON line on stdout
// (BENCHMARKS.md) with each kind's ops/s against the platform's in-process user-mode lock
// (std_mutex on POSIX), measured in the same run.
//
//   bench_locks [--quick] [--threads N] [--iterations N] [--kinds a,b,...]
//
// Default: 4 threads x 1,000,000 lock/increment/unlock each, as in the seed; --quick
// does 100,000 each. Exits 1 if a kind could not be set up or lost an increment (the
// JSON line still carries what was measured), 2 on bad arguments.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "bench_support.hpp"
#include "gamesrv/lock_benchmark.hpp"

namespace gsbench {
namespace {

[[noreturn]] void usage(const std::string& problem) {
  if (!problem.empty()) log("bench_locks: %s", problem.c_str());
  log("usage: bench_locks [--quick] [--threads N] [--iterations N] [--kinds a,b,...]");
  std::string kinds;
  for (const std::string& k : gamesrv::lockBenchmarkKinds()) kinds += (kinds.empty() ? "" : ",") + k;
  log("kinds on this platform: %s", kinds.c_str());
  std::exit(2);
}

std::uint64_t parseCount(const std::string& flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') usage(flag + " needs a positive integer, got '" + text + "'");
  return v;
}

gamesrv::LockBenchmarkOptions parse(int argc, char** argv) {
  gamesrv::LockBenchmarkOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    const std::size_t eq = flag.find('=');
    const bool takesValue = flag.rfind("--threads", 0) == 0 || flag.rfind("--iterations", 0) == 0 ||
                            flag.rfind("--kinds", 0) == 0;
    if (takesValue) {
      if (eq != std::string::npos) {
        value = flag.substr(eq + 1);
        flag.resize(eq);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        usage(flag + " needs a value");
      }
    }
    if (flag == "--quick") {
      o.iterations = 100'000;
    } else if (flag == "--threads") {
      o.threads = static_cast<unsigned>(std::min<std::uint64_t>(parseCount(flag, value.c_str()), ~0u));
    } else if (flag == "--iterations") {
      o.iterations = parseCount(flag, value.c_str());
    } else if (flag == "--kinds") {
      std::size_t pos = 0;
      while (pos <= value.size()) {
        const std::size_t comma = std::min(value.find(',', pos), value.size());
        if (comma > pos) o.kinds.push_back(value.substr(pos, comma - pos));
        pos = comma + 1;
      }
    } else if (flag == "-h" || flag == "--help") {
      usage("");
    } else {
      usage("unknown argument '" + flag + "'");
    }
  }
  return o;
}

std::string metric(const std::string& kind) { return "lock_" + kind + "_ops_per_sec"; }

}  // namespace
}  // namespace gsbench

int main(int argc, char** argv) {
  using namespace gsbench;
  const gamesrv::LockBenchmarkOptions options = parse(argc, argv);
  log("== locks: %u threads x %llu lock/increment/unlock each, %u hardware threads", options.threads,
      static_cast<unsigned long long>(options.iterations), std::thread::hardware_concurrency());

  const gamesrv::LockBenchmarkReport r =
      gamesrv::runLockBenchmark(options, [](std::size_t done, std::size_t total, double pct) {
        log("  [%zu/%zu] %5.1f %%", done, total, pct);
      });
  if (r.status == gamesrv::LockBenchmarkStatus::InvalidOptions) usage(r.error);

  const std::string baselineKind = options.kinds.empty() ? gamesrv::lockBenchmarkKinds().front() : options.kinds.front();
  Report report("locks");
  bool allGood = true;
  log("%-22s %12s %12s %10s %12s  %s", "kind", "elapsed ms", "Mops/s", "x fastest", "final count", "check");
  for (const gamesrv::LockBenchmarkRow& row : r.rows) {
    if (!row.measured()) {
      allGood = false;
      log("%-22s %12s %12s %10s %12s  FAILED: %s", row.kind.c_str(), "-", "-", "-", "-", row.error.c_str());
      continue;
    }
    allGood = allGood && row.exact;
    log("%-22s %12.1f %12.2f %10.2f %12llu  %s", row.kind.c_str(), static_cast<double>(row.elapsedNs) / 1e6,
        row.opsPerSec / 1e6, row.ratioToFastest, static_cast<unsigned long long>(row.finalCount),
        row.exact ? "exact" : "LOST INCREMENTS");
    std::optional<std::string> baseline;
    if (row.kind != baselineKind) baseline = metric(baselineKind);
    report.add(metric(row.kind), row.opsPerSec, "ops/s", baseline);
  }
  for (const gamesrv::LockBenchmarkRow& row : r.rows) log("  %-20s %s", row.kind.c_str(), row.description.c_str());
  log("x fastest = fastest ops/s / this ops/s; JSON ratio = this ops/s / %s ops/s", baselineKind.c_str());

  std::printf("%s\n", report.json().c_str());
  std::fflush(stdout);
  return allGood ? 0 : 1;
}
