// EventProcessor: the bounded multi-producer event queue and its consumer thread
// ("gs-events"), the portable rebuild of seed 4.1.2's GameEventProcessor.
//
// - enqueue() takes a whole batch or nothing: if the batch does not fit in the
//   remaining capacity (capacity counts every accepted, not yet processed event,
//   including the batch the consumer is working on), nothing is accepted.
//   enqueueOne() is the same for one event, without the caller building a vector.
// - The consumer swaps the pending events out under the lock and processes them
//   outside it (seed defect 1), so producers are never held behind game logic.
// - Producers signal the consumer only when it is parked. Right after a batch the
//   consumer first watches for new work for a short, bounded, adaptive time (at most
//   100 us, tuned to the gaps it has recently seen between batches) before it parks:
//   a futex wake-up costs the producer microseconds, more than the enqueue itself.
// - A producer that enqueues many times in a row (the Node thread: one HTTP request
//   after another within one event-loop turn) may defer the wake-up: enqueue(...,
//   Wake::Deferred) neither signals a parked consumer nor moves what a watching one
//   looks for, and wakeDeferred() then signals once for all of them. Deferred events
//   are never left unseen: a consumer that has not parked yet takes them when it
//   re-checks the queue, and a parked one is woken by wakeDeferred() or, at the latest,
//   after idleTimeout. Only immediate enqueues make the consumer watch after a batch.
// - When idle for `idleTimeout`, or at least that often while busy, the consumer
//   runs the periodic hook (heartbeat, monitor refresh).
// - pause(): accepted events wait; resume() processes them. Stop drains every
//   accepted event, even when paused, before the thread exits.
// - Every accepted event is counted once as processed: applied, or invalid with a
//   reason. accepted == processed once drained.
// - Latency (enqueue -> handler returned) is recorded per event type in TscClock
//   ticks and reported in nanoseconds.
//
// Thread safety: enqueue(), enqueueOne(), stats() and the state calls are safe from any
// thread. start()/pause()/resume()/stopAccepting()/drainAndJoin() are serialized by the
// caller.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "gamesrv/game_event.hpp"
#include "gamesrv/histogram.hpp"
#include "gamesrv/worker_group.hpp"

namespace gamesrv {

struct EventProcessorConfig {
  std::size_t queueCapacity = 65536;
  std::chrono::milliseconds idleTimeout{1000};
  std::string threadName = "gs-events";
};

enum class EnqueueStatus { Ok, QueueFull, NotAccepting, Empty };

// Whether an enqueue wakes a parked consumer now, or leaves that to wakeDeferred().
enum class Wake { Now, Deferred };

struct EnqueueResult {
  EnqueueStatus status = EnqueueStatus::Ok;
  std::uint64_t firstSeq = 0;  // sequence numbers given to the batch, inclusive
  std::uint64_t lastSeq = 0;
  std::size_t accepted = 0;
  std::size_t available = 0;  // free capacity when the call was answered
};

struct EventTypeStats {
  std::uint64_t processed = 0;
  std::uint64_t applied = 0;
  std::uint64_t invalid = 0;
  HistogramSummary latencyNs;  // enqueue -> processed
};

struct EventProcessorStats {
  std::uint64_t accepted = 0;
  std::uint64_t processed = 0;
  std::uint64_t applied = 0;
  std::uint64_t invalid = 0;
  std::uint64_t rejectedBatches = 0;  // whole batches refused (queue full / not accepting)
  std::uint64_t rejectedEvents = 0;   // events in those batches; none of them was accepted
  std::uint64_t batches = 0;
  std::uint64_t maxBatch = 0;
  std::uint64_t heartbeats = 0;
  std::uint64_t lastSeq = 0;
  std::size_t queueDepth = 0;  // accepted - processed
  std::size_t queueCapacity = 0;
  bool accepting = false;
  bool paused = false;
  std::array<std::uint64_t, kInvalidReasonCount> invalidByReason{};
  std::array<EventTypeStats, kEventTypeCount> byType{};
  HistogramSummary latencyNs;  // all types
  std::vector<WorkerStats> workers;
};

class EventProcessor {
 public:
  // Applies one event; returns why it was refused, or InvalidReason::None.
  using Handler = std::function<InvalidReason(const GameEvent&)>;

  EventProcessor(EventProcessorConfig config, Handler handler, std::function<void()> periodic = {});
  ~EventProcessor();

  void start();
  // A refused batch (or event) is left untouched, so it can be offered again. The
  // events' `seq` is assigned here.
  EnqueueResult enqueue(std::vector<GameEvent>&& batch, Wake wake = Wake::Now);
  EnqueueResult enqueueOne(GameEvent&& event, Wake wake = Wake::Now);
  // Two-step admission for a source that must not be refused once it has promised a batch
  // (the journal, gamesrv/durable_events.hpp): reserve() holds room for `n` events (counted
  // against the capacity as if queued) or refuses as enqueue() would; enqueueReserved()
  // then moves a batch of that size in whatever the state (stopping included: the caller
  // finishes before drainAndJoin), and unreserve() gives back room it will not use.
  EnqueueResult reserve(std::size_t n);
  EnqueueResult enqueueReserved(std::vector<GameEvent>&& batch, Wake wake = Wake::Now);
  void unreserve(std::size_t n);
  // Wakes a parked consumer if events are waiting (after enqueue(..., Wake::Deferred)).
  void wakeDeferred();
  void pause();
  void resume();
  void stopAccepting();
  // Processes everything accepted, then joins the thread. False if the deadline passed first.
  bool drainAndJoin(std::chrono::nanoseconds deadline);

  // Waits until every event up to `seq` has been processed (events are processed in
  // sequence order). False on timeout. Safe from any thread.
  bool waitProcessed(std::uint64_t seq, std::chrono::nanoseconds timeout);
  std::uint64_t lastAcceptedSeq() const;

  EventProcessorStats stats() const;
  std::size_t queueDepth() const noexcept;

 private:
  static constexpr std::size_t kCacheLine = 64;

  // Accepted events wait in a chain of fixed-size blocks (event_processor.cpp): appending
  // never moves queued events, and processed blocks are recycled, so a deep queue costs
  // neither reallocation copies nor fresh pages.
  struct Block;

  // Checks capacity and state, then moves `n` events in through
  // append(seq of the first, stamp, next free slot). Requires: mu_ not held.
  template <class Append>
  EnqueueResult admit(std::size_t n, std::uint64_t stampTicks, Wake wake, bool reserved, Append&& append);
  void kickLocked();                            // Requires: mu_ held.
  Block* takeBlockLocked();                     // Requires: mu_ held.
  void recycleLocked(Block* chain);             // Requires: mu_ held.
  Block* detachSparesLocked(std::size_t keep);  // Requires: mu_ held.
  static void freeBlocks(Block* chain) noexcept;
  void run(WorkerContext& ctx);
  std::uint64_t process(Block* chain, WorkerContext& ctx, std::uint64_t timingGroupTicks);
  // Returns when kicks_ moves away from seenKicks or budgetTicks have passed.
  void spinForWork(std::uint32_t seenKicks, std::uint64_t budgetTicks) const noexcept;

  const EventProcessorConfig config_;
  const Handler handler_;
  const std::function<void()> periodic_;
  const std::size_t maxSpare_;  // bound of spareCount_, from the capacity

  // --- What every enqueue writes, in one cache line with the lock (40 bytes on glibc).
  alignas(kCacheLine) mutable std::mutex mu_;
  Block* tail_ = nullptr;  // guarded by mu_; the block being filled, nullptr if none
  // Written under mu_ (load + store: writers are serialized), read anywhere: every
  // sequence number below it was accepted, so accepted == nextSeq_ - 1.
  std::atomic<std::uint64_t> nextSeq_{1};
  bool consumerWaiting_ = false;  // guarded by mu_; true only while parked on cv_
  bool immediatePending_ = false;  // guarded by mu_; an immediate enqueue since the last take
  bool paused_ = false;           // guarded by mu_
  bool draining_ = false;         // guarded by mu_
  bool accepting_ = false;        // guarded by mu_
  std::size_t reserved_ = 0;      // guarded by mu_: room held by reserve(), not yet queued

  // --- Written under mu_ once per block, per batch swap, per refusal or per park.
  alignas(kCacheLine) Block* head_ = nullptr;  // guarded by mu_; nullptr: nothing pending
  Block* spare_ = nullptr;                     // guarded by mu_; recycled empty blocks
  std::size_t spareCount_ = 0;                 // guarded by mu_
  std::atomic<std::uint64_t> rejectedBatches_{0};  // written under mu_, read anywhere
  std::atomic<std::uint64_t> rejectedEvents_{0};   // written under mu_, read anywhere
  std::condition_variable cv_;                     // the consumer parks here

  // --- What a spinning consumer watches: changed under mu_ whenever the queue stops being
  // empty or the state changes (resume, drain). Own line: the spinner reads it in a loop.
  alignas(kCacheLine) std::atomic<std::uint32_t> kicks_{0};

  // --- Consumer side: written by the consumer thread only, read by stats().
  alignas(kCacheLine) std::atomic<std::uint64_t> processed_{0};
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> maxBatch_{0};
  std::atomic<std::uint64_t> heartbeats_{0};
  std::array<std::atomic<std::uint64_t>, kInvalidReasonCount> invalid_{};
  std::array<std::atomic<std::uint64_t>, kEventTypeCount> processedByType_{};
  std::array<std::atomic<std::uint64_t>, kEventTypeCount> invalidByType_{};
  std::array<Histogram, kEventTypeCount> latencyTicksByType_;  // the total is their sum

  // --- waitProcessed(): the consumer notifies only when someone waits (seq_cst pairs
  // with processed_ so a waiter either sees the count or is seen by the consumer).
  alignas(kCacheLine) std::mutex doneMu_;
  std::condition_variable doneCv_;
  std::atomic<int> doneWaiters_{0};

  const std::unique_ptr<WorkerGroup> thread_;  // one consumer thread per start()
};

}  // namespace gamesrv
