// Spinning, the one way the engine does it: a CPU hint inside a busy-wait, and a lock
// taken by trying a few times before blocking (for a mutex held only briefly, where a
// futex sleep and wake-up cost more than the wait).
//
// Thread safety: both are free functions over the caller's own state.
#pragma once
#include <mutex>

namespace gamesrv {

// Tells the CPU the thread is spinning (x86 PAUSE, Arm YIELD); nothing elsewhere.
inline void cpuRelax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#endif
}

inline constexpr int kLockSpins = 64;  // try_lock rounds before blocking

// Locks `lock`'s mutex: kLockSpins try_lock rounds, then a blocking lock().
inline void lockAdaptive(std::unique_lock<std::mutex>& lock) {
  for (int i = 0; i < kLockSpins; ++i) {
    if (lock.try_lock()) return;
    cpuRelax();
  }
  lock.lock();
}

}  // namespace gamesrv
