// ThreadPool fast lane, worker side: claiming runs from the ring, taking from and
// stealing out of workers' claimed ranges, and cancelling what is left at shutdown.
#include "thread_pool_impl.hpp"

namespace gamesrv {

using namespace detail;

// The next fast-lane item for `self`: from its own range, else from the ring. Sets
// `leftBehind` when it claimed more than it took (others may need waking to share it).
bool ThreadPool::Impl::takeFast(WorkerSlot& self, TaskRing::Task& out, bool& leftBehind) {
  if (takeFromRange(self, out)) [[likely]]
    return true;
  return claimFast(self, out, leftBehind);
}

bool ThreadPool::Impl::claimFast(WorkerSlot& self, TaskRing::Task& out, bool& leftBehind) {
  std::uint64_t first;
  const std::size_t n = ring_.tryClaim(kClaimLeast, kClaimMost, first);
  if (n == 0) return false;
  ring_.take(first, out);
  if (n > 1) {
    self.range.store(makeRange(first + 1, n - 1));  // seq_cst: pairs with park()'s second look
    leftBehind = true;
  }
  return true;
}

bool ThreadPool::Impl::takeFromRange(WorkerSlot& from, TaskRing::Task& out) {
  std::uint64_t r = from.range.load(std::memory_order_acquire);
  while (rangeCount(r) != 0) {
    if (from.range.compare_exchange_weak(r, makeRange(rangeFirst(r) + 1, rangeCount(r) - 1),
                                         std::memory_order_acq_rel)) {
      ring_.take(rangeFirst(r), out);
      return true;
    }
  }
  return false;
}

// Runs `task` and then whatever this worker's range and the ring hold, up to kFastRun
// items or until the locked lane has work, the pool pauses or shutdown gives up.
void ThreadPool::Impl::runFast(WorkerContext& ctx, WorkerSlot& self, TaskRing::Task& task) {
  ctx.beginWork();
  // Clock readings are kept and recorded after the run, so that no item waits on the
  // clock's latency; one reading per item: each end is the next start.
  std::uint64_t waits[kFastRun], runs[kFastRun];
  std::uint64_t bad = 0, ran = 0;
  std::uint64_t t = ticks();
  for (;;) {
    waits[ran] = t - task.enqueuedTicks;
    try {
      task.run();
    } catch (...) {
      ++bad;
    }
    task.run = nullptr;
    const std::uint64_t end = ticks();
    runs[ran] = end - t;
    t = end;
    if (++ran == kFastRun) break;
    if (ctl_.load(std::memory_order_relaxed) & (kPaused | kAbandon)) break;
    if (lockedWork_.load(std::memory_order_relaxed) != 0) break;
    bool leftBehind = false;
    if (!takeFast(self, task, leftBehind)) break;
    if (leftBehind) wakeForLeftBehind();
  }
  // Two cores' time-stamp counters may differ a little: a "negative" wait is 0.
  auto nonNegative = [](std::uint64_t d) { return static_cast<std::int64_t>(d) > 0 ? d : 0; };
  for (std::uint64_t i = 0; i < ran; ++i) {
    self.queueWait.recordSingleWriter(nonNegative(waits[i]));
    self.run.recordSingleWriter(nonNegative(runs[i]));
  }
  if (ran > bad) completed_.fetch_add(ran - bad, std::memory_order_relaxed);
  if (bad) failed_.fetch_add(bad, std::memory_order_relaxed);
  ctx.endWork(ran);
}

// Takes the back half of the fullest other range (its owner is busy running something).
// Requires: self.range is empty.
bool ThreadPool::Impl::stealHalf(WorkerSlot& self, TaskRing::Task& out, bool& leftBehind) {
  for (;;) {
    WorkerSlot* victim = nullptr;
    std::uint64_t best = 0;
    forEachSlot([&](WorkerSlot& w) {
      const std::uint64_t r = w.range.load(std::memory_order_acquire);
      if (&w != &self && rangeCount(r) > rangeCount(best)) {
        best = r;
        victim = &w;
      }
    });
    if (victim == nullptr) return false;
    const std::uint64_t n = rangeCount(best), half = (n + 1) / 2;
    std::uint64_t expected = best;
    if (!victim->range.compare_exchange_strong(expected, best - half, std::memory_order_acq_rel)) continue;
    const std::uint64_t first = rangeFirst(best) + n - half;
    ring_.take(first, out);
    if (half > 1) {
      self.range.store(makeRange(first + 1, half - 1));
      leftBehind = true;
    }
    return true;
  }
}

bool ThreadPool::Impl::anyRangeWork(const WorkerSlot* except) const {
  bool any = false;
  forEachSlot([&](const WorkerSlot& w) { any = any || (&w != except && rangeCount(w.range.load()) != 0); });
  return any;
}

std::size_t ThreadPool::Impl::rangeItems() const {
  std::size_t n = 0;
  forEachSlot([&](const WorkerSlot& w) { n += rangeCount(w.range.load(std::memory_order_relaxed)); });
  return n;
}

// `self` just took fast-lane work. Submitters woke nobody while it searched, so if it was
// the last searcher and work is still waiting, or it claimed more than it took, another
// thread gets going (unless one is already looking).
void ThreadPool::Impl::afterTake(Search& search, WorkerSlot& self, bool leftBehind) {
  bool lastSearcher = false;
  if (search.on) {
    search.on = false;
    lastSearcher = searching(ctl_.fetch_sub(kSearchOne) - kSearchOne) == 0;  // seq_cst, then look
  }
  if (leftBehind || (lastSearcher && (ring_.hasReady() || lockedWork_.load() != 0 || anyRangeWork(&self))))
    wakeForLeftBehind();
}

void ThreadPool::Impl::wakeForLeftBehind() {
  const std::uint64_t s = ctl_.load();
  if (searching(s) == 0 && !(s & (kPaused | kAbandon)) && (parked(s) > 0 || (s & kSpawnRoom))) wakeOne();
}

// Cancels what the ring and the workers' ranges hold (plain items: no onCancel, no
// group). Every item is claimed by exactly one caller, so shutdown, exiting workers and
// late pushers may all run this at once.
void ThreadPool::Impl::cancelFastLane() {
  TaskRing::Task task;
  std::uint64_t n = 0;
  while (ring_.tryPop(task)) {
    task.run = nullptr;
    ++n;
  }
  forEachSlot([&](WorkerSlot& w) {
    while (takeFromRange(w, task)) {
      task.run = nullptr;
      ++n;
    }
  });
  if (n) cancelled_.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace gamesrv
