// EventProcessor: see event_processor.hpp for the contract; the notes here say how the
// hot paths are kept cheap and why the wake-up protocol cannot lose a wake-up.
//
// - One lock, mu_, held by a producer for a capacity check and an append (tens of ns),
//   and by the consumer to take the whole pending chain. It is taken adaptively: a few
//   try_lock rounds before blocking, because a futex sleep and wake-up costs far more
//   than the critical section. What every enqueue writes shares the lock's cache line.
// - Time stamps are TscClock ticks: one per enqueue call (a batch shares it), and about
//   one per processed event (see process()). Latency histograms hold ticks and are
//   scaled to ns in stats().
// - Everything the consumer counts is single-writer: plain loads and stores of atomics,
//   counted locally and published every kReleaseEvery events and at the end of a batch.
// - Waking the consumer. It decides to park (consumerWaiting_ = true, then cv_ wait)
//   under mu_, right after seeing the queue empty under mu_; producers append and read
//   consumerWaiting_ under mu_, and notify when it is set. Between a batch and parking,
//   the consumer may first watch kicks_ for a bounded time with mu_ released; meanwhile
//   consumerWaiting_ is false, so producers skip the notify, and the consumer either
//   sees kicks_ move (every enqueue into an empty queue moves it) or, when its budget
//   runs out, re-takes mu_ and re-checks the queue before it parks. Either way an
//   enqueue is never left unseen.
#include "gamesrv/event_processor.hpp"

#include <algorithm>
#include <cstddef>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>

#include "gamesrv/clock.hpp"
#include "gamesrv/spin.hpp"
#include "gamesrv/tsc_clock.hpp"

namespace gamesrv {

namespace {

// How many events are processed between two releases of capacity to producers.
constexpr std::size_t kReleaseEvery = 256;
// After a batch smaller than this, the consumer yields its CPU once before it takes the
// queue again. With more runnable threads than cores (two producers and the consumer on
// two cores), taking a handful of events at a time costs a lock hand-off per handful and
// starves the producers; giving the CPU to a producer lets the next batch grow. With
// nothing else runnable the yield returns at once.
constexpr std::uint64_t kSmallBatch = 16;

// Bounds of the consumer's watch for new work after a batch (see run()). The upper one
// covers the gaps between bursts of producers woken by timers (timer slack alone is
// ~50 us; measured gaps at 100k events/s from two sleeping producers reach 60-80 us),
// while waking a parked consumer costs ~20-25 us of latency on the project's VMs, and
// the producer a futex wake-up. Past it, parking is cheaper than watching.
constexpr std::uint64_t kMaxSpinNs = 100'000;
constexpr std::uint64_t kMinSpinNs = 2'000;

// Completion-time groups (see process()).
constexpr std::uint64_t kTimingGroupNs = 250;
constexpr std::size_t kMaxTimingGroup = 16;

// Adds d to a counter that only the calling thread writes (or only under one lock).
inline void bump(std::atomic<std::uint64_t>& a, std::uint64_t d) noexcept {
  if (d != 0) a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

}  // namespace

// A chunk of the queue. Producers move events into slots [size, kEvents) under mu_ and
// link full blocks into the chain; the consumer owns a whole chain once it has taken it,
// and destroys each event after handling it. Empty blocks are recycled through spare_.
struct EventProcessor::Block {
  static constexpr std::size_t kEvents = 64;
  struct Slot {
    GameEvent event;
    std::uint64_t stampTicks;  // TscClock, at enqueue
  };

  Block* next = nullptr;
  std::size_t size = 0;  // slots holding a live event
  alignas(Slot) std::byte storage[kEvents * sizeof(Slot)];

  Slot& slot(std::size_t i) noexcept { return *std::launder(reinterpret_cast<Slot*>(storage + i * sizeof(Slot))); }
  bool full() const noexcept { return size == kEvents; }
  void push(GameEvent&& e, std::uint64_t stamp) noexcept {
    ::new (static_cast<void*>(storage + size * sizeof(Slot))) Slot{std::move(e), stamp};
    ++size;
  }
  void destroyEvents() noexcept {
    for (std::size_t i = 0; i < size; ++i) slot(i).~Slot();
    size = 0;
  }
};
static_assert(std::is_nothrow_move_constructible_v<GameEvent>);

EventProcessor::EventProcessor(EventProcessorConfig config, Handler handler, std::function<void()> periodic)
    : config_(std::move(config)),
      handler_(std::move(handler)),
      periodic_(std::move(periodic)),
      // A full queue spans capacity / kEvents + 1 blocks; a chain being recycled while
      // producers refill the queue can add as many again.
      maxSpare_(2 * (config_.queueCapacity / Block::kEvents + 2)),
      thread_(std::make_unique<WorkerGroup>(config_.threadName)) {}

EventProcessor::~EventProcessor() {
  while (!drainAndJoin(std::chrono::hours(1))) {
  }
  freeBlocks(head_);  // empty once drained; freed all the same
  freeBlocks(spare_);
}

void EventProcessor::start() {
  {
    std::lock_guard lock(mu_);
    accepting_ = true;
    draining_ = false;
    paused_ = false;
  }
  thread_->add([this](WorkerContext& ctx) { run(ctx); });
}

std::size_t EventProcessor::queueDepth() const noexcept {
  const std::uint64_t processed = processed_.load(std::memory_order_acquire);  // first: never above accepted
  const std::uint64_t accepted = nextSeq_.load(std::memory_order_acquire) - 1;
  return static_cast<std::size_t>(accepted - processed);
}

// ------------------------------------------------------------------ blocks

void EventProcessor::freeBlocks(Block* chain) noexcept {
  while (chain != nullptr) {
    Block* next = chain->next;
    chain->destroyEvents();
    delete chain;
    chain = next;
  }
}

EventProcessor::Block* EventProcessor::takeBlockLocked() {
  if (spare_ == nullptr) return new Block;
  Block* b = spare_;
  spare_ = b->next;
  --spareCount_;
  b->next = nullptr;
  return b;
}

void EventProcessor::recycleLocked(Block* chain) {
  while (chain != nullptr) {
    Block* next = chain->next;
    chain->destroyEvents();  // a no-op for processed blocks
    if (spareCount_ < maxSpare_) {
      chain->next = spare_;
      spare_ = chain;
      ++spareCount_;
    } else {
      delete chain;  // only past maxSpare_, which a steady queue never reaches
    }
    chain = next;
  }
}

EventProcessor::Block* EventProcessor::detachSparesLocked(std::size_t keep) {
  if (spareCount_ <= keep) return nullptr;
  Block** cut = &spare_;
  for (std::size_t i = 0; i < keep; ++i) cut = &(*cut)->next;
  Block* rest = *cut;
  *cut = nullptr;
  spareCount_ = keep;
  return rest;
}

// ------------------------------------------------------------------ producers

void EventProcessor::kickLocked() {
  kicks_.store(kicks_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

template <class Append>
EnqueueResult EventProcessor::admit(std::size_t n, std::uint64_t stampTicks, Wake wakeMode, bool reserved,
                                    Append&& append) {
  EnqueueResult r;
  bool wake = false;
  {
    std::unique_lock lock(mu_, std::defer_lock);
    lockAdaptive(lock);
    if (reserved) reserved_ -= std::min(reserved_, n);  // the room is the batch's own now
    const std::size_t depth = queueDepth() + reserved_;
    r.available = depth >= config_.queueCapacity ? 0 : config_.queueCapacity - depth;
    if (!reserved && (!accepting_ || n > r.available)) {
      r.status = accepting_ ? EnqueueStatus::QueueFull : EnqueueStatus::NotAccepting;
      bump(rejectedBatches_, 1);
      bump(rejectedEvents_, n);
      return r;
    }
    // Take every block the batch needs before moving any event in: a failed allocation
    // leaves the batch and the queue as they were.
    const std::size_t room = tail_ != nullptr ? Block::kEvents - tail_->size : 0;
    Block* fresh = nullptr;
    if (n > room) {
      Block** link = &fresh;
      try {
        for (std::size_t k = (n - room + Block::kEvents - 1) / Block::kEvents; k > 0; --k) {
          *link = takeBlockLocked();
          link = &(*link)->next;
        }
      } catch (...) {
        recycleLocked(fresh);
        throw;
      }
    }
    const bool wasEmpty = head_ == nullptr;
    auto nextFree = [&]() noexcept -> Block& {
      if (tail_ == nullptr || tail_->full()) {
        Block* b = fresh;
        fresh = b->next;
        b->next = nullptr;
        (tail_ != nullptr ? tail_->next : head_) = b;
        tail_ = b;
      }
      return *tail_;
    };
    const std::uint64_t first = nextSeq_.load(std::memory_order_relaxed);
    append(first, stampTicks, nextFree);  // noexcept: moves into slots already there
    nextSeq_.store(first + n, std::memory_order_release);
    r.firstSeq = first;
    r.lastSeq = first + n - 1;
    r.accepted = n;
    r.available -= std::min(r.available, n);
    if (wakeMode == Wake::Now) {
      immediatePending_ = true;
      if (wasEmpty) kickLocked();
      wake = consumerWaiting_ && !paused_;
      if (wake) consumerWaiting_ = false;
    }
  }
  if (wake) cv_.notify_one();
  return r;
}

void EventProcessor::wakeDeferred() {
  bool wake = false;
  {
    std::unique_lock lock(mu_, std::defer_lock);
    lockAdaptive(lock);
    wake = consumerWaiting_ && head_ != nullptr && !paused_;
    if (wake) consumerWaiting_ = false;
  }
  if (wake) cv_.notify_one();
}

EnqueueResult EventProcessor::enqueue(std::vector<GameEvent>&& batch, Wake wake) {
  if (batch.empty()) return EnqueueResult{.status = EnqueueStatus::Empty};
  return admit(batch.size(), TscClock::now(), wake, false, [&](std::uint64_t seq, std::uint64_t stamp, auto& nextFree) noexcept {
    for (GameEvent& e : batch) {
      e.seq = seq++;
      nextFree().push(std::move(e), stamp);
    }
  });
}

EnqueueResult EventProcessor::reserve(std::size_t n) {
  EnqueueResult r;
  if (n == 0) return EnqueueResult{.status = EnqueueStatus::Empty};
  std::unique_lock lock(mu_, std::defer_lock);
  lockAdaptive(lock);
  const std::size_t depth = queueDepth() + reserved_;
  r.available = depth >= config_.queueCapacity ? 0 : config_.queueCapacity - depth;
  if (!accepting_ || n > r.available) {
    r.status = accepting_ ? EnqueueStatus::QueueFull : EnqueueStatus::NotAccepting;
    bump(rejectedBatches_, 1);
    bump(rejectedEvents_, n);
    return r;
  }
  reserved_ += n;
  r.available -= n;
  return r;
}

void EventProcessor::unreserve(std::size_t n) {
  std::lock_guard lock(mu_);
  reserved_ -= std::min(reserved_, n);
}

EnqueueResult EventProcessor::enqueueReserved(std::vector<GameEvent>&& batch, Wake wake) {
  if (batch.empty()) return EnqueueResult{.status = EnqueueStatus::Empty};
  return admit(batch.size(), TscClock::now(), wake, true, [&](std::uint64_t seq, std::uint64_t stamp, auto& nextFree) noexcept {
    for (GameEvent& e : batch) {
      e.seq = seq++;
      nextFree().push(std::move(e), stamp);
    }
  });
}

EnqueueResult EventProcessor::enqueueOne(GameEvent&& event, Wake wake) {
  return admit(1, TscClock::now(), wake, false, [&](std::uint64_t seq, std::uint64_t stamp, auto& nextFree) noexcept {
    event.seq = seq;
    nextFree().push(std::move(event), stamp);
  });
}

// ------------------------------------------------------------------ state

void EventProcessor::pause() {
  std::lock_guard lock(mu_);
  paused_ = true;
}

void EventProcessor::resume() {
  {
    std::lock_guard lock(mu_);
    paused_ = false;
    kickLocked();
  }
  cv_.notify_all();
}

void EventProcessor::stopAccepting() {
  std::lock_guard lock(mu_);
  accepting_ = false;
}

bool EventProcessor::drainAndJoin(std::chrono::nanoseconds deadline) {
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    draining_ = true;
    kickLocked();
  }
  cv_.notify_all();
  return thread_->joinFor(deadline);
}

// ------------------------------------------------------------------ consumer

void EventProcessor::spinForWork(std::uint32_t seenKicks, std::uint64_t budgetTicks) const noexcept {
  const std::uint64_t start = TscClock::now();
  while (kicks_.load(std::memory_order_acquire) == seenKicks && TscClock::now() - start < budgetTicks) cpuRelax();
}

void EventProcessor::run(WorkerContext& ctx) {
  const double nsPerTick = TscClock::nsPerTick();
  const auto ticksOf = [nsPerTick](std::uint64_t ns) {
    return static_cast<std::uint64_t>(static_cast<double>(ns) / nsPerTick);
  };
  const std::uint64_t maxSpin = ticksOf(kMaxSpinNs), minSpin = ticksOf(kMinSpinNs);
  const std::uint64_t timingGroup = ticksOf(kTimingGroupNs);
  // The watch after a batch adapts to the gaps between batches: a gap it covered, or
  // would have covered at maxSpin, sets it to at least twice that gap; a longer gap
  // halves it (down to minSpin), so a trickle of events costs almost no spinning.
  std::uint64_t spinBudget = maxSpin;
  bool mayWatch = false;        // a watch follows work, once per idle spell
  std::uint64_t idleSince = 0;  // ticks when the consumer ran out of work; 0: not idle

  Block* batch = nullptr;
  auto nextPeriodic = SteadyClock::now() + config_.idleTimeout;
  auto runPeriodic = [&] {
    bump(heartbeats_, 1);
    if (periodic_) periodic_();
    nextPeriodic = SteadyClock::now() + config_.idleTimeout;
  };
  std::unique_lock lock(mu_, std::defer_lock);
  lockAdaptive(lock);
  for (;;) {
    recycleLocked(std::exchange(batch, nullptr));
    if (head_ != nullptr && (!paused_ || draining_)) {
      // Deferred enqueues alone neither tune the watch nor start one: their producer
      // pays one wake-up for many of them, so spinning for the next would only burn a core.
      const bool immediate = std::exchange(immediatePending_, false);
      if (idleSince != 0 && immediate) {
        const std::uint64_t arrived = head_->slot(0).stampTicks;
        const std::uint64_t gap = arrived > idleSince ? arrived - idleSince : 0;
        spinBudget = gap <= maxSpin ? std::clamp(2 * gap, std::max(spinBudget, minSpin), maxSpin)
                                    : std::max(minSpin, spinBudget / 2);
      }
      idleSince = 0;
      batch = std::exchange(head_, nullptr);
      tail_ = nullptr;
      lock.unlock();
      const std::uint64_t handled = process(batch, ctx, timingGroup);
      if (handled < kSmallBatch) std::this_thread::yield();
      if (SteadyClock::now() >= nextPeriodic) runPeriodic();
      mayWatch = immediate;
      lockAdaptive(lock);
      continue;
    }
    if (draining_ && head_ == nullptr) break;
    if (SteadyClock::now() >= nextPeriodic) {
      // An idle tick also gives back half of the blocks a busy spell left behind.
      Block* surplus = detachSparesLocked(std::max<std::size_t>(4, spareCount_ / 2));
      lock.unlock();
      freeBlocks(surplus);
      runPeriodic();
      lockAdaptive(lock);
      continue;
    }
    if (paused_) {
      idleSince = 0;  // a pause is not a gap between batches
    } else if (idleSince == 0) {
      idleSince = TscClock::now();
    }
    ctx.setState(paused_ ? WorkerState::Paused : WorkerState::Idle);
    if (mayWatch && !paused_ && !draining_) {
      // Bounded, and only right after work: not a polling loop. A futex wake-up would
      // cost the producer microseconds; a burst that continues within the budget costs
      // it nothing this way.
      mayWatch = false;
      const std::uint32_t seen = kicks_.load(std::memory_order_relaxed);
      lock.unlock();
      spinForWork(seen, spinBudget);
      lockAdaptive(lock);
      continue;  // re-check the queue under mu_ before parking
    }
    consumerWaiting_ = true;
    // No stop token here: stopping is draining_, set under mu_ with a notify.
    cv_.wait_until(lock, nextPeriodic);
    consumerWaiting_ = false;
  }
}

std::uint64_t EventProcessor::process(Block* chain, WorkerContext& ctx, std::uint64_t timingGroupTicks) {
  ctx.beginWork();
  std::array<std::uint64_t, kEventTypeCount> byType{};
  std::array<std::uint64_t, kEventTypeCount> invalidByType{};
  std::array<std::uint64_t, kInvalidReasonCount> byReason{};
  std::uint64_t invalidHere = 0;
  std::uint64_t processed = processed_.load(std::memory_order_relaxed);
  std::size_t unpublished = 0;
  std::uint64_t total = 0;
  // Counters first, then processed_ (release): a reader that sees the count sees them.
  auto publish = [&] {
    for (std::size_t t = 0; t < kEventTypeCount; ++t) {
      bump(processedByType_[t], byType[t]);
      bump(invalidByType_[t], invalidByType[t]);
    }
    if (invalidHere != 0)
      for (std::size_t r = 0; r < kInvalidReasonCount; ++r) bump(invalid_[r], byReason[r]);
    bump(applied_, unpublished - invalidHere);
    byType = {};
    invalidByType = {};
    byReason = {};
    invalidHere = 0;
    processed += unpublished;
    total += unpublished;
    unpublished = 0;
  };

  // Completion times: one clock read closes a group of consecutive events. A group is a
  // single event unless handlers have been running faster than kTimingGroupNs, and then
  // it is as many events as fit in that time (at most kMaxTimingGroup): a clock read
  // costs as much as a trivial handler, and a recorded latency exceeds the true one by
  // at most the group's duration. The first group of each batch is one event.
  struct Ungrouped {
    std::uint64_t stampTicks;
    std::size_t type;
  };
  std::array<Ungrouped, kMaxTimingGroup> group;
  std::size_t inGroup = 0, stride = 1;
  std::uint64_t groupStart = TscClock::now();
  auto closeGroup = [&] {
    const std::uint64_t done = TscClock::now();
    for (std::size_t k = 0; k < inGroup; ++k) {
      const Ungrouped& u = group[k];
      latencyTicksByType_[u.type].recordSingleWriter(done > u.stampTicks ? done - u.stampTicks : 0);
    }
    const std::uint64_t perEvent = (done - groupStart) / inGroup;
    stride = std::clamp<std::uint64_t>(timingGroupTicks / std::max<std::uint64_t>(perEvent, 1), 1, kMaxTimingGroup);
    groupStart = done;
    inGroup = 0;
  };

  for (Block* b = chain; b != nullptr; b = b->next) {
    for (std::size_t i = 0; i < b->size; ++i) {
      Block::Slot& s = b->slot(i);
      const InvalidReason why = handler_(s.event);
      const auto t = static_cast<std::size_t>(s.event.type);
      group[inGroup++] = {s.stampTicks, t};
      s.~Slot();
      ++byType[t];
      if (why != InvalidReason::None) {
        ++byReason[static_cast<std::size_t>(why)];
        ++invalidByType[t];
        ++invalidHere;
      }
      if (inGroup >= stride) closeGroup();
      if (++unpublished == kReleaseEvery) {
        if (inGroup != 0) closeGroup();
        publish();
        processed_.store(processed, std::memory_order_release);
      }
    }
    b->size = 0;
  }
  if (inGroup != 0) closeGroup();
  publish();
  // seq_cst store, then seq_cst load: pairs with waitProcessed() (see the header).
  processed_.store(processed, std::memory_order_seq_cst);
  if (doneWaiters_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard lock(doneMu_);
    doneCv_.notify_all();
  }
  bump(batches_, 1);
  if (total > maxBatch_.load(std::memory_order_relaxed)) maxBatch_.store(total, std::memory_order_relaxed);
  ctx.endWork(total);
  return total;
}

bool EventProcessor::waitProcessed(std::uint64_t seq, std::chrono::nanoseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  doneWaiters_.fetch_add(1, std::memory_order_seq_cst);
  bool ok;
  {
    std::unique_lock lock(doneMu_);
    ok = doneCv_.wait_until(lock, deadline, [&] { return processed_.load(std::memory_order_seq_cst) >= seq; });
  }
  doneWaiters_.fetch_sub(1, std::memory_order_seq_cst);
  return ok;
}

std::uint64_t EventProcessor::lastAcceptedSeq() const { return nextSeq_.load(std::memory_order_acquire) - 1; }

EventProcessorStats EventProcessor::stats() const {
  EventProcessorStats s;
  s.processed = processed_.load(std::memory_order_acquire);
  s.accepted = nextSeq_.load(std::memory_order_acquire) - 1;
  s.applied = applied_.load(std::memory_order_relaxed);
  s.rejectedBatches = rejectedBatches_.load(std::memory_order_relaxed);
  s.rejectedEvents = rejectedEvents_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.maxBatch = maxBatch_.load(std::memory_order_relaxed);
  s.heartbeats = heartbeats_.load(std::memory_order_relaxed);
  s.queueCapacity = config_.queueCapacity;
  s.lastSeq = s.accepted;
  {
    std::lock_guard lock(mu_);
    s.accepting = accepting_;
    s.paused = paused_;
  }
  s.queueDepth = static_cast<std::size_t>(s.accepted - std::min(s.accepted, s.processed));
  for (std::size_t i = 0; i < kInvalidReasonCount; ++i) {
    s.invalidByReason[i] = invalid_[i].load(std::memory_order_relaxed);
    s.invalid += s.invalidByReason[i];
  }
  const double nsPerTick = TscClock::nsPerTick();
  std::array<const Histogram*, kEventTypeCount> parts{};
  for (std::size_t t = 0; t < kEventTypeCount; ++t) {
    auto& bt = s.byType[t];
    bt.processed = processedByType_[t].load(std::memory_order_relaxed);
    bt.invalid = invalidByType_[t].load(std::memory_order_relaxed);
    bt.applied = bt.processed - std::min(bt.processed, bt.invalid);
    bt.latencyNs = latencyTicksByType_[t].summary(nsPerTick);
    parts[t] = &latencyTicksByType_[t];
  }
  s.latencyNs = Histogram::merged(parts, nsPerTick);
  s.workers = thread_->stats();
  return s;
}

}  // namespace gamesrv
