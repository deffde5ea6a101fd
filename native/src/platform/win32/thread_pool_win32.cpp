// ThreadPoolBackend::Native on Windows: construction, work items, pause / resume,
// shutdown and statistics. The design is described in thread_pool_win32.hpp; timers
// are in thread_pool_win32_timers.cpp.
#include "thread_pool_win32.hpp"

#include <algorithm>
#include <system_error>

#include "gamesrv/clock.hpp"
#include "gamesrv/platform/thread.hpp"

namespace gamesrv::platform {

bool nativeThreadPoolAvailable() noexcept { return true; }

std::unique_ptr<ThreadPool::Backend> makeNativeThreadPool(const ThreadPoolConfig& config) {
  return std::make_unique<win32::NativePool>(config);
}

namespace win32 {

namespace {

thread_local const NativePool* tlsPool = nullptr;  // the pool whose callback runs on this thread
thread_local ThreadRec* tlsThread = nullptr;       // this thread's record, if it ran one of ours
thread_local const NativePool* tlsThreadOwner = nullptr;

constexpr auto kWarmUpLimit = std::chrono::seconds(5);

std::uint64_t deadlineAfter(std::uint64_t now, std::chrono::nanoseconds d) noexcept {
  constexpr std::uint64_t kFar = std::uint64_t{1} << 62;
  if (d.count() <= 0) return now;
  const auto add = static_cast<std::uint64_t>(d.count());
  return add >= kFar - now ? kFar : now + add;
}

[[noreturn]] void throwLastError(const char* what) {
  throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(), what);
}

}  // namespace

NativePool::NativePool(const ThreadPoolConfig& config) : cfg_(normalize(config)) {
  pool_ = ::CreateThreadpool(nullptr);
  if (!pool_) throwLastError("CreateThreadpool");
  cleanup_ = ::CreateThreadpoolCleanupGroup();
  if (!cleanup_) {
    ::CloseThreadpool(pool_);
    throwLastError("CreateThreadpoolCleanupGroup");
  }
  ::SetThreadpoolThreadMaximum(pool_, static_cast<DWORD>(cfg_.maxThreads));
  ::InitializeThreadpoolEnvironment(&env_);
  ::SetThreadpoolCallbackPool(&env_, pool_);
  ::SetThreadpoolCallbackCleanupGroup(&env_, cleanup_, nullptr);
  work_ = ::CreateThreadpoolWork(&NativePool::workCallback, this, &env_);
  if (!work_ || !::SetThreadpoolThreadMinimum(pool_, static_cast<DWORD>(cfg_.minThreads))) {
    const DWORD err = ::GetLastError();
    ::CloseThreadpoolCleanupGroupMembers(cleanup_, TRUE, nullptr);
    ::CloseThreadpoolCleanupGroup(cleanup_);
    ::CloseThreadpool(pool_);
    ::DestroyThreadpoolEnvironment(&env_);
    throw std::system_error(static_cast<int>(err), std::system_category(), "CreateThreadpoolWork");
  }
  warmUp();
}

NativePool::~NativePool() {
  shutdown(std::chrono::hours(24 * 365));
  finish(std::chrono::hours(24 * 365));  // if an item outlived shutdown(): waits for it
  std::lock_guard lock(threadMu_);
  for (ThreadRec& t : threads_)
    if (t.handle) ::CloseHandle(t.handle);
}

// minThreads callbacks that only return once all have arrived: each on its own thread,
// so those threads are registered (named) before the constructor returns.
void NativePool::warmUp() {
  if (cfg_.minThreads == 0) return;
  PTP_WORK warm = ::CreateThreadpoolWork(&NativePool::warmUpCallback, this, &env_);
  if (!warm) return;  // names then come with the first items
  for (std::size_t i = 0; i < cfg_.minThreads; ++i) ::SubmitThreadpoolWork(warm);
  ::WaitForThreadpoolWorkCallbacks(warm, FALSE);
  ::CloseThreadpoolWork(warm);
}

void CALLBACK NativePool::warmUpCallback(PTP_CALLBACK_INSTANCE instance, PVOID context, PTP_WORK) {
  auto& self = *static_cast<NativePool*>(context);
  self.currentThread();
  ::CallbackMayRunLong(instance);  // the others need threads of their own to arrive
  std::unique_lock lock(self.warmMu_);
  if (++self.warmArrived_ >= self.cfg_.minThreads) self.warmCv_.notify_all();
  self.warmCv_.wait_for(lock, kWarmUpLimit, [&] { return self.warmArrived_ >= self.cfg_.minThreads; });
}

ThreadRec& NativePool::currentThread() {
  if (tlsThreadOwner == this) [[likely]]
    return *tlsThread;
  std::lock_guard lock(threadMu_);
  pollExitsLocked();
  ThreadRec& t = threads_.emplace_back();
  t.name = cfg_.namePrefix + "-" + std::to_string(threads_.size() - 1);
  t.tid = ::GetCurrentThreadId();
  t.handle = ::OpenThread(SYNCHRONIZE | THREAD_QUERY_LIMITED_INFORMATION, FALSE, ::GetCurrentThreadId());
  setCurrentThreadName(t.name);
  peak_ = std::max(peak_, ++alive_);
  tlsThread = &t;
  tlsThreadOwner = this;
  return t;
}

void NativePool::pollExitsLocked() const {
  for (const ThreadRec& t : threads_) {
    if (t.exited || !t.handle || ::WaitForSingleObject(t.handle, 0) != WAIT_OBJECT_0) continue;
    const_cast<ThreadRec&>(t).exited = true;
    --alive_;
    if (!stopping_) ++threadsRetired_;
  }
}

// ------------------------------------------------------------------- work items
void NativePool::submitTicketLocked() {
  ++tickets_;
  ::SubmitThreadpoolWork(work_);
}

SubmitStatus NativePool::submit(WorkItem&& item, CleanupGroup* group) {
  std::lock_guard lock(mu_);
  if (closed_ || queue_.size() >= cfg_.queueCapacity) {
    ++rejected_;
    return closed_ ? SubmitStatus::ShuttingDown : SubmitStatus::QueueFull;
  }
  if (group) addMembers(*group, 1);
  queue_.push_back(QueuedItem{std::move(item.run), std::move(item.onCancel), group, nowNs(), 0});
  ++submitted_;
  if (!paused_ && tickets_ < queue_.size()) submitTicketLocked();
  return SubmitStatus::Ok;
}

// Timer firings are not bounded by capacity (at most one per periodic timer is pending).
void NativePool::enqueueFiringLocked(QueuedItem&& item) {
  queue_.push_back(std::move(item));
  ++submitted_;
  if (!paused_ && tickets_ < queue_.size()) submitTicketLocked();
}

void CALLBACK NativePool::workCallback(PTP_CALLBACK_INSTANCE instance, PVOID context, PTP_WORK) {
  static_cast<NativePool*>(context)->runOne(instance);
}

void NativePool::runOne(PTP_CALLBACK_INSTANCE instance) {
  ThreadRec& self = currentThread();
  QueuedItem item;
  bool more;
  {
    std::lock_guard lock(mu_);
    --tickets_;
    if (paused_ || queue_.empty()) return;
    item = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    more = !queue_.empty();
  }
  if (more) ::CallbackMayRunLong(instance);  // all threads busy? the OS adds one (up to max)
  tlsPool = this;
  self.busy.store(true, std::memory_order_relaxed);
  const std::uint64_t start = nowNs();
  queueWait_.record(start > item.enqueuedNs ? start - item.enqueuedNs : 0);
  if (item.dueNs != 0) timerLate_.record(start > item.dueNs ? start - item.dueNs : 0);
  setRunningGroup(item.group);
  bool ok = true;
  try {
    item.run();  // an empty run throws std::bad_function_call: failed
  } catch (...) {
    ok = false;
  }
  setRunningGroup(nullptr);
  item.run = nullptr;  // captured state dies before the group hears the item is done
  item.onCancel = nullptr;
  const std::uint64_t end = nowNs();
  run_.record(end - start);
  (ok ? completed_ : failed_).fetch_add(1, std::memory_order_relaxed);
  self.items.fetch_add(1, std::memory_order_relaxed);
  self.busyNs.fetch_add(end - start, std::memory_order_relaxed);
  self.cpuNs.store(currentThreadCpuNs(), std::memory_order_relaxed);
  self.busy.store(false, std::memory_order_relaxed);
  if (item.group) memberDone(*item.group);
  bool reap;
  {
    std::lock_guard lock(mu_);
    if (--running_ == 0 && queue_.empty()) drained_.notify_all();
    reap = haveRetired_;
  }
  if (reap) reapRetired();
  tlsPool = nullptr;
}

void NativePool::cancelItems(std::vector<QueuedItem>& items) {
  for (QueuedItem& e : items) {
    if (e.onCancel) {
      try {
        e.onCancel();
      } catch (...) {  // a throwing onCancel still leaves the item cancelled
      }
    }
    e.run = nullptr;
    e.onCancel = nullptr;
    if (e.group) memberDone(*e.group);
  }
  items.clear();
}

std::size_t NativePool::cancelGroup(CleanupGroup& group) {
  std::size_t n = cancelTimers(&group);
  std::vector<QueuedItem> out;
  {
    std::lock_guard lock(mu_);
    auto keep = std::stable_partition(queue_.begin(), queue_.end(), [&](const QueuedItem& e) { return e.group != &group; });
    std::move(keep, queue_.end(), std::back_inserter(out));
    queue_.erase(keep, queue_.end());
    cancelled_ += out.size();
  }
  n += out.size();
  cancelItems(out);
  return n;
}

// ------------------------------------------------------------------- pause, shutdown
void NativePool::pause() {
  std::lock_guard lock(mu_);
  if (!closed_) paused_ = true;
}

void NativePool::resume() {
  std::lock_guard lock(mu_);
  if (!paused_) return;
  paused_ = false;
  std::vector<TimerRec*> held;
  for (auto& [id, t] : timers_)
    if (t->heldDue) held.push_back(t.get());
  const std::uint64_t now = nowNs();
  for (TimerRec* t : held) {
    t->heldDue = false;
    fireLocked(*t, now);
  }
  while (tickets_ < queue_.size()) submitTicketLocked();
}

bool NativePool::shutdown(std::chrono::nanoseconds deadline) {
  if (tlsPool == this) return false;
  deadline = std::max(deadline, std::chrono::nanoseconds(0));
  const std::uint64_t until = deadlineAfter(nowNs(), deadline);
  bool first;
  {
    std::lock_guard lock(mu_);
    first = !closed_;
    closed_ = true;
  }
  if (first) {
    cancelTimers(nullptr);
    std::lock_guard lock(mu_);
    paused_ = false;  // queued items drain
    while (tickets_ < queue_.size()) submitTicketLocked();
  }
  std::unique_lock lock(mu_);
  auto idle = [&] { return queue_.empty() && running_ == 0; };
  if (!drained_.wait_until(lock, fromNs(until), idle)) {
    std::vector<QueuedItem> leftovers(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    cancelled_ += leftovers.size();
    lock.unlock();
    cancelItems(leftovers);
    lock.lock();
    if (!drained_.wait_until(lock, fromNs(deadlineAfter(nowNs(), deadline)), idle)) return false;
  }
  lock.unlock();
  return finish(deadline);
}

// Closes every TP object (the cleanup group waits for callbacks still on their way out)
// and the pool, then waits up to `threadBudget` for the pool's threads to exit.
bool NativePool::finish(std::chrono::nanoseconds threadBudget) {
  {
    std::lock_guard reap(reapMu_);
    if (!finished_) {
      {
        std::lock_guard lock(threadMu_);
        stopping_ = true;
      }
      ::CloseThreadpoolCleanupGroupMembers(cleanup_, TRUE, nullptr);  // work_ and every TP timer
      ::CloseThreadpoolCleanupGroup(cleanup_);
      ::CloseThreadpool(pool_);
      ::DestroyThreadpoolEnvironment(&env_);
      finished_ = true;
      std::lock_guard lock(mu_);
      timers_.clear();
      retired_.clear();
      haveRetired_ = false;
    }
  }
  const std::uint64_t until = deadlineAfter(nowNs(), threadBudget);
  std::lock_guard lock(threadMu_);
  for (ThreadRec& t : threads_) {
    if (t.exited || !t.handle) continue;
    const std::uint64_t now = nowNs();
    const DWORD ms = static_cast<DWORD>(std::min<std::uint64_t>(until > now ? (until - now + 999'999) / 1'000'000 : 0, INFINITE - 1));
    if (::WaitForSingleObject(t.handle, ms) != WAIT_OBJECT_0) return false;
    t.exited = true;
    --alive_;
  }
  return true;
}

ThreadPoolStats NativePool::stats() const {
  ThreadPoolStats s;
  s.minThreads = cfg_.minThreads;
  s.maxThreads = cfg_.maxThreads;
  s.queueCapacity = cfg_.queueCapacity;
  bool paused;
  {
    std::lock_guard lock(mu_);
    s.queueDepth = queue_.size();
    s.submitted = submitted_;
    s.rejected = rejected_;
    s.cancelled = cancelled_;
    s.paused = paused = paused_;
    s.timersActive = timers_.size();
    s.timersFired = timersFired_;
    s.timersCancelled = timersCancelled_;
    s.timerSkipped = timerSkipped_;
  }
  s.completed = completed_.load(std::memory_order_relaxed);
  s.failed = failed_.load(std::memory_order_relaxed);
  s.queueWaitNs = queueWait_.summary();
  s.runNs = run_.summary();
  s.timerLateNs = timerLate_.summary();
  std::lock_guard lock(threadMu_);
  pollExitsLocked();
  s.threads = alive_;
  s.peakThreads = peak_;
  s.threadsCreated = threads_.size();
  s.threadsRetired = threadsRetired_;
  std::size_t busy = 0;
  for (const ThreadRec& t : threads_) {
    if (t.exited) continue;
    WorkerStats w;
    w.name = t.name;
    w.tid = t.tid;
    const bool isBusy = t.busy.load(std::memory_order_relaxed);
    busy += isBusy;
    w.state = isBusy ? WorkerState::Busy : paused ? WorkerState::Paused : WorkerState::Idle;
    w.items = t.items.load(std::memory_order_relaxed);
    w.busyNs = t.busyNs.load(std::memory_order_relaxed);
    w.cpuNs = t.cpuNs.load(std::memory_order_relaxed);
    s.workers.push_back(std::move(w));
  }
  s.idleThreads = alive_ - std::min(alive_, busy);
  return s;
}

}  // namespace win32
}  // namespace gamesrv::platform
