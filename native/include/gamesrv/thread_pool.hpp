// ThreadPool: an elastic pool (min..max threads, idle threads above min retire after
// an idle timeout) with a bounded work queue, one-shot and periodic timers, and
// cleanup groups. The portable analog of the Win32 thread pool of seed 4.2.1, with
// true completed / failed / cancelled counts (seed defect 3).
//
// Semantics
// - submit() never blocks: a full queue returns SubmitStatus::QueueFull.
// - A work item runs exactly once, or is cancelled exactly once (its onCancel runs,
//   on the cancelling thread), never both.
// - A callback that throws counts as failed; the pool keeps running.
// - pause(): workers finish what they run and take nothing new; timers that fall
//   due while paused fire on resume().
// - Periodic timers run on absolute deadlines (start + k * period): no drift. A
//   firing still queued or running when the next one is due is skipped (counted).
// - shutdown(deadline): stops accepting, cancels every timer, runs queued items
//   until the deadline, cancels whatever is still queued after it, joins threads.
//
// Choices this implementation makes (callers may rely on them)
// - Counting: `submitted` counts items that entered the queue, including timer
//   firings when they fall due; once the pool is idle,
//   submitted == completed + failed + cancelled. A timer cancelled before it fires
//   counts in timersCancelled only (a one-shot's onCancel still runs).
// - An item with an empty `run` is accepted and counts as failed when it runs.
// - Threads: a new thread starts (up to maxThreads) when work is queued and no
//   thread is idle or already being woken; idle threads are woken most-recent
//   first, so surplus threads really do sit idle and retire after idleTimeout. A
//   thread that runs out of work looks again for a few tens of microseconds,
//   yielding the CPU, before it parks (counted as idle once parked).
// - A worker takes up to 32 queued items at once to save lock traffic; items it
//   has not started stay visible: idle workers steal them, cancelPending() and
//   shutdown() cancel them, pause() holds them. queueDepth counts them; the
//   capacity bound applies to the shared queue. Plain items (no group, no
//   onCancel) travel through a lock-free lane; others, and plain items beyond
//   its size, through a locked one; each lane is dequeued in submission order.
// - Timer firings are not refused by a full queue (at most one firing per
//   periodic timer is ever pending). While paused, the timer thread holds every
//   timer; on resume() each due one-shot fires once and each periodic timer fires
//   once, its missed grid points counted in timerSkipped.
// - schedulePeriodic() with period <= 0 returns 0 (no timer).
// - shutdown() lifts a pause so queued items can drain. After the deadline it
//   cancels what is still queued, asks threads to stop and gives running items
//   one more `deadline` to return; false means a thread is still running one
//   (the destructor then waits for it). A second call only waits for threads.
//   Called on a pool thread it does nothing and returns false.
// - Threads are named "<namePrefix>-N"; the timer thread "gs-timer-0" (the prefix
//   with "-pool" replaced by "-timer"). stats().workers lists the timer thread last.
// - queueWaitNs / runNs are recorded per item from the CPU time-stamp counter where it
//   is one instruction (x86-64), converted to ns when stats() is read.
// - A CleanupGroup must be destroyed before its pool. wait()/cancelPending() from
//   inside one of the group's own items do not wait for that item.
//
// Backends (ThreadPoolConfig::backend)
// - Portable: the pool described above, on every platform.
// - Native: the operating system's own thread pool (on Windows the Threadpool API:
//   CreateThreadpool, a callback environment with a cleanup group, one TP_WORK, a
//   TP_TIMER per timer). Same contract, same statistics, with these differences: the OS
//   starts and retires threads (idleTimeout is not used; threads show up in stats once
//   they have run a callback, the minimum are named at construction), and there is no
//   timer thread (timers are the OS pool's). Where the platform has no such pool (POSIX)
//   constructing one throws std::invalid_argument: an explicit choice is never silently
//   replaced. availableThreadPoolBackends() lists what the platform offers. Its name
//   (toString, the engine's `poolBackend`) is "win32-threadpool": Windows has the only
//   implementation; "native" is the engine's deprecated alias for it.
//
// Thread safety: every public member is safe from any thread, including from
// inside a work item (except shutdown(), which must not run on a pool thread).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gamesrv/histogram.hpp"
#include "gamesrv/worker_group.hpp"

namespace gamesrv {

enum class ThreadPoolBackend { Portable, Native };
const char* toString(ThreadPoolBackend b) noexcept;
// Portable first; Native where the OS has a thread pool.
std::vector<ThreadPoolBackend> availableThreadPoolBackends();

struct ThreadPoolConfig {
  ThreadPoolBackend backend = ThreadPoolBackend::Portable;
  std::size_t minThreads = 2;
  std::size_t maxThreads = 8;
  std::chrono::milliseconds idleTimeout{5000};
  std::size_t queueCapacity = 65536;
  std::string namePrefix = "gs-pool";
};

enum class SubmitStatus { Ok, QueueFull, ShuttingDown };

struct WorkItem {
  std::function<void()> run;       // required
  std::function<void()> onCancel;  // optional: runs instead of `run` when cancelled
};

using TimerId = std::uint64_t;

struct ThreadPoolStats {
  std::size_t threads = 0;  // alive now
  std::size_t idleThreads = 0;
  std::size_t peakThreads = 0;
  std::size_t minThreads = 0;
  std::size_t maxThreads = 0;
  std::size_t queueDepth = 0;
  std::size_t queueCapacity = 0;
  std::uint64_t submitted = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t rejected = 0;  // QueueFull / ShuttingDown answers
  std::uint64_t threadsCreated = 0;
  std::uint64_t threadsRetired = 0;
  std::size_t timersActive = 0;
  std::uint64_t timersFired = 0;
  std::uint64_t timersCancelled = 0;
  std::uint64_t timerSkipped = 0;  // periodic firings skipped because the previous one was still pending
  bool paused = false;
  HistogramSummary queueWaitNs;  // submit -> start
  HistogramSummary runNs;        // start -> end
  HistogramSummary timerLateNs;  // due -> start of the callback
  std::vector<WorkerStats> workers;
};

class CleanupGroup;

class ThreadPool {
 public:
  explicit ThreadPool(ThreadPoolConfig config = {});
  ~ThreadPool();  // shutdown(no deadline) if still running
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  SubmitStatus submit(WorkItem item);
  SubmitStatus submit(std::function<void()> fn) { return submit(WorkItem{std::move(fn), nullptr}); }
  // Submits into a cleanup group: the group can wait for it or cancel it while queued.
  SubmitStatus submit(CleanupGroup& group, WorkItem item);

  // One-shot timer: `item` is submitted after `delay`. Returns 0 when shutting down.
  TimerId scheduleAfter(std::chrono::nanoseconds delay, WorkItem item, CleanupGroup* group = nullptr);
  // Periodic timer: first run after `firstDelay`, then every `period` on absolute deadlines.
  TimerId schedulePeriodic(std::chrono::nanoseconds firstDelay, std::chrono::nanoseconds period,
                           std::function<void()> fn, CleanupGroup* group = nullptr);
  // True if the timer was live and is now cancelled (a firing already submitted still runs).
  bool cancelTimer(TimerId id);

  void pause();
  void resume();
  // Returns true when every queued item ran or was cancelled and every thread joined.
  bool shutdown(std::chrono::nanoseconds deadline);

  ThreadPoolStats stats() const;

  class Backend;  // gamesrv/thread_pool_backend.hpp: what a non-portable backend implements

 private:
  friend class CleanupGroup;
  struct Impl;
  // Exactly one is set. The portable pool is called directly, not through Backend, so
  // its submit path pays a predictable branch rather than an indirect call.
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<Backend> backend_;
};

// A set of work items and timers that can be waited for or cancelled together
// (the Win32 cleanup group). Must outlive its members' execution; the destructor
// cancels pending members and waits for running ones.
class CleanupGroup {
 public:
  explicit CleanupGroup(ThreadPool& pool);
  ~CleanupGroup();
  CleanupGroup(const CleanupGroup&) = delete;
  CleanupGroup& operator=(const CleanupGroup&) = delete;

  // Waits until every member has finished (run or cancelled). False on timeout.
  bool wait(std::chrono::nanoseconds timeout = std::chrono::hours(24));
  // Cancels members still queued and the group's timers, then waits for running ones.
  // Returns how many were cancelled.
  std::size_t cancelPending();
  std::size_t outstanding() const;

 private:
  friend class ThreadPool;
  friend class ThreadPool::Backend;
  void addMembers(std::size_t n);   // before a member is queued / a timer is armed
  void memberDone(std::size_t n = 1);  // after a member ran or was cancelled
  std::size_t waitTarget() const;  // members other than the calling item itself
  bool waitUntil(std::chrono::steady_clock::time_point deadline);

  ThreadPool& pool_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Members are counted without mu_ while nobody waits: submitters bump added_, workers
  // bump done_, each on its own cache line. done_ holds 2 * finished members, plus 1
  // while a waiter is registered (set and cleared under mu_); a member that finishes
  // then counts itself under mu_, so no waiter can see the count, return and destroy the
  // group while memberDone() still touches it.
  alignas(64) std::atomic<std::uint64_t> added_{0};
  alignas(64) std::atomic<std::uint64_t> done_{0};
  std::size_t waiters_ = 0;  // guarded by mu_
  std::size_t pendingLoad() const noexcept;
};

}  // namespace gamesrv
