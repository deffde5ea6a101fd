// A file written at explicit offsets and made durable on request: what the journal
// (gamesrv/journal.hpp) needs from the OS and nothing more. POSIX: open / pread / pwritev /
// fdatasync / ftruncate; Win32: CreateFileW / ReadFile / WriteFile at an offset /
// FlushFileBuffers / SetEndOfFile. Errors are the OS's own codes (errno in
// std::generic_category, GetLastError in std::system_category).
//
// Thread safety: one DurableFile is used by one thread at a time; distinct objects may be
// used concurrently, also on the same path (reads at offsets never move a shared cursor).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <system_error>

namespace gamesrv::platform {

class DurableFile {
 public:
  DurableFile() = default;
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;
  DurableFile(DurableFile&& other) noexcept : handle_(other.handle_) { other.handle_ = -1; }
  DurableFile& operator=(DurableFile&& other) noexcept {
    if (this != &other) {
      close();
      handle_ = other.handle_;
      other.handle_ = -1;
    }
    return *this;
  }
  ~DurableFile() { close(); }

  // Opens `path` for reading and writing, creating it (owner-only) when `create` is set.
  static std::error_code open(const std::filesystem::path& path, bool create, DurableFile& out);

  bool isOpen() const noexcept;
  void close() noexcept;
  std::error_code size(std::uint64_t& out) const;
  // Reads up to out.size() bytes at `offset`; `got` < out.size() only at the end of the file.
  std::error_code readAt(std::uint64_t offset, std::span<std::uint8_t> out, std::size_t& got) const;
  // Writes every buffer, in order, from `offset` on: all of it, or an error (and then an
  // unknown prefix may have been written).
  std::error_code writeAt(std::uint64_t offset, std::span<const std::span<const std::uint8_t>> buffers);
  // The file's data (and the size, when it grew) reaches the disk before this returns.
  std::error_code syncData();
  std::error_code truncate(std::uint64_t size);

 private:
  std::intptr_t handle_ = -1;  // fd or HANDLE; -1 when closed
};

// Makes a directory's entries (files created or removed in it) durable. A no-op where the
// OS has no such call (Win32: NTFS journals its metadata).
std::error_code syncDirectory(const std::filesystem::path& dir);

}  // namespace gamesrv::platform
