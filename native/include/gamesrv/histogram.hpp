// Latency histogram with log-linear buckets (HdrHistogram-style, ~6% precision).
//
// Thread safety: record() may be called from any number of threads at once; it
// is wait-free (relaxed atomic increments). summary() may run concurrently with
// record() and sees a slightly torn but monotone view, which is fine for telemetry.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>

namespace gamesrv {

struct HistogramSummary {
  std::uint64_t count = 0;
  double mean = 0;  // in the unit values were recorded in
  std::uint64_t min = 0;
  std::uint64_t p50 = 0;
  std::uint64_t p90 = 0;
  std::uint64_t p99 = 0;
  std::uint64_t p999 = 0;
  std::uint64_t max = 0;
};

class Histogram {
 public:
  static constexpr int kSubBits = 4;  // 16 sub-buckets per power of two (<= 6.25% error)
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kMajors = 64 - kSubBits + 1;
  static constexpr int kBuckets = kMajors * kSub;

  void record(std::uint64_t value) noexcept;
  HistogramSummary summary() const noexcept;
  // Value at quantile q in [0, 1]; returns the upper edge of the bucket holding it.
  std::uint64_t quantile(double q) const noexcept;
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  void reset() noexcept;

  static int bucketOf(std::uint64_t value) noexcept;
  static std::uint64_t bucketUpper(int bucket) noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> min_{~0ull};
  std::atomic<std::uint64_t> max_{0};
};

}  // namespace gamesrv
