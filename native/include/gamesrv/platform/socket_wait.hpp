// Waits until a socket someone else owns (a libpq connection's) has something to read:
// poll() on POSIX, WSAPoll() on Windows. The PostgreSQL backend waits on its connection
// this way so that a query in flight can be cancelled (PQcancel) at its deadline or when
// the caller's cancel flag turns.
//
// Thread safety: safe from any thread; keeps no state.
#pragma once
#include <chrono>
#include <cstdint>

namespace gamesrv::platform {

enum class SocketWait : std::uint8_t {
  Readable,  // readable, closed by the peer, or in error: the owner's next read says which
  TimedOut,
  Failed,    // the wait itself failed (`error` holds errno / WSAGetLastError())
};

// `socket` is a file descriptor (POSIX) or a SOCKET (Windows). A negative timeout waits
// without a limit. An interrupted wait (EINTR) is resumed with the time left.
SocketWait waitSocketReadable(std::intptr_t socket, std::chrono::milliseconds timeout, int& error) noexcept;

}  // namespace gamesrv::platform
