// ThreadPool: one shared FIFO under `mu_`, per-worker batches under their own small
// lock, one timer thread over a deadline-ordered set. See thread_pool.hpp for the
// contract; the notes here say how it is kept.
//
// Lock order: Impl::mu_ -> WorkerSlot::localMu (one at a time);
// Impl::timerMu_ -> CleanupGroup::mu_. mu_ and timerMu_ are never held together.
// Callbacks (run / onCancel) never run under a pool lock.
#include "gamesrv/thread_pool.hpp"

#include <algorithm>
#include <deque>
#include <set>
#include <unordered_map>
#include <utility>

#include "gamesrv/clock.hpp"

namespace gamesrv {
namespace {

constexpr std::size_t kBatch = 32;  // items a worker takes per visit to the shared queue
constexpr std::uint64_t kFarFutureNs = std::uint64_t{1} << 62;
constexpr int kLockSpins = 64;  // try_lock attempts before blocking on a briefly held lock

// Per-item timestamps come from the CPU's time-stamp counter where it is one instruction
// (x86-64: invariant and synchronized across cores on anything this runs on), else from
// the steady clock. Tick intervals are converted to ns when stats are read.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
constexpr bool kTicksAreNs = false;
inline std::uint64_t ticks() noexcept { return __builtin_ia32_rdtsc(); }
#else
constexpr bool kTicksAreNs = true;
inline std::uint64_t ticks() noexcept { return nowNs(); }
#endif

inline void cpuRelax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Adaptive acquisition: the pool's locks are held for tens of nanoseconds, far less
// than a futex sleep and wake-up costs the waiter.
void lockAdaptive(std::unique_lock<std::mutex>& lock) {
  for (int i = 0; i < kLockSpins; ++i) {
    if (lock.try_lock()) return;
    cpuRelax();
  }
  lock.lock();
}

// What only cancellable items and timer firings carry: out of line, so the common
// Entry stays at 56 bytes and a queued item costs less than a cache line to hand over.
struct EntryExtra {
  std::function<void()> onCancel;
  std::uint64_t dueNs = 0;  // timer firings: when the timer fell due; 0 otherwise
};

struct Entry {
  std::function<void()> run;
  CleanupGroup* group = nullptr;
  std::uint64_t enqueuedTicks = 0;
  std::unique_ptr<EntryExtra> extra;

  static std::unique_ptr<EntryExtra> makeExtra(std::function<void()>&& onCancel, std::uint64_t dueNs) {
    if (!onCancel && dueNs == 0) return nullptr;
    return std::make_unique<EntryExtra>(EntryExtra{std::move(onCancel), dueNs});
  }
};

// One worker's share of a histogram (gamesrv::Histogram's buckets). Only its worker
// writes it, so a record is plain loads and stores, no locked instruction and no cache
// line shared with another worker; stats() adds the shards up.
struct HistShard {
  std::atomic<std::uint64_t> buckets[Histogram::kBuckets] = {};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> sum{0};
  std::atomic<std::uint64_t> min{~std::uint64_t{0}};
  std::atomic<std::uint64_t> max{0};

  void record(std::uint64_t v) noexcept {
    bump(buckets[Histogram::bucketOf(v)], 1);
    bump(count, 1);
    bump(sum, v);
    if (v < min.load(std::memory_order_relaxed)) min.store(v, std::memory_order_relaxed);
    if (v > max.load(std::memory_order_relaxed)) max.store(v, std::memory_order_relaxed);
  }
  static void bump(std::atomic<std::uint64_t>& a, std::uint64_t d) noexcept {
    a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
};

// Sum of shards, summarized like Histogram::summary(), values scaled by `scale`.
class HistMerge {
 public:
  void add(const HistShard& h) {
    for (int i = 0; i < Histogram::kBuckets; ++i) buckets_[i] += h.buckets[i].load(std::memory_order_relaxed);
    count_ += h.count.load(std::memory_order_relaxed);
    sum_ += h.sum.load(std::memory_order_relaxed);
    min_ = std::min(min_, h.min.load(std::memory_order_relaxed));
    max_ = std::max(max_, h.max.load(std::memory_order_relaxed));
  }
  HistogramSummary summary(double scale) const {
    HistogramSummary s;
    std::uint64_t total = 0;
    for (std::uint64_t b : buckets_) total += b;
    if (total == 0) return s;
    auto scaled = [scale](std::uint64_t v) { return static_cast<std::uint64_t>(static_cast<double>(v) * scale); };
    s.count = total;
    s.mean = static_cast<double>(sum_) * scale / static_cast<double>(count_ ? count_ : 1);
    s.min = scaled(min_);
    s.max = scaled(max_);
    const double qs[4] = {0.50, 0.90, 0.99, 0.999};
    std::uint64_t* outs[4] = {&s.p50, &s.p90, &s.p99, &s.p999};
    std::uint64_t seen = 0;
    int qi = 0;
    for (int i = 0; i < Histogram::kBuckets && qi < 4; ++i) {
      seen += buckets_[i];
      while (qi < 4) {
        auto rank = static_cast<std::uint64_t>(qs[qi] * static_cast<double>(total) + 0.5);
        rank = std::clamp<std::uint64_t>(rank, 1, total);
        if (seen < rank) break;
        *outs[qi++] = scaled(std::min(Histogram::bucketUpper(i), max_));
      }
    }
    return s;
  }

 private:
  std::uint64_t buckets_[Histogram::kBuckets] = {};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
  std::uint64_t max_ = 0;
};

// A run of up to kBatch queued items. The shared queue is a list of chunks and a worker
// takes a whole chunk per visit, so its time under mu_ does not grow with the batch.
struct Chunk {
  Entry items[kBatch];
  std::uint32_t head = 0;  // items [head, tail) are queued
  std::uint32_t tail = 0;

  std::size_t size() const noexcept { return tail - head; }
  bool empty() const noexcept { return head == tail; }
  bool full() const noexcept { return tail == kBatch; }
  void push(Entry&& e) { items[tail++] = std::move(e); }
  void emplace(std::function<void()>&& run, CleanupGroup* group, std::uint64_t enqueuedTicks,
               std::unique_ptr<EntryExtra>&& extra) {
    Entry& e = items[tail++];
    e.run = std::move(run);
    e.group = group;
    e.enqueuedTicks = enqueuedTicks;
    e.extra = std::move(extra);
  }
  Entry popFront() { return std::move(items[head++]); }
  Entry popBack() { return std::move(items[--tail]); }
  // Moves the entries matching `pred` to `out`, keeping the others in order. Returns how many.
  template <class Pred>
  std::size_t extractIf(Pred& pred, std::vector<Entry>& out) {
    std::uint32_t kept = head;
    for (std::uint32_t i = head; i < tail; ++i) {
      if (pred(items[i])) {
        out.push_back(std::move(items[i]));
      } else {
        if (kept != i) items[kept] = std::move(items[i]);
        ++kept;
      }
    }
    for (std::uint32_t i = kept; i < tail; ++i) items[i] = Entry{};
    const std::size_t n = tail - kept;
    tail = kept;
    return n;
  }
};
using ChunkPtr = std::unique_ptr<Chunk>;

// The shared FIFO. Drained chunks come back through recycle(): a warm queue allocates nothing.
class ChunkQueue {
 public:
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  void push(Entry&& e) {
    if (chunks_.empty() || chunks_.back()->full()) chunks_.push_back(fresh());
    chunks_.back()->push(std::move(e));
    ++size_;
  }
  // push() without building an Entry first: the submit path moves each callable once.
  void emplace(std::function<void()>&& run, CleanupGroup* group, std::uint64_t enqueuedTicks,
               std::unique_ptr<EntryExtra>&& extra) {
    if (chunks_.empty() || chunks_.back()->full()) chunks_.push_back(fresh());
    chunks_.back()->emplace(std::move(run), group, enqueuedTicks, std::move(extra));
    ++size_;
  }
  ChunkPtr popFront() {
    ChunkPtr c = std::move(chunks_.front());
    chunks_.pop_front();
    size_ -= c->size();
    return c;
  }
  ChunkPtr fresh() {
    if (spare_.empty()) return std::make_unique<Chunk>();
    ChunkPtr c = std::move(spare_.back());
    spare_.pop_back();
    return c;
  }
  void recycle(ChunkPtr c) {  // `c` must be drained
    if (!c || spare_.size() >= kSpareChunks) return;
    c->head = c->tail = 0;
    spare_.push_back(std::move(c));
  }
  template <class Pred>
  void extractIf(Pred& pred, std::vector<Entry>& out) {
    for (auto it = chunks_.begin(); it != chunks_.end();) {
      size_ -= (*it)->extractIf(pred, out);
      if ((*it)->empty()) {
        recycle(std::move(*it));
        it = chunks_.erase(it);
      } else {
        ++it;
      }
    }
  }

 private:
  static constexpr std::size_t kSpareChunks = 64;
  std::deque<ChunkPtr> chunks_;
  std::vector<ChunkPtr> spare_;
  std::size_t size_ = 0;
};

// One pool thread's parking spot and the chunk it took from the shared queue. Slots are
// recycled, never freed while the pool lives, so a wake may be sent after unlocking.
struct WorkerSlot {
  std::condition_variable cv;
  bool wake = false;   // guarded by Impl::mu_
  std::mutex localMu;  // after Impl::mu_ in lock order
  ChunkPtr local;      // guarded by localMu; changed by others only while they also hold mu_
  HistShard queueWait; // in ticks; written by the slot's current worker only
  HistShard run;       // in ticks; written by the slot's current worker only

  std::size_t localSize() const noexcept { return local ? local->size() : 0; }
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
  ChunkQueue ring_;                    // guarded by mu_
  std::deque<WorkerSlot> slotStore_;   // guarded by mu_
  std::vector<WorkerSlot*> freeSlots_;  // guarded by mu_
  std::vector<WorkerSlot*> workers_;   // live workers; guarded by mu_
  std::vector<WorkerSlot*> idle_;      // parked workers, most recent last; guarded by mu_
  std::size_t threads_ = 0;            // started and not exited; guarded by mu_
  std::size_t waking_ = 0;             // woken or starting, not yet looking for work; guarded by mu_
  std::size_t holders_ = 0;            // workers that took more than one item and are not back; guarded by mu_
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
  Histogram timerLate_;  // queue-wait and run time live in the worker slots
  const std::uint64_t originTicks_ = ticks();  // with originNs_: calibrates ticks -> ns
  const std::uint64_t originNs_ = nowNs();

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

  // Measured over the pool's life so far; the pairs are read back to back, so for any
  // age past a few microseconds the error is far below the histograms' 6% buckets.
  double nsPerTick() const {
    if constexpr (kTicksAreNs) return 1.0;
    std::uint64_t t0, t1, ns;
    int tries = 0;
    do {  // a pair straddling a preemption is useless: read again
      t0 = ticks();
      ns = nowNs();
      t1 = ticks();
    } while (t1 - t0 > 20'000 && ++tries < 4);
    const double dt = static_cast<double>((t0 + (t1 - t0) / 2) - originTicks_);
    const double dns = static_cast<double>(ns - originNs_);
    if (dt <= 0 || dns <= 0) return 1.0;
    return std::clamp(dns / dt, 0.01, 100.0);
  }

  // ---------------------------------------------------------------- queueing
  SubmitStatus submit(WorkItem&& item, CleanupGroup* group) {
    if (group) group->addMembers(1);
    std::unique_ptr<EntryExtra> extra = Entry::makeExtra(std::move(item.onCancel), 0);
    const std::uint64_t now = ticks();
    SubmitStatus status;
    {
      std::unique_lock lock(mu_, std::defer_lock);
      lockAdaptive(lock);
      if (!accepting_) {
        status = SubmitStatus::ShuttingDown;
      } else if (ring_.size() >= cfg.queueCapacity) {
        status = SubmitStatus::QueueFull;
      } else {
        ring_.emplace(std::move(item.run), group, now, std::move(extra));
        ++submitted_;
        // A worker already on its way takes this one too and passes the word on.
        WorkerSlot* wake = waking_ == 0 ? signalLocked() : nullptr;
        lock.unlock();
        if (wake) wake->cv.notify_one();
        return SubmitStatus::Ok;
      }
      ++rejected_;
    }
    if (group) group->memberDone();
    return status;
  }

  // Timer firings: not bounded by capacity and accepted until the timer thread is joined.
  void enqueueFirings(std::vector<Entry>& firings) {
    std::unique_lock lock(mu_);
    for (Entry& e : firings) ring_.push(std::move(e));
    submitted_ += firings.size();
    WorkerSlot* wake = signalLocked();
    lock.unlock();
    if (wake) wake->cv.notify_one();
  }

  // There is unstarted work: get one more thread looking at it, if one can be had.
  // Returns the parked worker chosen to wake: notify its cv (after unlocking is fine).
  // Requires: mu_ held.
  WorkerSlot* signalLocked() {
    if (paused_.load(std::memory_order_relaxed) || abandon_.load(std::memory_order_relaxed)) return nullptr;
    if (!idle_.empty()) {
      WorkerSlot* w = idle_.back();
      idle_.pop_back();
      w->wake = true;
      ++waking_;
      return w;
    }
    if (threads_ < cfg.maxThreads) spawnLocked();
    return nullptr;
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
      if (self.localSize() > 0) return self.localSize();
      if (!ring_.empty()) {
        ring_.recycle(std::move(self.local));
        self.local = ring_.popFront();
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
    if (!self.local) self.local = ring_.fresh();
    self.local->head = self.local->tail = 0;
    for (std::size_t i = 0; i < n; ++i) self.local->push(std::move(stolen[i]));
    return n;
  }

  // Requires: mu_ held.
  void extractAllLocked(std::vector<Entry>& out, const CleanupGroup* onlyGroup) {
    auto match = [onlyGroup](const Entry& e) { return onlyGroup == nullptr || e.group == onlyGroup; };
    ring_.extractIf(match, out);
    for (WorkerSlot* w : workers_) {
      std::lock_guard l(w->localMu);
      if (w->local) w->local->extractIf(match, out);
    }
  }

  void cancelEntries(std::vector<Entry>& entries) {
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

  // ---------------------------------------------------------------- workers
  void workerMain(WorkerContext& ctx) {
    tlsPool = this;
    std::unique_lock lock(mu_);
    WorkerSlot& self = acquireSlotLocked();
    workers_.push_back(&self);
    // No stop_callback here: WorkerGroup::requestStop() runs callbacks under its own
    // lock, which spawnLocked() takes inside mu_. shutdown() wakes parked workers itself
    // (abandon_ / draining_) before it ever asks the group to stop.
    --waking_;  // counted by spawnLocked()
    const auto idleTimeout = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.idleTimeout);
    std::uint64_t idleSince = nowNs();
    bool retired = false;
    bool holding = false;  // counted in holders_
    for (;;) {
      if (holding) {
        holding = false;
        --holders_;
      }
      if (abandon_.load(std::memory_order_relaxed) || ctx.stopRequested()) break;
      if (!paused_.load(std::memory_order_relaxed)) {
        const std::size_t got = takeWorkLocked(self);
        if (got > 0) {
          if (got > 1) {
            holding = true;
            ++holders_;
          }
          // Work left behind (queued, or unstarted in someone's batch) deserves another
          // thread, unless one is already on its way (it passes the word on in turn).
          const bool leftBehind = !ring_.empty() || holders_ > 0;
          WorkerSlot* wake = leftBehind && waking_ == 0 ? signalLocked() : nullptr;
          lock.unlock();
          if (wake) wake->cv.notify_one();
          runBatch(ctx, self);
          lockAdaptive(lock);
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
    if (holding) --holders_;
    std::vector<Entry> leftovers;  // only if stopped without shutdown(): never lose an item
    {
      std::lock_guard l(self.localMu);
      auto all = [](const Entry&) { return true; };
      if (self.local) self.local->extractIf(all, leftovers);
      ring_.recycle(std::move(self.local));
    }
    workers_.erase(std::find(workers_.begin(), workers_.end(), &self));
    freeSlots_.push_back(&self);
    --threads_;
    if (retired) ++threadsRetired_;
    lock.unlock();
    cancelEntries(leftovers);
    tlsPool = nullptr;
  }

  WorkerSlot& acquireSlotLocked() {  // Requires: mu_ held.
    if (freeSlots_.empty()) return slotStore_.emplace_back();
    WorkerSlot& s = *freeSlots_.back();
    freeSlots_.pop_back();
    s.wake = false;
    return s;
  }

  static bool localEmpty(WorkerSlot& self) {
    std::lock_guard l(self.localMu);
    return self.localSize() == 0;
  }

  void runBatch(WorkerContext& ctx, WorkerSlot& self) {
    ctx.beginWork();
    std::uint64_t ok = 0, bad = 0, ran = 0;
    auto flush = [&] {
      if (ok) completed_.fetch_add(ok, std::memory_order_relaxed);
      if (bad) failed_.fetch_add(bad, std::memory_order_relaxed);
      ok = bad = 0;
    };
    std::uint64_t t = ticks();  // one clock read per item: each end is the next start
    for (;;) {
      if (paused_.load(std::memory_order_relaxed) || abandon_.load(std::memory_order_relaxed)) break;
      Entry e;
      {
        std::lock_guard l(self.localMu);
        if (self.localSize() == 0) break;
        e = self.local->popFront();
      }
      const std::uint64_t start = t;
      self.queueWait.record(start > e.enqueuedTicks ? start - e.enqueuedTicks : 0);
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
      self.run.record(t > start ? t - start : 0);
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
        out.push_back(Entry{std::move(t.item.run), t.group, ticks(), Entry::makeExtra(std::move(t.item.onCancel), due)});
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
        e.extra = Entry::makeExtra([st] { st->inFlight.store(false, std::memory_order_release); }, due);
        e.group = t.group;
        e.enqueuedTicks = ticks();
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
    if (WorkerSlot* w = !anyParked && !m.ring_.empty() ? m.signalLocked() : nullptr) w->cv.notify_one();
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
  HistMerge queueWait, run;  // slots are never freed: retired workers' samples still count
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
      s.queueDepth += w->localSize();
    }
    for (const WorkerSlot& w : m.slotStore_) {
      queueWait.add(w.queueWait);
      run.add(w.run);
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
  const double scale = m.nsPerTick();
  s.queueWaitNs = queueWait.summary(scale);
  s.runNs = run.summary(scale);
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
  // seq_cst pairs with waitUntil(): either it sees our count or we see its registration.
  const std::uint64_t done = done_.fetch_add(n) + n;
  if (waiters_.load() == 0) return;
  if (added_.load() - done <= 1) {  // 1: a member may be waiting on its own group
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }
}

std::size_t CleanupGroup::pendingLoad() const noexcept {
  const std::uint64_t done = done_.load();  // first: every add we then read came before it
  return static_cast<std::size_t>(added_.load() - done);
}

std::size_t CleanupGroup::waitTarget() const { return tlsGroup == this ? 1 : 0; }

bool CleanupGroup::waitUntil(std::chrono::steady_clock::time_point deadline) {
  const std::size_t target = waitTarget();
  std::unique_lock lock(mu_);
  waiters_.fetch_add(1);
  const bool done = cv_.wait_until(lock, deadline, [&] { return pendingLoad() <= target; });
  waiters_.fetch_sub(1);
  return done;
}

bool CleanupGroup::wait(std::chrono::nanoseconds timeout) {
  return waitUntil(fromNs(deadlineAfter(nowNs(), timeout)));
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
  waitUntil(fromNs(kFarFutureNs));
  return n;
}

std::size_t CleanupGroup::outstanding() const { return pendingLoad(); }

}  // namespace gamesrv
