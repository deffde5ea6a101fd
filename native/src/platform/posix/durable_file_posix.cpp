#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "gamesrv/platform/durable_file.hpp"

namespace gamesrv::platform {
namespace {

std::error_code lastError() { return {errno, std::generic_category()}; }

int fdOf(std::intptr_t h) { return static_cast<int>(h); }

#ifdef IOV_MAX
constexpr std::size_t kMaxIov = IOV_MAX;
#else
constexpr std::size_t kMaxIov = 1024;
#endif

}  // namespace

std::error_code DurableFile::open(const std::filesystem::path& path, bool create, DurableFile& out) {
  const int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
  int fd;
  do {
    fd = ::open(path.c_str(), flags, S_IRUSR | S_IWUSR);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return lastError();
  out.close();
  out.handle_ = fd;
  return {};
}

bool DurableFile::isOpen() const noexcept { return handle_ >= 0; }

void DurableFile::close() noexcept {
  if (handle_ >= 0) ::close(fdOf(handle_));  // close() is not retried on EINTR (Linux frees the fd)
  handle_ = -1;
}

std::error_code DurableFile::size(std::uint64_t& out) const {
  struct stat st {};
  if (::fstat(fdOf(handle_), &st) != 0) return lastError();
  out = static_cast<std::uint64_t>(st.st_size);
  return {};
}

std::error_code DurableFile::readAt(std::uint64_t offset, std::span<std::uint8_t> out, std::size_t& got) const {
  got = 0;
  while (got < out.size()) {
    const ssize_t n = ::pread(fdOf(handle_), out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return lastError();
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return {};
}

std::error_code DurableFile::writeAt(std::uint64_t offset, std::span<const std::span<const std::uint8_t>> buffers) {
  std::vector<iovec> iov;
  iov.reserve(std::min(buffers.size(), kMaxIov));
  std::size_t next = 0;      // first buffer not yet in iov
  std::size_t skip = 0;      // bytes of buffers[next] already written (after a short write)
  while (next < buffers.size()) {
    iov.clear();
    for (std::size_t i = next; i < buffers.size() && iov.size() < kMaxIov; ++i) {
      const std::size_t from = i == next ? skip : 0;
      if (buffers[i].size() > from)
        iov.push_back({const_cast<std::uint8_t*>(buffers[i].data() + from), buffers[i].size() - from});
    }
    if (iov.empty()) break;
    const ssize_t n = ::pwritev(fdOf(handle_), iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return lastError();
    }
    if (n == 0) return {EIO, std::generic_category()};
    offset += static_cast<std::uint64_t>(n);
    auto left = static_cast<std::size_t>(n);
    while (next < buffers.size() && left >= buffers[next].size() - skip) {
      left -= buffers[next].size() - skip;
      skip = 0;
      ++next;
    }
    skip += left;
  }
  return {};
}

std::error_code DurableFile::syncData() {
#if defined(__linux__)
  const int rc = ::fdatasync(fdOf(handle_));
#else
  const int rc = ::fsync(fdOf(handle_));
#endif
  return rc == 0 ? std::error_code{} : lastError();
}

std::error_code DurableFile::truncate(std::uint64_t size) {
  int rc;
  do {
    rc = ::ftruncate(fdOf(handle_), static_cast<off_t>(size));
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? std::error_code{} : lastError();
}

std::error_code syncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return lastError();
  const int rc = ::fsync(fd);
  const std::error_code ec = rc == 0 ? std::error_code{} : lastError();
  ::close(fd);
  return ec;
}

}  // namespace gamesrv::platform
