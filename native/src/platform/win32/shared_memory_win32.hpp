// Internal to the Win32 shared-memory files (shared_memory_win32.cpp, process_mutex_win32.cpp):
// object names and error helpers both use.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "gamesrv/platform/shared_memory.hpp"
#include "win32_support.hpp"

namespace gamesrv::platform::win32shm {

inline constexpr int kAttempts = 8;

inline std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

inline std::string indexName(std::string_view name) { return "Local\\" + std::string(name); }
inline std::string claimName(std::string_view name) { return indexName(name) + ":claim"; }
inline std::string dataName(std::string_view name, std::uint64_t gen) { return indexName(name) + ":" + hex(gen); }
inline std::string aliveName(std::string_view name, std::uint64_t gen) { return dataName(name, gen) + ":alive"; }

// Unique enough that a clash needs a reused pid and a surviving object; callers still
// treat ERROR_ALREADY_EXISTS as "try another".
inline std::uint64_t freshTag() {
  static std::atomic<std::uint32_t> sequence{0};
  const std::uint32_t low = (sequence.fetch_add(1) * 2654435761u) ^ static_cast<std::uint32_t>(::GetTickCount64());
  const std::uint64_t tag = (std::uint64_t{::GetCurrentProcessId()} << 32) | low;
  return tag != 0 ? tag : 1;
}

inline ShmResult fail(ShmError e, DWORD err, std::string detail) {
  if (err != 0) detail = win32::describeError(detail, err);
  return ShmResult{e, static_cast<int>(err), std::move(detail)};
}

inline ShmResult failFromLastError(const std::string& what) {
  const DWORD err = ::GetLastError();
  ShmError e = ShmError::System;
  if (err == ERROR_FILE_NOT_FOUND) e = ShmError::NotFound;
  if (err == ERROR_ACCESS_DENIED) e = ShmError::PermissionDenied;
  return fail(e, err, what);
}

}  // namespace gamesrv::platform::win32shm
