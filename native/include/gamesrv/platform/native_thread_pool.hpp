// The operating system's own thread pool as a ThreadPool backend
// (ThreadPoolBackend::Native). Implemented once per platform under native/src/platform/:
// the Windows Threadpool API on win32; on POSIX there is none.
#pragma once
#include <memory>

#include "gamesrv/thread_pool_backend.hpp"

namespace gamesrv::platform {

bool nativeThreadPoolAvailable() noexcept;
// Throws std::invalid_argument where nativeThreadPoolAvailable() is false, and
// std::system_error when the OS refuses the pool.
std::unique_ptr<ThreadPool::Backend> makeNativeThreadPool(const ThreadPoolConfig& config);

}  // namespace gamesrv::platform
