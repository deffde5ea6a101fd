// Helpers shared by the completion-port test files (portable and per platform).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

#include "gamesrv/clock.hpp"
#include "gamesrv/platform/completion_port.hpp"
#include "eventually.hpp"
#include "harness.hpp"

namespace cptest {

using namespace gamesrv;
using namespace std::chrono_literals;

inline CompletionPortConfig portConfig(std::size_t maxConcurrency, std::size_t capacity = 65536) {
  CompletionPortConfig c;
  c.maxConcurrency = maxConcurrency;
  c.queueCapacity = capacity;
  return c;
}

// Observes a state that has no event of its own (a thread blocked inside dequeue).
using gstest::eventually;

// A counter that can be waited on.
class Count {
 public:
  void add(int n = 1) {
    std::lock_guard lock(mu_);
    value_ += n;
    cv_.notify_all();
  }
  int get() const {
    std::lock_guard lock(mu_);
    return value_;
  }
  bool waitAtLeast(int n, std::chrono::nanoseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return value_ >= n; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int value_ = 0;
};

inline void checkBalanced(const CompletionPortStats& s) {
  CHECK_MSG(s.posted + s.quitPosted + s.ioCompletions == s.dequeued + s.discarded + s.queueDepth,
            "posted " << s.posted << " + quit " << s.quitPosted << " + io " << s.ioCompletions << " != dequeued "
                      << s.dequeued << " + discarded " << s.discarded << " + depth " << s.queueDepth);
}

}  // namespace cptest
