// Pool, tick-rate and timer benchmarks: gamesrv::ThreadPool and gamesrv::Controller
// against the naive designs in naive_baselines.hpp.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "gamesrv/controller.hpp"
#include "gamesrv/histogram.hpp"
#include "gamesrv/thread_pool.hpp"
#include "naive_baselines.hpp"

namespace gsbench {

// ---- pool throughput: empty tasks submitted one by one from one thread -------------

struct PoolRun {
  double tasksPerSec = 0;
  std::uint64_t retries = 0;  // submits answered QueueFull and retried
};

// `submit(task)` returns false when the task was refused and must be offered again.
template <class Submit>
PoolRun runPoolTasks(std::uint64_t n, Submit submit) {
  struct Completion {
    std::atomic<std::uint64_t> done{0};
    std::atomic<bool> finished{false};
    std::uint64_t n;
  } c;
  c.n = n;
  // Captures one pointer, so std::function keeps it inline: no allocation per task.
  auto task = [pc = &c] {
    if (pc->done.fetch_add(1, std::memory_order_relaxed) + 1 == pc->n) {
      pc->finished.store(true, std::memory_order_release);
      pc->finished.notify_one();
    }
  };
  PoolRun r;
  const std::uint64_t start = nowNs();
  for (std::uint64_t i = 0; i < n; ++i) {
    while (!submit(task)) {
      ++r.retries;
      std::this_thread::yield();
    }
  }
  c.finished.wait(false, std::memory_order_acquire);
  r.tasksPerSec = static_cast<double>(n) * 1e9 / static_cast<double>(nowNs() - start);
  return r;
}

inline PoolRun oursPoolTasks(std::uint64_t n) {
  gamesrv::ThreadPool pool(
      {.minThreads = 2, .maxThreads = 2, .queueCapacity = std::size_t{1} << 22, .namePrefix = "gs-pool"});
  const PoolRun r = runPoolTasks(n, [&pool](const auto& task) { return pool.submit(task) == gamesrv::SubmitStatus::Ok; });
  pool.shutdown(std::chrono::seconds(30));
  return r;
}

inline PoolRun naivePoolTasks(std::uint64_t n) {
  NaivePool pool(2);
  return runPoolTasks(n, [&pool](const auto& task) {
    pool.submit(task);
    return true;
  });
}

// ---- tick rate: gamesrv::Controller at 60 Hz against the seed's sleep(16 ms) loop ----

// Rate from the first and last tick timestamps: (ticks - 1) / (last - first). Counting
// ticks in a fixed window instead would quantize the rate to ±1 tick (±0.17 % over 10 s).
class TickRecorder {
 public:
  void tick() {  // one ticking thread at a time
    const std::uint64_t t = nowNs();
    if (count_.load(std::memory_order_relaxed) == 0) first_.store(t, std::memory_order_relaxed);
    last_.store(t, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_release);
  }
  std::uint64_t ticks() const { return count_.load(std::memory_order_acquire); }
  double rateHz() const {
    const std::uint64_t n = ticks();
    const std::uint64_t span = last_.load(std::memory_order_relaxed) - first_.load(std::memory_order_relaxed);
    return n < 2 || span == 0 ? 0 : static_cast<double>(n - 1) * 1e9 / static_cast<double>(span);
  }

 private:
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> first_{0};
  std::atomic<std::uint64_t> last_{0};
};

struct TickResult {
  double oursHz = 0, seedHz = 0;
  std::uint64_t oursTicks = 0, seedTicks = 0;
  gamesrv::ControllerStats stats;  // ours, just before stop
  bool started = false;
};

// Runs the Controller (1 loop thread, no work) and the seed-style loop side by side.
inline TickResult runTicks(double hz, std::chrono::milliseconds duration) {
  TickResult r;
  TickRecorder ours, seed;
  gamesrv::ControllerHooks hooks;
  hooks.onTick = [&ours](std::uint64_t) { ours.tick(); };
  gamesrv::Controller controller(std::move(hooks));
  {
    std::jthread seedLoop([&seed](std::stop_token st) {
      while (!st.stop_requested()) {
        seed.tick();
        std::this_thread::sleep_for(std::chrono::milliseconds(16));  // the seed's Sleep(16) "60 FPS"
      }
    });
    const gamesrv::TransitionResult started =
        controller.start({.loopThreads = 1, .tickRateHz = hz, .tickWorkUs = 0});
    r.started = started.error == gamesrv::TransitionError::None;
    if (r.started) std::this_thread::sleep_for(duration);
    r.stats = controller.stats();
    controller.stop();
  }
  r.oursHz = ours.rateHz();
  r.seedHz = seed.rateHz();
  r.oursTicks = ours.ticks();
  r.seedTicks = seed.ticks();
  return r;
}

// ---- timers: 1,000 live periodic timers, lateness = callback start - due time -------

// Lateness of a periodic timer measured by the callback itself: the due time is the last
// deadline firstDue + k * period at or before now (valid while lateness < period).
class TimerProbe {
 public:
  TimerProbe(std::size_t timers, std::uint64_t periodNs) : firstDue_(timers), periodNs_(periodNs) {}
  void setFirstDue(std::size_t i, std::uint64_t ns) { firstDue_[i] = ns; }
  void fire(std::size_t i) {
    const std::uint64_t now = nowNs();
    const std::uint64_t first = firstDue_[i];
    if (now < first) {
      early_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    lateNs_.record((now - first) % periodNs_);
  }
  gamesrv::HistogramSummary lateNs() const { return lateNs_.summary(); }
  std::uint64_t early() const { return early_.load(); }

 private:
  std::vector<std::uint64_t> firstDue_;  // written before the timers start
  const std::uint64_t periodNs_;
  gamesrv::Histogram lateNs_;
  std::atomic<std::uint64_t> early_{0};
};

struct TimerResult {
  gamesrv::HistogramSummary lateNs;     // measured by the callbacks
  gamesrv::HistogramSummary poolLateNs;  // ours only: ThreadPoolStats::timerLateNs
  std::uint64_t skipped = 0, early = 0;
};

inline constexpr std::size_t kTimers = 1000;
inline constexpr std::uint64_t kTimerPeriodNs = 100'000'000;  // 100 ms: 10,000 firings/s in all
inline constexpr std::uint64_t kTimerLeadNs = 20'000'000;     // first deadlines spread over [20, 120) ms

inline std::uint64_t timerOffsetNs(std::size_t i) { return kTimerLeadNs + kTimerPeriodNs * i / kTimers; }

inline TimerResult oursTimers(std::chrono::milliseconds duration) {
  TimerResult r;
  TimerProbe probe(kTimers, kTimerPeriodNs);
  gamesrv::ThreadPool pool(
      {.minThreads = 2, .maxThreads = 2, .queueCapacity = std::size_t{1} << 16, .namePrefix = "gs-pool"});
  std::vector<gamesrv::TimerId> ids;
  const std::uint64_t t0 = nowNs();
  for (std::size_t i = 0; i < kTimers; ++i) {
    const std::uint64_t due = t0 + timerOffsetNs(i);
    const std::uint64_t now = nowNs();
    probe.setFirstDue(i, due);
    ids.push_back(pool.schedulePeriodic(std::chrono::nanoseconds(due > now ? due - now : 0),
                                        std::chrono::nanoseconds(kTimerPeriodNs), [&probe, i] { probe.fire(i); }));
  }
  std::this_thread::sleep_for(duration);
  for (gamesrv::TimerId id : ids) pool.cancelTimer(id);
  const gamesrv::ThreadPoolStats s = pool.stats();
  pool.shutdown(std::chrono::seconds(10));
  r.lateNs = probe.lateNs();
  r.poolLateNs = s.timerLateNs;
  r.skipped = s.timerSkipped;
  r.early = probe.early();
  return r;
}

inline TimerResult naiveTimers(std::chrono::milliseconds duration) {
  TimerResult r;
  TimerProbe probe(kTimers, kTimerPeriodNs);
  std::vector<NaiveTimerThread::Timer> timers;
  const std::uint64_t t0 = nowNs();
  for (std::size_t i = 0; i < kTimers; ++i) {
    probe.setFirstDue(i, t0 + timerOffsetNs(i));
    timers.push_back({t0 + timerOffsetNs(i), kTimerPeriodNs, [&probe, i] { probe.fire(i); }});
  }
  {
    NaiveTimerThread thread(std::move(timers));
    std::this_thread::sleep_for(duration);
  }
  r.lateNs = probe.lateNs();
  r.early = probe.early();
  return r;
}

}  // namespace gsbench
