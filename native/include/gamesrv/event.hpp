// Event: a Win32-style synchronization event (auto-reset or manual-reset).
//
// waitAny()/waitAll() take any number of events: there is no 64-handle cap
// (seed defect 5). An auto-reset event releases exactly one waiter per set();
// waitAll() consumes its auto-reset members atomically, only when all are set.
//
// Thread safety: every member is safe to call from any thread. An Event must
// outlive every wait that names it.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace gamesrv {

class Event {
 public:
  enum class Reset { Auto, Manual };

  explicit Event(Reset reset = Reset::Auto, bool initiallySet = false);
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void set();
  void reset();
  bool isSet() const;

  // Blocks until the event is set (consuming it when auto-reset).
  void wait();
  // Returns false on timeout.
  bool waitFor(std::chrono::nanoseconds timeout);
  bool waitUntil(std::chrono::steady_clock::time_point deadline);

  // Index of the first set event (consumed when auto-reset), or nullopt on timeout.
  static std::optional<std::size_t> waitAny(std::span<Event* const> events,
                                            std::chrono::nanoseconds timeout);
  // True once every event was set at the same instant (auto-reset ones consumed together).
  static bool waitAll(std::span<Event* const> events, std::chrono::nanoseconds timeout);

 private:
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    std::uint64_t generation = 0;  // guarded by mu
  };

  bool tryConsumeLocked();  // Requires: mu_ held.
  void addWaiter(Waiter* w);
  void removeWaiter(Waiter* w);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  const bool manual_;
  bool signaled_;                 // guarded by mu_
  std::vector<Waiter*> waiters_;  // guarded by mu_; multi-event waits registered here
};

}  // namespace gamesrv
