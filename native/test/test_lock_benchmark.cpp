#include <algorithm>
#include <atomic>
#include <cmath>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "gamesrv/lock_benchmark.hpp"
#include "gamesrv/platform/lock_primitives.hpp"
#include "harness.hpp"

using namespace gamesrv;

namespace {

struct ProgressCall {
  std::size_t rowsDone;
  std::size_t rowsTotal;
  double percent;
};

// A full run's progress: rowsTotal fixed, percent strictly increasing, rowsDone never
// going back, the last call at 100 % with every row done.
void checkProgressShape(const std::vector<ProgressCall>& calls, std::size_t rowsTotal) {
  CHECK(!calls.empty());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    CHECK_EQ(calls[i].rowsTotal, rowsTotal);
    CHECK(calls[i].percent >= 0.0 && calls[i].percent <= 100.0);
    if (i > 0) {
      CHECK_MSG(calls[i].percent > calls[i - 1].percent,
                "call " << i << ": " << calls[i].percent << " after " << calls[i - 1].percent);
      CHECK(calls[i].rowsDone >= calls[i - 1].rowsDone);
    }
  }
  CHECK_EQ(calls.back().percent, 100.0);
  CHECK_EQ(calls.back().rowsDone, rowsTotal);
}

// The platform's baseline (the in-process user-mode lock) and the next kind it lists:
// std_mutex and spinlock on POSIX, critical_section and critical_section_spin on Win32.
std::string baselineKind() { return std::string(platform::lockKinds()[0].name); }
std::string secondKind() { return std::string(platform::lockKinds()[1].name); }

}  // namespace

// Contract: every kind the platform lists can be built and excludes (checked with an
// atomic occupancy count, independent of the driver).
TEST(every_platform_kind_builds_and_excludes) {
  const auto kinds = platform::lockKinds();
  CHECK(kinds.size() >= 2);
  for (const platform::LockKind& k : kinds) {
    platform::LockPrimitiveResult made = platform::makeLockPrimitive(k.name);
    CHECK_MSG(made.lock != nullptr, k.name << ": " << made.error);
    CHECK(made.lock->name() == k.name);
    CHECK(made.lock->description() == k.description);
    CHECK(!k.description.empty());

    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    std::atomic<int> failures{0};
    std::vector<std::jthread> ts;
    for (int t = 0; t < 3; ++t) ts.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        if (made.lock->lock()) {
          failures.fetch_add(1);
          return;
        }
        if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
        inside.fetch_sub(1);
        made.lock->unlock();
      }
    });
    ts.clear();
    CHECK_MSG(overlaps.load() == 0, k.name << ": " << overlaps.load() << " overlapping holders");
    CHECK_MSG(failures.load() == 0, k.name << ": lock() failed");
  }
}

TEST(unknown_kind_cannot_be_built) {
  platform::LockPrimitiveResult made = platform::makeLockPrimitive("no_such_lock");
  CHECK(made.lock == nullptr);
  CHECK(made.error.find("no_such_lock") != std::string::npos);
}

TEST(every_kind_gives_an_exact_count) {
  LockBenchmarkOptions o;
  o.threads = 4;
  o.iterations = 20'000;
  const LockBenchmarkReport r = runLockBenchmark(o);
  CHECK_EQ(std::string(toString(r.status)), std::string("ok"));
  const std::vector<std::string> kinds = lockBenchmarkKinds();
  CHECK_EQ(r.rows.size(), kinds.size());
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    const LockBenchmarkRow& row = r.rows[i];
    CHECK_EQ(row.kind, kinds[i]);
    CHECK_MSG(row.measured(), row.kind << ": " << row.error);
    CHECK(!row.description.empty());
    CHECK_EQ(row.threads, 4u);
    CHECK_EQ(row.iterations, std::uint64_t{20'000});
    CHECK_EQ(row.expectedCount, std::uint64_t{80'000});
    CHECK_MSG(row.finalCount == row.expectedCount, row.kind << ": counter " << row.finalCount);
    CHECK(row.exact);
    CHECK(row.elapsedNs > 0);
    CHECK(row.opsPerSec > 0);
  }
}

TEST(one_thread_one_iteration_is_exact) {
  LockBenchmarkOptions o;
  o.threads = 1;
  o.iterations = 1;
  const LockBenchmarkReport r = runLockBenchmark(o);
  CHECK(r.status == LockBenchmarkStatus::Ok);
  for (const LockBenchmarkRow& row : r.rows) {
    CHECK_MSG(row.measured(), row.kind << ": " << row.error);
    CHECK_EQ(row.finalCount, std::uint64_t{1});
    CHECK(row.exact);
  }
}

TEST(fastest_row_has_ratio_one_and_the_others_more) {
  LockBenchmarkOptions o;
  o.threads = 2;
  o.iterations = 20'000;
  const LockBenchmarkReport r = runLockBenchmark(o);
  CHECK(r.status == LockBenchmarkStatus::Ok);
  CHECK(r.rows.size() >= 2);
  const auto fastest = std::max_element(r.rows.begin(), r.rows.end(), [](const auto& a, const auto& b) {
    return a.opsPerSec < b.opsPerSec;
  });
  CHECK_EQ(fastest->ratioToFastest, 1.0);
  for (const LockBenchmarkRow& row : r.rows) {
    CHECK_MSG(row.ratioToFastest >= 1.0, row.kind << ": " << row.ratioToFastest);
    // ratio = fastest ops/s / this ops/s
    const double expected = fastest->opsPerSec / row.opsPerSec;
    CHECK(std::abs(row.ratioToFastest - expected) <= 1e-9 * expected);
  }
}

TEST(kinds_filter_runs_only_those_in_the_given_order) {
  LockBenchmarkOptions o;
  o.threads = 2;
  o.iterations = 5'000;
  const std::vector<std::string> all = lockBenchmarkKinds();
  o.kinds = {all.back(), all.front()};
  const LockBenchmarkReport r = runLockBenchmark(o);
  CHECK(r.status == LockBenchmarkStatus::Ok);
  CHECK_EQ(r.rows.size(), std::size_t{2});
  CHECK_EQ(r.rows[0].kind, all.back());
  CHECK_EQ(r.rows[1].kind, all.front());
  CHECK(r.rows[0].exact && r.rows[1].exact);
}

TEST(unknown_kind_filter_is_a_clear_error) {
  LockBenchmarkOptions o;
  o.kinds = {baselineKind(), "big_kernel_lock"};
  bool called = false;
  const LockBenchmarkReport r = runLockBenchmark(o, [&](std::size_t, std::size_t, double) { called = true; });
  CHECK(r.status == LockBenchmarkStatus::InvalidOptions);
  CHECK_EQ(std::string(toString(r.status)), std::string("invalid-options"));
  CHECK(r.rows.empty());
  CHECK(!called);
  CHECK_MSG(r.error.find("'big_kernel_lock'") != std::string::npos, r.error);
  CHECK_MSG(r.error.find(baselineKind()) != std::string::npos, r.error);  // lists what exists
}

TEST(bad_counts_and_repeated_kinds_are_rejected) {
  LockBenchmarkOptions o;
  o.threads = 0;
  LockBenchmarkReport r = runLockBenchmark(o);
  CHECK(r.status == LockBenchmarkStatus::InvalidOptions);
  CHECK_MSG(r.error.find("threads") != std::string::npos, r.error);

  o = {};
  o.iterations = 0;
  r = runLockBenchmark(o);
  CHECK(r.status == LockBenchmarkStatus::InvalidOptions);
  CHECK_MSG(r.error.find("iterations") != std::string::npos, r.error);

  o = {};
  o.kinds = {secondKind(), secondKind()};
  r = runLockBenchmark(o);
  CHECK(r.status == LockBenchmarkStatus::InvalidOptions);
  CHECK_MSG(r.error.find("twice") != std::string::npos, r.error);
}

TEST(progress_increases_to_100_with_every_row) {
  LockBenchmarkOptions o;
  o.threads = 4;
  o.iterations = 20'000;
  std::vector<ProgressCall> calls;
  const LockBenchmarkReport r =
      runLockBenchmark(o, [&](std::size_t done, std::size_t total, double pct) { calls.push_back({done, total, pct}); });
  CHECK(r.status == LockBenchmarkStatus::Ok);
  checkProgressShape(calls, r.rows.size());
  for (std::size_t k = 1; k <= r.rows.size(); ++k) {
    const bool reported = std::any_of(calls.begin(), calls.end(), [&](const ProgressCall& c) {
      return c.rowsDone == k && c.percent == (k == r.rows.size() ? 100.0 : 100.0 * k / r.rows.size());
    });
    CHECK_MSG(reported, "no call for row " << k);
  }
}

TEST(progress_is_reported_within_a_row) {
  // One lock thread leaves the driver a free core; 1,000,000 iterations cross a decile
  // at nearly every one of the 16 chunks of 65,536, so the driver is woken inside each
  // row. Wakes may coalesce on a loaded machine: one report inside a row is the bar.
  LockBenchmarkOptions o;
  o.threads = 1;
  o.iterations = 1'000'000;
  o.kinds = {baselineKind(), secondKind()};
  std::vector<ProgressCall> calls;
  const LockBenchmarkReport r =
      runLockBenchmark(o, [&](std::size_t done, std::size_t total, double pct) { calls.push_back({done, total, pct}); });
  CHECK(r.status == LockBenchmarkStatus::Ok);
  checkProgressShape(calls, 2);
  const auto within = std::count_if(calls.begin(), calls.end(), [](const ProgressCall& c) {
    return c.percent != 50.0 && c.percent != 100.0;
  });
  CHECK_MSG(within >= 1, "only " << within << " progress calls inside rows");
}

TEST(stop_request_cancels_a_running_row) {
  // A row that would take minutes; the first progress report (the driver's backstop wake)
  // asks to stop, and the lock threads see it within one chunk.
  LockBenchmarkOptions o;
  o.threads = 2;
  o.iterations = LockBenchmarkOptions::kMaxIterations;
  o.kinds = {baselineKind(), secondKind()};
  std::stop_source stop;
  std::vector<ProgressCall> calls;
  const LockBenchmarkReport r = runLockBenchmark(
      o,
      [&](std::size_t done, std::size_t total, double pct) {
        calls.push_back({done, total, pct});
        stop.request_stop();
      },
      stop.get_token());
  CHECK(r.status == LockBenchmarkStatus::Cancelled);
  CHECK_EQ(std::string(toString(r.status)), std::string("cancelled"));
  CHECK(r.rows.empty());  // the cancelled row is not reported as a measurement
  CHECK(!calls.empty());
  CHECK(calls.back().percent < 50.0);
  CHECK_EQ(calls.back().rowsDone, std::size_t{0});
}

TEST(stop_before_start_runs_nothing) {
  std::stop_source stop;
  stop.request_stop();
  LockBenchmarkOptions o;
  o.iterations = 1'000;
  const LockBenchmarkReport r = runLockBenchmark(o, {}, stop.get_token());
  CHECK(r.status == LockBenchmarkStatus::Cancelled);
  CHECK(r.rows.empty());
}

GS_TEST_MAIN()
