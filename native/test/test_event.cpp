#include <atomic>
#include <thread>
#include <vector>

#include "gamesrv/event.hpp"
#include "gamesrv/histogram.hpp"
#include "harness.hpp"

using namespace gamesrv;
using namespace std::chrono_literals;

TEST(auto_reset_releases_one_waiter_per_set) {
  Event ev(Event::Reset::Auto);
  Event ack(Event::Reset::Auto);
  std::atomic<int> woke{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) ts.emplace_back([&] {
    if (ev.waitFor(10s)) {
      woke.fetch_add(1);
      ack.set();
    }
  });
  for (int i = 1; i <= 3; ++i) {
    ev.set();
    CHECK(ack.waitFor(10s));
    CHECK_EQ(woke.load(), i);  // one set() released exactly one waiter
  }
  for (auto& t : ts) t.join();
  CHECK(!ev.isSet());
  // Like a Win32 event, setting an already-set event is idempotent: one release.
  ev.set();
  ev.set();
  CHECK(ev.waitFor(0ms));
  CHECK(!ev.waitFor(0ms));
}

TEST(manual_reset_stays_set_until_reset) {
  Event ev(Event::Reset::Manual);
  CHECK(!ev.waitFor(1ms));
  ev.set();
  CHECK(ev.waitFor(0ms));
  CHECK(ev.waitFor(0ms));
  ev.reset();
  CHECK(!ev.waitFor(1ms));
}

TEST(wait_times_out) {
  Event ev;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(!ev.waitFor(20ms));
  CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
}

TEST(wait_any_over_200_events_has_no_64_handle_cap) {
  constexpr int kN = 200;
  std::vector<std::unique_ptr<Event>> evs;
  std::vector<Event*> ptrs;
  for (int i = 0; i < kN; ++i) {
    evs.push_back(std::make_unique<Event>());
    ptrs.push_back(evs.back().get());
  }
  std::thread setter([&] { evs[150]->set(); });
  auto hit = Event::waitAny(ptrs, 5s);
  setter.join();
  CHECK(hit.has_value());
  CHECK_EQ(*hit, std::size_t{150});
  CHECK(!evs[150]->isSet());  // auto-reset: consumed by the wait
}

TEST(wait_all_over_130_events_completes_only_when_all_set) {
  constexpr int kN = 130;
  std::vector<std::unique_ptr<Event>> evs;
  std::vector<Event*> ptrs;
  for (int i = 0; i < kN; ++i) {
    evs.push_back(std::make_unique<Event>(i % 2 ? Event::Reset::Manual : Event::Reset::Auto));
    ptrs.push_back(evs.back().get());
  }
  for (int i = 0; i < kN - 1; ++i) evs[i]->set();
  CHECK(!Event::waitAll(ptrs, 10ms));
  std::thread last([&] { evs[kN - 1]->set(); });
  CHECK(Event::waitAll(ptrs, 5s));
  last.join();
  CHECK(!evs[0]->isSet());  // auto-reset consumed
  CHECK(evs[1]->isSet());   // manual stays set
}

TEST(wait_any_times_out_without_consuming) {
  Event a, b;
  Event* ptrs[] = {&a, &b};
  CHECK(!Event::waitAny(ptrs, 5ms).has_value());
}

TEST(histogram_percentiles_within_bucket_precision) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v);
  auto s = h.summary();
  CHECK_EQ(s.count, std::uint64_t{100000});
  CHECK_EQ(s.max, std::uint64_t{100000});
  CHECK_EQ(s.min, std::uint64_t{1});
  auto near = [](std::uint64_t got, double want) { return got >= want * 0.93 && got <= want * 1.07; };
  CHECK_MSG(near(s.p50, 50000), s.p50);
  CHECK_MSG(near(s.p99, 99000), s.p99);
  CHECK_MSG(near(s.p999, 99900), s.p999);
  for (std::uint64_t v : {0ull, 1ull, 15ull, 16ull, 17ull, 1000ull, 123456789ull, ~0ull >> 1}) {
    const int b = Histogram::bucketOf(v);
    CHECK_MSG(Histogram::bucketUpper(b) >= v, v);
    if (b > 0) CHECK_MSG(Histogram::bucketUpper(b - 1) < v, v);
  }
}

GS_TEST_MAIN()
