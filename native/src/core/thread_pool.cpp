// ThreadPool and CleanupGroup: construction, pause / resume, shutdown, statistics. The
// queueing protocol is in thread_pool_impl.hpp; queueing, workers and timers live in
// thread_pool_queue.cpp, thread_pool_worker.cpp and thread_pool_timers.cpp.
#include <bit>

#include "gamesrv/platform/native_thread_pool.hpp"
#include "gamesrv/thread_pool_backend.hpp"
#include "thread_pool_impl.hpp"

namespace gamesrv {

using namespace detail;

namespace {

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

ThreadPool::Impl::Impl(ThreadPoolConfig c)
    : cfg(normalized(std::move(c))),
      ring_(std::max<std::size_t>(2, std::bit_ceil(std::min(cfg.queueCapacity, kMaxRingCells)))),
      workerGroup(cfg.namePrefix),
      timerGroup(timerPrefix(cfg.namePrefix)) {
  ctl_.store(kSpawnRoom);  // no threads yet, maxThreads >= 1
}

double ThreadPool::Impl::nsPerTick() const { return TscClock::nsPerTick(); }

// -------------------------------------------------------------------- backends
const char* toString(ThreadPoolBackend b) noexcept {
  switch (b) {
    case ThreadPoolBackend::Portable: return "portable";
    case ThreadPoolBackend::Native: return "win32-threadpool";
  }
  return "?";
}

std::vector<ThreadPoolBackend> availableThreadPoolBackends() {
  std::vector<ThreadPoolBackend> v{ThreadPoolBackend::Portable};
  if (platform::nativeThreadPoolAvailable()) v.push_back(ThreadPoolBackend::Native);
  return v;
}

ThreadPoolConfig ThreadPool::Backend::normalize(ThreadPoolConfig c) { return normalized(std::move(c)); }

void ThreadPool::Backend::setRunningGroup(const CleanupGroup* g) noexcept { tlsGroup = g; }

// -------------------------------------------------------------------- ThreadPool
ThreadPool::ThreadPool(ThreadPoolConfig config) {
  if (config.backend == ThreadPoolBackend::Native) {
    backend_ = platform::makeNativeThreadPool(config);
    return;
  }
  impl_ = std::make_unique<Impl>(std::move(config));
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu_);
    for (std::size_t i = 0; i < m.cfg.minThreads; ++i) m.spawnLocked();
  }
  m.timerGroup.add([&m](WorkerContext& ctx) { m.timerMain(ctx); });
}

ThreadPool::~ThreadPool() {
  if (backend_) return;  // the backend's destructor shuts it down
  // Whatever is still running after this is joined by the WorkerGroup destructors.
  shutdown(std::chrono::hours(24 * 365));
}

void ThreadPool::pause() {
  if (backend_) return backend_->pause();
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu_);
    if (m.shutdownStarted_) return;
    m.setFlagLocked(kPaused, true);
    m.wakeAllLocked();  // parked workers re-park showing `paused`
  }
  std::lock_guard lock(m.timerMu_);
  m.timerPaused_ = true;
  m.timerCv_.notify_all();
}

void ThreadPool::resume() {
  if (backend_) return backend_->resume();
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu_);
    if (!(m.ctl_.load() & kPaused)) return;
    m.setFlagLocked(kPaused, false);
    const bool anyParked = !m.idle_.empty();
    m.wakeAllLocked();
    if (WorkerSlot* w = !anyParked && !m.nothingInFlight() ? m.signalLocked() : nullptr) w->cv.notify_one();
  }
  std::lock_guard lock(m.timerMu_);
  m.timerPaused_ = false;
  m.timerCv_.notify_all();
}

bool ThreadPool::shutdown(std::chrono::nanoseconds deadline) {
  if (backend_) return backend_->shutdown(deadline);
  Impl& m = *impl_;
  if (tlsPool == &m) return false;
  const std::uint64_t until = deadlineAfter(nowNs(), deadline);
  bool first;
  {
    std::lock_guard lock(m.mu_);
    first = !m.shutdownStarted_;
    m.shutdownStarted_ = true;
    m.setFlagLocked(kClosed, true);  // seq_cst: pairs with admit()
  }
  if (first) {
    m.timerGroup.requestStop();
    while (!m.timerGroup.joinFor(std::chrono::hours(1))) {
    }
    m.cancelTimers(nullptr, /*close=*/true);
    std::lock_guard lock(m.mu_);
    m.setFlagLocked(kPaused, false);
    m.setFlagLocked(kDraining, true);
    m.wakeAllLocked();
    if (m.threads_ == 0 && !m.nothingInFlight()) m.spawnLocked();
  }
  if (m.workerGroup.joinFor(remainingUntil(until))) return true;
  std::vector<Entry> leftovers;
  {
    std::lock_guard lock(m.mu_);
    m.setFlagLocked(kAbandon, true);  // seq_cst: pairs with afterFastPush()
    m.extractAllLocked(leftovers, nullptr);
    m.wakeAllLocked();
  }
  m.cancelEntries(leftovers);
  m.cancelFastLane();
  m.workerGroup.requestStop();
  return m.workerGroup.joinFor(std::max(deadline, std::chrono::nanoseconds(0)));
}

ThreadPoolStats ThreadPool::stats() const {
  if (backend_) return backend_->stats();
  const Impl& m = *impl_;
  ThreadPoolStats s;
  std::vector<const Histogram*> queueWait, run;  // slots are never freed: retired workers' samples still count
  s.minThreads = m.cfg.minThreads;
  s.maxThreads = m.cfg.maxThreads;
  s.queueCapacity = m.cfg.queueCapacity;
  {
    std::lock_guard lock(m.mu_);
    s.threads = m.threads_;
    s.idleThreads = m.idle_.size();
    s.peakThreads = m.peak_;
    const std::uint64_t retired = m.retiredCount();  // first: admitted is then at least as large
    const std::uint64_t admitted = m.admitted_.load();
    s.queueDepth = static_cast<std::size_t>(admitted - retired) + m.rangeItems();
    for (WorkerSlot* w : m.workers_) {
      std::lock_guard l(w->localMu);
      s.queueDepth += w->localSize();
    }
    for (const WorkerSlot& w : m.slotStore_) {
      queueWait.push_back(&w.queueWait);
      run.push_back(&w.run);
    }
    s.rejected = m.rejected_.load();
    s.submitted = admitted - s.rejected;
    s.threadsCreated = m.threadsCreated_;
    s.threadsRetired = m.threadsRetired_;
    s.paused = (m.ctl_.load() & kPaused) != 0;
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
  const double scale = m.nsPerTick();
  s.queueWaitNs = Histogram::merged(queueWait, scale);
  s.runNs = Histogram::merged(run, scale);
  s.timerLateNs = m.timerLate_.summary();
  s.workers = m.workerGroup.stats();
  for (WorkerStats& w : m.timerGroup.stats()) s.workers.push_back(std::move(w));
  return s;
}

// -------------------------------------------------------------------- CleanupGroup
CleanupGroup::CleanupGroup(ThreadPool& pool) : pool_(pool) {}

CleanupGroup::~CleanupGroup() { cancelPending(); }

void CleanupGroup::addMembers(std::size_t n) { added_.fetch_add(n); }

void CleanupGroup::memberDone(std::size_t n) {
  const std::uint64_t add = 2 * static_cast<std::uint64_t>(n);
  std::uint64_t cur = done_.load();
  for (;;) {
    if (cur & 1) {  // someone waits: count under mu_, where its predicate reads the count
      std::lock_guard lock(mu_);
      const std::uint64_t done = (done_.fetch_add(add) + add) >> 1;
      if (added_.load() - done <= 1) cv_.notify_all();  // 1: a member may be waiting on its own group
      return;
    }
    if (done_.compare_exchange_weak(cur, cur + add)) return;  // nobody waits: never touch the group again
  }
}

std::size_t CleanupGroup::pendingLoad() const noexcept {
  const std::uint64_t done = done_.load() >> 1;  // first: every add we then read came before it
  return static_cast<std::size_t>(added_.load() - done);
}

std::size_t CleanupGroup::waitTarget() const { return tlsGroup == this ? 1 : 0; }

bool CleanupGroup::waitUntil(std::chrono::steady_clock::time_point deadline) {
  const std::size_t target = waitTarget();
  std::unique_lock lock(mu_);
  if (waiters_++ == 0) done_.fetch_or(1);
  const bool done = cv_.wait_until(lock, deadline, [&] { return pendingLoad() <= target; });
  if (--waiters_ == 0) done_.fetch_and(~std::uint64_t{1});
  return done;
}

bool CleanupGroup::wait(std::chrono::nanoseconds timeout) {
  return waitUntil(fromNs(deadlineAfter(nowNs(), timeout)));
}

std::size_t CleanupGroup::cancelPending() {
  if (pool_.backend_) {
    const std::size_t cancelled = pool_.backend_->cancelGroup(*this);
    waitUntil(fromNs(kFarFutureNs));
    return cancelled;
  }
  ThreadPool::Impl& m = *pool_.impl_;
  std::size_t n = m.cancelTimers(this, /*close=*/false);
  std::vector<Entry> queued;
  {
    std::lock_guard lock(m.mu_);
    m.extractAllLocked(queued, this);
  }
  n += queued.size();
  m.cancelEntries(queued);
  waitUntil(fromNs(kFarFutureNs));
  return n;
}

std::size_t CleanupGroup::outstanding() const { return pendingLoad(); }

}  // namespace gamesrv
