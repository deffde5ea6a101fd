// ThreadPool::Backend: a ThreadPool implementation other than the portable pool (today
// the OS thread pool, platform/native_thread_pool.hpp). ThreadPool forwards every public
// call to it; the contract is thread_pool.hpp's, word for word, and
// native/test/test_thread_pool.cpp runs the same tests against every backend.
//
// What a backend owes CleanupGroup: addMembers() before a member is queued or a timer is
// armed, memberDone() after it ran or was cancelled (never both, never twice), and
// setRunningGroup(group) around a member's run so that a member may wait on its own
// group. cancelGroup() cancels the group's queued members and timers and returns how
// many; CleanupGroup then waits for the running ones itself.
//
// Thread safety: as ThreadPool's; every member may be called from any thread.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>

#include "gamesrv/thread_pool.hpp"

namespace gamesrv {

class ThreadPool::Backend {
 public:
  virtual ~Backend() = default;  // must leave no thread running a callback of this pool

  virtual SubmitStatus submit(WorkItem&& item, CleanupGroup* group) = 0;
  virtual TimerId scheduleAfter(std::chrono::nanoseconds delay, WorkItem&& item, CleanupGroup* group) = 0;
  virtual TimerId schedulePeriodic(std::chrono::nanoseconds firstDelay, std::chrono::nanoseconds period,
                                   std::function<void()>&& fn, CleanupGroup* group) = 0;
  virtual bool cancelTimer(TimerId id) = 0;
  virtual std::size_t cancelGroup(CleanupGroup& group) = 0;
  virtual void pause() = 0;
  virtual void resume() = 0;
  virtual bool shutdown(std::chrono::nanoseconds deadline) = 0;
  virtual ThreadPoolStats stats() const = 0;

 protected:
  // The limits every backend applies (maxThreads >= max(minThreads, 1), capacity >= 1).
  static ThreadPoolConfig normalize(ThreadPoolConfig c);
  static void addMembers(CleanupGroup& g, std::size_t n) { g.addMembers(n); }
  static void memberDone(CleanupGroup& g) { g.memberDone(); }
  static void setRunningGroup(const CleanupGroup* g) noexcept;
};

}  // namespace gamesrv
