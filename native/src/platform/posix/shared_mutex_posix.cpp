// platform::SharedMutex on POSIX: a pthread_rwlock_t, initialized explicitly (never
// PTHREAD_RWLOCK_INITIALIZER) and, on glibc, writer-preferring: glibc's default lets a
// stream of readers keep a waiting writer out indefinitely, and the World's writer is the
// event thread, which readers (snapshots, the control plane) must not hold back.
#include <pthread.h>

#include <cerrno>
#include <cstdlib>
#include <new>

#include "gamesrv/platform/shared_mutex.hpp"

namespace gamesrv::platform {

namespace {
static_assert(sizeof(pthread_rwlock_t) <= SharedMutex::kStorageBytes, "SharedMutex::kStorageBytes too small");
static_assert(alignof(pthread_rwlock_t) <= alignof(std::max_align_t));

pthread_rwlock_t* rw(unsigned char* storage) noexcept {
  return std::launder(reinterpret_cast<pthread_rwlock_t*>(storage));
}

// The calls fail only on misuse (EDEADLK: this thread holds it; EINVAL: not a lock) or
// when reader count overflows (EAGAIN, retried): misuse is a bug, and a lock that did
// not lock must never be taken for one that did.
void check(int rc) noexcept {
  if (rc != 0) std::abort();
}
}  // namespace

SharedMutex::SharedMutex() noexcept {
  pthread_rwlockattr_t attr;
  check(pthread_rwlockattr_init(&attr));
#if defined(__GLIBC__)
  check(pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP));
#endif
  check(pthread_rwlock_init(::new (static_cast<void*>(storage_)) pthread_rwlock_t, &attr));
  pthread_rwlockattr_destroy(&attr);
}
SharedMutex::~SharedMutex() { pthread_rwlock_destroy(rw(storage_)); }

void SharedMutex::lock() noexcept { check(pthread_rwlock_wrlock(rw(storage_))); }
bool SharedMutex::try_lock() noexcept { return pthread_rwlock_trywrlock(rw(storage_)) == 0; }
void SharedMutex::unlock() noexcept { check(pthread_rwlock_unlock(rw(storage_))); }
void SharedMutex::lock_shared() noexcept {
  int rc;
  do rc = pthread_rwlock_rdlock(rw(storage_));
  while (rc == EAGAIN);
  check(rc);
}
bool SharedMutex::try_lock_shared() noexcept { return pthread_rwlock_tryrdlock(rw(storage_)) == 0; }
void SharedMutex::unlock_shared() noexcept { check(pthread_rwlock_unlock(rw(storage_))); }

}  // namespace gamesrv::platform
