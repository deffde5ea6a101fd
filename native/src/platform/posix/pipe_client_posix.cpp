// PipeClient's transport over AF_UNIX SOCK_SEQPACKET: connect, send, receive, close.
// The request logic is portable (native/src/core/pipe_session.cpp). The client's socket
// is blocking; sends use MSG_DONTWAIT and wait with ppoll, so the deadline rules.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "gamesrv/pipe_session.hpp"
#include "pipe_posix.hpp"

namespace gamesrv {
namespace {

using posix_pipe::connectError;
using posix_pipe::fillAddress;
using posix_pipe::kRecvBufferBytes;
using posix_pipe::osError;
using posix_pipe::waitFd;

struct PosixPipeClient final : PipeClient::Impl {
  ~PosixPipeClient() override { close(); }
  PipeResult connect(const std::string& path, std::chrono::milliseconds timeout) override;
  bool open() const noexcept override { return fd >= 0; }
  void close() noexcept override {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  PipeResult send(const std::uint8_t* bytes, std::size_t size, TimePoint deadline) override;
  // blockFor > 0: the first read blocks up to blockFor (SO_RCVTIMEO, set only when it
  // changes): one syscall for the common request/response. The deadline still rules.
  PipeReplyResult receive(TimePoint deadline, std::chrono::milliseconds blockFor) override;
  PipeResult closedByServer();

  int fd = -1;
  std::chrono::milliseconds rcvTimeout{-1};  // SO_RCVTIMEO now set on fd (-1: unknown)
};

}  // namespace

std::unique_ptr<PipeClient::Impl> PipeClient::Impl::create() { return std::make_unique<PosixPipeClient>(); }

PipeResult PosixPipeClient::send(const std::uint8_t* bytes, std::size_t size, TimePoint deadline) {
  if (fd < 0) return pipeFailure(PipeError::NotConnected, "not connected");
  for (;;) {
    const ssize_t w = ::send(fd, bytes, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w >= 0) return {};
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      int waitErr = 0;
      if (!waitFd(fd, POLLOUT, deadline, waitErr)) {
        close();
        return pipeFailure(PipeError::Timeout, "the server did not take the request in time; connection closed");
      }
      if (waitErr == 0) continue;
      close();
      return pipeFailure(PipeError::System, osError("ppoll", waitErr));
    }
    if (err == EPIPE || err == ECONNRESET) return closedByServer();
    close();
    return pipeFailure(err == EMSGSIZE ? PipeError::TooLarge : PipeError::System, osError("send", err));
  }
}

// The server hung up; an ERROR frame it sent before (e.g. "server busy") says why.
PipeResult PosixPipeClient::closedByServer() {
  std::uint8_t buf[kRecvBufferBytes];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
  // A pending ECONNRESET (the server closed with our request unread) is reported, and
  // cleared, before the frames still queued: read once more.
  if (n < 0 && errno == ECONNRESET) n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
  close();
  return pipeClosedByServer(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

PipeReplyResult PosixPipeClient::receive(TimePoint deadline, std::chrono::milliseconds blockFor) {
  if (fd < 0) return pipeReplyFailure(PipeError::NotConnected, "not connected");
  std::uint8_t buf[kRecvBufferBytes];
  bool block = blockFor.count() > 0;
  if (block && blockFor != rcvTimeout) {
    const auto ms = blockFor.count();
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    block = ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
    rcvTimeout = block ? blockFor : std::chrono::milliseconds{-1};
  }
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, (block ? 0 : MSG_DONTWAIT) | MSG_TRUNC);
    block = false;  // after one blocking read (timed out or interrupted), the deadline rules
    if (n > 0) return pipeReplyOf(buf, static_cast<std::size_t>(n));
    if (n == 0) {
      close();
      return pipeReplyFailure(PipeError::Closed, "the server closed the connection");
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == ECONNRESET) {
      PipeResult closed = closedByServer();
      return pipeReplyFailure(closed.error, std::move(closed.detail));
    }
    if (err != EAGAIN && err != EWOULDBLOCK) {
      close();
      return pipeReplyFailure(PipeError::System, osError("recv", err));
    }
    int waitErr = 0;
    if (!waitFd(fd, POLLIN, deadline, waitErr)) {
      close();
      return pipeReplyFailure(PipeError::Timeout, "no reply in time; connection closed");
    }
    if (waitErr != 0) {
      close();
      return pipeReplyFailure(PipeError::System, osError("ppoll", waitErr));
    }
  }
}

PipeResult PosixPipeClient::connect(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr;
  PipeResult res;
  if (!fillAddress(path, addr, res)) return res;
  const int s = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) return pipeFailure(PipeError::System, osError("socket", errno));
  // A blocking unix connect waits for room in the server's backlog for up to SO_SNDTIMEO.
  const auto ms = std::max<std::chrono::milliseconds::rep>(timeout.count(), 1);
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(s);
    return connectError(path, err);
  }
  fd = s;
  rcvTimeout = std::chrono::milliseconds{-1};
  return {};
}

}  // namespace gamesrv
