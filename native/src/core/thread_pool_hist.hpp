// TickShard: one pool worker's share of a latency histogram in CPU ticks, on
// gamesrv::Histogram's buckets. Only its worker records into it, a run of samples at a
// time: plain loads and stores (no locked instruction, no cache line shared with another
// worker), and sum / min / max written once per run. The count is the buckets' total.
// mergeShards() adds shards up into a HistogramSummary, as Histogram::merged() does.
//
// Thread safety: record() by one thread at a time (handed over under a lock); readers
// may run concurrently and see a slightly torn but monotone view, fine for telemetry.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gamesrv/histogram.hpp"

namespace gamesrv::detail {

class TickShard {
 public:
  void record(const std::uint64_t* values, std::size_t n) noexcept {
    std::uint64_t sum = 0, lo = ~std::uint64_t{0}, hi = 0;
    // Neighbouring samples mostly share a bucket: count runs in a register rather than
    // bump one counter in memory back to back (each bump would wait for the last).
    int bucket = -1;
    std::uint64_t same = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t v = values[i];
      const int b = Histogram::bucketOf(v);
      if (b != bucket) {
        if (same != 0) bump(bucket, same);
        bucket = b;
        same = 0;
      }
      ++same;
      sum += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (same != 0) bump(bucket, same);
    sum_.store(sum_.load(std::memory_order_relaxed) + sum, std::memory_order_relaxed);
    if (lo < min_.load(std::memory_order_relaxed)) min_.store(lo, std::memory_order_relaxed);
    if (hi > max_.load(std::memory_order_relaxed)) max_.store(hi, std::memory_order_relaxed);
  }
  void record(std::uint64_t value) noexcept { record(&value, 1); }

  friend HistogramSummary mergeShards(const std::vector<const TickShard*>& shards, double scale) noexcept;

 private:
  void bump(int bucket, std::uint64_t n) noexcept {
    auto& b = buckets_[static_cast<std::size_t>(bucket)];
    b.store(b.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  std::array<std::atomic<std::uint64_t>, Histogram::kBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> min_{~std::uint64_t{0}};
  std::atomic<std::uint64_t> max_{0};
};

// Every value scaled by `scale` (ns per tick).
inline HistogramSummary mergeShards(const std::vector<const TickShard*>& shards, double scale) noexcept {
  auto scaled = [scale](std::uint64_t v) {
    const double x = static_cast<double>(v) * scale + 0.5;
    return x >= 18446744073709549568.0 ? ~std::uint64_t{0} : static_cast<std::uint64_t>(x);
  };
  std::array<std::uint64_t, Histogram::kBuckets> snap{};  // one view for every quantile
  std::uint64_t total = 0, sum = 0, mn = ~std::uint64_t{0}, mx = 0;
  for (const TickShard* h : shards) {
    for (std::size_t i = 0; i < snap.size(); ++i) {
      const std::uint64_t n = h->buckets_[i].load(std::memory_order_relaxed);
      snap[i] += n;
      total += n;
    }
    sum += h->sum_.load(std::memory_order_relaxed);
    mn = std::min(mn, h->min_.load(std::memory_order_relaxed));
    mx = std::max(mx, h->max_.load(std::memory_order_relaxed));
  }
  HistogramSummary s;
  if (total == 0) return s;
  s.count = total;
  s.mean = static_cast<double>(sum) / static_cast<double>(total) * scale;
  s.min = scaled(mn);
  s.max = scaled(mx);
  const double qs[4] = {0.50, 0.90, 0.99, 0.999};
  std::uint64_t* outs[4] = {&s.p50, &s.p90, &s.p99, &s.p999};
  int qi = 0;
  std::uint64_t seen = 0;
  for (int i = 0; i < Histogram::kBuckets && qi < 4; ++i) {
    seen += snap[static_cast<std::size_t>(i)];
    while (qi < 4) {
      const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(qs[qi] * static_cast<double>(total) + 0.5));
      if (seen < rank) break;
      *outs[qi++] = scaled(std::min(Histogram::bucketUpper(i), mx));
    }
  }
  return s;
}

}  // namespace gamesrv::detail
