// Monotonic and wall-clock helpers shared by every component.
#pragma once
#include <chrono>
#include <cstdint>

namespace gamesrv {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using Nanos = std::chrono::nanoseconds;

inline std::uint64_t nowNs() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<Nanos>(SteadyClock::now().time_since_epoch()).count());
}

inline std::uint64_t unixMs() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

inline TimePoint fromNs(std::uint64_t ns) noexcept { return TimePoint(Nanos(ns)); }

}  // namespace gamesrv
