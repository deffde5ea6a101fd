// A blocking TCP client of the game port for the socket tests, on both platforms: raw
// frames out, whole frames in (a 10 s receive timeout bounds every read). The POSIX half
// uses BSD sockets, the Win32 half Winsock (started once per process); the tests above
// it are the same on both, so the Windows lane runs them against the IOCP listener.
#pragma once
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#endif

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "game_sessions_test_support.hpp"

namespace gstest {

namespace socket_os {
#ifdef _WIN32
using Socket = SOCKET;
inline const Socket kNone = INVALID_SOCKET;
inline void startup() {
  static const int rc = [] {
    WSADATA d;
    return ::WSAStartup(MAKEWORD(2, 2), &d);
  }();
  CHECK_EQ(rc, 0);
}
inline Socket open(int family) { return ::socket(family, SOCK_STREAM, IPPROTO_TCP); }
inline void closeIt(Socket s) { ::closesocket(s); }
inline void setReceiveTimeout(Socket s, int seconds) {
  const DWORD ms = static_cast<DWORD>(seconds) * 1000;
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&ms), sizeof ms);
}
inline long sendSome(Socket s, const std::byte* p, std::size_t n) { return ::send(s, reinterpret_cast<const char*>(p), static_cast<int>(n), 0); }
inline long recvSome(Socket s, std::byte* p, std::size_t n) { return ::recv(s, reinterpret_cast<char*>(p), static_cast<int>(n), 0); }
inline bool interrupted() { return false; }
inline bool wasReset() { return ::WSAGetLastError() == WSAECONNRESET || ::WSAGetLastError() == WSAECONNABORTED; }
#else
using Socket = int;
inline constexpr Socket kNone = -1;
inline void startup() {}
inline Socket open(int family) { return ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0); }
inline void closeIt(Socket s) { ::close(s); }
inline void setReceiveTimeout(Socket s, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}
inline long sendSome(Socket s, const std::byte* p, std::size_t n) { return ::send(s, p, n, MSG_NOSIGNAL); }
inline long recvSome(Socket s, std::byte* p, std::size_t n) { return ::recv(s, p, n, 0); }
inline bool interrupted() { return errno == EINTR; }
inline bool wasReset() { return errno == ECONNRESET; }
#endif
}  // namespace socket_os

class Client {
 public:
  // To 127.0.0.1 (or ::1 with ipv6) on `port`; rcvbuf > 0 sets SO_RCVBUF first.
  explicit Client(std::uint16_t port, int rcvbuf = 0, bool ipv6 = false) {
    socket_os::startup();
    fd_ = socket_os::open(ipv6 ? AF_INET6 : AF_INET);
    CHECK(fd_ != socket_os::kNone);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, reinterpret_cast<const char*>(&rcvbuf), sizeof rcvbuf);
    socket_os::setReceiveTimeout(fd_, 10);
    sockaddr_in a{};
    sockaddr_in6 a6{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(port);
    a6.sin6_addr = in6addr_loopback;
    const int rc = ipv6 ? ::connect(fd_, reinterpret_cast<sockaddr*>(&a6), sizeof a6)
                        : ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    CHECK(rc == 0);
  }
  ~Client() { socket_os::closeIt(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Exactly these bytes, in one send call.
  void sendBytes(const std::byte* p, std::size_t n) { CHECK(socket_os::sendSome(fd_, p, n) == static_cast<long>(n)); }
  void sendRaw(const std::vector<std::byte>& b) { sendBytes(b.data(), b.size()); }
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
    std::byte c;
    const long n = socket_os::recvSome(fd_, &c, 1);
    return n == 0 || (n < 0 && socket_os::wasReset());
  }
  // Skips whatever the server still sends (STATE frames, a farewell), in bulk, then
  // closedByServer(): true at end of stream or reset; false if it stays open 10 s.
  bool drainedAndClosedByServer() {
    std::byte buf[4096];
    long n;
    while ((n = socket_os::recvSome(fd_, buf, sizeof buf)) > 0 || (n < 0 && socket_os::interrupted())) {
    }
    return n == 0 || (n < 0 && socket_os::wasReset());
  }

 private:
  bool readExactly(std::byte* p, std::size_t n) {
    while (n > 0) {
      const long r = socket_os::recvSome(fd_, p, n);
      if (r <= 0) {
        if (r < 0 && socket_os::interrupted()) continue;
        return false;
      }
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }
  socket_os::Socket fd_ = socket_os::kNone;
};

}  // namespace gstest
