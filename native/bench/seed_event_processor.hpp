// SeedEventProcessor: the baseline for the event-queue benchmarks. It reproduces the
// design of the seed's GameEventProcessor (chapter 4.1.2) faithfully, defects included,
// so that a ratio against it measures what our EventProcessor changes:
//
// - std::queue<GameEvent> behind one std::mutex; addEvent() copies the event in;
// - an auto-reset event (the Win32 SetEvent/WaitForSingleObject pair, rebuilt from a
//   mutex + condition variable + bool) that is set on EVERY push;
// - one consumer thread that waits on that event with a 1 s timeout and then processes
//   the whole queue WHILE HOLDING the queue mutex (copy front, pop, handle, repeat):
//   seed defect 1, producers wait behind game logic;
// - latency is timestamped at push and measured after the handler, the same way
//   gamesrv::EventProcessor measures its own (recorded into a gamesrv::Histogram).
//
// Thread safety: addEvent() from any thread; start()/stop() from one controlling thread.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>

#include "gamesrv/clock.hpp"
#include "gamesrv/game_event.hpp"
#include "gamesrv/histogram.hpp"

namespace gsbench {

// Win32 auto-reset event: set() wakes one waiter; a successful wait resets it.
class AutoResetEvent {
 public:
  void set() {
    {
      std::lock_guard lock(mu_);
      signaled_ = true;
    }
    cv_.notify_one();
  }
  // False on timeout.
  bool waitFor(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [this] { return signaled_; })) return false;
    signaled_ = false;
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool signaled_ = false;  // guarded by mu_
};

class SeedEventProcessor {
 public:
  using Handler = std::function<void(const gamesrv::GameEvent&)>;

  explicit SeedEventProcessor(Handler handler) : handler_(std::move(handler)) {}
  ~SeedEventProcessor() { stop(); }

  void start() {
    running_ = true;
    thread_ = std::thread([this] { loop(); });
  }

  void stop() {
    if (!thread_.joinable()) return;
    running_ = false;
    available_.set();
    thread_.join();
  }

  void addEvent(const gamesrv::GameEvent& event) {
    Stamped stamped{event, gamesrv::nowNs()};
    {
      std::lock_guard lock(queueMu_);
      queue_.push(std::move(stamped));
    }
    available_.set();
  }

  const gamesrv::Histogram& latencyNs() const { return latency_; }

 private:
  void loop() {
    while (running_.load()) {
      if (available_.waitFor(std::chrono::milliseconds(1000))) processEvents();
      // (the seed runs its periodic tasks on a timeout; nothing to do here)
    }
    processEvents();
  }

  void processEvents() {
    std::lock_guard lock(queueMu_);  // held across every handler call: the seed's defect
    while (!queue_.empty()) {
      Stamped item = queue_.front();
      queue_.pop();
      handler_(item.event);
      const std::uint64_t done = gamesrv::nowNs();
      latency_.record(done > item.enqueuedNs ? done - item.enqueuedNs : 0);
    }
  }

  // The baseline's own enqueue stamp (the engine's GameEvent has none).
  struct Stamped {
    gamesrv::GameEvent event;
    std::uint64_t enqueuedNs;
  };

  const Handler handler_;
  std::mutex queueMu_;
  std::queue<Stamped> queue_;  // guarded by queueMu_
  AutoResetEvent available_;
  std::atomic<bool> running_{false};
  gamesrv::Histogram latency_;
  std::thread thread_;
};

}  // namespace gsbench
