// platform::SharedMutex on Win32: an SRWLOCK (Slim Reader/Writer lock), not winpthreads'
// pthread_rwlock_t, which std::shared_mutex is in the mingw-w64 build and which loses
// wake-ups (gamesrv/platform/shared_mutex.hpp). An SRWLOCK needs no clean-up.
#include <windows.h>

#include <new>

#include "gamesrv/platform/shared_mutex.hpp"

namespace gamesrv::platform {

namespace {
static_assert(sizeof(SRWLOCK) <= SharedMutex::kStorageBytes, "SharedMutex::kStorageBytes too small");
static_assert(alignof(SRWLOCK) <= alignof(std::max_align_t));

SRWLOCK* srw(unsigned char* storage) noexcept { return std::launder(reinterpret_cast<SRWLOCK*>(storage)); }
}  // namespace

SharedMutex::SharedMutex() noexcept { ::InitializeSRWLock(::new (static_cast<void*>(storage_)) SRWLOCK); }
SharedMutex::~SharedMutex() = default;

void SharedMutex::lock() noexcept { ::AcquireSRWLockExclusive(srw(storage_)); }
bool SharedMutex::try_lock() noexcept { return ::TryAcquireSRWLockExclusive(srw(storage_)) != 0; }
void SharedMutex::unlock() noexcept { ::ReleaseSRWLockExclusive(srw(storage_)); }
void SharedMutex::lock_shared() noexcept { ::AcquireSRWLockShared(srw(storage_)); }
bool SharedMutex::try_lock_shared() noexcept { return ::TryAcquireSRWLockShared(srw(storage_)) != 0; }
void SharedMutex::unlock_shared() noexcept { ::ReleaseSRWLockShared(srw(storage_)); }

}  // namespace gamesrv::platform
