// Linux process figures: clock_gettime(CLOCK_PROCESS_CPUTIME_ID) for CPU time (ns
// resolution, one syscall, the same figure as getrusage user + system),
// /proc/self/statm for RSS, /proc/meminfo for system memory.
#include <errno.h>
#include <sys/ioctl.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gamesrv/platform/sysinfo.hpp"

namespace gamesrv::platform {

namespace {

// Reads a small /proc file into buf (NUL-terminated). Returns bytes read or -1.
ssize_t readSmallFile(const char* path, char* buf, std::size_t cap) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  std::size_t used = 0;
  while (used + 1 < cap) {
    const ssize_t n = ::read(fd, buf + used, cap - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  buf[used] = '\0';
  return static_cast<ssize_t>(used);
}

// Value in kB of "<key>:" in /proc/meminfo text, or nullopt.
std::optional<std::uint64_t> meminfoKb(const char* text, const char* key) noexcept {
  const char* p = std::strstr(text, key);
  if (p == nullptr) return std::nullopt;
  p += std::strlen(key);
  char* end = nullptr;
  const unsigned long long v = std::strtoull(p, &end, 10);
  if (end == p) return std::nullopt;
  return static_cast<std::uint64_t>(v);
}

}  // namespace

std::uint32_t currentProcessId() noexcept { return static_cast<std::uint32_t>(::getpid()); }

unsigned cpuCount() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1u;
}

std::uint64_t processCpuNs() noexcept {
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::optional<std::uint64_t> residentBytes() noexcept {
  char buf[256];
  if (readSmallFile("/proc/self/statm", buf, sizeof buf) <= 0) return std::nullopt;
  unsigned long long sizePages = 0, residentPages = 0;
  if (std::sscanf(buf, "%llu %llu", &sizePages, &residentPages) != 2) return std::nullopt;
  const long page = ::sysconf(_SC_PAGESIZE);
  return static_cast<std::uint64_t>(residentPages) * static_cast<std::uint64_t>(page > 0 ? page : 4096);
}

std::optional<std::uint64_t> socketUnackedBytes(std::intptr_t fd) noexcept {
#if defined(__linux__)
  int queued = 0;
  if (fd < 0 || ::ioctl(static_cast<int>(fd), SIOCOUTQ, &queued) != 0 || queued < 0) return std::nullopt;
  return static_cast<std::uint64_t>(queued);
#else
  (void)fd;
  return std::nullopt;
#endif
}

std::optional<SystemMemory> systemMemory() noexcept {
  char buf[4096];  // the three keys sit in the first lines
  if (readSmallFile("/proc/meminfo", buf, sizeof buf) <= 0) return std::nullopt;
  const auto total = meminfoKb(buf, "MemTotal:");
  if (!total) return std::nullopt;
  auto available = meminfoKb(buf, "MemAvailable:");
  if (!available) available = meminfoKb(buf, "MemFree:");  // kernels before 3.14
  return SystemMemory{*total * 1024, available.value_or(0) * 1024};
}

bool processAlive(std::uint32_t pid) noexcept {
  if (pid == 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) == 0) return true;
  return errno == EPERM;  // exists, belongs to someone else
}

}  // namespace gamesrv::platform
