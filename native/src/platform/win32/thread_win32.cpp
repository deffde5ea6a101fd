// Win32 thread facilities. std::thread here is winpthreads (the -posix mingw toolchain),
// so a native_handle() is a pthread_t; pthread_gethandle() yields its Win32 HANDLE.
#include <pthread.h>

#include <string>

#include "gamesrv/platform/thread.hpp"
#include "win32_support.hpp"

namespace gamesrv::platform {

namespace {

using SetThreadDescriptionFn = HRESULT(WINAPI*)(HANDLE, PCWSTR);

// SetThreadDescription exists from Windows 10 1607 (and in recent wine); older
// systems and older mingw import libraries lack it, so it is looked up, once.
SetThreadDescriptionFn setThreadDescription() noexcept {
  static const SetThreadDescriptionFn fn = [] {
    for (const wchar_t* dll : {L"kernel32.dll", L"kernelbase.dll"}) {
      if (HMODULE m = ::GetModuleHandleW(dll)) {
        if (FARPROC p = ::GetProcAddress(m, "SetThreadDescription"))
          return reinterpret_cast<SetThreadDescriptionFn>(reinterpret_cast<void*>(p));
      }
    }
    return SetThreadDescriptionFn{nullptr};
  }();
  return fn;
}

std::optional<std::uint64_t> cpuNsOf(HANDLE thread) noexcept {
  FILETIME created, exited, kernel, user;
  if (!::GetThreadTimes(thread, &created, &exited, &kernel, &user)) return std::nullopt;
  return win32::fileTimeNs(kernel) + win32::fileTimeNs(user);
}

}  // namespace

// Windows has no short length limit (debuggers and ETW show the whole description);
// the 63-character cap only keeps names comparable with what other tools print.
void setCurrentThreadName(std::string_view name) {
  if (SetThreadDescriptionFn fn = setThreadDescription()) {
    const std::wstring wide = win32::widen(name.substr(0, 63));
    fn(::GetCurrentThread(), wide.c_str());
  }
}

std::uint64_t currentThreadId() { return ::GetCurrentThreadId(); }

// GetThreadTimes counts in 100 ns units but advances at the scheduler tick on Windows
// (~15.6 ms by default): a short busy interval can read as 0. Under wine the figure
// comes from the host kernel and is finer.
std::uint64_t currentThreadCpuNs() { return cpuNsOf(::GetCurrentThread()).value_or(0); }

std::optional<std::uint64_t> threadCpuNs(std::thread::native_handle_type handle) {
  HANDLE h = pthread_gethandle(handle);
  if (h == nullptr) return std::nullopt;
  return cpuNsOf(h);
}

}  // namespace gamesrv::platform
