// Latency histogram with log-linear buckets (HdrHistogram-style, ~6% precision).
//
// Thread safety: record() may be called from any number of threads at once; it
// is wait-free (relaxed atomic increments). recordSingleWriter() is the cheaper path
// for a histogram that only one thread ever records into (plain loads and stores, no
// locked instruction); mixing the two on one histogram, or two threads calling
// recordSingleWriter() on it, loses counts. summary() may run concurrently with either
// and sees a slightly torn but monotone view, which is fine for telemetry.
#pragma once
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <span>
#include <vector>

namespace gamesrv {

// One non-empty bucket of a histogram.
struct HistogramBucket {
  std::uint32_t index = 0;  // Histogram::bucketOf() of the values it holds
  std::uint64_t count = 0;
  std::uint64_t upper = 0;  // the largest value it holds, scaled as its summary
};

struct HistogramSummary {
  std::uint64_t count = 0;
  double mean = 0;  // in the unit values were recorded in
  std::uint64_t min = 0;
  std::uint64_t p50 = 0;
  std::uint64_t p90 = 0;
  std::uint64_t p99 = 0;
  std::uint64_t p999 = 0;
  std::uint64_t max = 0;
  // The non-empty buckets, ascending. Counts only grow, so subtracting an earlier
  // summary's buckets, index by index, gives the values recorded in between: quantiles
  // over an interval (the telemetry topics do this, src/telemetry/topics.ts).
  std::vector<HistogramBucket> buckets;
};

class Histogram {
 public:
  static constexpr int kSubBits = 4;  // 16 sub-buckets per power of two (<= 6.25% error)
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kMajors = 64 - kSubBits + 1;
  static constexpr int kBuckets = kMajors * kSub;

  void record(std::uint64_t value) noexcept;
  // Requires: the calling thread is the only one that records into this histogram.
  void recordSingleWriter(std::uint64_t value) noexcept {
    bump(buckets_[static_cast<std::size_t>(bucketOf(value))], 1);
    bump(count_, 1);
    bump(sum_, value);
    if (value > max_.load(std::memory_order_relaxed)) max_.store(value, std::memory_order_relaxed);
    if (value < min_.load(std::memory_order_relaxed)) min_.store(value, std::memory_order_relaxed);
  }

  HistogramSummary summary() const { return summary(1.0); }
  // Every value in the summary multiplied by `scale` (e.g. ns per tick, for a histogram
  // that records clock ticks).
  HistogramSummary summary(double scale) const;
  // One summary over the union of `parts` (e.g. per-type histograms summed into a total),
  // scaled as above. Null entries are skipped.
  static HistogramSummary merged(std::span<const Histogram* const> parts, double scale = 1.0);
  // Value at quantile q in [0, 1]; returns the upper edge of the bucket holding it.
  std::uint64_t quantile(double q) const noexcept;
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  void reset() noexcept;

  static int bucketOf(std::uint64_t v) noexcept {
    if (v < static_cast<std::uint64_t>(kSub)) return static_cast<int>(v);
    const int msb = 63 - std::countl_zero(v);  // >= kSubBits
    const int shift = msb - kSubBits;
    const int major = shift + 1;
    const int sub = static_cast<int>((v >> shift) & (kSub - 1));
    return major * kSub + sub;
  }
  static std::uint64_t bucketUpper(int bucket) noexcept;

 private:
  static void bump(std::atomic<std::uint64_t>& a, std::uint64_t d) noexcept {
    a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }

  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> min_{~0ull};
  std::atomic<std::uint64_t> max_{0};
};

}  // namespace gamesrv
