#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "gamesrv/event.hpp"
#include "gamesrv/histogram.hpp"
#include "gamesrv/tsc_clock.hpp"
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

TEST(histogram_single_writer_path_matches_record) {
  Histogram shared, single;
  std::mt19937_64 rng(gstest::seed("histogram_single_writer"));
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t v = rng() % (1ull << (rng() % 40));
    shared.record(v);
    single.recordSingleWriter(v);
  }
  const auto a = shared.summary(), b = single.summary();
  CHECK_EQ(a.count, b.count);
  CHECK_EQ(a.min, b.min);
  CHECK_EQ(a.max, b.max);
  CHECK_EQ(a.p50, b.p50);
  CHECK_EQ(a.p99, b.p99);
  CHECK_EQ(a.p999, b.p999);
  CHECK(a.mean == b.mean);
}

TEST(histogram_summary_scales_and_merges) {
  Histogram lo, hi;
  for (std::uint64_t v = 1; v <= 1000; ++v) lo.record(v);        // 1..1000
  for (std::uint64_t v = 1001; v <= 2000; ++v) hi.record(v);      // 1001..2000
  const auto scaled = lo.summary(2.5);
  CHECK_EQ(scaled.count, 1000u);
  CHECK_EQ(scaled.min, 3u);  // 1 * 2.5, rounded
  CHECK_EQ(scaled.max, 2500u);
  CHECK_MSG(scaled.p50 >= 1250 * 0.93 && scaled.p50 <= 1250 * 1.07, scaled.p50);
  CHECK_MSG(scaled.mean > 1251 && scaled.mean < 1252, scaled.mean);

  const Histogram* parts[] = {&lo, nullptr, &hi};
  const auto all = Histogram::merged(parts);
  CHECK_EQ(all.count, 2000u);
  CHECK_EQ(all.min, 1u);
  CHECK_EQ(all.max, 2000u);
  CHECK_MSG(all.p50 >= 1000 * 0.93 && all.p50 <= 1000 * 1.07, all.p50);
  CHECK_MSG(all.p99 >= 1980 * 0.93 && all.p99 <= 2000, all.p99);
  const Histogram* none[] = {nullptr};
  CHECK_EQ(Histogram::merged(none).count, 0u);
}

// The buckets in a summary are what an interval's quantiles are computed from: a later
// summary minus an earlier one, bucket by bucket, is exactly what was recorded between.
TEST(histogram_summary_buckets_subtract_to_an_interval) {
  Histogram h, later;
  for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v);
  const auto before = h.summary(2.0);
  std::uint64_t total = 0, prevIndex = 0;
  for (const auto& b : before.buckets) {
    CHECK(b.count > 0);
    CHECK(total == 0 || b.index > prevIndex);  // ascending, non-empty only
    CHECK_EQ(b.upper, 2 * Histogram::bucketUpper(static_cast<int>(b.index)));  // scaled
    prevIndex = b.index;
    total += b.count;
  }
  CHECK_EQ(total, before.count);

  for (std::uint64_t v = 5000; v <= 6000; ++v) {
    h.record(v);
    later.record(v);
  }
  const auto after = h.summary(2.0), only = later.summary(2.0);
  std::vector<std::uint64_t> delta(Histogram::kBuckets, 0);
  for (const auto& b : after.buckets) delta[b.index] += b.count;
  for (const auto& b : before.buckets) delta[b.index] -= b.count;
  std::vector<std::uint64_t> want(Histogram::kBuckets, 0);
  for (const auto& b : only.buckets) want[b.index] = b.count;
  CHECK(delta == want);
  CHECK(Histogram().summary().buckets.empty());
}

// Both clocks measure the same interval; ticks scaled by nsPerTick() must agree.
TEST(tsc_clock_ticks_convert_to_steady_nanoseconds) {
  const std::uint64_t t0 = TscClock::now(), n0 = nowNs();
  std::this_thread::sleep_for(50ms);  // an interval to measure, not synchronization
  const std::uint64_t t1 = TscClock::now(), n1 = nowNs();
  CHECK(t1 > t0);
  const double ticksAsNs = static_cast<double>(t1 - t0) * TscClock::nsPerTick();
  const double ns = static_cast<double>(n1 - n0);
  CHECK_MSG(ticksAsNs > ns * 0.95 && ticksAsNs < ns * 1.05, ticksAsNs << " vs " << ns);
  if (!TscClock::usesTsc()) CHECK(TscClock::nsPerTick() == 1.0);
  std::uint64_t prev = TscClock::now();
  for (int i = 0; i < 100000; ++i) {  // monotone on one thread
    const std::uint64_t t = TscClock::now();
    CHECK(t >= prev);
    prev = t;
  }
}

GS_TEST_MAIN()
