// A reader/writer lock of the host OS, for the engine's read-mostly state (the World).
//
// Why not std::shared_mutex: in the mingw-w64 build (posix thread model) it is
// winpthreads' pthread_rwlock_t, statically initialized, and a thread that calls in while
// another is lazily building it gets EINVAL, which libstdc++ ignores: mutual exclusion is
// lost and both threads can deadlock later (under wine: test_world hung about one run in
// ten; docs/DESIGN-NOTES.md "Windows: no std::shared_mutex",
// native/test/repro/repro_pthread_rwlock.cpp). So each platform backend supplies its own:
// native/src/platform/win32 an SRWLOCK (Slim Reader/Writer lock, kernel32),
// native/src/platform/posix a pthread_rwlock_t initialized up front and, on glibc,
// writer-preferring (a waiting writer holds new readers back). No code under native/ may
// name std::shared_mutex or std::shared_timed_mutex: cmake/check-no-std-shared-mutex.cmake
// fails the build if one appears.
//
// Meets the standard SharedMutex requirements, so std::unique_lock and std::shared_lock
// work with it. Not recursive, not upgradable. Misuse (locking twice on one thread,
// unlocking what is not held) is undefined, as for std::shared_mutex.
//
// Thread safety: lock/unlock and lock_shared/unlock_shared from any threads, as for
// std::shared_mutex. Construct and destroy it while no thread holds or waits for it.
#pragma once
#include <cstddef>

namespace gamesrv::platform {

class SharedMutex {
 public:
  SharedMutex() noexcept;
  ~SharedMutex();
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() noexcept;
  [[nodiscard]] bool try_lock() noexcept;
  void unlock() noexcept;  // Requires: held exclusively by the calling thread.

  void lock_shared() noexcept;
  [[nodiscard]] bool try_lock_shared() noexcept;
  void unlock_shared() noexcept;  // Requires: held shared by the calling thread.

  // Room for the backend's lock object; each backend checks its type fits.
  static constexpr std::size_t kStorageBytes = 64;

 private:
  alignas(std::max_align_t) unsigned char storage_[kStorageBytes];
};

}  // namespace gamesrv::platform
