// Per-thread OS facilities. Implemented once per platform under native/src/platform/.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <thread>

namespace gamesrv::platform {

// Names the calling thread as the OS shows it (`top -H`, debuggers). Truncated to the OS limit.
void setCurrentThreadName(std::string_view name);
// The OS thread id of the calling thread (Linux tid, Win32 thread id).
std::uint64_t currentThreadId();
// CPU time consumed by the calling thread, in nanoseconds.
std::uint64_t currentThreadCpuNs();
// CPU time of a live, not yet joined thread; nullopt if the OS cannot tell.
std::optional<std::uint64_t> threadCpuNs(std::thread::native_handle_type handle);

}  // namespace gamesrv::platform
