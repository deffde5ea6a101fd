#include <winsock2.h>  // before anything that includes windows.h

#include "gamesrv/platform/socket_wait.hpp"

namespace gamesrv::platform {

SocketWait waitSocketReadable(std::intptr_t socket, std::chrono::milliseconds timeout, int& error) noexcept {
  WSAPOLLFD p{};
  p.fd = static_cast<SOCKET>(socket);
  p.events = POLLRDNORM;
  const auto ms = timeout.count() < 0 ? -1 : (timeout.count() > 0x7fffffff ? 0x7fffffff : static_cast<INT>(timeout.count()));
  const int r = ::WSAPoll(&p, 1, ms);
  if (r > 0) return SocketWait::Readable;
  if (r == 0) return SocketWait::TimedOut;
  error = ::WSAGetLastError();
  return SocketWait::Failed;
}

}  // namespace gamesrv::platform
