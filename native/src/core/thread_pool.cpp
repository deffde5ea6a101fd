// ThreadPool: one shared FIFO under `mu_`, per-worker batches under their own small
// lock, one timer thread over a deadline-ordered set. See thread_pool.hpp for the
// contract; the notes here say how it is kept.
//
// Lock order: Impl::mu_ -> WorkerSlot::localMu (one at a time);
// Impl::timerMu_ -> CleanupGroup::mu_. mu_ and timerMu_ are never held together. Callbacks (run / onCancel) never run under a pool lock.
#include "gamesrv/thread_pool.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <utility>

#include "gamesrv/clock.hpp"

namespace gamesrv {
namespace {

constexpr std::size_t kBatch = 32;  // items a worker takes per visit to the shared queue
constexpr std::uint64_t kFarFutureNs = std::uint64_t{1} << 62;

struct Entry {
  std::function<void()> run;
  std::function<void()> onCancel;
  CleanupGroup* group = nullptr;
  std::uint64_t enqueuedNs = 0;
  std::uint64_t dueNs = 0;  // timer firings: when the timer fell due; 0 otherwise
};

// FIFO ring that grows by doubling and never shrinks: a warm queue allocates nothing.
class Ring {
 public:
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  void reserve(std::size_t n) {
    if (n > buf_.size()) regrow(n);
  }
  void pushBack(Entry&& e) {
    if (count_ == buf_.size()) regrow(count_ + 1);
    at(count_) = std::move(e);
    ++count_;
  }
  Entry popFront() {
    Entry e = std::move(buf_[head_]);
    head_ = (head_ + 1) & mask_;
    --count_;
    return e;
  }
  Entry popBack() {
    --count_;
    return std::move(at(count_));
  }
  // Moves the entries matching `pred` to `out`, keeping the others in order.
  template <class Pred>
  void extractIf(Pred pred, std::vector<Entry>& out) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < count_; ++i) {
      Entry& e = at(i);
      if (pred(e)) {
        out.push_back(std::move(e));
      } else {
        if (kept != i) at(kept) = std::move(e);
        ++kept;
      }
    }
    for (std::size_t i = kept; i < count_; ++i) at(i) = Entry{};
    count_ = kept;
  }

 private:
  Entry& at(std::size_t i) noexcept { return buf_[(head_ + i) & mask_]; }
  void regrow(std::size_t atLeast) {
    std::size_t n = std::max<std::size_t>(16, buf_.size());
    while (n < atLeast) n *= 2;
    std::vector<Entry> next(n);
    for (std::size_t i = 0; i < count_; ++i) next[i] = std::move(at(i));
    buf_.swap(next);
    head_ = 0;
    mask_ = n - 1;
  }

  std::vector<Entry> buf_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::size_t mask_ = 0;
};

// One pool thread's parking spot and the batch it took from the shared queue.
struct WorkerSlot {
  std::condition_variable cv;
  bool wake = false;    // guarded by Impl::mu_
  std::mutex localMu;   // after Impl::mu_ in lock order
  Ring local;           // guarded by localMu; changed by others only while they also hold mu_
};

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

thread_local const void* tlsPool = nullptr;            // the pool whose worker this thread is
thread_local const CleanupGroup* tlsGroup = nullptr;  // group of the item running on this thread

std::uint64_t deadlineAfter(std::uint64_t now, std::chrono::nanoseconds d) noexcept {
  if (d.count() <= 0) return now;
  const auto add = static_cast<std::uint64_t>(d.count());
  return add >= kFarFutureNs - now ? kFarFutureNs : now + add;
}

std::chrono::nanoseconds remainingUntil(std::uint64_t deadlineNs) noexcept {
  const std::uint64_t now = nowNs();
  return std::chrono::nanoseconds(deadlineNs > now ? static_cast<std::int64_t>(deadlineNs - now) : 0);
}

std::string timerPrefix(const std::string& poolPrefix) {
  const std::string tail = "-pool";
  if (poolPrefix.size() > tail.size() && poolPrefix.ends_with(tail))
    return poolPrefix.substr(0, poolPrefix.size() - tail.size()) + "-timer";
  return poolPrefix + "-timer";
}

ThreadPoolConfig normalized(ThreadPoolConfig c) {
  c.maxThreads = std::max<std::size_t>({c.maxThreads, c.minThreads, 1});
  c.queueCapacity = std::max<std::size_t>(c.queueCapacity, 1);
  if (c.idleTimeout.count() < 0) c.idleTimeout = std::chrono::milliseconds(0);
  return c;
}

}  // namespace

struct ThreadPool::Impl {
  explicit Impl(ThreadPoolConfig c)
      : cfg(normalized(std::move(c))), workerGroup(cfg.namePrefix), timerGroup(timerPrefix(cfg.namePrefix)) {}

  const ThreadPoolConfig cfg;

  // --- work queue and threads ---
  mutable std::mutex mu_;
  Ring ring_;                          // guarded by mu_
  std::vector<WorkerSlot*> workers_;   // live workers; guarded by mu_
  std::vector<WorkerSlot*> idle_;      // parked workers, most recent last; guarded by mu_
  std::size_t threads_ = 0;            // started and not exited; guarded by mu_
  std::size_t waking_ = 0;             // woken or starting, not yet looking for work; guarded by mu_
  std::size_t peak_ = 0;               // guarded by mu_
  std::uint64_t submitted_ = 0;        // guarded by mu_
  std::uint64_t rejected_ = 0;         // guarded by mu_
  std::uint64_t threadsCreated_ = 0;   // guarded by mu_
  std::uint64_t threadsRetired_ = 0;   // guarded by mu_
  bool accepting_ = true;              // guarded by mu_
  bool draining_ = false;              // guarded by mu_: workers leave once no work is left
  bool shutdownStarted_ = false;       // guarded by mu_
  std::atomic<bool> paused_{false};    // written under mu_; workers also read it between items
  std::atomic<bool> abandon_{false};   // written under mu_: shutdown deadline passed

  std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> cancelled_{0};
  Histogram queueWait_;
  Histogram run_;
  Histogram timerLate_;

  // --- timers ---
  mutable std::mutex timerMu_;
  std::condition_variable timerCv_;
  std::unordered_map<TimerId, Timer> timers_;              // guarded by timerMu_
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

  // ---------------------------------------------------------------- queueing
  SubmitStatus submit(WorkItem&& item, CleanupGroup* group) {
    if (group) group->addMembers(1);
    Entry e{std::move(item.run), std::move(item.onCancel), group, nowNs(), 0};
    SubmitStatus status;
    {
      std::lock_guard lock(mu_);
      if (!accepting_) {
        status = SubmitStatus::ShuttingDown;
      } else if (ring_.size() >= cfg.queueCapacity) {
        status = SubmitStatus::QueueFull;
      } else {
        ring_.pushBack(std::move(e));
        ++submitted_;
        // A worker already on its way will take this item too and pass the word on.
        if (waking_ == 0) signalLocked();
        return SubmitStatus::Ok;
      }
      ++rejected_;
    }
    if (group) group->memberDone();
    return status;
  }

  // Timer firings: not bounded by capacity and accepted until the timer thread is joined.
  void enqueueFirings(std::vector<Entry>& firings) {
    std::lock_guard lock(mu_);
    for (Entry& e : firings) ring_.pushBack(std::move(e));
    submitted_ += firings.size();
    signalLocked();
  }

  // There is unstarted work: get one more thread looking at it, if one can be had.
  // Requires: mu_ held.
  void signalLocked() {
    if (paused_.load(std::memory_order_relaxed) || abandon_.load(std::memory_order_relaxed)) return;
    if (!idle_.empty()) {
      WorkerSlot* w = idle_.back();
      idle_.pop_back();
      w->wake = true;
      ++waking_;
      w->cv.notify_one();  // under mu_: the slot cannot go away before it sees `wake`
    } else if (threads_ < cfg.maxThreads) {
      spawnLocked();
    }
  }

  void wakeAllLocked() {  // Requires: mu_ held.
    for (WorkerSlot* w : idle_) {
      w->wake = true;
      ++waking_;
      w->cv.notify_one();
    }
    idle_.clear();
  }

  void spawnLocked() {  // Requires: mu_ held.
    ++threads_;
    ++waking_;
    try {
      workerGroup.add([this](WorkerContext& ctx) { workerMain(ctx); });
    } catch (...) {  // the OS refused a thread: keep running with what we have
      --threads_;
      --waking_;
      return;
    }
    ++threadsCreated_;
    peak_ = std::max(peak_, threads_);
  }

  // Fills self.local from the shared queue, or steals half of the fullest other batch
  // (its owner is busy running something). Returns the number of items now in it.
  // Requires: mu_ held.
  std::size_t takeWorkLocked(WorkerSlot& self) {
    {
      std::lock_guard own(self.localMu);
      if (!self.local.empty()) return self.local.size();
      if (!ring_.empty()) {
        const std::size_t n = std::min(kBatch, ring_.size());
        for (std::size_t i = 0; i < n; ++i) self.local.pushBack(ring_.popFront());
        return n;
      }
    }
    // Our batch stays empty meanwhile: only its owner (us) and holders of mu_ (us) change it.
    WorkerSlot* victim = nullptr;
    std::size_t most = 0;
    for (WorkerSlot* w : workers_) {
      if (w == &self) continue;
      std::lock_guard l(w->localMu);
      if (w->local.size() > most) {
        most = w->local.size();
        victim = w;
      }
    }
    if (victim == nullptr) return 0;
    Entry stolen[kBatch];
    std::size_t n;
    {
      std::lock_guard theirs(victim->localMu);
      n = (victim->local.size() + 1) / 2;
      for (std::size_t i = 0; i < n; ++i) stolen[n - 1 - i] = victim->local.popBack();
    }
    std::lock_guard own(self.localMu);
    for (std::size_t i = 0; i < n; ++i) self.local.pushBack(std::move(stolen[i]));
    return n;
  }

  // Requires: mu_ held.
  void extractAllLocked(std::vector<Entry>& out, const CleanupGroup* onlyGroup) {
    auto match = [onlyGroup](const Entry& e) { return onlyGroup == nullptr || e.group == onlyGroup; };
    ring_.extractIf(match, out);
    for (WorkerSlot* w : workers_) {
      std::lock_guard l(w->localMu);
      w->local.extractIf(match, out);
    }
  }

  void cancelEntries(std::vector<Entry>& entries) {
    for (Entry& e : entries) {
      if (e.onCancel) {
        try {
          e.onCancel();
        } catch (...) {  // a throwing onCancel still leaves the item cancelled
        }
      }
      e.run = nullptr;
      e.onCancel = nullptr;
      cancelled_.fetch_add(1, std::memory_order_relaxed);
      if (e.group) e.group->memberDone();
    }
    entries.clear();
  }

  // ---------------------------------------------------------------- workers
  void workerMain(WorkerContext& ctx) {
    tlsPool = this;
    WorkerSlot self;
    self.local.reserve(kBatch);
    std::stop_callback onStop(ctx.stopToken(), [this, &self] {
      std::lock_guard lock(mu_);
      self.cv.notify_one();
    });
    std::unique_lock lock(mu_);
    workers_.push_back(&self);
    --waking_;  // counted by spawnLocked()
    const auto idleTimeout = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.idleTimeout);
    std::uint64_t idleSince = nowNs();
    bool retired = false;
    for (;;) {
      if (abandon_.load(std::memory_order_relaxed) || ctx.stopRequested()) break;
      if (!paused_.load(std::memory_order_relaxed)) {
        const std::size_t got = takeWorkLocked(self);
        if (got > 0) {
          // Items left behind (here or in the shared queue) deserve another thread.
          if (got > 1 || !ring_.empty()) signalLocked();
          lock.unlock();
          runBatch(ctx, self);
          lock.lock();
          idleSince = nowNs();
          continue;
        }
        if (draining_) break;
      }
      idle_.push_back(&self);
      ctx.setState(paused_.load(std::memory_order_relaxed) ? WorkerState::Paused : WorkerState::Idle);
      const bool woke = self.cv.wait_until(lock, fromNs(deadlineAfter(idleSince, idleTimeout)),
                                           [&] { return self.wake || ctx.stopRequested(); });
      if (self.wake) {
        self.wake = false;
        --waking_;
      } else {
        idle_.erase(std::find(idle_.begin(), idle_.end(), &self));
      }
      if (!woke) {
        if (threads_ > cfg.minThreads && !draining_ && localEmpty(self)) {
          retired = true;
          break;
        }
        idleSince = nowNs();
      }
    }
    workers_.erase(std::find(workers_.begin(), workers_.end(), &self));
    --threads_;
    if (retired) ++threadsRetired_;
    std::vector<Entry> leftovers;  // only if stopped without shutdown(): never lose an item
    {
      std::lock_guard l(self.localMu);
      self.local.extractIf([](const Entry&) { return true; }, leftovers);
    }
    lock.unlock();
    cancelEntries(leftovers);
    tlsPool = nullptr;
  }

  static bool localEmpty(WorkerSlot& self) {
    std::lock_guard l(self.localMu);
    return self.local.empty();
  }

  void runBatch(WorkerContext& ctx, WorkerSlot& self) {
    ctx.beginWork();
    std::uint64_t ok = 0, bad = 0, ran = 0;
    auto flush = [&] {
      if (ok) completed_.fetch_add(ok, std::memory_order_relaxed);
      if (bad) failed_.fetch_add(bad, std::memory_order_relaxed);
      ok = bad = 0;
    };
    std::uint64_t t = nowNs();  // one clock read per item: each end is the next start
    for (;;) {
      if (paused_.load(std::memory_order_relaxed) || abandon_.load(std::memory_order_relaxed)) break;
      Entry e;
      {
        std::lock_guard l(self.localMu);
        if (self.local.empty()) break;
        e = self.local.popFront();
      }
      const std::uint64_t start = t;
      queueWait_.record(start > e.enqueuedNs ? start - e.enqueuedNs : 0);
      if (e.dueNs != 0) timerLate_.record(start > e.dueNs ? start - e.dueNs : 0);
      tlsGroup = e.group;
      try {
        e.run();
        ++ok;
      } catch (...) {
        ++bad;
      }
      e.run = nullptr;  // captured state dies before the group hears the item is done
      e.onCancel = nullptr;
      tlsGroup = nullptr;
      t = nowNs();
      run_.record(t - start);
      ++ran;
      if (e.group) {
        flush();
        e.group->memberDone();
      }
    }
    flush();
    ctx.endWork(ran);
  }

  // ---------------------------------------------------------------- timers
  TimerId addTimer(Timer t) {
    if (t.group) t.group->addMembers(1);
    {
      std::lock_guard lock(timerMu_);
      if (!timersClosed_) {
        const TimerId id = nextTimerId_++;
        const bool earliest = dueOrder_.empty() || t.dueNs < dueOrder_.begin()->first;
        dueOrder_.emplace(t.dueNs, id);
        timers_.emplace(id, std::move(t));
        if (earliest) timerCv_.notify_one();
        return id;
      }
    }
    if (t.group) t.group->memberDone();
    return 0;
  }

  static void dropTimer(Timer& t) {
    if (t.periodNs == 0 && t.item.onCancel) {
      try {
        t.item.onCancel();
      } catch (...) {
      }
    }
    if (t.group) t.group->memberDone();
  }

  bool cancelTimer(TimerId id) {
    Timer t;
    {
      std::lock_guard lock(timerMu_);
      auto it = timers_.find(id);
      if (it == timers_.end()) return false;
      t = std::move(it->second);
      dueOrder_.erase({t.dueNs, id});
      timers_.erase(it);
      ++timersCancelled_;
    }
    dropTimer(t);
    return true;
  }

  // Cancels the timers of one group (or all, closing the timer table). Returns how many.
  std::size_t cancelTimers(const CleanupGroup* onlyGroup, bool close) {
    std::vector<Timer> dropped;
    {
      std::lock_guard lock(timerMu_);
      if (close) timersClosed_ = true;
      for (auto it = timers_.begin(); it != timers_.end();) {
        if (onlyGroup == nullptr || it->second.group == onlyGroup) {
          dueOrder_.erase({it->second.dueNs, it->first});
          dropped.push_back(std::move(it->second));
          it = timers_.erase(it);
        } else {
          ++it;
        }
      }
      timersCancelled_ += dropped.size();
    }
    for (Timer& t : dropped) dropTimer(t);
    return dropped.size();
  }

  // Moves every timer due at `now` into `out` and re-arms periodic ones on their grid.
  // Requires: timerMu_ held.
  void collectDueLocked(std::uint64_t now, std::vector<Entry>& out) {
    while (!dueOrder_.empty() && dueOrder_.begin()->first <= now) {
      const auto [due, id] = *dueOrder_.begin();
      dueOrder_.erase(dueOrder_.begin());
      auto it = timers_.find(id);
      Timer& t = it->second;
      if (t.periodNs == 0) {
        out.push_back(Entry{std::move(t.item.run), std::move(t.item.onCancel), t.group, now, due});
        timers_.erase(it);
        continue;
      }
      if (t.periodic->inFlight.exchange(true, std::memory_order_acq_rel)) {
        ++timerSkipped_;
      } else {
        if (t.group) t.group->addMembers(1);
        auto st = t.periodic;
        Entry e;
        e.run = [st] {
          struct Clear {
            PeriodicState* s;
            ~Clear() { s->inFlight.store(false, std::memory_order_release); }
          } clear{st.get()};
          st->fn();
        };
        e.onCancel = [st] { st->inFlight.store(false, std::memory_order_release); };
        e.group = t.group;
        e.enqueuedNs = now;
        e.dueNs = due;
        out.push_back(std::move(e));
      }
      // Absolute grid: start + k * period. Grid points already past are skipped, not bunched.
      std::uint64_t next = due + t.periodNs;
      if (next <= now) {
        const std::uint64_t missed = (now - next) / t.periodNs + 1;
        timerSkipped_ += missed;
        next += missed * t.periodNs;
      }
      t.dueNs = next;
      dueOrder_.emplace(next, id);
    }
  }

  void timerMain(WorkerContext& ctx) {
    std::stop_callback onStop(ctx.stopToken(), [this] {
      std::lock_guard lock(timerMu_);
      timerCv_.notify_all();
    });
    std::vector<Entry> firings;
    std::unique_lock lock(timerMu_);
    while (!ctx.stopRequested()) {
      if (timerPaused_ || dueOrder_.empty()) {
        ctx.setState(timerPaused_ ? WorkerState::Paused : WorkerState::Idle);
        timerCv_.wait(lock);
        continue;
      }
      const std::uint64_t first = dueOrder_.begin()->first;
      const std::uint64_t now = nowNs();
      if (first > now) {
        ctx.setState(WorkerState::Idle);
        timerCv_.wait_until(lock, fromNs(first));
        continue;
      }
      ctx.beginWork();
      collectDueLocked(now, firings);
      timersFired_ += firings.size();
      const std::size_t n = firings.size();
      lock.unlock();
      if (n > 0) enqueueFirings(firings);
      firings.clear();
      ctx.endWork(n);
      lock.lock();
    }
  }
};

// -------------------------------------------------------------------- ThreadPool
ThreadPool::ThreadPool(ThreadPoolConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu_);
    for (std::size_t i = 0; i < m.cfg.minThreads; ++i) m.spawnLocked();
  }
  m.timerGroup.add([&m](WorkerContext& ctx) { m.timerMain(ctx); });
}

ThreadPool::~ThreadPool() {
  // Whatever is still running after this is joined by the WorkerGroup destructors.
  shutdown(std::chrono::hours(24 * 365));
}

SubmitStatus ThreadPool::submit(WorkItem item) { return impl_->submit(std::move(item), nullptr); }

SubmitStatus ThreadPool::submit(CleanupGroup& group, WorkItem item) { return impl_->submit(std::move(item), &group); }

TimerId ThreadPool::scheduleAfter(std::chrono::nanoseconds delay, WorkItem item, CleanupGroup* group) {
  Timer t;
  t.dueNs = deadlineAfter(nowNs(), delay);
  t.item = std::move(item);
  t.group = group;
  return impl_->addTimer(std::move(t));
}

TimerId ThreadPool::schedulePeriodic(std::chrono::nanoseconds firstDelay, std::chrono::nanoseconds period,
                                     std::function<void()> fn, CleanupGroup* group) {
  if (period.count() <= 0) return 0;
  Timer t;
  t.dueNs = deadlineAfter(nowNs(), firstDelay);
  t.periodNs = static_cast<std::uint64_t>(period.count());
  t.periodic = std::make_shared<PeriodicState>();
  t.periodic->fn = std::move(fn);
  t.group = group;
  return impl_->addTimer(std::move(t));
}

bool ThreadPool::cancelTimer(TimerId id) { return impl_->cancelTimer(id); }

void ThreadPool::pause() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu_);
    if (m.shutdownStarted_) return;
    m.paused_.store(true, std::memory_order_relaxed);
    m.wakeAllLocked();  // parked workers re-park showing `paused`
  }
  std::lock_guard lock(m.timerMu_);
  m.timerPaused_ = true;
  m.timerCv_.notify_all();
}

void ThreadPool::resume() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu_);
    if (!m.paused_.load(std::memory_order_relaxed)) return;
    m.paused_.store(false, std::memory_order_relaxed);
    const bool anyParked = !m.idle_.empty();
    m.wakeAllLocked();
    if (!anyParked && !m.ring_.empty()) m.signalLocked();
  }
  std::lock_guard lock(m.timerMu_);
  m.timerPaused_ = false;
  m.timerCv_.notify_all();
}

bool ThreadPool::shutdown(std::chrono::nanoseconds deadline) {
  Impl& m = *impl_;
  if (tlsPool == &m) return false;
  const std::uint64_t until = deadlineAfter(nowNs(), deadline);
  bool first;
  {
    std::lock_guard lock(m.mu_);
    first = !m.shutdownStarted_;
    m.shutdownStarted_ = true;
    m.accepting_ = false;
  }
  if (first) {
    m.timerGroup.requestStop();
    while (!m.timerGroup.joinFor(std::chrono::hours(1))) {
    }
    m.cancelTimers(nullptr, /*close=*/true);
    std::lock_guard lock(m.mu_);
    m.paused_.store(false, std::memory_order_relaxed);
    m.draining_ = true;
    m.wakeAllLocked();
    if (m.threads_ == 0 && !m.ring_.empty()) m.spawnLocked();
  }
  if (m.workerGroup.joinFor(remainingUntil(until))) return true;
  std::vector<Entry> leftovers;
  {
    std::lock_guard lock(m.mu_);
    m.abandon_.store(true, std::memory_order_relaxed);
    m.extractAllLocked(leftovers, nullptr);
    m.wakeAllLocked();
  }
  m.cancelEntries(leftovers);
  m.workerGroup.requestStop();
  return m.workerGroup.joinFor(std::max(deadline, std::chrono::nanoseconds(0)));
}

ThreadPoolStats ThreadPool::stats() const {
  const Impl& m = *impl_;
  ThreadPoolStats s;
  s.minThreads = m.cfg.minThreads;
  s.maxThreads = m.cfg.maxThreads;
  s.queueCapacity = m.cfg.queueCapacity;
  {
    std::lock_guard lock(m.mu_);
    s.threads = m.threads_;
    s.idleThreads = m.idle_.size();
    s.peakThreads = m.peak_;
    s.queueDepth = m.ring_.size();
    for (WorkerSlot* w : m.workers_) {
      std::lock_guard l(w->localMu);
      s.queueDepth += w->local.size();
    }
    s.submitted = m.submitted_;
    s.rejected = m.rejected_;
    s.threadsCreated = m.threadsCreated_;
    s.threadsRetired = m.threadsRetired_;
    s.paused = m.paused_.load(std::memory_order_relaxed);
  }
  s.completed = m.completed_.load(std::memory_order_relaxed);
  s.failed = m.failed_.load(std::memory_order_relaxed);
  s.cancelled = m.cancelled_.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(m.timerMu_);
    s.timersActive = m.timers_.size();
    s.timersFired = m.timersFired_;
    s.timersCancelled = m.timersCancelled_;
    s.timerSkipped = m.timerSkipped_;
  }
  s.queueWaitNs = m.queueWait_.summary();
  s.runNs = m.run_.summary();
  s.timerLateNs = m.timerLate_.summary();
  s.workers = m.workerGroup.stats();
  for (WorkerStats& w : m.timerGroup.stats()) s.workers.push_back(std::move(w));
  return s;
}

// -------------------------------------------------------------------- CleanupGroup
CleanupGroup::CleanupGroup(ThreadPool& pool) : pool_(pool) {}

CleanupGroup::~CleanupGroup() { cancelPending(); }

void CleanupGroup::addMembers(std::size_t n) {
  std::lock_guard lock(mu_);
  outstanding_ += n;
}

void CleanupGroup::memberDone(std::size_t n) {
  std::lock_guard lock(mu_);
  outstanding_ -= n;
  if (outstanding_ <= 1) cv_.notify_all();  // 1: a member may be waiting on its own group
}

std::size_t CleanupGroup::waitTargetLocked() const { return tlsGroup == this ? 1 : 0; }

bool CleanupGroup::wait(std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mu_);
  const std::size_t target = waitTargetLocked();
  return cv_.wait_until(lock, fromNs(deadlineAfter(nowNs(), timeout)), [&] { return outstanding_ <= target; });
}

std::size_t CleanupGroup::cancelPending() {
  ThreadPool::Impl& m = *pool_.impl_;
  std::size_t n = m.cancelTimers(this, /*close=*/false);
  std::vector<Entry> queued;
  {
    std::lock_guard lock(m.mu_);
    m.extractAllLocked(queued, this);
  }
  n += queued.size();
  m.cancelEntries(queued);
  std::unique_lock lock(mu_);
  const std::size_t target = waitTargetLocked();
  cv_.wait(lock, [&] { return outstanding_ <= target; });
  return n;
}

std::size_t CleanupGroup::outstanding() const {
  std::lock_guard lock(mu_);
  return outstanding_;
}

}  // namespace gamesrv
