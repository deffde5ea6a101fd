// A blocking TCP client of the game port for the POSIX socket tests: raw frames out,
// whole frames in (SO_RCVTIMEO bounds every read).
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "game_sessions_test_support.hpp"

namespace gstest {

class Client {
 public:
  explicit Client(std::uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd_ >= 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void sendRaw(const std::vector<std::byte>& b) { CHECK(::send(fd_, b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size())); }
  void sendFrame(std::uint8_t type, std::string_view payload) { sendRaw(encodeFrame(type, payload)); }
  // The next frame; nullopt at end of stream, reset or timeout.
  std::optional<Frame> read() {
    std::byte h[4];
    if (!readExactly(h, 4)) return std::nullopt;
    std::uint32_t len = 0;
    for (int i = 0; i < 4; ++i) len |= std::uint32_t(std::to_integer<std::uint8_t>(h[i])) << (8 * i);
    std::vector<std::byte> body(len);
    if (len == 0 || !readExactly(body.data(), len)) return std::nullopt;
    Frame f;
    f.type = std::to_integer<std::uint8_t>(body[0]);
    f.payload.assign(reinterpret_cast<const char*>(body.data() + 1), len - 1);
    return f;
  }
  // True when the server closed the connection (end of stream or reset), not a timeout.
  bool closedByServer() {
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }
  int fd() const { return fd_; }

 private:
  bool readExactly(std::byte* p, std::size_t n) {
    while (n > 0) {
      const ssize_t r = ::recv(fd_, p, n, 0);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        return false;
      }
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }
  int fd_ = -1;
};


}  // namespace gstest
