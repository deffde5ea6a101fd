#include "gamesrv/histogram.hpp"

#include <algorithm>
#include <bit>

namespace gamesrv {

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

namespace {

std::uint64_t scaled(std::uint64_t v, double scale) noexcept {
  if (scale == 1.0) return v;
  const double x = static_cast<double>(v) * scale + 0.5;
  return x >= 18446744073709549568.0 ? ~std::uint64_t{0} : static_cast<std::uint64_t>(x);
}

}  // namespace

HistogramSummary Histogram::summary(double scale) const {
  const Histogram* self = this;
  return merged(std::span<const Histogram* const>(&self, 1), scale);
}

HistogramSummary Histogram::merged(std::span<const Histogram* const> parts, double scale) {
  // One pass over a copy of the buckets: every quantile comes from the same view.
  HistogramSummary s;
  std::array<std::uint64_t, kBuckets> snap{};
  std::uint64_t total = 0, count = 0, sum = 0, mn = ~std::uint64_t{0}, mx = 0;
  for (const Histogram* h : parts) {
    if (h == nullptr) continue;
    for (std::size_t i = 0; i < snap.size(); ++i) {
      const std::uint64_t n = h->buckets_[i].load(std::memory_order_relaxed);
      snap[i] += n;
      total += n;
    }
    count += h->count_.load(std::memory_order_relaxed);
    sum += h->sum_.load(std::memory_order_relaxed);
    mn = std::min(mn, h->min_.load(std::memory_order_relaxed));
    mx = std::max(mx, h->max_.load(std::memory_order_relaxed));
  }
  if (total == 0) return s;
  s.count = total;
  s.mean = static_cast<double>(sum) / static_cast<double>(count ? count : 1) * scale;
  s.min = scaled(mn, scale);
  s.max = scaled(mx, scale);
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
      *outs[qi] = scaled(up < mx ? up : mx, scale);
      ++qi;
    }
  }
  for (int i = 0; i < kBuckets; ++i) {
    const std::uint64_t n = snap[static_cast<std::size_t>(i)];
    if (n != 0) s.buckets.push_back({static_cast<std::uint32_t>(i), n, scaled(bucketUpper(i), scale)});
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
