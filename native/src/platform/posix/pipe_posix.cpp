// The inter-server pipe over AF_UNIX SOCK_SEQPACKET: what server and client share.
// Server: pipe_server_posix.cpp; client: pipe_client_posix.cpp.
#include "pipe_posix.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "gamesrv/pipe_session.hpp"

namespace gamesrv {

std::string defaultPipePath(std::string_view name) {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/gamesrv-" + std::string(name) + ".sock";
  return "/tmp/gamesrv-" + std::to_string(::geteuid()) + "-" + std::string(name) + ".sock";
}

namespace posix_pipe {

std::string osError(const char* what, int err) {
  return std::string(what) + ": " + std::generic_category().message(err);
}

bool fillAddress(const std::string& path, sockaddr_un& addr, PipeResult& error) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path || path.find('\0') != std::string::npos) {
    error = pipeFailure(PipeError::InvalidPath, "socket path \"" + path + "\" is empty, contains NUL or is longer than " +
                                                std::to_string(sizeof addr.sun_path - 1) + " bytes");
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}

PipeResult connectError(const std::string& path, int err) {
  switch (err) {
    case ENOENT:
    case ECONNREFUSED: return pipeFailure(PipeError::NoServer, "no server listens on " + path + " (" + osError("connect", err) + ")");
    case EACCES:
    case EPERM: return pipeFailure(PipeError::PermissionDenied, osError(("connect to " + path).c_str(), err));
    case EPROTOTYPE:
    case ENOTDIR: return pipeFailure(PipeError::InvalidPath, path + " is not a SOCK_SEQPACKET socket (" + osError("connect", err) + ")");
    case EAGAIN:
    case EINPROGRESS: return pipeFailure(PipeError::Timeout, "the server on " + path + " did not accept in time (backlog full)");
    default: return pipeFailure(PipeError::System, osError(("connect to " + path).c_str(), err));
  }
}

bool waitFd(int fd, short events, TimePoint deadline, int& err) {
  for (;;) {
    const auto left = deadline - SteadyClock::now();
    if (left <= Nanos::zero()) return false;
    const auto ns = std::chrono::duration_cast<Nanos>(left).count();
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    pollfd p{fd, events, 0};
    const int r = ::ppoll(&p, 1, &ts, nullptr);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) {
      err = errno;
      return true;  // let the caller's I/O call report it
    }
  }
}

}  // namespace posix_pipe
}  // namespace gamesrv
