// The inter-server pipe over Win32 named pipes: what server and client share.
// Server: pipe_server_win32.cpp; client: pipe_client_win32.cpp.
#include "pipe_win32.hpp"

#include <algorithm>

#include "gamesrv/pipe_session.hpp"

namespace gamesrv {

std::string defaultPipePath(std::string_view name) { return std::string(win32_pipe::kPipePrefix) + "gamesrv-" + std::string(name); }

namespace win32_pipe {
namespace {
constexpr std::size_t kMaxPipePathChars = 256;  // the whole \\.\pipe\name, per CreateNamedPipeW
}  // namespace

bool pipeName(const std::string& path, std::wstring& out, PipeResult& error) {
  auto bad = [&](const std::string& why) {
    error = pipeFailure(PipeError::InvalidPath, "pipe path \"" + path + "\" " + why);
    return false;
  };
  const bool prefixed = path.size() > kPipePrefix.size() &&
                        std::equal(kPipePrefix.begin(), kPipePrefix.end(), path.begin(),
                                   [](char a, char b) { return a == (b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b); });
  if (!prefixed) return bad("is not of the form \\\\.\\pipe\\<name>");
  const std::string_view name = std::string_view(path).substr(kPipePrefix.size());
  if (name.find('\\') != std::string_view::npos) return bad("has a '\\' in the pipe name");
  if (name.find('\0') != std::string_view::npos) return bad("contains NUL");
  const int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path.data(), static_cast<int>(path.size()), nullptr, 0);
  if (n <= 0) return bad("is not valid UTF-8");
  if (static_cast<std::size_t>(n) > kMaxPipePathChars)
    return bad("is longer than " + std::to_string(kMaxPipePathChars) + " characters");
  out.assign(static_cast<std::size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path.data(), static_cast<int>(path.size()), out.data(), n);
  return true;
}

DWORD msLeft(TimePoint deadline) {
  const auto left = deadline - SteadyClock::now();
  if (left <= Nanos::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<DWORD>(std::min<long long>(ms, INFINITE - 1));
}

}  // namespace win32_pipe
}  // namespace gamesrv
