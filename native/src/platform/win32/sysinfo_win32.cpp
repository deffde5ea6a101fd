// Win32 process figures: GetProcessTimes (CPU), GetProcessMemoryInfo (working set,
// the RSS analog), GlobalMemoryStatusEx (system memory), the affinity mask (CPUs).
//
// GetSystemTimes (whole-machine idle/kernel/user) has no place in this interface: every
// figure here is about this process, as on POSIX.
#include "win32_support.hpp"  // windows.h first: psapi.h relies on it

#include <psapi.h>

#include <bit>
#include <chrono>

#include "gamesrv/platform/sysinfo.hpp"

namespace gamesrv::platform {

std::uint32_t currentProcessId() noexcept { return ::GetCurrentProcessId(); }

// The affinity mask covers the process's processor group (at most 64 CPUs); a process
// is placed in one group unless it asks otherwise, so that is the set it may run on.
unsigned cpuCount() noexcept {
  DWORD_PTR process = 0, system = 0;
  if (::GetProcessAffinityMask(::GetCurrentProcess(), &process, &system) && process != 0)
    return static_cast<unsigned>(std::popcount(static_cast<std::uint64_t>(process)));
  const DWORD n = ::GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  return n > 0 ? static_cast<unsigned>(n) : 1u;
}

// Windows advances these at the scheduler tick (~15.6 ms by default), so short
// intervals are coarse; CpuSampler's intervals are hundreds of ms or more.
std::uint64_t processCpuNs() noexcept {
  FILETIME created, exited, kernel, user;
  if (!::GetProcessTimes(::GetCurrentProcess(), &created, &exited, &kernel, &user)) return 0;
  return win32::fileTimeNs(kernel) + win32::fileTimeNs(user);
}

// Windows keeps no per-socket count of unacknowledged bytes an application can read.
std::optional<std::uint64_t> socketUnackedBytes(std::intptr_t) noexcept { return std::nullopt; }

std::optional<std::uint64_t> residentBytes() noexcept {
  PROCESS_MEMORY_COUNTERS pmc{};
  pmc.cb = sizeof pmc;
  if (!::GetProcessMemoryInfo(::GetCurrentProcess(), &pmc, sizeof pmc)) return std::nullopt;
  return static_cast<std::uint64_t>(pmc.WorkingSetSize);
}

std::optional<SystemMemory> systemMemory() noexcept {
  MEMORYSTATUSEX ms{};
  ms.dwLength = sizeof ms;
  if (!::GlobalMemoryStatusEx(&ms)) return std::nullopt;
  return SystemMemory{ms.ullTotalPhys, ms.ullAvailPhys};
}

// A process handle is signaled once the process has exited, which answers "alive?"
// exactly; GetExitCodeProcess alone cannot tell a live process from one that exited
// with code 259 (STILL_ACTIVE). A handle also pins the pid, so the answer is about one
// process, though a pid can still be reused between calls.
bool processAlive(std::uint32_t pid) noexcept {
  if (pid == 0) return false;
  HANDLE h = ::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE, pid);
  if (h == nullptr) return ::GetLastError() == ERROR_ACCESS_DENIED;  // exists, belongs to someone else
  DWORD code = 0;
  bool alive = ::GetExitCodeProcess(h, &code) && code == STILL_ACTIVE;
  if (alive) alive = ::WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
  ::CloseHandle(h);
  return alive;
}

}  // namespace gamesrv::platform
