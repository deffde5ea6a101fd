// ThreadPool workers: the loop that takes work from both lanes, runs it, looks a little
// longer when it runs out, parks, retires and leaves. The protocol is described in
// thread_pool_impl.hpp.
#include <thread>

#include "thread_pool_impl.hpp"

namespace gamesrv {

using namespace detail;

namespace detail {
thread_local const void* tlsPool = nullptr;
thread_local const CleanupGroup* tlsGroup = nullptr;
}  // namespace detail

void ThreadPool::Impl::workerMain(WorkerContext& ctx) {
  tlsPool = this;
  WorkerSlot* slot;
  {
    std::lock_guard lock(mu_);
    slot = &acquireSlotLocked();
    workers_.push_back(slot);
  }
  // No stop_callback here: WorkerGroup::requestStop() runs callbacks under its own lock,
  // which spawnLocked() takes inside mu_. shutdown() wakes parked workers itself (ABANDON
  // / DRAINING) before it ever asks the group to stop.
  WorkerSlot& self = *slot;
  Search search;  // counted by spawnLocked()
  std::uint64_t idleSince = nowNs();
  bool retired = false;
  for (;;) {
    if (ctx.stopRequested()) break;
    const std::uint64_t s = ctl_.load(std::memory_order_relaxed);
    if (s & kAbandon) break;
    if (!(s & kPaused)) {
      if (lockedWork_.load(std::memory_order_relaxed) != 0) {
        std::unique_lock lock(mu_, std::defer_lock);
        lockAdaptive(lock);
        const bool ran = runLockedLaneLocked(lock, ctx, self, search);
        lock.unlock();
        if (ran) {
          idleSince = nowNs();
          continue;
        }
      }
      TaskRing::Task task;
      bool leftBehind = false;
      if (takeFast(self, task, leftBehind) || stealHalf(self, task, leftBehind)) {
        afterTake(search, self, leftBehind);
        runFast(ctx, self, task);
        idleSince = nowNs();
        continue;
      }
      if (!(s & kDraining) && spinForWork(ctx, search)) continue;
    }
    const ParkResult r = park(ctx, self, search, idleSince);
    if (r == ParkResult::Exit) break;
    if (r == ParkResult::Retire) {
      retired = true;
      break;
    }
  }
  leave(ctx, self, search, retired);
}

WorkerSlot& ThreadPool::Impl::acquireSlotLocked() {  // Requires: mu_ held.
  if (freeSlots_.empty()) {
    WorkerSlot& fresh = slotStore_.emplace_back();
    fresh.nextSlot.store(slotList_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    slotList_.store(&fresh, std::memory_order_release);
    return fresh;
  }
  WorkerSlot& s = *freeSlots_.back();
  freeSlots_.pop_back();
  s.wake = false;
  return s;
}

// Runs batches from the locked lane (or stolen from other workers' batches) for as long
// as there are any. Returns whether it ran one.
// Requires: `lock` holds mu_; it holds it again on return.
bool ThreadPool::Impl::runLockedLaneLocked(std::unique_lock<std::mutex>& lock, WorkerContext& ctx, WorkerSlot& self,
                                           Search& search) {
  bool ran = false;
  for (;;) {
    if ((ctl_.load(std::memory_order_relaxed) & (kPaused | kAbandon)) || ctx.stopRequested()) return ran;
    const std::size_t got = takeWorkLocked(self);
    if (got == 0) return ran;
    ran = true;
    const bool holding = got > 1;
    if (holding) ++holders_;
    if (search.on) {
      search.on = false;
      ctl_.fetch_sub(kSearchOne);
    }
    // Work left behind (queued, or unstarted in someone's batch) deserves another thread,
    // unless one is already looking (it passes the word on in turn).
    const bool leftBehind = !locked_.empty() || holders_ > 0 || ring_.hasReady();
    WorkerSlot* wake = leftBehind && searching(ctl_.load()) == 0 ? signalLocked() : nullptr;
    lock.unlock();
    if (wake) wake->cv.notify_one();
    runBatch(ctx, self);
    lockAdaptive(lock);
    if (holding) --holders_;
  }
}

// Runs self.local item by item; each stays stealable and cancellable until it starts.
void ThreadPool::Impl::runBatch(WorkerContext& ctx, WorkerSlot& self) {
  ctx.beginWork();
  std::uint64_t ok = 0, bad = 0, ran = 0;
  auto flush = [&] {
    if (ok) completed_.fetch_add(ok, std::memory_order_relaxed);
    if (bad) failed_.fetch_add(bad, std::memory_order_relaxed);
    ok = bad = 0;
  };
  std::uint64_t t = ticks();  // one clock read per item: each end is the next start
  for (;;) {
    if (ctl_.load(std::memory_order_relaxed) & (kPaused | kAbandon)) break;
    Entry e;
    {
      std::lock_guard l(self.localMu);
      if (self.localSize() == 0) break;
      e = self.local->popFront();
    }
    const std::uint64_t start = t;
    self.queueWait.recordSingleWriter(start > e.enqueuedTicks ? start - e.enqueuedTicks : 0);
    if (e.extra && e.extra->dueNs != 0) {
      const std::uint64_t now = nowNs();
      timerLate_.record(now > e.extra->dueNs ? now - e.extra->dueNs : 0);
    }
    tlsGroup = e.group;
    try {
      e.run();
      ++ok;
    } catch (...) {
      ++bad;
    }
    e.run = nullptr;  // captured state dies before the group hears the item is done
    e.extra.reset();
    tlsGroup = nullptr;
    t = ticks();
    self.run.recordSingleWriter(t > start ? t - start : 0);
    ++ran;
    if (e.group) {
      flush();
      e.group->memberDone();
    }
  }
  flush();
  ctx.endWork(ran);
}

// Out of work: keep looking for up to kSpinNs, yielding the CPU between looks, so that a
// submitter with a steady stream need not wake anyone. At most kMaxSpinners workers do
// this at a time; the others park at once. Returns true when there is something to see.
bool ThreadPool::Impl::spinForWork(WorkerContext& ctx, Search& search) {
  if (spinners_.fetch_add(1, std::memory_order_relaxed) >= kMaxSpinners) {
    spinners_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  if (!search.on) {
    search.on = true;
    ctl_.fetch_add(kSearchOne);
  }
  ctx.setState(WorkerState::Idle);
  const std::uint64_t until = nowNs() + kSpinNs;
  bool seen = false;
  do {
    std::this_thread::yield();
    seen = ring_.hasReady() || lockedWork_.load(std::memory_order_relaxed) != 0 || anyRangeWork(nullptr) ||
           (ctl_.load(std::memory_order_relaxed) & (kPaused | kAbandon | kDraining)) || ctx.stopRequested();
  } while (!seen && nowNs() < until);
  spinners_.fetch_sub(1, std::memory_order_relaxed);
  return seen;
}

// Takes a locked-lane batch if there is one, else parks until woken, stopped or idle for
// idleTimeout. Look: go round the loop again; Exit: leave (the pool is stopping, or
// draining with nothing left); Retire: leave as a surplus thread (already uncounted).
ParkResult ThreadPool::Impl::park(WorkerContext& ctx, WorkerSlot& self, Search& search, std::uint64_t& idleSince) {
  std::unique_lock lock(mu_, std::defer_lock);
  lockAdaptive(lock);
  if (runLockedLaneLocked(lock, ctx, self, search)) {
    idleSince = nowNs();
    return ParkResult::Look;
  }
  if (!(ctl_.load(std::memory_order_relaxed) & kPaused) && anyRangeWork(nullptr)) return ParkResult::Look;
  // Registered as parked first, then one more look at the ring (see thread_pool_impl.hpp).
  idle_.push_back(&self);
  const std::uint64_t delta = kParkedOne - (search.on ? kSearchOne : 0);
  search.on = false;
  const std::uint64_t s = ctl_.fetch_add(delta) + delta;
  const bool paused = (s & kPaused) != 0;
  const bool work = !paused && (ring_.hasReady() || anyRangeWork(nullptr));
  const bool exit = (s & kAbandon) || ctx.stopRequested() || (!paused && !work && (s & kDraining) && nothingInFlight());
  if (exit || work) {
    idle_.pop_back();  // we went last and have held mu_ since
    ctl_.fetch_sub(kParkedOne);
    return exit ? ParkResult::Exit : ParkResult::Look;
  }
  ctx.setState(paused ? WorkerState::Paused : WorkerState::Idle);
  const auto idleTimeout = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.idleTimeout);
  const bool woke = self.cv.wait_until(lock, fromNs(deadlineAfter(idleSince, idleTimeout)),
                                       [&] { return self.wake || ctx.stopRequested(); });
  if (self.wake) {  // the waker took us off idle_ and counted us as searching
    self.wake = false;
    search.on = true;
    return ParkResult::Look;
  }
  idle_.erase(std::find(idle_.begin(), idle_.end(), &self));
  if (!woke && threads_ > cfg.minThreads && !(ctl_.load(std::memory_order_relaxed) & kDraining) &&
      self.localSize() == 0 && rangeCount(self.range.load()) == 0) {
    // Uncounted before we stop counting as parked: a submitter that no longer sees us
    // parked sees the room for a new thread instead.
    --threads_;
    ++threadsRetired_;
    setFlagLocked(kSpawnRoom, true);
    ctl_.fetch_sub(kParkedOne);
    return ParkResult::Retire;
  }
  ctl_.fetch_sub(kParkedOne);
  if (!woke) idleSince = nowNs();
  return ParkResult::Look;
}

void ThreadPool::Impl::leave(WorkerContext& ctx, WorkerSlot& self, Search& search, bool retired) {
  std::vector<Entry> leftovers;  // only if stopped without shutdown(): never lose an item
  std::unique_lock lock(mu_);
  if (search.on) {
    search.on = false;
    ctl_.fetch_sub(kSearchOne);
  }
  {
    std::lock_guard l(self.localMu);
    auto all = [](const Entry&) { return true; };
    if (self.local) self.local->extractIf(all, leftovers);
    locked_.recycle(std::move(self.local));
  }
  workers_.erase(std::find(workers_.begin(), workers_.end(), &self));
  freeSlots_.push_back(&self);
  if (!retired) {
    --threads_;
    setFlagLocked(kSpawnRoom, threads_ < cfg.maxThreads);
  }
  const std::uint64_t s = ctl_.load(std::memory_order_relaxed);
  if (s & kDraining) wakeAllLocked();  // the others look again whether anything is left
  lock.unlock();
  cancelEntries(leftovers);
  if ((s & kAbandon) || ctx.stopRequested()) cancelFastLane();
  tlsPool = nullptr;
}

}  // namespace gamesrv
