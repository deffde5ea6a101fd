// LockBenchmark: the seed's "Critical Section vs Mutex" comparison (4.4.1), over every
// lock kind the platform offers (gamesrv/platform/lock_primitives.hpp).
//
// For each kind, `threads` threads ("gs-lock-<n>") are started, released together, and
// each does `iterations` lock / ++counter / unlock on one shared plain counter. A row
// reports the wall time from the release to the last thread's finish, the throughput,
// and whether the counter ended at exactly threads x iterations (a lock that does not
// exclude shows up here, not as a silently wrong speed).
//
//   ratioToFastest = fastest row's opsPerSec / this row's opsPerSec
//
// so the fastest kind has 1.0 and a kind 3x slower has 3.0 (the seed's "N times"). Rows
// whose kind failed to set up carry `error` and no figures; they take no part in ratios.
//
// Progress: the callback runs on the thread that called runLockBenchmark(): once per row
// completed, and within a row at least at every ~10 % of it; percent (0-100, over the
// whole run) strictly increases and the last call of a full run has percent == 100.
// Cancellation: a stop request is seen by the lock threads within 65,536 iterations; the
// report then says Cancelled and holds only the rows that completed.
//
// Thread safety: runLockBenchmark() is reentrant; calls share nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

namespace gamesrv {

struct LockBenchmarkOptions {
  static constexpr unsigned kMaxThreads = 256;
  static constexpr std::uint64_t kMaxIterations = 1'000'000'000;

  unsigned threads = 4;                     // 1..kMaxThreads
  std::uint64_t iterations = 1'000'000;     // per thread, 1..kMaxIterations
  std::vector<std::string> kinds;           // empty: every kind of the platform, in its order
};

struct LockBenchmarkRow {
  std::string kind;
  std::string description;
  unsigned threads = 0;
  std::uint64_t iterations = 0;  // per thread
  std::uint64_t elapsedNs = 0;
  double opsPerSec = 0;          // threads x iterations / elapsed
  double ratioToFastest = 0;     // >= 1; 0 when the row has no figures
  std::uint64_t expectedCount = 0;
  std::uint64_t finalCount = 0;
  bool exact = false;            // finalCount == expectedCount
  std::string error;             // set up or lock() failed: no figures

  bool measured() const noexcept { return error.empty(); }
};

enum class LockBenchmarkStatus { Ok, Cancelled, InvalidOptions };
const char* toString(LockBenchmarkStatus s) noexcept;

struct LockBenchmarkReport {
  LockBenchmarkStatus status = LockBenchmarkStatus::Ok;
  std::string error;                  // InvalidOptions: what was wrong
  std::vector<LockBenchmarkRow> rows;  // in the order run
};

using LockBenchmarkProgress = std::function<void(std::size_t rowsDone, std::size_t rowsTotal, double percent)>;

// The kind names the platform offers, in run order; the first is the baseline
// (the in-process user-mode lock).
std::vector<std::string> lockBenchmarkKinds();

// Runs on the calling thread (it spends most of the time waiting). Returns
// InvalidOptions, with nothing run, for out-of-range counts or an unknown or repeated kind.
LockBenchmarkReport runLockBenchmark(const LockBenchmarkOptions& options, const LockBenchmarkProgress& progress = {},
                                     std::stop_token stop = {});

}  // namespace gamesrv
