#include "gamesrv/lock_benchmark.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>

#include "gamesrv/clock.hpp"
#include "gamesrv/platform/lock_primitives.hpp"
#include "gamesrv/platform/thread.hpp"

namespace gamesrv {

const char* toString(LockBenchmarkStatus s) noexcept {
  switch (s) {
    case LockBenchmarkStatus::Ok: return "ok";
    case LockBenchmarkStatus::Cancelled: return "cancelled";
    case LockBenchmarkStatus::InvalidOptions: return "invalid-options";
  }
  return "unknown";
}

std::vector<std::string> lockBenchmarkKinds() {
  std::vector<std::string> names;
  for (const platform::LockKind& k : platform::lockKinds()) names.emplace_back(k.name);
  return names;
}

namespace {

using namespace std::chrono_literals;

// Lock threads publish progress and look for a stop every kChunk iterations: often enough
// for ~10 % steps of any row worth watching, rare enough to cost nothing measurable.
constexpr std::uint64_t kChunk = 65536;
// The driver is woken at every 10 % of a row and when a thread exits; this timeout is
// only a backstop so that a very long row still reports between deciles.
constexpr auto kProgressBackstop = 250ms;

// What the lock threads of one row share with the driver thread.
struct RowShared {
  explicit RowShared(unsigned threads) : ready(threads) {}

  std::latch ready;  // each lock thread arrives once it is about to wait on `go`
  std::latch go{1};  // opened by the driver right after it reads the start time
  std::atomic<bool> abort{false};  // a lock() failed or the driver is unwinding: stop now

  alignas(64) std::uint64_t counter = 0;             // guarded by the lock under test
  alignas(64) std::atomic<std::uint64_t> opsDone{0};  // progress only: relaxed

  std::mutex mu;
  std::condition_variable cv;  // driver waits here for `signals` to move
  std::uint64_t signals = 0;   // guarded by mu; bumped at each decile crossed and each exit
  unsigned exited = 0;         // guarded by mu
  std::error_code failure;     // guarded by mu; the first lock() failure
};

void notifyDriver(RowShared& s, bool exiting, std::error_code failure) {
  {
    std::lock_guard<std::mutex> lk(s.mu);
    ++s.signals;
    if (exiting) ++s.exited;
    if (failure && !s.failure) s.failure = failure;
  }
  s.cv.notify_one();
}

void addProgress(RowShared& s, std::uint64_t ops, std::uint64_t rowOps) {
  if (ops == 0) return;
  const std::uint64_t before = s.opsDone.fetch_add(ops, std::memory_order_relaxed);
  if (before * 10 / rowOps != (before + ops) * 10 / rowOps) notifyDriver(s, false, {});
}

struct ThreadOutcome {
  bool completed = false;  // did every iteration
  std::uint64_t finishNs = 0;
};

void lockLoop(platform::LockPrimitive& lock, RowShared& s, std::uint64_t iterations, std::uint64_t rowOps,
              const std::stop_token& stop, unsigned index, ThreadOutcome& out) {
  platform::setCurrentThreadName("gs-lock-" + std::to_string(index));
  s.ready.count_down();
  s.go.wait();
  std::error_code failure;
  std::uint64_t i = 0;
  std::uint64_t published = 0;
  if (!s.abort.load(std::memory_order_relaxed)) {
    while (i < iterations) {
      const std::uint64_t end = std::min(iterations, i + kChunk);
      for (; i < end; ++i) {
        if (const std::error_code ec = lock.lock()) {
          failure = ec;
          break;
        }
        ++s.counter;
        lock.unlock();
      }
      if (i == iterations) out.finishNs = nowNs();
      addProgress(s, i - published, rowOps);
      published = i;
      if (failure) {
        s.abort.store(true, std::memory_order_relaxed);
        break;
      }
      if (stop.stop_requested() || s.abort.load(std::memory_order_relaxed)) break;
    }
  }
  out.completed = i == iterations;
  notifyDriver(s, true, failure);
}

// Owns one row's lock threads. Whatever happens in the driver (a thread that cannot be
// created, a progress callback that throws), the destructor releases and joins them.
class RowThreads {
 public:
  explicit RowThreads(RowShared& s) : s_(s) {}
  RowThreads(const RowThreads&) = delete;
  RowThreads& operator=(const RowThreads&) = delete;
  ~RowThreads() {
    s_.abort.store(true, std::memory_order_relaxed);  // no-op after a normal join()
    if (!released_) s_.go.count_down();
    threads_.clear();  // joins
  }

  template <class F>
  void spawn(F&& body) { threads_.emplace_back(std::forward<F>(body)); }

  // Returns the start time. Requires: every lock thread spawned.
  std::uint64_t release() {
    s_.ready.wait();
    const std::uint64_t t0 = nowNs();
    released_ = true;
    s_.go.count_down();
    return t0;
  }

  void join() { threads_.clear(); }

 private:
  RowShared& s_;
  std::vector<std::jthread> threads_;
  bool released_ = false;
};

class ProgressReporter {
 public:
  ProgressReporter(const LockBenchmarkProgress& cb, std::size_t rowsTotal) : cb_(cb), rowsTotal_(rowsTotal) {}

  void within(std::size_t rowIndex, std::uint64_t done, std::uint64_t rowOps) {
    if (!cb_ || done >= rowOps) return;
    const double pct = (static_cast<double>(rowIndex) + static_cast<double>(done) / static_cast<double>(rowOps)) *
                       100.0 / static_cast<double>(rowsTotal_);
    if (pct > last_ && pct < rowEnd(rowIndex + 1)) {
      last_ = pct;
      cb_(rowIndex, rowsTotal_, pct);
    }
  }

  void rowDone(std::size_t rowsDone) {
    last_ = rowEnd(rowsDone);
    if (cb_) cb_(rowsDone, rowsTotal_, last_);
  }

 private:
  double rowEnd(std::size_t rowsDone) const {
    return rowsDone == rowsTotal_ ? 100.0 : static_cast<double>(rowsDone) * 100.0 / static_cast<double>(rowsTotal_);
  }

  const LockBenchmarkProgress& cb_;
  const std::size_t rowsTotal_;
  double last_ = -1.0;
};

std::string validate(const LockBenchmarkOptions& o, std::vector<std::string>& kinds) {
  if (o.threads < 1 || o.threads > LockBenchmarkOptions::kMaxThreads)
    return "threads must be 1.." + std::to_string(LockBenchmarkOptions::kMaxThreads) + ", got " +
           std::to_string(o.threads);
  if (o.iterations < 1 || o.iterations > LockBenchmarkOptions::kMaxIterations)
    return "iterations must be 1.." + std::to_string(LockBenchmarkOptions::kMaxIterations) + ", got " +
           std::to_string(o.iterations);
  const std::vector<std::string> known = lockBenchmarkKinds();
  if (o.kinds.empty()) {
    kinds = known;
    return {};
  }
  for (const std::string& k : o.kinds) {
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string list;
      for (const std::string& n : known) list += (list.empty() ? "" : ", ") + n;
      return "unknown lock kind '" + k + "' (this platform has: " + list + ")";
    }
    if (std::find(kinds.begin(), kinds.end(), k) != kinds.end()) return "lock kind '" + k + "' listed twice";
    kinds.push_back(k);
  }
  return {};
}

std::string descriptionOf(std::string_view kind) {
  for (const platform::LockKind& k : platform::lockKinds())
    if (k.name == kind) return std::string(k.description);
  return {};
}

enum class RowEnd { Done, Cancelled };

// Runs one kind; fills `row` unless cancelled part-way.
RowEnd runRow(platform::LockPrimitive& lock, const LockBenchmarkOptions& o, const std::stop_token& stop,
              ProgressReporter& progress, std::size_t rowIndex, LockBenchmarkRow& row) {
  const std::uint64_t rowOps = std::uint64_t{o.threads} * o.iterations;
  RowShared s(o.threads);
  std::vector<ThreadOutcome> outcomes(o.threads);
  std::uint64_t t0 = 0;
  {
    RowThreads threads(s);
    try {
      for (unsigned t = 0; t < o.threads; ++t)
        threads.spawn([&, t] { lockLoop(lock, s, o.iterations, rowOps, stop, t, outcomes[t]); });
    } catch (const std::system_error& e) {
      row.error = std::string("cannot start lock threads: ") + e.what();
      return RowEnd::Done;  // ~RowThreads releases and joins those that started
    }
    t0 = threads.release();

    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(s.mu);
    while (s.exited < o.threads) {
      s.cv.wait_for(lk, kProgressBackstop, [&] { return s.signals != seen; });
      seen = s.signals;
      if (s.exited == o.threads) break;
      lk.unlock();
      progress.within(rowIndex, s.opsDone.load(std::memory_order_relaxed), rowOps);
      lk.lock();
    }
    lk.unlock();
    threads.join();
  }
  // Joined: every lock thread's writes (counter, outcomes) happen-before these reads.
  if (s.failure) {
    row.error = "lock() failed: " + s.failure.message();
    return RowEnd::Done;
  }
  const bool allCompleted =
      std::all_of(outcomes.begin(), outcomes.end(), [](const ThreadOutcome& x) { return x.completed; });
  if (!allCompleted) return RowEnd::Cancelled;

  std::uint64_t t1 = t0;
  for (const ThreadOutcome& x : outcomes) t1 = std::max(t1, x.finishNs);
  row.elapsedNs = std::max<std::uint64_t>(1, t1 - t0);
  row.opsPerSec = static_cast<double>(rowOps) * 1e9 / static_cast<double>(row.elapsedNs);
  row.expectedCount = rowOps;
  row.finalCount = s.counter;
  row.exact = row.finalCount == row.expectedCount;
  return RowEnd::Done;
}

}  // namespace

LockBenchmarkReport runLockBenchmark(const LockBenchmarkOptions& options, const LockBenchmarkProgress& progressCb,
                                     std::stop_token stop) {
  LockBenchmarkReport report;
  std::vector<std::string> kinds;
  report.error = validate(options, kinds);
  if (!report.error.empty()) {
    report.status = LockBenchmarkStatus::InvalidOptions;
    return report;
  }

  ProgressReporter progress(progressCb, kinds.size());
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (stop.stop_requested()) {
      report.status = LockBenchmarkStatus::Cancelled;
      break;
    }
    LockBenchmarkRow row;
    row.kind = kinds[i];
    row.description = descriptionOf(kinds[i]);
    row.threads = options.threads;
    row.iterations = options.iterations;

    platform::LockPrimitiveResult made = platform::makeLockPrimitive(kinds[i]);
    if (!made.lock) {
      row.error = made.error;
    } else if (runRow(*made.lock, options, stop, progress, i, row) == RowEnd::Cancelled) {
      report.status = LockBenchmarkStatus::Cancelled;
      break;
    }
    report.rows.push_back(std::move(row));
    progress.rowDone(i + 1);
  }

  double fastest = 0;
  for (const LockBenchmarkRow& r : report.rows)
    if (r.measured()) fastest = std::max(fastest, r.opsPerSec);
  for (LockBenchmarkRow& r : report.rows)
    if (r.measured() && r.opsPerSec > 0) r.ratioToFastest = fastest / r.opsPerSec;
  return report;
}

}  // namespace gamesrv
