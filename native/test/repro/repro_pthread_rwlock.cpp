// The minimal reproduction of the Windows lane's test_world hang (issue 17): winpthreads'
// pthread_rwlock_t used exactly as libstdc++'s std::shared_mutex uses it in the mingw-w64
// build (statically initialized with PTHREAD_RWLOCK_INITIALIZER, return codes other than
// EDEADLK ignored), no World. docs/DESIGN-NOTES.md "Windows: no std::shared_mutex" has
// the cause and the measured rates; in short: winpthreads builds a statically
// initialized rwlock on first use, and a second thread arriving during that build gets
// EINVAL without the lock. libstdc++ ignores the EINVAL, the thread runs its "locked"
// section unlocked and its unlock corrupts the lock's counters, and a later
// lock/unlock pair deadlocks both threads.
//
// The cases:
//  - static_init_*: the lock as libstdc++ has it. Under wine these fail (EINVAL counted)
//    or hang (..._world_shape); that is what they reproduce.
//  - eager_init_*: the same lock made with pthread_rwlock_init before any thread shares
//    it. These pass under wine: the first-use race is the whole cause.
// The fixed twin is test_shared_mutex (platform::SharedMutex, an SRWLOCK on Win32),
// which runs in every lane. This file is built in every build and run by no lane; run it:
//   GAMESRV_WIN_TESTS=repro_pthread_rwlock GAMESRV_WIN_TEST_REPEAT=50 npm run test:win
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "harness.hpp"
#include "rwlock_stress.hpp"

namespace {

// Non-zero returns, which libstdc++ would ignore, by call and error code.
enum Call { kWrlock, kRdlock, kUnlock, kCalls };
constexpr const char* kCallNames[kCalls] = {"wrlock", "rdlock", "unlock"};
constexpr int kCodes = 64;
std::atomic<std::uint64_t> gErrors{0};
std::atomic<std::uint64_t> gByCode[kCalls][kCodes];

void note(Call call, int rc) {
  if (rc == 0) return;
  gErrors.fetch_add(1, std::memory_order_relaxed);
  gByCode[call][rc > 0 && rc < kCodes ? rc : 0].fetch_add(1, std::memory_order_relaxed);
}

void resetErrors() {
  gErrors = 0;
  for (auto& call : gByCode)
    for (auto& n : call) n = 0;
}

void printErrors() {
  for (int c = 0; c < kCalls; ++c)
    for (int code = 0; code < kCodes; ++code)
      if (const auto n = gByCode[c][code].load())
        std::printf("    pthread_rwlock_%s returned %d (%s) %llu times\n", kCallNames[c], code,
                    code == EINVAL ? "EINVAL" : code == EPERM ? "EPERM" : code == EBUSY ? "EBUSY" : "?",
                    static_cast<unsigned long long>(n));
}

// A SharedMutex over pthread_rwlock_t doing what libstdc++'s __shared_mutex_pthread does
// (rdlock retried on EAGAIN; other errors carry on as if locked), counting the errors.
template <bool EagerInit>
class PthreadRwlock {
 public:
  PthreadRwlock() {
    if constexpr (EagerInit) note(kWrlock, pthread_rwlock_init(&rw_, nullptr));
  }
  PthreadRwlock(const PthreadRwlock&) = delete;
  PthreadRwlock& operator=(const PthreadRwlock&) = delete;
  ~PthreadRwlock() { pthread_rwlock_destroy(&rw_); }

  void lock() { note(kWrlock, pthread_rwlock_wrlock(&rw_)); }
  void unlock() { note(kUnlock, pthread_rwlock_unlock(&rw_)); }
  void lock_shared() {
    int rc;
    do rc = pthread_rwlock_rdlock(&rw_);
    while (rc == EAGAIN);
    note(kRdlock, rc);
  }
  void unlock_shared() { unlock(); }

 private:
  pthread_rwlock_t rw_ = PTHREAD_RWLOCK_INITIALIZER;
};

template <bool EagerInit>
void firstUseRace(std::uint32_t rounds) {
  resetErrors();
  const auto r = gstest::rwFirstUseRace<PthreadRwlock<EagerInit>>(rounds);
  std::printf("  %llu fresh locks: %llu calls failed, %llu torn reads\n", static_cast<unsigned long long>(r.rounds),
              static_cast<unsigned long long>(gErrors.load()), static_cast<unsigned long long>(r.torn));
  printErrors();
  CHECK_EQ(gErrors.load(), 0u);
  CHECK_EQ(r.torn, 0u);
}

template <bool EagerInit>
void worldShape() {
  using gstest::WorldShape;
  resetErrors();
  std::uint64_t torn = 0;
  for (int i = 0; i < WorldShape::kRounds; ++i) {
    torn += gstest::rwWorldShape<PthreadRwlock<EagerInit>>(WorldShape::kWrites, WorldShape::kWorkPerWrite).torn;
  }
  std::printf("  %d fresh locks x %u writes: %llu calls failed, %llu torn reads\n", WorldShape::kRounds,
              WorldShape::kWrites, static_cast<unsigned long long>(gErrors.load()),
              static_cast<unsigned long long>(torn));
  printErrors();
  CHECK_EQ(gErrors.load(), 0u);
  CHECK_EQ(torn, 0u);
}

}  // namespace

// The first lock/unlock of a fresh lock, by a writer and a reader at once: the loser of
// the race gets EINVAL, and runs its section without the lock.
TEST(static_init_first_use_race) { firstUseRace<false>(gstest::kFirstUseRounds); }
// test_world's hanging case without the World: the hang (and EINVAL counted if it ends).
TEST(static_init_world_shape) { worldShape<false>(); }
// The same lock initialized before it is shared: no error, no hang.
TEST(eager_init_first_use_race) { firstUseRace<true>(gstest::kFirstUseRounds); }
TEST(eager_init_world_shape) { worldShape<true>(); }

GS_TEST_MAIN()
