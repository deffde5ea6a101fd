// TscClock: a monotonic tick counter for hot-path timestamps, read in a few ns.
//
// On x86-64 with an invariant TSC (constant rate, runs in every C-state, synchronized
// across cores: CPUID 0x80000007 EDX bit 8) a tick is one TSC increment, read with one
// `rdtsc` (~11 ns on the project's VMs, where std::chrono::steady_clock costs 30-60 ns).
// Anywhere else ticks are steady-clock nanoseconds and nsPerTick() is 1.
//
// Ticks are for intervals measured inside one process: take two readings, subtract,
// and convert with nsPerTick() when the figure is read (histograms record raw tick
// deltas and scale their summary). A reading taken on one core and compared with one
// taken on another may be off by the cores' residual skew (tens of ns at most): clamp
// negative intervals to zero.
//
// Thread safety: every member is safe from any thread.
#pragma once
#include <algorithm>
#include <cstdint>

#include "gamesrv/clock.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define GAMESRV_TSC_CLOCK_RDTSC 1
#endif

namespace gamesrv {

class TscClock {
 public:
  // True when ticks come from the TSC (decided once, on first use).
  static bool usesTsc() noexcept {
    static const bool use = detectInvariantTsc();
    return use;
  }

  static std::uint64_t now() noexcept {
#ifdef GAMESRV_TSC_CLOCK_RDTSC
    if (usesTsc()) return __builtin_ia32_rdtsc();
#endif
    return nowNs();
  }

  // Nanoseconds per tick, measured against the steady clock over the process's life so
  // far (from an origin taken during static initialization). The two readings of a pair
  // are taken back to back, so once the process has run a few milliseconds the error is
  // far below a histogram's 6% buckets. Costs ~3 clock reads: call it when stats are
  // read, or once before a loop, never per event.
  static double nsPerTick() noexcept {
    if (!usesTsc()) return 1.0;
    const Origin& o = origin();
    for (;;) {
      std::uint64_t t0, t1, ns;
      int tries = 0;
      do {  // a pair straddling a preemption is useless: read again
        t0 = now();
        ns = nowNs();
        t1 = now();
      } while (t1 - t0 > 20'000 && ++tries < 4);
      const std::uint64_t dns = ns - o.ns;
      // Right after start-up the interval is too short to trust; this wait happens at
      // most once per process, for at most 200 us.
      if (dns < 200'000) continue;
      const double dt = static_cast<double>(t0 + (t1 - t0) / 2 - o.ticks);
      if (dt <= 0) return 1.0;
      return std::clamp(static_cast<double>(dns) / dt, 1e-3, 1e3);
    }
  }

  static std::uint64_t ticksFromNs(std::uint64_t ns) noexcept {
    return static_cast<std::uint64_t>(static_cast<double>(ns) / nsPerTick());
  }

 private:
  struct Origin {
    std::uint64_t ticks;
    std::uint64_t ns;
  };

  static const Origin& origin() noexcept {
    static const Origin o{now(), nowNs()};
    return o;
  }
  // Takes the origin during static initialization, so that calibration spans the
  // process's whole life rather than starting at the first stats read.
  static inline const Origin& originAtStartUp_ = origin();

  static bool detectInvariantTsc() noexcept {
#ifdef GAMESRV_TSC_CLOCK_RDTSC
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0x80000000u, nullptr) < 0x80000007u) return false;
    __cpuid(0x80000007u, a, b, c, d);
    return (d & (1u << 8)) != 0;
#else
    return false;
#endif
  }
};

// Unix milliseconds for one thread that needs them per event (the event thread stamps
// every player it touches): the OS clock is read at most once per `resolutionNs` of TSC
// time, the rest are the last reading. A clock read (clock_gettime, even from the vDSO)
// cost a third of the event thread's time per MOVE on the project's VMs; an rdtsc costs a
// few nanoseconds. Not thread-safe: one instance per thread.
class CoarseUnixMs {
 public:
  explicit CoarseUnixMs(std::uint64_t resolutionNs = 500'000) noexcept : resolutionNs_(resolutionNs) {}
  std::uint64_t now() noexcept {
    const std::uint64_t t = TscClock::now();
    if (every_ == 0) every_ = std::max<std::uint64_t>(1, TscClock::ticksFromNs(resolutionNs_));  // once
    if (ms_ == 0 || t - at_ >= every_) {
      ms_ = unixMs();
      at_ = t;
    }
    return ms_;
  }

 private:
  std::uint64_t resolutionNs_;
  std::uint64_t every_ = 0;
  std::uint64_t at_ = 0;
  std::uint64_t ms_ = 0;
};

}  // namespace gamesrv
