#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gamesrv/event.hpp"
#include "gamesrv/clock.hpp"
#include "gamesrv/event_processor.hpp"
#include "harness.hpp"

using namespace gamesrv;
using namespace std::chrono_literals;

namespace {

std::vector<GameEvent> makeBatch(std::size_t n, EventType t = EventType::PlayerChat) {
  std::vector<GameEvent> b(n);
  for (auto& e : b) e.type = t;
  return b;
}

EventProcessorConfig cfg(std::size_t capacity, std::chrono::milliseconds idle = 1000ms) {
  EventProcessorConfig c;
  c.queueCapacity = capacity;
  c.idleTimeout = idle;
  return c;
}

}  // namespace

TEST(batch_is_all_or_nothing_against_capacity) {
  EventProcessor ep(cfg(100), [](const GameEvent&) { return InvalidReason::None; });
  ep.start();
  ep.pause();  // nothing is processed, so capacity is only freed by us
  auto r1 = ep.enqueue(makeBatch(60));
  CHECK(r1.status == EnqueueStatus::Ok);
  CHECK_EQ(r1.firstSeq, 1u);
  CHECK_EQ(r1.lastSeq, 60u);
  auto r2 = ep.enqueue(makeBatch(50));
  CHECK(r2.status == EnqueueStatus::QueueFull);
  CHECK_EQ(r2.accepted, 0u);
  CHECK_EQ(r2.available, 40u);
  CHECK_EQ(ep.stats().accepted, 60u);  // nothing of the refused batch got in
  auto r3 = ep.enqueue(makeBatch(40));
  CHECK(r3.status == EnqueueStatus::Ok);
  CHECK_EQ(r3.firstSeq, 61u);
  auto st = ep.stats();
  CHECK_EQ(st.rejectedBatches, 1u);
  CHECK_EQ(st.rejectedEvents, 50u);
  CHECK_EQ(st.queueDepth, 100u);
  CHECK(ep.drainAndJoin(10s));  // drains even while paused
  st = ep.stats();
  CHECK_EQ(st.processed, 100u);
  CHECK_EQ(st.queueDepth, 0u);
}

TEST(empty_and_not_accepting_are_refused) {
  EventProcessor ep(cfg(10), [](const GameEvent&) { return InvalidReason::None; });
  CHECK(ep.enqueue(makeBatch(1)).status == EnqueueStatus::NotAccepting);  // not started
  ep.start();
  CHECK(ep.enqueue({}).status == EnqueueStatus::Empty);
  ep.stopAccepting();
  CHECK(ep.enqueue(makeBatch(1)).status == EnqueueStatus::NotAccepting);
  CHECK(ep.drainAndJoin(5s));
}

// Seed defect 1: the seed processed events while holding the producers' lock.
// Here the handler blocks mid-batch, and producers must still get in.
TEST(producers_are_not_held_while_the_consumer_processes) {
  Event entered(Event::Reset::Manual), gate(Event::Reset::Manual);
  EventProcessor ep(cfg(1000), [&](const GameEvent&) {
    entered.set();
    gate.wait();
    return InvalidReason::None;
  });
  ep.start();
  CHECK(ep.enqueue(makeBatch(1)).status == EnqueueStatus::Ok);
  CHECK(entered.waitFor(10s));  // the consumer is inside the handler now
  std::atomic<bool> producerDone{false};
  Event producerReturned(Event::Reset::Manual);
  std::thread producer([&] {
    auto r = ep.enqueue(makeBatch(5));
    producerDone = r.status == EnqueueStatus::Ok;
    producerReturned.set();
  });
  // The producer returns while the handler is still blocked on `gate`.
  CHECK(producerReturned.waitFor(10s));
  CHECK(producerDone.load());
  CHECK_EQ(ep.stats().processed, 0u);
  gate.set();
  producer.join();
  CHECK(ep.drainAndJoin(10s));
  CHECK_EQ(ep.stats().processed, 6u);
}

TEST(idle_timeout_runs_periodic_work) {
  Event beat(Event::Reset::Auto);
  std::atomic<int> beats{0};
  EventProcessor ep(
      cfg(10, 10ms), [](const GameEvent&) { return InvalidReason::None; },
      [&] {
        beats.fetch_add(1);
        beat.set();
      });
  ep.start();
  CHECK(beat.waitFor(5s));
  CHECK(beat.waitFor(5s));
  CHECK(ep.drainAndJoin(5s));
  CHECK(beats.load() >= 2);
  CHECK(ep.stats().heartbeats >= 2u);
}

TEST(invalid_events_are_counted_per_reason_and_type) {
  EventProcessor ep(cfg(100), [](const GameEvent& e) {
    return e.playerId % 2 ? InvalidReason::BadCoordinates : InvalidReason::None;
  });
  ep.start();
  auto b = makeBatch(10, EventType::PlayerMove);
  for (std::uint32_t i = 0; i < 10; ++i) b[i].playerId = i;
  CHECK(ep.enqueue(std::move(b)).status == EnqueueStatus::Ok);
  CHECK(ep.drainAndJoin(5s));
  auto s = ep.stats();
  CHECK_EQ(s.processed, 10u);
  CHECK_EQ(s.applied, 5u);
  CHECK_EQ(s.invalid, 5u);
  CHECK_EQ(s.invalidByReason[static_cast<std::size_t>(InvalidReason::BadCoordinates)], 5u);
  const auto& mv = s.byType[static_cast<std::size_t>(EventType::PlayerMove)];
  CHECK_EQ(mv.processed, 10u);
  CHECK_EQ(mv.invalid, 5u);
  CHECK_EQ(mv.latencyNs.count, 10u);
  CHECK_EQ(s.latencyNs.count, 10u);
}

TEST(pause_holds_events_and_resume_processes_them) {
  std::atomic<int> seen{0};
  Event got(Event::Reset::Auto);
  EventProcessor ep(cfg(100), [&](const GameEvent&) {
    if (seen.fetch_add(1) + 1 == 3) got.set();
    return InvalidReason::None;
  });
  ep.start();
  ep.pause();
  CHECK(ep.enqueue(makeBatch(3)).status == EnqueueStatus::Ok);
  CHECK(!got.waitFor(50ms));
  CHECK_EQ(seen.load(), 0);
  ep.resume();
  CHECK(got.waitFor(10s));
  CHECK(ep.drainAndJoin(5s));
}

TEST(wait_processed_wakes_when_the_sequence_is_done) {
  EventProcessor ep(cfg(10000), [](const GameEvent&) { return InvalidReason::None; });
  ep.start();
  ep.pause();
  auto r = ep.enqueue(makeBatch(1000));
  CHECK(r.status == EnqueueStatus::Ok);
  CHECK_EQ(ep.lastAcceptedSeq(), r.lastSeq);
  CHECK(!ep.waitProcessed(r.lastSeq, std::chrono::milliseconds(20)));  // paused: times out
  std::thread waiter([&] { CHECK(ep.waitProcessed(r.lastSeq, std::chrono::seconds(10))); });
  ep.resume();
  waiter.join();
  CHECK(ep.stats().processed >= r.lastSeq);
  CHECK(ep.drainAndJoin(std::chrono::seconds(5)));
}

TEST(restart_after_drain_keeps_counting) {
  EventProcessor ep(cfg(100), [](const GameEvent&) { return InvalidReason::None; });
  for (int run = 0; run < 3; ++run) {
    ep.start();
    CHECK(ep.enqueue(makeBatch(7)).status == EnqueueStatus::Ok);
    CHECK(ep.drainAndJoin(5s));
  }
  auto s = ep.stats();
  CHECK_EQ(s.accepted, 21u);
  CHECK_EQ(s.processed, 21u);
  CHECK_EQ(s.lastSeq, 21u);
}

// Seeded stress: producers with random batch sizes, a thread toggling pause, queue
// pressure. Every accepted sequence number must be processed exactly once.
TEST(stress_every_accepted_event_processed_exactly_once) {
  const std::uint64_t seed = gstest::seed("event_processor_stress");
  constexpr std::size_t kCap = 512;
  constexpr int kProducers = 3, kBatchesEach = 3000;
  const std::size_t maxSeq = kProducers * kBatchesEach * 64 + 1;
  auto hits = std::make_unique<std::atomic<std::uint8_t>[]>(maxSeq + 1);
  EventProcessor ep(cfg(kCap, 5ms), [&](const GameEvent& e) {
    hits[e.seq].fetch_add(1, std::memory_order_relaxed);
    return InvalidReason::None;
  });
  ep.start();
  std::atomic<std::uint64_t> acceptedByProducers{0}, refused{0};
  std::atomic<bool> producing{true};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937_64 rng(seed + static_cast<std::uint64_t>(p));
      for (int i = 0; i < kBatchesEach; ++i) {
        const std::size_t n = 1 + rng() % 64;
        auto r = ep.enqueue(makeBatch(n));
        if (r.status == EnqueueStatus::Ok) {
          CHECK_EQ(r.lastSeq - r.firstSeq + 1, n);
          acceptedByProducers += n;
        } else {
          CHECK(r.status == EnqueueStatus::QueueFull);
          refused += n;
          std::this_thread::yield();
        }
      }
    });
  }
  std::thread toggler([&] {
    std::mt19937_64 rng(seed ^ 0xabcdef);
    while (producing.load()) {
      if (rng() % 2) ep.pause(); else ep.resume();
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 500));  // randomized interleaving, not sync
    }
    ep.resume();
  });
  for (auto& t : producers) t.join();
  producing = false;
  toggler.join();
  CHECK(ep.drainAndJoin(30s));
  auto s = ep.stats();
  CHECK_EQ(s.accepted, acceptedByProducers.load());
  CHECK_EQ(s.processed, s.accepted);
  CHECK_EQ(s.rejectedEvents, refused.load());
  for (std::uint64_t q = 1; q <= s.lastSeq; ++q) CHECK_MSG(hits[q].load() == 1, "seq " << q << " seen " << int(hits[q].load()));
  for (std::uint64_t q = s.lastSeq + 1; q <= maxSeq; ++q) CHECK(hits[q].load() == 0);
}

TEST(enqueue_one_assigns_sequence_and_respects_capacity) {
  std::vector<std::uint64_t> seen;  // consumer thread only; read after drainAndJoin
  std::vector<std::string> texts;
  EventProcessor ep(cfg(3), [&](const GameEvent& e) {
    seen.push_back(e.seq);
    texts.push_back(e.text);
    return InvalidReason::None;
  });
  GameEvent early;
  early.text = "early";
  CHECK(ep.enqueueOne(std::move(early)).status == EnqueueStatus::NotAccepting);
  CHECK_EQ(early.text, std::string("early"));  // refused: left untouched
  ep.start();
  ep.pause();
  CHECK(ep.enqueue(makeBatch(2)).status == EnqueueStatus::Ok);  // seq 1, 2
  GameEvent one;
  one.type = EventType::PlayerChat;
  one.text = std::string(100, 'x');  // a heap-allocated payload travels intact
  auto r = ep.enqueueOne(std::move(one));
  CHECK(r.status == EnqueueStatus::Ok);
  CHECK_EQ(r.firstSeq, 3u);
  CHECK_EQ(r.lastSeq, 3u);
  CHECK_EQ(r.accepted, 1u);
  CHECK_EQ(r.available, 0u);
  GameEvent extra;
  extra.text = "extra";
  auto full = ep.enqueueOne(std::move(extra));
  CHECK(full.status == EnqueueStatus::QueueFull);
  CHECK_EQ(full.accepted, 0u);
  CHECK_EQ(extra.text, std::string("extra"));
  CHECK_EQ(ep.stats().rejectedEvents, 2u);  // `early` and `extra`
  ep.resume();
  CHECK(ep.waitProcessed(3, 10s));
  CHECK(ep.enqueueOne(std::move(extra)).status == EnqueueStatus::Ok);  // offered again
  CHECK(ep.drainAndJoin(10s));
  CHECK_EQ(seen.size(), 4u);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK_EQ(seen[i], i + 1);
  CHECK_EQ(texts[2], std::string(100, 'x'));
  CHECK_EQ(texts[3], std::string("extra"));
  auto s = ep.stats();
  CHECK_EQ(s.accepted, 4u);
  CHECK_EQ(s.processed, 4u);
  CHECK_EQ(s.byType[static_cast<std::size_t>(EventType::PlayerChat)].latencyNs.count, 3u);
  CHECK_EQ(s.latencyNs.count, 4u);
}

// Batches larger than one storage block, mixed with single events, keep their order.
TEST(large_batches_and_single_events_keep_sequence_order) {
  std::uint64_t expect = 1;
  std::atomic<bool> inOrder{true};
  EventProcessor ep(cfg(100000), [&](const GameEvent& e) {
    if (e.seq != expect++ || e.playerId != e.seq) inOrder = false;
    return InvalidReason::None;
  });
  ep.start();
  std::uint64_t next = 1;
  for (int round = 0; round < 50; ++round) {
    const std::size_t n = static_cast<std::size_t>(round * 37 % 300 + 1);
    auto b = makeBatch(n);
    for (auto& e : b) e.playerId = static_cast<std::uint32_t>(next++);
    CHECK(ep.enqueue(std::move(b)).status == EnqueueStatus::Ok);
    GameEvent e;
    e.playerId = static_cast<std::uint32_t>(next++);
    CHECK(ep.enqueueOne(std::move(e)).status == EnqueueStatus::Ok);
  }
  CHECK(ep.drainAndJoin(10s));
  CHECK(inOrder.load());
  CHECK_EQ(ep.stats().processed, next - 1);
}

// Latency is reported in nanoseconds whatever the clock ticks in: an event held by a
// pause for >= 20 ms must show up as >= 20 ms.
TEST(latency_is_reported_in_nanoseconds) {
  EventProcessor ep(cfg(10), [](const GameEvent&) { return InvalidReason::None; });
  ep.start();
  ep.pause();
  const std::uint64_t before = nowNs();
  CHECK(ep.enqueueOne(GameEvent{}).status == EnqueueStatus::Ok);
  std::this_thread::sleep_for(20ms);  // the latency to measure, not synchronization
  ep.resume();
  CHECK(ep.waitProcessed(1, 10s));
  const std::uint64_t upper = nowNs() - before;
  const auto s = ep.stats();
  CHECK_EQ(s.latencyNs.count, 1u);
  CHECK_MSG(s.latencyNs.max >= 19'000'000, s.latencyNs.max);  // clock calibration within 5%
  CHECK_MSG(s.latencyNs.max <= upper + upper / 20, s.latencyNs.max << " > " << upper);
  CHECK_EQ(s.byType[0].latencyNs.max, s.latencyNs.max);
  CHECK(ep.drainAndJoin(5s));
}

// Lost wake-up hunt: producers enqueue with random gaps around the consumer's watch
// window (none, a yield, a few to a few hundred microseconds), so enqueues land while it
// processes, watches, gives up watching, and parks. The idle timeout is an hour, so a
// missed wake-up cannot be rescued by a heartbeat: waitProcessed() would time out.
TEST(stress_no_lost_wakeups_between_watching_and_parking) {
  const std::uint64_t seed = gstest::seed("event_processor_wakeups");
  std::atomic<std::uint64_t> handled{0};
  EventProcessor ep(cfg(1 << 16, std::chrono::hours(1)), [&](const GameEvent&) {
    handled.fetch_add(1, std::memory_order_relaxed);
    return InvalidReason::None;
  });
  ep.start();
  constexpr int kProducers = 2, kRounds = 1500;
  std::atomic<int> timeouts{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937_64 rng(seed * 31 + static_cast<std::uint64_t>(p));
      for (int i = 0; i < kRounds; ++i) {
        EnqueueResult r = rng() % 4 == 0 ? ep.enqueue(makeBatch(1 + rng() % 5)) : ep.enqueueOne(GameEvent{});
        CHECK(r.status == EnqueueStatus::Ok);
        switch (rng() % 6) {  // randomized interleaving, not synchronization
          case 0: break;
          case 1: std::this_thread::yield(); break;
          case 2: std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20)); break;
          case 3: std::this_thread::sleep_for(std::chrono::microseconds(20 + rng() % 100)); break;
          case 4: std::this_thread::sleep_for(std::chrono::microseconds(100 + rng() % 400)); break;
          default: {
            const auto t0 = std::chrono::steady_clock::now();
            while (std::chrono::steady_clock::now() - t0 < std::chrono::microseconds(rng() % 80)) {
            }
          }
        }
        if (rng() % 8 == 0 && !ep.waitProcessed(r.lastSeq, 10s)) timeouts.fetch_add(1);
      }
      // The last enqueue is followed by nothing: only a wake-up can get it processed.
      const EnqueueResult last = ep.enqueueOne(GameEvent{});
      if (!ep.waitProcessed(last.lastSeq, 10s)) timeouts.fetch_add(1);
    });
  }
  for (auto& t : producers) t.join();
  CHECK_EQ(timeouts.load(), 0);
  CHECK(ep.drainAndJoin(10s));
  const auto s = ep.stats();
  CHECK_EQ(s.processed, s.accepted);
  CHECK_EQ(handled.load(), s.accepted);
}

TEST(deferred_enqueues_are_processed_after_one_wake) {
  // No idle timeout to fall back on: only wakeDeferred() (or an immediate enqueue) can
  // get a parked consumer to deferred events.
  const std::uint64_t seed = gstest::seed("event_processor_deferred");
  std::atomic<std::uint64_t> handled{0};
  EventProcessor ep(cfg(1 << 16, std::chrono::hours(1)), [&](const GameEvent&) {
    handled.fetch_add(1, std::memory_order_relaxed);
    return InvalidReason::None;
  });
  ep.start();
  std::atomic<int> timeouts{0};
  // One producer defers (as the Node thread does), one enqueues immediately.
  std::thread deferring([&] {
    std::mt19937_64 rng(seed);
    for (int round = 0; round < 400; ++round) {
      EnqueueResult r;
      const int n = 1 + static_cast<int>(rng() % 8);  // one event-loop turn's requests
      for (int i = 0; i < n; ++i) {
        r = ep.enqueue(makeBatch(1 + rng() % 3), Wake::Deferred);
        CHECK(r.status == EnqueueStatus::Ok);
      }
      if (rng() % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));  // the consumer parks
      ep.wakeDeferred();
      if (rng() % 4 == 0 && !ep.waitProcessed(r.lastSeq, 10s)) timeouts.fetch_add(1);
    }
  });
  std::thread immediate([&] {
    std::mt19937_64 rng(seed + 1);
    for (int i = 0; i < 300; ++i) {
      CHECK(ep.enqueueOne(GameEvent{}).status == EnqueueStatus::Ok);
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 500));
    }
  });
  deferring.join();
  immediate.join();
  // Nothing else enqueues now: only the wake can get these processed.
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(1ms);  // let the consumer park, not synchronization
    const EnqueueResult last = ep.enqueue(makeBatch(1), Wake::Deferred);
    ep.wakeDeferred();
    if (!ep.waitProcessed(last.lastSeq, 10s)) timeouts.fetch_add(1);
  }
  CHECK_EQ(timeouts.load(), 0);
  CHECK(ep.drainAndJoin(10s));
  const auto s = ep.stats();
  CHECK_EQ(s.processed, s.accepted);
  CHECK_EQ(handled.load(), s.accepted);
}

TEST(deferred_enqueue_without_a_wake_is_processed_by_the_idle_timeout) {
  EventProcessor ep(cfg(1000, 20ms), [](const GameEvent&) { return InvalidReason::None; });
  ep.start();
  const EnqueueResult r = ep.enqueue(makeBatch(3), Wake::Deferred);
  CHECK(r.status == EnqueueStatus::Ok);
  CHECK(ep.waitProcessed(r.lastSeq, 10s));
  CHECK(ep.drainAndJoin(5s));
  CHECK_EQ(ep.stats().processed, 3u);
}

GS_TEST_MAIN()
