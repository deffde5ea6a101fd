#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "gamesrv/platform/thread.hpp"

namespace gamesrv::platform {

void setCurrentThreadName(std::string_view name) {
  std::string n(name.substr(0, 15));  // Linux limit: 16 bytes with the NUL
  pthread_setname_np(pthread_self(), n.c_str());
}

std::uint64_t currentThreadId() { return static_cast<std::uint64_t>(::syscall(SYS_gettid)); }

namespace {
std::uint64_t toNs(const timespec& ts) {
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}
}  // namespace

std::uint64_t currentThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return toNs(ts);
}

std::optional<std::uint64_t> threadCpuNs(std::thread::native_handle_type handle) {
  clockid_t cid;
  if (pthread_getcpuclockid(handle, &cid) != 0) return std::nullopt;
  timespec ts{};
  if (clock_gettime(cid, &ts) != 0) return std::nullopt;
  return toNs(ts);
}

}  // namespace gamesrv::platform
