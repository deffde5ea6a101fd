// POSIX lock primitives for LockBenchmark: the in-process futex mutex (the seed's
// CRITICAL_SECTION), a spinlock, and the cross-process / kernel primitives that stand in
// for the seed's named Win32 Mutex.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include "gamesrv/platform/lock_primitives.hpp"
#include "gamesrv/spin.hpp"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace gamesrv::platform {
namespace {

constexpr std::string_view kStdMutex = "std_mutex";
constexpr std::string_view kSpinlock = "spinlock";
constexpr std::string_view kPsharedRobustMutex = "pshared_robust_mutex";
constexpr std::string_view kSysvSemaphore = "sysv_semaphore";
constexpr std::string_view kPosixNamedSemaphore = "posix_named_semaphore";

constexpr std::array<LockKind, 5> kKinds{{
    {kStdMutex, "std::mutex: in-process futex mutex, no syscall unless contended (the CRITICAL_SECTION analog)"},
    {kSpinlock, "std::atomic_flag test-and-set spinlock, pause then yield backoff: never sleeps in the kernel"},
    {kPsharedRobustMutex,
     "pthread mutex, PTHREAD_PROCESS_SHARED + ROBUST, in a MAP_SHARED mapping: cross-process, owner death "
     "detected (the named Win32 Mutex analog)"},
    {kSysvSemaphore, "System V binary semaphore (semget/semop): a system call on every lock and unlock"},
    {kPosixNamedSemaphore,
     "POSIX named semaphore (sem_open): cross-process, futex fast path, kernel only when contended"},
}};

std::error_code errnoCode(int e) { return {e, std::system_category()}; }

std::string failure(std::string_view call, int e) {
  return std::string(call) + ": " + std::strerror(e);
}

std::string_view describe(std::string_view kind) {
  for (const LockKind& k : kKinds)
    if (k.name == kind) return k.description;
  return {};
}

// The kernel orders memory around semop(), but the C++ memory model does not know that,
// and neither does ThreadSanitizer, which does not intercept semop(). These two hooks state
// the happens-before edge a semaphore hand-off provides: a fence for the language, an
// annotation for TSan (GCC does not instrument atomic_thread_fence under TSan and warns).
inline void acquiredThrough(const void* sync) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(const_cast<void*>(sync));
#else
  (void)sync;
  std::atomic_thread_fence(std::memory_order_acquire);
#endif
}

inline void releasingThrough(const void* sync) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(const_cast<void*>(sync));
#else
  (void)sync;
  std::atomic_thread_fence(std::memory_order_release);
#endif
}

class StdMutexLock final : public LockPrimitive {
 public:
  std::string_view name() const noexcept override { return kStdMutex; }
  std::string_view description() const noexcept override { return describe(kStdMutex); }
  std::error_code lock() noexcept override {
    try {
      mu_.lock();
      return {};
    } catch (const std::system_error& e) {
      return e.code();
    }
  }
  void unlock() noexcept override { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Spinning is the point of this kind: it is the lock that never enters the kernel to wait.
// Waiters read (not write) the flag while it is held, pausing 1, 2, 4 .. 64 times, then
// yield the CPU: with more threads than cores the holder may be the one descheduled.
class Spinlock final : public LockPrimitive {
 public:
  std::string_view name() const noexcept override { return kSpinlock; }
  std::string_view description() const noexcept override { return describe(kSpinlock); }
  std::error_code lock() noexcept override {
    unsigned pauses = 1;
    while (flag_.test_and_set(std::memory_order_acquire)) {
      do {
        if (pauses <= kMaxPauses) {
          for (unsigned i = 0; i < pauses; ++i) cpuRelax();
          pauses *= 2;
        } else {
          std::this_thread::yield();
        }
      } while (flag_.test(std::memory_order_relaxed));
    }
    return {};
  }
  void unlock() noexcept override { flag_.clear(std::memory_order_release); }

 private:
  static constexpr unsigned kMaxPauses = 64;
  alignas(64) std::atomic_flag flag_;  // clear on construction (C++20)
};

// The mutex lives in an anonymous MAP_SHARED page, as it would in a segment shared with
// another process (a fork()ed child would see the same mutex).
class PsharedRobustMutex final : public LockPrimitive {
 public:
  static LockPrimitiveResult create() {
    void* page = ::mmap(nullptr, sizeof(pthread_mutex_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return {nullptr, failure("mmap(MAP_SHARED|MAP_ANONYMOUS)", errno)};
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc != 0) {
      ::munmap(page, sizeof(pthread_mutex_t));
      return {nullptr, failure("pthread_mutexattr_init", rc)};
    }
    std::string error;
    if ((rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) != 0) {
      error = failure("pthread_mutexattr_setpshared(PTHREAD_PROCESS_SHARED)", rc);
    } else if ((rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) != 0) {
      error = failure("pthread_mutexattr_setrobust(PTHREAD_MUTEX_ROBUST)", rc);
    } else if ((rc = pthread_mutex_init(static_cast<pthread_mutex_t*>(page), &attr)) != 0) {
      error = failure("pthread_mutex_init", rc);
    }
    pthread_mutexattr_destroy(&attr);
    if (!error.empty()) {
      ::munmap(page, sizeof(pthread_mutex_t));
      return {nullptr, std::move(error)};
    }
    return {std::unique_ptr<LockPrimitive>(new PsharedRobustMutex(static_cast<pthread_mutex_t*>(page))), {}};
  }

  ~PsharedRobustMutex() override {
    pthread_mutex_destroy(mu_);
    ::munmap(mu_, sizeof(pthread_mutex_t));
  }

  std::string_view name() const noexcept override { return kPsharedRobustMutex; }
  std::string_view description() const noexcept override { return describe(kPsharedRobustMutex); }

  std::error_code lock() noexcept override {
    const int rc = pthread_mutex_lock(mu_);
    if (rc == 0) return {};
    // The previous owner died holding it (the Win32 WAIT_ABANDONED case). The data it
    // guarded may be mid-update; a benchmark counter has no invariant to repair, so mark
    // the mutex consistent and carry on holding it.
    if (rc == EOWNERDEAD) {
      const int crc = pthread_mutex_consistent(mu_);
      if (crc == 0) return {};
      pthread_mutex_unlock(mu_);
      return errnoCode(crc);
    }
    return errnoCode(rc);  // ENOTRECOVERABLE: an earlier owner died and nobody recovered it
  }
  void unlock() noexcept override { pthread_mutex_unlock(mu_); }

 private:
  explicit PsharedRobustMutex(pthread_mutex_t* mu) : mu_(mu) {}
  pthread_mutex_t* mu_;  // in the shared mapping; owned
};

// Linux leaves union semun for the caller to declare (semctl(2)).
union SemUn {
  int val;
  semid_ds* buf;
  unsigned short* array;
};

// A one-semaphore SysV set, private to this process; removed (IPC_RMID) on destruction so
// no set outlives the benchmark. No SEM_UNDO: the kernel's per-process undo bookkeeping
// would be measured too.
class SysvSemaphore final : public LockPrimitive {
 public:
  static LockPrimitiveResult create() {
    const int id = ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    if (id < 0) return {nullptr, failure("semget(IPC_PRIVATE)", errno)};
    SemUn arg{};
    arg.val = 1;
    if (::semctl(id, 0, SETVAL, arg) < 0) {
      const int e = errno;
      ::semctl(id, 0, IPC_RMID);
      return {nullptr, failure("semctl(SETVAL, 1)", e)};
    }
    return {std::unique_ptr<LockPrimitive>(new SysvSemaphore(id)), {}};
  }

  ~SysvSemaphore() override { ::semctl(id_, 0, IPC_RMID); }

  std::string_view name() const noexcept override { return kSysvSemaphore; }
  std::string_view description() const noexcept override { return describe(kSysvSemaphore); }

  std::error_code lock() noexcept override {
    sembuf down{0, -1, 0};
    while (::semop(id_, &down, 1) != 0) {
      if (errno != EINTR) return errnoCode(errno);
    }
    acquiredThrough(this);
    return {};
  }
  void unlock() noexcept override {
    releasingThrough(this);
    sembuf up{0, 1, 0};
    ::semop(id_, &up, 1);  // an increment never blocks; it fails only if the set is gone
  }

 private:
  explicit SysvSemaphore(int id) : id_(id) {}
  const int id_;
};

// Opened by a name unique to this process and call (O_EXCL: never someone else's), then
// unlinked at once: the open handle keeps it alive and nothing is left behind in /dev/shm
// if the process dies.
class PosixNamedSemaphore final : public LockPrimitive {
 public:
  static LockPrimitiveResult create() {
    static std::atomic<unsigned> sequence{0};
    std::string name;
    sem_t* sem = SEM_FAILED;
    int e = 0;
    for (int attempt = 0; attempt < 8 && sem == SEM_FAILED; ++attempt) {
      name = "/gamesrv-lockbench-" + std::to_string(::getpid()) + "-" + std::to_string(sequence.fetch_add(1));
      sem = ::sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, 1u);
      e = errno;
      if (sem == SEM_FAILED && e != EEXIST) break;  // only a stale name is worth another try
    }
    if (sem == SEM_FAILED) return {nullptr, failure("sem_open(" + name + ", O_CREAT|O_EXCL)", e)};
    if (::sem_unlink(name.c_str()) != 0) {
      e = errno;
      ::sem_close(sem);
      return {nullptr, failure("sem_unlink(" + name + ")", e)};
    }
    return {std::unique_ptr<LockPrimitive>(new PosixNamedSemaphore(sem)), {}};
  }

  ~PosixNamedSemaphore() override { ::sem_close(sem_); }

  std::string_view name() const noexcept override { return kPosixNamedSemaphore; }
  std::string_view description() const noexcept override { return describe(kPosixNamedSemaphore); }

  // TSan intercepts sem_wait/sem_post and sees the hand-off without annotations.
  std::error_code lock() noexcept override {
    while (::sem_wait(sem_) != 0) {
      if (errno != EINTR) return errnoCode(errno);
    }
    return {};
  }
  void unlock() noexcept override { ::sem_post(sem_); }

 private:
  explicit PosixNamedSemaphore(sem_t* sem) : sem_(sem) {}
  sem_t* const sem_;
};

}  // namespace

std::span<const LockKind> lockKinds() noexcept { return kKinds; }

LockPrimitiveResult makeLockPrimitive(std::string_view kind) {
  if (kind == kStdMutex) return {std::make_unique<StdMutexLock>(), {}};
  if (kind == kSpinlock) return {std::make_unique<Spinlock>(), {}};
  if (kind == kPsharedRobustMutex) return PsharedRobustMutex::create();
  if (kind == kSysvSemaphore) return SysvSemaphore::create();
  if (kind == kPosixNamedSemaphore) return PosixNamedSemaphore::create();
  return {nullptr, "unknown lock kind '" + std::string(kind) + "'"};
}

}  // namespace gamesrv::platform
