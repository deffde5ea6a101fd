// A counter that several threads add to at a high rate (a game port's inputs: one add per
// frame from every I/O thread). One atomic would bounce its cache line between the
// threads on every add; here each thread adds to its own stripe (by a per-thread index),
// and a read sums the stripes. Reads are not a snapshot across stripes: a sum taken while
// threads add is somewhere between the values before and after.
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gamesrv {

class StripedCounter {
 public:
  static constexpr std::size_t kStripes = 8;

  void add(std::uint64_t n = 1) noexcept { stripes_[stripeOfThisThread()].value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t load() const noexcept {
    std::uint64_t sum = 0;
    for (const Stripe& s : stripes_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  struct alignas(64) Stripe {
    std::atomic<std::uint64_t> value{0};
  };
  static std::size_t stripeOfThisThread() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
    return mine;
  }
  std::array<Stripe, kStripes> stripes_{};
};

}  // namespace gamesrv
