// Small helpers shared by the Win32 backend files (not a public header).
#pragma once
#include <windows.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace gamesrv::platform::win32 {

// UTF-8 -> UTF-16 for the W APIs (names are short; an invalid sequence becomes U+FFFD).
std::wstring widen(std::string_view utf8);

// "<what>: <system message> (error <code>)", for details that name the failing call.
std::string describeError(std::string_view what, DWORD code);

// 100 ns FILETIME ticks as a count, and as nanoseconds.
inline std::uint64_t fileTimeTicks(const FILETIME& ft) noexcept {
  return (static_cast<std::uint64_t>(ft.dwHighDateTime) << 32) | ft.dwLowDateTime;
}
inline std::uint64_t fileTimeNs(const FILETIME& ft) noexcept { return fileTimeTicks(ft) * 100; }

// Security attributes whose DACL grants access to the current user only (the analog of
// mode 0600 on POSIX objects). Objects in the Local\ namespace are already per session;
// this also keeps out other accounts that share it (services, runas). If the token
// cannot be read, valid() is false and callers fail closed rather than fall back to the
// default DACL.
class OwnerOnlySecurity {
 public:
  OwnerOnlySecurity();
  ~OwnerOnlySecurity();
  OwnerOnlySecurity(const OwnerOnlySecurity&) = delete;
  OwnerOnlySecurity& operator=(const OwnerOnlySecurity&) = delete;

  bool valid() const noexcept { return valid_; }
  DWORD error() const noexcept { return error_; }
  SECURITY_ATTRIBUTES* get() noexcept { return valid_ ? &sa_ : nullptr; }

 private:
  bool valid_ = false;
  DWORD error_ = 0;
  void* tokenUser_ = nullptr;  // TOKEN_USER buffer; the ACE points into it
  void* acl_ = nullptr;
  SECURITY_DESCRIPTOR sd_{};
  SECURITY_ATTRIBUTES sa_{};
};

// Owns one HANDLE (null and INVALID_HANDLE_VALUE both mean "none").
class UniqueHandle {
 public:
  UniqueHandle() = default;
  explicit UniqueHandle(HANDLE h) noexcept : h_(h) {}
  UniqueHandle(UniqueHandle&& o) noexcept : h_(o.release()) {}
  UniqueHandle& operator=(UniqueHandle&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  ~UniqueHandle() { reset(); }

  HANDLE get() const noexcept { return h_; }
  explicit operator bool() const noexcept { return h_ != nullptr && h_ != INVALID_HANDLE_VALUE; }
  HANDLE release() noexcept {
    HANDLE h = h_;
    h_ = nullptr;
    return h;
  }
  void reset(HANDLE h = nullptr) noexcept {
    if (*this) ::CloseHandle(h_);
    h_ = h;
  }

 private:
  HANDLE h_ = nullptr;
};

}  // namespace gamesrv::platform::win32
