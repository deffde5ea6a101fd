// Event-queue benchmarks: gamesrv::EventProcessor against SeedEventProcessor.
//
// - throughput: 2 unpaced producers, trivial handler, one event (or one batch) per call;
// - paced: 2 producers on absolute deadlines at a fixed total offered rate, a handler
//   of fixed busy work; per-call enqueue time and enqueue->processed latency.
#pragma once
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "gamesrv/event_processor.hpp"
#include "seed_event_processor.hpp"

namespace gsbench {

inline gamesrv::GameEvent moveEvent(std::uint32_t playerId) {
  gamesrv::GameEvent e;
  e.type = gamesrv::EventType::PlayerMove;
  e.playerId = playerId;
  e.text = "1,2";
  return e;
}

// Counts handled events on the consumer thread and records when the last one is done.
class CompletionCounter {
 public:
  explicit CompletionCounter(std::uint64_t target) : target_(target) {}
  void hit() {  // consumer thread only
    if (++count_ == target_) {
      endNs_ = nowNs();
      done_.store(true, std::memory_order_release);
      done_.notify_all();
    }
  }
  std::uint64_t waitEndNs() {
    done_.wait(false, std::memory_order_acquire);
    return endNs_;
  }

 private:
  const std::uint64_t target_;
  std::uint64_t count_ = 0;
  std::uint64_t endNs_ = 0;  // written before done_ is released
  std::atomic<bool> done_{false};
};

// Runs `producers` threads calling produce(index) after a common start; returns the start time.
template <class Produce>
std::uint64_t runProducers(int producers, Produce produce) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      produce(p);
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::uint64_t start = nowNs();
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  return start;
}

inline constexpr int kProducers = 2;

// Events per second through gamesrv::EventProcessor; `batch` events per enqueue() call
// (batch 1: enqueueOne()).
struct Throughput {
  double eventsPerSec = 0;
  std::uint64_t consumerBatches = 0;  // ours: batches the consumer swapped out (wake-ups, roughly)
};

inline Throughput oursThroughput(std::uint64_t total, std::size_t batch) {
  CompletionCounter done(total);
  gamesrv::EventProcessor ep({.queueCapacity = std::size_t{1} << 22, .threadName = "gs-events"},
                             [&done](const gamesrv::GameEvent&) {
                               done.hit();
                               return gamesrv::InvalidReason::None;
                             });
  ep.start();
  const std::uint64_t perProducer = total / kProducers;
  const std::uint64_t start = runProducers(kProducers, [&](int p) {
    if (batch == 1) {  // like the seed's addEvent(): one event a call, no vector
      for (std::uint64_t i = 0; i < perProducer; ++i) {
        gamesrv::GameEvent e = moveEvent(static_cast<std::uint32_t>(p));
        while (ep.enqueueOne(std::move(e)).status == gamesrv::EnqueueStatus::QueueFull) std::this_thread::yield();
      }
      return;
    }
    for (std::uint64_t i = 0; i < perProducer; i += batch) {
      std::vector<gamesrv::GameEvent> b;
      const std::size_t n = std::min<std::uint64_t>(batch, perProducer - i);
      b.reserve(n);
      for (std::size_t k = 0; k < n; ++k) b.push_back(moveEvent(static_cast<std::uint32_t>(p)));
      // A refused batch is left untouched, so it can be offered again.
      while (ep.enqueue(std::move(b)).status == gamesrv::EnqueueStatus::QueueFull) std::this_thread::yield();
    }
  });
  const std::uint64_t end = done.waitEndNs();
  ep.drainAndJoin(std::chrono::seconds(30));
  return {static_cast<double>(total) * 1e9 / static_cast<double>(end - start), ep.stats().batches};
}

inline double seedThroughput(std::uint64_t total) {
  CompletionCounter done(total);
  SeedEventProcessor seed([&done](const gamesrv::GameEvent&) { done.hit(); });
  seed.start();
  const std::uint64_t perProducer = total / kProducers;
  const std::uint64_t start = runProducers(kProducers, [&](int p) {
    for (std::uint64_t i = 0; i < perProducer; ++i) seed.addEvent(moveEvent(static_cast<std::uint32_t>(p)));
  });
  const std::uint64_t end = done.waitEndNs();
  seed.stop();
  return static_cast<double>(total) * 1e9 / static_cast<double>(end - start);
}

struct PacedResult {
  gamesrv::HistogramSummary enqueueNs;  // duration of each enqueue call
  gamesrv::HistogramSummary latencyNs;  // enqueue -> processed
  std::uint64_t offered = 0;
  std::uint64_t maxBehindNs = 0;  // worst lag of a producer behind its schedule
  std::uint64_t consumerBatches = 0;  // ours: batches the consumer swapped out
};

// Two producers, each offering ratePerSec/2 on absolute deadlines (the second shifted by
// half a period), for `seconds`. enqueueOne(event) must get the event accepted (retrying
// itself) and returns how long the enqueue call itself took, in ns.
template <class EnqueueOne>
PacedResult runPaced(double ratePerSec, double seconds, Pace pace, EnqueueOne enqueueOne) {
  PacedResult r;
  gamesrv::Histogram enqueueNs;
  const double periodNs = 1e9 * kProducers / ratePerSec;
  const auto perProducer = static_cast<std::uint64_t>(ratePerSec * seconds / kProducers);
  std::atomic<std::uint64_t> maxBehind{0};
  runProducers(kProducers, [&](int p) {
    const std::uint64_t t0 = nowNs() + 1'000'000;
    const double phase = periodNs * p / kProducers;
    std::uint64_t worst = 0;
    for (std::uint64_t k = 0; k < perProducer; ++k) {
      const auto due = t0 + static_cast<std::uint64_t>(phase + periodNs * static_cast<double>(k));
      waitUntilNs(due, pace);
      gamesrv::GameEvent e = moveEvent(static_cast<std::uint32_t>(p));
      worst = std::max(worst, nowNs() - due);
      enqueueNs.record(enqueueOne(std::move(e)));
    }
    std::uint64_t prev = maxBehind.load();
    while (prev < worst && !maxBehind.compare_exchange_weak(prev, worst)) {
    }
  });
  r.enqueueNs = enqueueNs.summary();
  r.offered = perProducer * kProducers;
  r.maxBehindNs = maxBehind.load();
  return r;
}

inline PacedResult oursPaced(double ratePerSec, double seconds, Pace pace, std::uint64_t handlerNs) {
  gamesrv::EventProcessor ep({.queueCapacity = std::size_t{1} << 22, .threadName = "gs-events"},
                             [handlerNs](const gamesrv::GameEvent&) {
                               busyWorkNs(handlerNs);
                               return gamesrv::InvalidReason::None;
                             });
  ep.start();
  PacedResult r = runPaced(ratePerSec, seconds, pace, [&ep](gamesrv::GameEvent&& e) {
    const std::uint64_t before = nowNs();
    while (ep.enqueueOne(std::move(e)).status == gamesrv::EnqueueStatus::QueueFull) std::this_thread::yield();
    return nowNs() - before;
  });
  ep.drainAndJoin(std::chrono::seconds(30));
  const gamesrv::EventProcessorStats st = ep.stats();
  r.latencyNs = st.latencyNs;
  r.consumerBatches = st.batches;
  return r;
}

inline PacedResult seedPaced(double ratePerSec, double seconds, Pace pace, std::uint64_t handlerNs) {
  SeedEventProcessor seed([handlerNs](const gamesrv::GameEvent&) { busyWorkNs(handlerNs); });
  seed.start();
  PacedResult r = runPaced(ratePerSec, seconds, pace, [&seed](gamesrv::GameEvent&& e) {
    const std::uint64_t before = nowNs();
    seed.addEvent(e);
    return nowNs() - before;
  });
  seed.stop();
  r.latencyNs = seed.latencyNs().summary();
  return r;
}

}  // namespace gsbench
