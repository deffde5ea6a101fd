#include "win32_support.hpp"

#include <cstdlib>

namespace gamesrv::platform::win32 {

std::wstring widen(std::string_view utf8) {
  if (utf8.empty()) return {};
  const int n = ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  if (n <= 0) return {};
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  return out;
}

std::string describeError(std::string_view what, DWORD code) {
  std::string out(what);
  char* msg = nullptr;
  const DWORD len = ::FormatMessageA(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code,
      MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), reinterpret_cast<char*>(&msg), 0, nullptr);
  if (len > 0 && msg != nullptr) {
    std::string_view text(msg, len);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '.'))
      text.remove_suffix(1);
    out += ": ";
    out += text;
  }
  if (msg != nullptr) ::LocalFree(msg);
  out += " (error " + std::to_string(code) + ")";
  return out;
}

OwnerOnlySecurity::OwnerOnlySecurity() {
  HANDLE token = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) {
    error_ = ::GetLastError();
    return;
  }
  DWORD need = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &need);
  tokenUser_ = need ? std::malloc(need) : nullptr;
  const bool gotUser = tokenUser_ != nullptr && ::GetTokenInformation(token, TokenUser, tokenUser_, need, &need);
  error_ = gotUser ? 0 : ::GetLastError();
  ::CloseHandle(token);
  if (!gotUser) return;
  PSID user = static_cast<TOKEN_USER*>(tokenUser_)->User.Sid;
  const DWORD aclSize = sizeof(ACL) + sizeof(ACCESS_ALLOWED_ACE) + ::GetLengthSid(user);
  acl_ = std::malloc(aclSize);
  if (acl_ == nullptr || !::InitializeAcl(static_cast<ACL*>(acl_), aclSize, ACL_REVISION) ||
      !::AddAccessAllowedAce(static_cast<ACL*>(acl_), ACL_REVISION, GENERIC_ALL, user) ||
      !::InitializeSecurityDescriptor(&sd_, SECURITY_DESCRIPTOR_REVISION) ||
      !::SetSecurityDescriptorDacl(&sd_, TRUE, static_cast<ACL*>(acl_), FALSE)) {
    error_ = ::GetLastError();
    return;
  }
  sa_.nLength = sizeof sa_;
  sa_.lpSecurityDescriptor = &sd_;
  sa_.bInheritHandle = FALSE;
  valid_ = true;
}

OwnerOnlySecurity::~OwnerOnlySecurity() {
  std::free(acl_);
  std::free(tokenUser_);
}

}  // namespace gamesrv::platform::win32
