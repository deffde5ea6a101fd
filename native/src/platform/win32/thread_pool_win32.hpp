// NativePool: ThreadPool over the Windows Threadpool API (ThreadPoolBackend::Native).
//
// Shape. A private TP_POOL (CreateThreadpool, SetThreadpoolThreadMinimum/Maximum) and
// a callback environment whose cleanup group owns every TP object the pool makes. Work
// items wait in our own FIFO (queue_), not in the OS: that is what gives queue depth,
// capacity, pause and one-by-one cancellation, which the OS pool has no notion of. One
// TP_WORK serves them all: every SubmitThreadpoolWork is a "ticket" for one callback,
// and a callback takes the item at the head of the FIFO, if any. Invariant while not
// paused: tickets_ >= queue_.size(). A callback that finds the pool paused or the FIFO
// empty just returns (a ticket left over from a pause or a cancellation); resume()
// submits the tickets that were dropped. A callback that leaves items behind calls
// CallbackMayRunLong, which is how the OS pool is asked for another thread when all are
// busy (so an item blocked on a later one never starves).
//
// Timers: a TP_TIMER per timer (window length from kWindowDivisor), re-armed one-shot
// at each absolute grid point so periodic timers do not drift. Its callback only moves a
// firing into the FIFO (under mu_), like the portable pool's timer thread. Timer objects
// that are done (fired one-shots, cancelled timers) are closed by reapRetired(), never
// from their own callback; their records live until then, so a late callback always
// finds valid memory and sees `live == false`.
//
// Threads: the OS starts and retires them. A thread is registered (named, its handle
// kept) the first time it runs one of our callbacks; an exited thread is noticed when
// its handle is signalled. The constructor runs minThreads warm-up callbacks that meet
// at a barrier, so the minimum threads are named and visible from the start.
//
// Lock order: reapMu_ -> mu_; threadMu_ alone. Callbacks (run / onCancel) never run
// under a lock of ours; SetThreadpoolTimer / SubmitThreadpoolWork may run under mu_.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "gamesrv/histogram.hpp"
#include "gamesrv/platform/native_thread_pool.hpp"
#include "win32_support.hpp"

namespace gamesrv::platform::win32 {

class NativePool;

struct QueuedItem {
  std::function<void()> run;
  std::function<void()> onCancel;
  CleanupGroup* group = nullptr;
  std::uint64_t enqueuedNs = 0;
  std::uint64_t dueNs = 0;  // timer firings: when the timer fell due
};

struct PeriodicState {
  std::function<void()> fn;
  std::atomic<bool> inFlight{false};  // a firing is queued or running
};

struct TimerRec {
  NativePool* pool = nullptr;
  PTP_TIMER timer = nullptr;
  TimerId id = 0;
  std::uint64_t dueNs = 0;
  std::uint64_t periodNs = 0;  // 0 = one-shot
  WorkItem item;               // one-shot
  std::shared_ptr<PeriodicState> periodic;
  CleanupGroup* group = nullptr;
  bool live = false;     // guarded by NativePool::mu_
  bool heldDue = false;  // fell due while paused; guarded by NativePool::mu_
};

struct ThreadRec {
  std::string name;
  std::uint64_t tid = 0;
  HANDLE handle = nullptr;  // SYNCHRONIZE: signalled when the thread has exited
  bool exited = false;      // guarded by NativePool::threadMu_
  std::atomic<bool> busy{false};
  std::atomic<std::uint64_t> items{0};
  std::atomic<std::uint64_t> busyNs{0};
  std::atomic<std::uint64_t> cpuNs{0};
};

class NativePool final : public ThreadPool::Backend {
 public:
  explicit NativePool(const ThreadPoolConfig& config);
  ~NativePool() override;

  SubmitStatus submit(WorkItem&& item, CleanupGroup* group) override;
  TimerId scheduleAfter(std::chrono::nanoseconds delay, WorkItem&& item, CleanupGroup* group) override;
  TimerId schedulePeriodic(std::chrono::nanoseconds firstDelay, std::chrono::nanoseconds period,
                           std::function<void()>&& fn, CleanupGroup* group) override;
  bool cancelTimer(TimerId id) override;
  std::size_t cancelGroup(CleanupGroup& group) override;
  void pause() override;
  void resume() override;
  bool shutdown(std::chrono::nanoseconds deadline) override;
  ThreadPoolStats stats() const override;

  // The OS callbacks (context = NativePool* / TimerRec*).
  static void CALLBACK workCallback(PTP_CALLBACK_INSTANCE instance, PVOID context, PTP_WORK work);
  static void CALLBACK warmUpCallback(PTP_CALLBACK_INSTANCE instance, PVOID context, PTP_WORK work);
  static void CALLBACK timerCallback(PTP_CALLBACK_INSTANCE instance, PVOID context, PTP_TIMER timer);

 private:
  void runOne(PTP_CALLBACK_INSTANCE instance);
  void warmUp();
  ThreadRec& currentThread();
  void pollExitsLocked() const;  // Requires: threadMu_ held.
  void submitTicketLocked();     // Requires: mu_ held.
  void enqueueFiringLocked(QueuedItem&& item);  // Requires: mu_ held.
  void cancelItems(std::vector<QueuedItem>& items);
  bool finish(std::chrono::nanoseconds threadBudget);

  // --- timers (thread_pool_win32_timers.cpp) ---
  TimerId addTimer(std::unique_ptr<TimerRec> rec);
  void onTimer(TimerRec& r);
  void fireLocked(TimerRec& r, std::uint64_t now);   // Requires: mu_ held.
  void armLocked(TimerRec& r, std::uint64_t now);    // Requires: mu_ held.
  void retireLocked(TimerRec& r);                    // Requires: mu_ held.
  std::size_t cancelTimers(const CleanupGroup* onlyGroup);
  struct TimerDrop {
    std::function<void()> onCancel;
    CleanupGroup* group = nullptr;
  };
  static TimerDrop takeDropLocked(TimerRec& r);  // Requires: mu_ held.
  static void runDrop(TimerDrop& d);
  void reapRetired();

  const ThreadPoolConfig cfg_;
  PTP_POOL pool_ = nullptr;
  PTP_CLEANUP_GROUP cleanup_ = nullptr;
  TP_CALLBACK_ENVIRON env_{};
  PTP_WORK work_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable drained_;  // queue_ empty and running_ == 0, once closed_
  std::deque<QueuedItem> queue_;     // guarded by mu_
  std::size_t tickets_ = 0;          // SubmitThreadpoolWork calls not yet started; guarded by mu_
  std::size_t running_ = 0;          // guarded by mu_
  bool paused_ = false;              // guarded by mu_
  bool closed_ = false;              // submits refused, timers cancelled; guarded by mu_
  bool haveRetired_ = false;         // == !retired_.empty(); guarded by mu_
  std::uint64_t submitted_ = 0;      // guarded by mu_
  std::uint64_t rejected_ = 0;       // guarded by mu_
  std::uint64_t cancelled_ = 0;      // guarded by mu_
  std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::unordered_map<TimerId, std::unique_ptr<TimerRec>> timers_;  // live timers; guarded by mu_
  std::vector<std::unique_ptr<TimerRec>> retired_;  // TP timers still to close; guarded by mu_
  TimerId nextTimerId_ = 1;          // guarded by mu_
  std::uint64_t timersFired_ = 0;    // guarded by mu_
  std::uint64_t timersCancelled_ = 0;  // guarded by mu_
  std::uint64_t timerSkipped_ = 0;   // guarded by mu_
  Histogram queueWait_, run_, timerLate_;

  std::mutex reapMu_;    // held while closing TP timers, and by finish()
  bool finished_ = false;  // the TP pool is closed; guarded by reapMu_

  mutable std::mutex threadMu_;
  std::deque<ThreadRec> threads_;  // every thread that ran a callback (stable addresses); guarded by threadMu_
  mutable std::uint64_t threadsRetired_ = 0;  // exits noticed before shutdown; guarded by threadMu_
  mutable std::size_t alive_ = 0;             // guarded by threadMu_
  std::size_t peak_ = 0;                      // guarded by threadMu_
  bool stopping_ = false;                     // shutdown began: exits are not retirements; guarded by threadMu_

  // The warm-up barrier (constructor only).
  std::mutex warmMu_;
  std::condition_variable warmCv_;
  std::size_t warmArrived_ = 0;  // guarded by warmMu_
};

}  // namespace gamesrv::platform::win32
