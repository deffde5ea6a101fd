#include "gamesrv/event_processor.hpp"

#include <algorithm>

#include "gamesrv/clock.hpp"

namespace gamesrv {

namespace {
// How many events are processed between two releases of capacity to producers.
constexpr std::size_t kReleaseEvery = 256;
}  // namespace

EventProcessor::EventProcessor(EventProcessorConfig config, Handler handler, std::function<void()> periodic)
    : config_(std::move(config)),
      handler_(std::move(handler)),
      periodic_(std::move(periodic)),
      thread_(std::make_unique<WorkerGroup>(config_.threadName)) {}

EventProcessor::~EventProcessor() {
  while (!drainAndJoin(std::chrono::hours(1))) {
  }
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
  return static_cast<std::size_t>(accepted_.load(std::memory_order_acquire) -
                                  processed_.load(std::memory_order_acquire));
}

EnqueueResult EventProcessor::enqueue(std::vector<GameEvent>&& batch) {
  EnqueueResult r;
  if (batch.empty()) {
    r.status = EnqueueStatus::Empty;
    return r;
  }
  const std::uint64_t now = nowNs();
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    const std::size_t depth = queueDepth();
    r.available = depth >= config_.queueCapacity ? 0 : config_.queueCapacity - depth;
    if (!accepting_ || batch.size() > r.available) {
      r.status = accepting_ ? EnqueueStatus::QueueFull : EnqueueStatus::NotAccepting;
      rejectedBatches_.fetch_add(1, std::memory_order_relaxed);
      rejectedEvents_.fetch_add(batch.size(), std::memory_order_relaxed);
      return r;
    }
    r.firstSeq = nextSeq_;
    for (GameEvent& e : batch) {
      e.seq = nextSeq_++;
      e.enqueuedNs = now;
    }
    r.lastSeq = nextSeq_ - 1;
    r.accepted = batch.size();
    r.available -= batch.size();
    if (pending_.empty()) {
      pending_ = std::move(batch);
    } else {
      pending_.insert(pending_.end(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
    }
    accepted_.fetch_add(r.accepted, std::memory_order_release);
    wake = consumerWaiting_ && !paused_;
    if (wake) consumerWaiting_ = false;
  }
  if (wake) cv_.notify_one();
  return r;
}

void EventProcessor::pause() {
  std::lock_guard lock(mu_);
  paused_ = true;
}

void EventProcessor::resume() {
  {
    std::lock_guard lock(mu_);
    paused_ = false;
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
  }
  cv_.notify_all();
  return thread_->joinFor(deadline);
}

void EventProcessor::run(WorkerContext& ctx) {
  std::vector<GameEvent> batch;
  auto nextPeriodic = SteadyClock::now() + config_.idleTimeout;
  std::unique_lock lock(mu_);
  for (;;) {
    const bool canWork = !pending_.empty() && (!paused_ || draining_);
    if (!canWork) {
      if (draining_ && pending_.empty()) break;
      if (SteadyClock::now() >= nextPeriodic) {
        lock.unlock();
        heartbeats_.fetch_add(1, std::memory_order_relaxed);
        if (periodic_) periodic_();
        nextPeriodic = SteadyClock::now() + config_.idleTimeout;
        lock.lock();
        continue;
      }
      ctx.setState(paused_ ? WorkerState::Paused : WorkerState::Idle);
      consumerWaiting_ = true;
      // No stop token here: stopping is draining_, set under mu_ with a notify.
      cv_.wait_until(lock, nextPeriodic);
      consumerWaiting_ = false;
      continue;
    }
    batch.swap(pending_);  // pending_ now holds the (empty) buffer of the last batch
    lock.unlock();
    process(batch, ctx);
    batch.clear();
    if (SteadyClock::now() >= nextPeriodic) {
      heartbeats_.fetch_add(1, std::memory_order_relaxed);
      if (periodic_) periodic_();
      nextPeriodic = SteadyClock::now() + config_.idleTimeout;
    }
    lock.lock();
  }
}

void EventProcessor::process(std::vector<GameEvent>& batch, WorkerContext& ctx) {
  ctx.beginWork();
  std::uint64_t appliedHere = 0;
  std::size_t unreleased = 0;
  for (const GameEvent& e : batch) {
    const InvalidReason why = handler_(e);
    const auto t = static_cast<std::size_t>(e.type);
    const std::uint64_t done = nowNs();
    const std::uint64_t lat = done > e.enqueuedNs ? done - e.enqueuedNs : 0;
    latency_.record(lat);
    latencyByType_[t].record(lat);
    processedByType_[t].fetch_add(1, std::memory_order_relaxed);
    if (why == InvalidReason::None) {
      ++appliedHere;
    } else {
      invalid_[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
      invalidByType_[t].fetch_add(1, std::memory_order_relaxed);
    }
    if (++unreleased == kReleaseEvery) {
      processed_.fetch_add(unreleased, std::memory_order_release);
      unreleased = 0;
    }
  }
  applied_.fetch_add(appliedHere, std::memory_order_relaxed);
  processed_.fetch_add(unreleased, std::memory_order_seq_cst);
  if (doneWaiters_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard lock(doneMu_);
    doneCv_.notify_all();
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  if (batch.size() > maxBatch_.load(std::memory_order_relaxed)) maxBatch_.store(batch.size(), std::memory_order_relaxed);
  ctx.endWork(batch.size());
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

std::uint64_t EventProcessor::lastAcceptedSeq() const {
  std::lock_guard lock(mu_);
  return nextSeq_ - 1;
}

EventProcessorStats EventProcessor::stats() const {
  EventProcessorStats s;
  s.processed = processed_.load(std::memory_order_acquire);
  s.accepted = accepted_.load(std::memory_order_acquire);
  s.applied = applied_.load(std::memory_order_relaxed);
  s.rejectedBatches = rejectedBatches_.load(std::memory_order_relaxed);
  s.rejectedEvents = rejectedEvents_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.maxBatch = maxBatch_.load(std::memory_order_relaxed);
  s.heartbeats = heartbeats_.load(std::memory_order_relaxed);
  s.queueCapacity = config_.queueCapacity;
  {
    std::lock_guard lock(mu_);
    s.accepting = accepting_;
    s.paused = paused_;
    s.lastSeq = nextSeq_ - 1;
  }
  s.queueDepth = static_cast<std::size_t>(s.accepted - std::min(s.accepted, s.processed));
  for (std::size_t i = 0; i < kInvalidReasonCount; ++i) {
    s.invalidByReason[i] = invalid_[i].load(std::memory_order_relaxed);
    s.invalid += s.invalidByReason[i];
  }
  for (std::size_t t = 0; t < kEventTypeCount; ++t) {
    auto& bt = s.byType[t];
    bt.processed = processedByType_[t].load(std::memory_order_relaxed);
    bt.invalid = invalidByType_[t].load(std::memory_order_relaxed);
    bt.applied = bt.processed - std::min(bt.processed, bt.invalid);
    bt.latencyNs = latencyByType_[t].summary();
  }
  s.latencyNs = latency_.summary();
  s.workers = thread_->stats();
  return s;
}

}  // namespace gamesrv
