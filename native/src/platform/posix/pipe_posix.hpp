// What the POSIX pipe server and client share: AF_UNIX addresses and the errors of
// connect(). The pipe's portable half: gamesrv/pipe_session.hpp.
#pragma once
#include <sys/un.h>

#include <string>

#include "gamesrv/clock.hpp"
#include "gamesrv/pipe.hpp"

namespace gamesrv::posix_pipe {

inline constexpr std::size_t kRecvBufferBytes = kPipeFrameBytes + 1;  // one more, to see oversized messages

std::string osError(const char* what, int err);
// false (and `error` says why) if `path` cannot be a unix socket address.
bool fillAddress(const std::string& path, sockaddr_un& addr, PipeResult& error);
// Errors of connect() on a unix socket path, as the client and the stale-socket probe see them.
PipeResult connectError(const std::string& path, int err);
// Waits for `events` on fd until the deadline; false on timeout. EINTR restarts with the
// time left; another poll error is left in `err` (true: let the caller's I/O call report it).
bool waitFd(int fd, short events, TimePoint deadline, int& err);

}  // namespace gamesrv::posix_pipe
