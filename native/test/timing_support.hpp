// Timing tests and the platform's wait granularity, measured at run time.
//
// A timed wait can end no sooner than the platform's timer lets it. On Linux a
// std::condition_variable::wait_until of 1 ms is late by ~0.1 ms; with mingw's
// winpthreads every timed wait is rounded to whole milliseconds and re-waited until
// GetTickCount64 catches up: ~1.1-1.3 ms late under wine (measured), up to a 15.6 ms
// timer tick on Windows at its default timer resolution. A drift test asks "are deadlines absolute?", not
// "is this platform's timer fine?": it picks its period and tolerances from the measured
// granularity, so it stays exactly as strict where waits are precise and still proves the
// property where they are coarse. No #ifdef: the same code measures every platform.
#pragma once
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <vector>

namespace gstest {

// Median lateness of a few 1 ms std::condition_variable::wait_until calls on a condvar
// nobody signals (spurious wake-ups re-wait to the same deadline). Measured once per process.
inline std::chrono::nanoseconds waitGranularity() {
  static const std::chrono::nanoseconds g = [] {
    using Clock = std::chrono::steady_clock;
    constexpr int kSamples = 9;
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Clock::duration> late;
    late.reserve(kSamples);
    std::unique_lock lock(mu);
    for (int i = 0; i < kSamples; ++i) {
      const auto deadline = Clock::now() + std::chrono::milliseconds(1);
      while (cv.wait_until(lock, deadline) != std::cv_status::timeout) {
      }
      late.push_back(std::max(Clock::now() - deadline, Clock::duration::zero()));
    }
    std::nth_element(late.begin(), late.begin() + kSamples / 2, late.end());
    return std::chrono::duration_cast<std::chrono::nanoseconds>(late[kSamples / 2]);
  }();
  return g;
}

// The shortest period a timing test can ask of this platform's waits and still expect
// them on time: `wanted`, or 4x the wait granularity where waits are coarser than that,
// rounded up to a whole millisecond. Prints the granularity and the period chosen.
inline std::chrono::nanoseconds periodFor(const char* testName, std::chrono::nanoseconds wanted) {
  const std::chrono::nanoseconds g = waitGranularity();
  std::chrono::nanoseconds period = wanted;
  if (4 * g > wanted) period = std::chrono::ceil<std::chrono::milliseconds>(4 * g);
  std::printf("  [%s] wait granularity %.3f ms; period %.3f ms (wanted %.3f ms)\n", testName,
              std::chrono::duration<double, std::milli>(g).count(),
              std::chrono::duration<double, std::milli>(period).count(),
              std::chrono::duration<double, std::milli>(wanted).count());
  std::fflush(stdout);
  return period;
}

}  // namespace gstest
