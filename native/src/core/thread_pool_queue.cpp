// ThreadPool queueing: admission, the two lanes, wake-ups and thread starts, extraction
// and cancellation. The protocol is described in thread_pool_impl.hpp.
#include <thread>

#include "gamesrv/thread_pool_backend.hpp"
#include "thread_pool_impl.hpp"

namespace gamesrv {

using namespace detail;

SubmitStatus ThreadPool::submit(WorkItem item) {
  if (backend_) [[unlikely]]
    return backend_->submit(std::move(item), nullptr);
  return impl_->submit(std::move(item), nullptr);
}

SubmitStatus ThreadPool::submit(CleanupGroup& group, WorkItem item) {
  if (backend_) [[unlikely]]
    return backend_->submit(std::move(item), &group);
  return impl_->submit(std::move(item), &group);
}

SubmitStatus ThreadPool::Impl::submit(WorkItem&& item, CleanupGroup* group) {
  if (group) group->addMembers(1);
  const SubmitStatus status = admit();
  if (status != SubmitStatus::Ok) {
    if (group) group->memberDone();
    return status;
  }
  const std::uint64_t now = ticks();
  if (group == nullptr && !item.onCancel && ring_.tryPush(item.run, now)) {
    afterFastPush();
    return SubmitStatus::Ok;
  }
  enqueueLocked(std::move(item.run), group, now, Entry::makeExtra(std::move(item.onCancel), 0));
  return SubmitStatus::Ok;
}

SubmitStatus ThreadPool::Impl::admit() {
  admitted_.fetch_add(1);  // seq_cst: pairs with shutdown()'s CLOSED (see the header)
  if (ctl_.load() & kClosed) return backOut(SubmitStatus::ShuttingDown);
  // Depth as admitted now minus retired no later: never below the truth (retired counts
  // only items admitted earlier), so no admission can take the queue past capacity.
  std::uint64_t retired = retiredSeen_.load(std::memory_order_acquire);
  if (admitted_.load() - retired > cfg.queueCapacity) {
    retired = retiredCount();
    retiredSeen_.store(retired, std::memory_order_release);
    if (admitted_.load() - retired > cfg.queueCapacity) return backOut(SubmitStatus::QueueFull);
  }
  return SubmitStatus::Ok;
}

SubmitStatus ThreadPool::Impl::backOut(SubmitStatus why) {
  rejected_.fetch_add(1, std::memory_order_relaxed);
  retiredOther_.fetch_add(1);  // seq_cst: a draining worker parked on our admission sees this or is woken
  const std::uint64_t s = ctl_.load();
  if ((s & kDraining) && parked(s) > 0) {
    std::unique_lock lock(mu_);
    wakeAllLocked();
  }
  return why;
}

// After a fast-lane push published its cell (seq_cst): wake a worker unless one is
// already looking, or clear the ring ourselves if shutdown gave up on it meanwhile.
void ThreadPool::Impl::afterFastPush() {
  const std::uint64_t s = ctl_.load();
  if (s & kAbandon) {
    cancelFastLane();
    return;
  }
  if (searching(s) == 0 && !(s & kPaused) && (parked(s) > 0 || (s & kSpawnRoom))) wakeOne();
}

void ThreadPool::Impl::wakeOne() {
  std::unique_lock lock(mu_, std::defer_lock);
  lockAdaptive(lock);
  WorkerSlot* w = searching(ctl_.load()) == 0 ? signalLocked() : nullptr;
  lock.unlock();
  if (w) w->cv.notify_one();
}

void ThreadPool::Impl::enqueueLocked(std::function<void()>&& run, CleanupGroup* group, std::uint64_t enqueuedTicks,
                                     std::unique_ptr<EntryExtra>&& extra) {
  std::unique_lock lock(mu_, std::defer_lock);
  lockAdaptive(lock);
  if (ctl_.load(std::memory_order_relaxed) & kAbandon) {  // admitted before shutdown gave up: cancel here
    retiredOther_.fetch_add(1);
    lock.unlock();
    std::vector<Entry> late(1);
    late[0] = Entry{std::move(run), group, enqueuedTicks, std::move(extra)};
    cancelEntries(late);
    return;
  }
  locked_.emplace(std::move(run), group, enqueuedTicks, std::move(extra));
  syncLockedWorkLocked();
  // A worker already searching takes this one too and passes the word on.
  WorkerSlot* w = searching(ctl_.load()) == 0 ? signalLocked() : nullptr;
  lock.unlock();
  if (w) w->cv.notify_one();
}

// Timer firings: not bounded by capacity and accepted until the timer thread is joined.
void ThreadPool::Impl::enqueueFirings(std::vector<Entry>& firings) {
  admitted_.fetch_add(firings.size());
  std::unique_lock lock(mu_);
  for (Entry& e : firings) locked_.push(std::move(e));
  syncLockedWorkLocked();
  WorkerSlot* w = signalLocked();
  lock.unlock();
  if (w) w->cv.notify_one();
}

// True when every admitted item has left the shared queues (read retired first: then
// admitted can only be the larger). Called once CLOSED is set, so nothing new arrives.
bool ThreadPool::Impl::nothingInFlight() const noexcept {
  const std::uint64_t retired = retiredCount();
  return admitted_.load() == retired;
}

// There is unstarted work: get one more thread looking at it, if one can be had.
// Returns the parked worker chosen to wake: notify its cv (after unlocking is fine).
// Requires: mu_ held.
WorkerSlot* ThreadPool::Impl::signalLocked() {
  if (ctl_.load(std::memory_order_relaxed) & (kPaused | kAbandon)) return nullptr;
  if (!idle_.empty()) {
    WorkerSlot* w = idle_.back();
    idle_.pop_back();
    w->wake = true;
    ctl_.fetch_add(kSearchOne - kParkedOne);
    return w;
  }
  if (threads_ < cfg.maxThreads) spawnLocked();
  return nullptr;
}

void ThreadPool::Impl::wakeAllLocked() {  // Requires: mu_ held.
  for (WorkerSlot* w : idle_) {
    w->wake = true;
    ctl_.fetch_add(kSearchOne - kParkedOne);
    w->cv.notify_one();
  }
  idle_.clear();
}

void ThreadPool::Impl::spawnLocked() {  // Requires: mu_ held.
  ++threads_;
  ctl_.fetch_add(kSearchOne);  // a new thread starts out searching
  try {
    workerGroup.add([this](WorkerContext& ctx) { workerMain(ctx); });
  } catch (...) {  // the OS refused a thread: keep running with what we have
    --threads_;
    ctl_.fetch_sub(kSearchOne);
    return;
  }
  setFlagLocked(kSpawnRoom, threads_ < cfg.maxThreads);
  ++threadsCreated_;
  peak_ = std::max(peak_, threads_);
}

// Flags change under mu_ so that they agree with the state mu_ guards.
void ThreadPool::Impl::setFlagLocked(std::uint64_t flag, bool on) {
  if (on) {
    ctl_.fetch_or(flag);
  } else {
    ctl_.fetch_and(~flag);
  }
}

// Fills self.local from the locked lane, or steals half of the fullest other batch (its
// owner is busy running something). Returns the number of items now in it.
// Requires: mu_ held.
std::size_t ThreadPool::Impl::takeWorkLocked(WorkerSlot& self) {
  {
    std::lock_guard own(self.localMu);
    if (self.localSize() > 0) return self.localSize();
    if (!locked_.empty()) {
      locked_.recycle(std::move(self.local));
      self.local = locked_.popFront();
      syncLockedWorkLocked();
      retiredOther_.fetch_add(self.local->size());  // in a worker's batch: no longer in the shared queue
      return self.local->size();
    }
  }
  // Our chunk stays empty meanwhile: only its owner (us) and holders of mu_ (us) change it.
  WorkerSlot* victim = nullptr;
  std::size_t most = 0;
  for (WorkerSlot* w : workers_) {
    if (w == &self) continue;
    std::lock_guard l(w->localMu);
    if (w->localSize() > most) {
      most = w->localSize();
      victim = w;
    }
  }
  if (victim == nullptr) return 0;
  Entry stolen[kBatch];
  std::size_t n;
  {
    std::lock_guard theirs(victim->localMu);
    n = (victim->localSize() + 1) / 2;
    for (std::size_t i = 0; i < n; ++i) stolen[n - 1 - i] = victim->local->popBack();
  }
  std::lock_guard own(self.localMu);
  if (!self.local) self.local = locked_.fresh();
  self.local->head = self.local->tail = 0;
  for (std::size_t i = 0; i < n; ++i) self.local->push(std::move(stolen[i]));
  return n;
}

// Moves the locked lane's matching entries, and those in workers' batches, to `out`.
// Requires: mu_ held.
void ThreadPool::Impl::extractAllLocked(std::vector<Entry>& out, const CleanupGroup* onlyGroup) {
  auto match = [onlyGroup](const Entry& e) { return onlyGroup == nullptr || e.group == onlyGroup; };
  if (const std::size_t n = locked_.extractIf(match, out)) {
    syncLockedWorkLocked();
    retiredOther_.fetch_add(n);
  }
  for (WorkerSlot* w : workers_) {
    std::lock_guard l(w->localMu);
    if (w->local) w->local->extractIf(match, out);
  }
}

void ThreadPool::Impl::cancelEntries(std::vector<Entry>& entries) {
  for (Entry& e : entries) {
    if (e.extra && e.extra->onCancel) {
      try {
        e.extra->onCancel();
      } catch (...) {  // a throwing onCancel still leaves the item cancelled
      }
    }
    e.run = nullptr;
    e.extra.reset();
    cancelled_.fetch_add(1, std::memory_order_relaxed);
    if (e.group) e.group->memberDone();
  }
  entries.clear();
}

}  // namespace gamesrv
