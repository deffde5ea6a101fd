// POSIX has no OS thread pool: ThreadPoolBackend::Native is not available here, and
// asking for it is an error rather than a silent fallback (thread_pool.hpp).
#include <stdexcept>

#include "gamesrv/platform/native_thread_pool.hpp"

namespace gamesrv::platform {

bool nativeThreadPoolAvailable() noexcept { return false; }

std::unique_ptr<ThreadPool::Backend> makeNativeThreadPool(const ThreadPoolConfig&) {
  throw std::invalid_argument("ThreadPoolBackend::Native: this platform has no OS thread pool; use Portable");
}

}  // namespace gamesrv::platform
