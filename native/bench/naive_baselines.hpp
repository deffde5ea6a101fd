// Baselines for the pool, timer and tick benchmarks: the straightforward designs the
// seed's chapter uses or implies, written the way they usually are.
//
// - NaivePool: std::queue<std::function<void()>> behind one mutex, a condition variable
//   notified (notify_one) on every push, N threads.
// - NaiveTimerThread: one thread that sleeps 1 ms, then scans a vector of deadlines and
//   runs every callback that has fallen due (the seed's Sleep(1) polling, defect 4).
// - The seed's game loop, `while (running) { tick(); sleep_for(16ms); }`, is in
//   pool_benches.hpp next to the Controller it is compared with.
//
// Thread safety: submit() from any thread; construction/destruction from one thread.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <stop_token>
#include <thread>
#include <vector>

#include "bench_support.hpp"

namespace gsbench {

class NaivePool {
 public:
  explicit NaivePool(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ~NaivePool() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  NaivePool(const NaivePool&) = delete;
  NaivePool& operator=(const NaivePool&) = delete;

  void submit(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      queue_.push(std::move(fn));
    }
    cv_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything queued has run
        fn = std::move(queue_.front());
        queue_.pop();
      }
      fn();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::queue<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

// Periodic timers served by one polling thread: every 1 ms it runs whatever is due.
class NaiveTimerThread {
 public:
  struct Timer {
    std::uint64_t dueNs;
    std::uint64_t periodNs;
    std::function<void()> fn;
  };

  explicit NaiveTimerThread(std::vector<Timer> timers)
      : timers_(std::move(timers)), thread_([this](std::stop_token st) { poll(st); }) {}

 private:
  void poll(const std::stop_token& st) {
    while (!st.stop_requested()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      const std::uint64_t now = nowNs();
      for (Timer& t : timers_) {
        if (t.dueNs > now) continue;
        t.fn();
        while (t.dueNs <= now) t.dueNs += t.periodNs;  // missed periods are skipped, as ours does
      }
    }
  }

  std::vector<Timer> timers_;  // owned by the polling thread once started
  std::jthread thread_;        // last: stops and joins before timers_ goes away
};

}  // namespace gsbench
