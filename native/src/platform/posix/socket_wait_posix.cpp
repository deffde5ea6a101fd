#include "gamesrv/platform/socket_wait.hpp"

#include <poll.h>

#include <cerrno>

namespace gamesrv::platform {

SocketWait waitSocketReadable(std::intptr_t socket, std::chrono::milliseconds timeout, int& error) noexcept {
  using Clock = std::chrono::steady_clock;
  const bool forever = timeout.count() < 0;
  const auto deadline = Clock::now() + (forever ? std::chrono::milliseconds(0) : timeout);
  for (;;) {
    int ms = -1;
    if (!forever) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      ms = left <= 0 ? 0 : (left > 0x7fffffff ? 0x7fffffff : static_cast<int>(left));
    }
    pollfd p{static_cast<int>(socket), POLLIN, 0};
    const int r = ::poll(&p, 1, ms);
    if (r > 0) return SocketWait::Readable;
    if (r == 0) return SocketWait::TimedOut;
    if (errno != EINTR) {
      error = errno;
      return SocketWait::Failed;
    }
  }
}

}  // namespace gamesrv::platform
