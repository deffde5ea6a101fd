// platform::SharedMutex on POSIX: std::shared_mutex (glibc's pthread_rwlock_t), which
// ThreadSanitizer understands. The only place where std::shared_mutex may be named
// (gamesrv/platform/shared_mutex.hpp says why).
#include <new>
#include <shared_mutex>

#include "gamesrv/platform/shared_mutex.hpp"

namespace gamesrv::platform {

namespace {
using Native = std::shared_mutex;
static_assert(sizeof(Native) <= SharedMutex::kStorageBytes, "SharedMutex::kStorageBytes too small");
static_assert(alignof(Native) <= alignof(std::max_align_t));

Native& native(unsigned char* storage) noexcept { return *std::launder(reinterpret_cast<Native*>(storage)); }
}  // namespace

SharedMutex::SharedMutex() noexcept { ::new (static_cast<void*>(storage_)) Native(); }
SharedMutex::~SharedMutex() { native(storage_).~Native(); }

// std::shared_mutex throws only for EDEADLK (a thread locking twice): a bug, which
// noexcept turns into std::terminate at the faulty call.
void SharedMutex::lock() noexcept { native(storage_).lock(); }
bool SharedMutex::try_lock() noexcept { return native(storage_).try_lock(); }
void SharedMutex::unlock() noexcept { native(storage_).unlock(); }
void SharedMutex::lock_shared() noexcept { native(storage_).lock_shared(); }
bool SharedMutex::try_lock_shared() noexcept { return native(storage_).try_lock_shared(); }
void SharedMutex::unlock_shared() noexcept { native(storage_).unlock_shared(); }

}  // namespace gamesrv::platform
