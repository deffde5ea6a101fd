// ThreadPool::Impl, shared by thread_pool*.cpp. See thread_pool.hpp for the contract;
// the notes here say how it is kept.
//
// Two lanes. Plain items (no cleanup group, no onCancel) go to the fast lane, a
// lock-free ring (thread_pool_ring.hpp) that submitters and workers use without a lock.
// A worker claims a run of up to kClaimMost items from it with one CAS into its slot's
// `range`, takes them one by one from the front, and idle workers steal the back half:
// two busy workers do not fight over the ring's head item by item, and no unstarted item
// is out of other workers' reach. Everything that may have to be cancelled one by one
// (group members, items with an onCancel, timer firings), and plain items that find the
// ring full, go to the locked lane: a chunk FIFO under mu_ (thread_pool_chunks.hpp) from
// which a worker takes up to kBatch items at a time into its slot's `local`.
//
// Capacity, without a counter that both sides write: `admitted_` counts every submit that
// got past the door (submitters' cache line); retiredCount() = the ring's pops (claims) +
// `retiredOther_` (locked-lane chunks taken, cancellations, back-outs) counts every one
// that left the shared queues. A submit bumps admitted_, then compares admitted_ as read
// now with a retired count read earlier (a cached one only errs towards "full"), and
// backs out (retiredOther_ += 1) if more than queueCapacity would be queued. Each check
// counts every admission made before it, so the bound is never exceeded; submitters
// racing at the limit may see QueueFull a moment early.
//
// Wake-ups. ctl_ holds the counts of searching and parked workers and the state flags.
// - A worker is "searching" from its spawn or wake-up until it finds work, and while it
//   looks again for a short while (kSpinNs, yielding the CPU) before parking. Submitters
//   wake nobody while one searches; the last searcher to find work, and a worker that
//   claims more than it takes, wake another if work is left behind and nobody looks.
// - A fast-lane push publishes its cell with a seq_cst store, then reads ctl_; a worker
//   about to park bumps the parked count with a seq_cst RMW, then looks at the ring and
//   the ranges once more. One of the two sees the other: no lost wake-up, no timed polling.
// - shutdown()'s CLOSED flag pairs with the admitted_ RMW the same way (so a drain knows
//   when nothing is in flight: retired == admitted), and its ABANDON flag with the push:
//   a push that finds ABANDON set cancels what is left in the fast lane itself.
//
// Lock order: mu_ -> WorkerSlot::localMu (one at a time); timerMu_ -> CleanupGroup::mu_.
// mu_ and timerMu_ are never held together. Callbacks (run / onCancel) never run under a
// pool lock.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gamesrv/clock.hpp"
#include "gamesrv/histogram.hpp"
#include "gamesrv/spin.hpp"
#include "gamesrv/thread_pool.hpp"
#include "gamesrv/tsc_clock.hpp"
#include "gamesrv/worker_group.hpp"
#include "thread_pool_chunks.hpp"
#include "thread_pool_ring.hpp"

namespace gamesrv {
namespace detail {

constexpr std::uint64_t kFarFutureNs = std::uint64_t{1} << 62;
constexpr std::size_t kFastRun = 64;  // fast-lane items per beginWork()/endWork()
// A claim from the ring takes kClaimLeast..kClaimMost published items at once, or a single
// one when fewer are there (a short run stays shared: nothing to steal, nobody to wake).
constexpr std::size_t kClaimLeast = 4;
constexpr std::size_t kClaimMost = 32;
// The ring has queueCapacity cells rounded up to a power of two, at most this many (16
// MiB); a deeper queue spills into the locked lane.
constexpr std::size_t kMaxRingCells = std::size_t{1} << 18;
// How long a worker that ran out of work keeps looking (yielding the CPU between looks)
// before it parks: long enough to bridge the gaps of a steady submitter, so that neither
// side pays for a futex wake per item; short enough that an idle pool goes quiet at once.
// Yielding, not pausing: on a machine with fewer cores than threads the submitter gets
// the core. At most kMaxSpinners workers look at a time; the others park at once.
constexpr std::uint64_t kSpinNs = 30'000;
constexpr int kMaxSpinners = 2;

// ctl_: searching and parked worker counts, and state flags, in one word that a submitter
// reads once per submit.
constexpr std::uint64_t kSearchOne = 1;                    // bits 0..19
constexpr std::uint64_t kParkedOne = std::uint64_t{1} << 20;  // bits 20..39
constexpr std::uint64_t kCountMask = (std::uint64_t{1} << 20) - 1;
constexpr std::uint64_t kClosed = std::uint64_t{1} << 59;     // submits answer ShuttingDown
constexpr std::uint64_t kDraining = std::uint64_t{1} << 60;   // workers leave once nothing is left
constexpr std::uint64_t kAbandon = std::uint64_t{1} << 61;    // shutdown deadline passed
constexpr std::uint64_t kPaused = std::uint64_t{1} << 62;
constexpr std::uint64_t kSpawnRoom = std::uint64_t{1} << 63;  // threads_ < maxThreads
inline std::uint64_t searching(std::uint64_t s) noexcept { return s & kCountMask; }
inline std::uint64_t parked(std::uint64_t s) noexcept { return (s >> 20) & kCountMask; }

// Per-item timestamps come from the shared tick clock (the CPU's time-stamp counter where
// it is invariant, else the steady clock); intervals are converted to ns when stats are read.
inline std::uint64_t ticks() noexcept { return TscClock::now(); }

// Adaptive acquisition (lockAdaptive, gamesrv/spin.hpp): the pool's locks are held for
// tens of nanoseconds, far less than a futex sleep and wake-up costs the waiter.

inline std::uint64_t deadlineAfter(std::uint64_t now, std::chrono::nanoseconds d) noexcept {
  if (d.count() <= 0) return now;
  const auto add = static_cast<std::uint64_t>(d.count());
  return add >= kFarFutureNs - now ? kFarFutureNs : now + add;
}

inline std::chrono::nanoseconds remainingUntil(std::uint64_t deadlineNs) noexcept {
  const std::uint64_t now = nowNs();
  return std::chrono::nanoseconds(deadlineNs > now ? static_cast<std::int64_t>(deadlineNs - now) : 0);
}

// A claimed run of ring positions: first << 8 | count. Taken from the front by its owner
// and stolen from the back by others, one CAS each; positions never repeat, so a stale
// CAS simply fails.
constexpr std::uint64_t kRangeCountMask = 0xff;
inline std::uint64_t makeRange(std::uint64_t first, std::uint64_t count) noexcept { return first << 8 | count; }
inline std::uint64_t rangeFirst(std::uint64_t r) noexcept { return r >> 8; }
inline std::uint64_t rangeCount(std::uint64_t r) noexcept { return r & kRangeCountMask; }

// One pool thread's parking spot, its batches from both lanes and its share of the
// histograms. Slots are recycled, never freed while the pool lives, so a wake may be
// sent after unlocking, others may walk the slot list without a lock, and retired
// workers' samples still count.
struct WorkerSlot {
  alignas(64) std::atomic<std::uint64_t> range{0};  // see makeRange(); set by the owner only when empty
  std::atomic<WorkerSlot*> nextSlot{nullptr};       // the slot list (Impl::slotList_), append-only
  std::condition_variable cv;
  bool wake = false;   // guarded by Impl::mu_
  std::mutex localMu;  // after Impl::mu_ in lock order
  ChunkPtr local;      // guarded by localMu; changed by others only while they also hold mu_
  Histogram queueWait; // in ticks; recordSingleWriter() by the slot's current worker only
  Histogram run;       // in ticks; likewise

  std::size_t localSize() const noexcept { return local ? local->size() : 0; }
};

// A worker's mark in ctl_'s searching count (see the file comment).
struct Search {
  bool on = true;  // spawned and woken workers start out searching
};

enum class ParkResult { Look, Exit, Retire };

struct PeriodicState {
  std::function<void()> fn;
  std::atomic<bool> inFlight{false};  // a firing is queued or running
};

struct Timer {
  std::uint64_t dueNs = 0;
  std::uint64_t periodNs = 0;  // 0 = one-shot
  WorkItem item;               // one-shot
  std::shared_ptr<PeriodicState> periodic;
  CleanupGroup* group = nullptr;
};

extern thread_local const void* tlsPool;            // the pool whose worker this thread is
extern thread_local const CleanupGroup* tlsGroup;  // group of the item running on this thread

}  // namespace detail

struct ThreadPool::Impl {
  explicit Impl(ThreadPoolConfig c);

  const ThreadPoolConfig cfg;

  // --- fast lane and admission (lock-free) ---
  detail::TaskRing ring_;
  alignas(64) std::atomic<std::uint64_t> admitted_{0};  // submits past the door, timer firings
  std::atomic<std::uint64_t> retiredSeen_{0};           // a recent retiredCount(): never above it
  alignas(64) std::atomic<std::uint64_t> ctl_{0};       // see detail::kSearchOne ... kSpawnRoom
  alignas(64) std::atomic<std::uint64_t> retiredOther_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::size_t> lockedWork_{0};  // == locked_.size(); written under mu_, read anywhere
  std::atomic<int> spinners_{0};
  std::atomic<detail::WorkerSlot*> slotList_{nullptr};  // every slot ever made; pushed under mu_
  alignas(64) std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> cancelled_{0};

  // --- locked lane and threads ---
  alignas(64) mutable std::mutex mu_;
  detail::ChunkQueue locked_;                  // guarded by mu_
  std::deque<detail::WorkerSlot> slotStore_;   // guarded by mu_
  std::vector<detail::WorkerSlot*> freeSlots_;  // guarded by mu_
  std::vector<detail::WorkerSlot*> workers_;   // live workers; guarded by mu_
  std::vector<detail::WorkerSlot*> idle_;      // parked workers, most recent last; guarded by mu_
  std::size_t threads_ = 0;                    // started and not exited; guarded by mu_
  std::size_t holders_ = 0;  // workers that took more than one item and are not back; guarded by mu_
  std::size_t peak_ = 0;                       // guarded by mu_
  std::uint64_t threadsCreated_ = 0;           // guarded by mu_
  std::uint64_t threadsRetired_ = 0;           // guarded by mu_
  bool shutdownStarted_ = false;               // guarded by mu_

  Histogram timerLate_;  // queue-wait and run time live in the worker slots

  // --- timers ---
  mutable std::mutex timerMu_;
  std::condition_variable timerCv_;
  std::unordered_map<TimerId, detail::Timer> timers_;      // guarded by timerMu_
  std::set<std::pair<std::uint64_t, TimerId>> dueOrder_;  // guarded by timerMu_
  bool timerPaused_ = false;                               // guarded by timerMu_
  bool timersClosed_ = false;                              // guarded by timerMu_
  std::uint64_t timersFired_ = 0;                          // guarded by timerMu_
  std::uint64_t timersCancelled_ = 0;                      // guarded by timerMu_
  std::uint64_t timerSkipped_ = 0;                         // guarded by timerMu_
  TimerId nextTimerId_ = 1;                                // guarded by timerMu_

  // Declared last: destroyed (joined) before the state their threads use.
  WorkerGroup workerGroup;
  WorkerGroup timerGroup;

  double nsPerTick() const;

  // --- queueing (thread_pool_queue.cpp) ---
  SubmitStatus submit(WorkItem&& item, CleanupGroup* group);
  SubmitStatus admit();
  SubmitStatus backOut(SubmitStatus why);
  void afterFastPush();
  void wakeOne();
  void enqueueLocked(std::function<void()>&& run, CleanupGroup* group, std::uint64_t enqueuedTicks,
                     std::unique_ptr<detail::EntryExtra>&& extra);
  void enqueueFirings(std::vector<detail::Entry>& firings);
  std::uint64_t retiredCount() const noexcept { return retiredOther_.load() + ring_.pops(); }
  bool nothingInFlight() const noexcept;
  detail::WorkerSlot* signalLocked();
  void wakeAllLocked();
  void spawnLocked();
  void setFlagLocked(std::uint64_t flag, bool on);
  void syncLockedWorkLocked() { lockedWork_.store(locked_.size(), std::memory_order_relaxed); }
  std::size_t takeWorkLocked(detail::WorkerSlot& self);
  void extractAllLocked(std::vector<detail::Entry>& out, const CleanupGroup* onlyGroup);
  void cancelEntries(std::vector<detail::Entry>& entries);
  void cancelFastLane();

  // --- workers (thread_pool_worker.cpp) ---
  void workerMain(WorkerContext& ctx);
  detail::WorkerSlot& acquireSlotLocked();
  bool runLockedLaneLocked(std::unique_lock<std::mutex>& lock, WorkerContext& ctx, detail::WorkerSlot& self,
                           detail::Search& search);
  void runBatch(WorkerContext& ctx, detail::WorkerSlot& self);
  bool spinForWork(WorkerContext& ctx, detail::Search& search);
  detail::ParkResult park(WorkerContext& ctx, detail::WorkerSlot& self, detail::Search& search,
                          std::uint64_t& idleSince);
  void leave(WorkerContext& ctx, detail::WorkerSlot& self, detail::Search& search, bool retired);

  // --- fast lane, worker side (thread_pool_fast.cpp) ---
  void runFast(WorkerContext& ctx, detail::WorkerSlot& self, detail::TaskRing::Task& task);
  bool takeFast(detail::WorkerSlot& self, detail::TaskRing::Task& out, bool& leftBehind);
  bool claimFast(detail::WorkerSlot& self, detail::TaskRing::Task& out, bool& leftBehind);
  bool takeFromRange(detail::WorkerSlot& from, detail::TaskRing::Task& out);
  bool stealHalf(detail::WorkerSlot& self, detail::TaskRing::Task& out, bool& leftBehind);
  bool anyRangeWork(const detail::WorkerSlot* except) const;
  std::size_t rangeItems() const;
  template <class F>
  void forEachSlot(F&& f) const {  // every slot ever made, without a lock
    for (detail::WorkerSlot* w = slotList_.load(std::memory_order_acquire); w != nullptr;
         w = w->nextSlot.load(std::memory_order_acquire))
      f(*w);
  }
  void afterTake(detail::Search& search, detail::WorkerSlot& self, bool leftBehind);
  void wakeForLeftBehind();

  // --- timers (thread_pool_timers.cpp) ---
  TimerId addTimer(detail::Timer t);
  static void dropTimer(detail::Timer& t);
  bool cancelTimer(TimerId id);
  std::size_t cancelTimers(const CleanupGroup* onlyGroup, bool close);
  void collectDueLocked(std::uint64_t now, std::vector<detail::Entry>& out);
  void timerMain(WorkerContext& ctx);
};

}  // namespace gamesrv
