#include "gamesrv/histogram.hpp"

#include <bit>

namespace gamesrv {

int Histogram::bucketOf(std::uint64_t v) noexcept {
  if (v < static_cast<std::uint64_t>(kSub)) return static_cast<int>(v);
  const int msb = 63 - std::countl_zero(v);  // >= kSubBits
  const int shift = msb - kSubBits;
  const int major = shift + 1;
  const int sub = static_cast<int>((v >> shift) & (kSub - 1));
  return major * kSub + sub;
}

std::uint64_t Histogram::bucketUpper(int b) noexcept {
  if (b < kSub) return static_cast<std::uint64_t>(b);
  const int major = b / kSub;
  const int sub = b % kSub;
  const int shift = major - 1;
  const std::uint64_t base = (static_cast<std::uint64_t>(kSub) | static_cast<std::uint64_t>(sub)) << shift;
  return base + ((1ull << shift) - 1);
}

void Histogram::record(std::uint64_t v) noexcept {
  buckets_[static_cast<std::size_t>(bucketOf(v))].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  std::uint64_t cur = max_.load(std::memory_order_relaxed);
  while (v > cur && !max_.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
  cur = min_.load(std::memory_order_relaxed);
  while (v < cur && !min_.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

std::uint64_t Histogram::quantile(double q) const noexcept {
  std::uint64_t total = 0;
  for (const auto& b : buckets_) total += b.load(std::memory_order_relaxed);
  if (total == 0) return 0;
  auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total) + 0.5);
  if (rank < 1) rank = 1;
  if (rank > total) rank = total;
  std::uint64_t seen = 0;
  const std::uint64_t mx = max_.load(std::memory_order_relaxed);
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[static_cast<std::size_t>(i)].load(std::memory_order_relaxed);
    if (seen >= rank) {
      const std::uint64_t up = bucketUpper(i);
      return up < mx ? up : mx;
    }
  }
  return mx;
}

HistogramSummary Histogram::summary() const noexcept {
  // One pass over a copy of the buckets: every quantile comes from the same view.
  HistogramSummary s;
  std::array<std::uint64_t, kBuckets> snap;
  std::uint64_t total = 0;
  for (int i = 0; i < kBuckets; ++i) {
    snap[static_cast<std::size_t>(i)] = buckets_[static_cast<std::size_t>(i)].load(std::memory_order_relaxed);
    total += snap[static_cast<std::size_t>(i)];
  }
  if (total == 0) return s;
  s.count = total;
  s.mean = static_cast<double>(sum_.load(std::memory_order_relaxed)) / static_cast<double>(count_.load(std::memory_order_relaxed) ? count_.load(std::memory_order_relaxed) : 1);
  s.min = min_.load(std::memory_order_relaxed);
  s.max = max_.load(std::memory_order_relaxed);
  const double qs[4] = {0.50, 0.90, 0.99, 0.999};
  std::uint64_t* outs[4] = {&s.p50, &s.p90, &s.p99, &s.p999};
  int qi = 0;
  std::uint64_t seen = 0;
  for (int i = 0; i < kBuckets && qi < 4; ++i) {
    seen += snap[static_cast<std::size_t>(i)];
    while (qi < 4) {
      auto rank = static_cast<std::uint64_t>(qs[qi] * static_cast<double>(total) + 0.5);
      if (rank < 1) rank = 1;
      if (seen < rank) break;
      const std::uint64_t up = bucketUpper(i);
      *outs[qi] = up < s.max ? up : s.max;
      ++qi;
    }
  }
  return s;
}

void Histogram::reset() noexcept {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  min_.store(~0ull, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
}

}  // namespace gamesrv
