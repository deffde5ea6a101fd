#include <windows.h>

#include <limits>

#include "gamesrv/platform/durable_file.hpp"

namespace gamesrv::platform {
namespace {

std::error_code lastError() { return {static_cast<int>(::GetLastError()), std::system_category()}; }

HANDLE handleOf(std::intptr_t h) { return reinterpret_cast<HANDLE>(h); }

OVERLAPPED at(std::uint64_t offset) {
  OVERLAPPED ov{};
  ov.Offset = static_cast<DWORD>(offset & 0xFFFFFFFFull);
  ov.OffsetHigh = static_cast<DWORD>(offset >> 32);
  return ov;
}

constexpr DWORD kMaxChunk = std::numeric_limits<DWORD>::max() / 2;

}  // namespace

std::error_code DurableFile::open(const std::filesystem::path& path, bool create, DurableFile& out) {
  // FILE_SHARE_DELETE: a reader's open handle never blocks removing a segment behind a checkpoint.
  HANDLE h = ::CreateFileW(path.wstring().c_str(), GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           create ? OPEN_ALWAYS : OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) return lastError();
  out.close();
  out.handle_ = reinterpret_cast<std::intptr_t>(h);
  return {};
}

bool DurableFile::isOpen() const noexcept { return handle_ != -1; }

void DurableFile::close() noexcept {
  if (handle_ != -1) ::CloseHandle(handleOf(handle_));
  handle_ = -1;
}

std::error_code DurableFile::size(std::uint64_t& out) const {
  LARGE_INTEGER li{};
  if (!::GetFileSizeEx(handleOf(handle_), &li)) return lastError();
  out = static_cast<std::uint64_t>(li.QuadPart);
  return {};
}

std::error_code DurableFile::readAt(std::uint64_t offset, std::span<std::uint8_t> out, std::size_t& got) const {
  got = 0;
  for (;;) {
    if (got == out.size()) return {};
    const std::size_t want = out.size() - got;
    const DWORD ask = want > kMaxChunk ? kMaxChunk : static_cast<DWORD>(want);
    OVERLAPPED ov = at(offset + got);
    DWORD n = 0;
    if (!::ReadFile(handleOf(handle_), out.data() + got, ask, &n, &ov)) {
      if (::GetLastError() == ERROR_HANDLE_EOF) return {};
      return lastError();
    }
    if (n == 0) return {};
    got += n;
  }
}

std::error_code DurableFile::writeAt(std::uint64_t offset, std::span<const std::span<const std::uint8_t>> buffers) {
  for (const auto& buffer : buffers) {
    std::size_t done = 0;
    while (done < buffer.size()) {
      const std::size_t want = buffer.size() - done;
      OVERLAPPED ov = at(offset);
      DWORD n = 0;
      if (!::WriteFile(handleOf(handle_), buffer.data() + done, want > kMaxChunk ? kMaxChunk : static_cast<DWORD>(want),
                       &n, &ov))
        return lastError();
      if (n == 0) return {static_cast<int>(ERROR_WRITE_FAULT), std::system_category()};
      done += n;
      offset += n;
    }
  }
  return {};
}

std::error_code DurableFile::syncData() {
  return ::FlushFileBuffers(handleOf(handle_)) ? std::error_code{} : lastError();
}

std::error_code DurableFile::truncate(std::uint64_t size) {
  FILE_END_OF_FILE_INFO eof{};
  eof.EndOfFile.QuadPart = static_cast<LONGLONG>(size);
  if (!::SetFileInformationByHandle(handleOf(handle_), FileEndOfFileInfo, &eof, sizeof eof)) return lastError();
  return {};
}

std::error_code syncDirectory(const std::filesystem::path&) { return {}; }

}  // namespace gamesrv::platform
