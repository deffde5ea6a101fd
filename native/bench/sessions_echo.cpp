// The `sessions` suite's baseline for session_moves_per_sec (bench/sessions.bench.ts): a
// bare epoll echo server of the game port's frame size, the loopback limit of what a
// server can take from the same bots on the same box. No engine, no World, no queue:
// each client frame is answered at once with a server frame of the same size.
//
//   sessions_echo [--threads N]      prints "listening <port>", then "moves <total>" once a
//                                   second; ends on SIGTERM or SIGINT
//
// - HELLO: a WELCOME (so `gamesrv bots` log in unchanged; world [-1000, 1000], AOI 100);
// - PING: the PONG it asks for;
// - anything else (MOVE, CHAT, BYE): a NOTICE of the frame's own size (MOVE: 25 bytes),
//   MOVEs counted.
// Linux only (epoll, edge-triggered, accept4, like the game port's listener); one epoll
// per thread, connections dealt out round-robin by the accepting thread. A connection's
// unsent answers are bounded: over kMaxOut its reads stop until the client reads again.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gamesrv/game_protocol.hpp"

namespace {

namespace game = gamesrv::game;

constexpr std::size_t kMaxOut = 256 * 1024;
constexpr int kMaxEvents = 64;

std::atomic<std::uint64_t> gMoves{0};
std::atomic<std::uint32_t> gSessions{0};
volatile std::sig_atomic_t gStop = 0;

struct Conn {
  int fd = -1;
  std::string in, out;
  std::size_t sent = 0;
  bool readBlocked = false;  // over kMaxOut: reads wait for the client to read
};

class Worker {
 public:
  Worker() : ep_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev);
  }
  ~Worker() {
    for (auto& [fd, c] : conns_) ::close(fd);
    ::close(wake_);
    ::close(ep_);
  }

  // From the accepting thread: epoll_ctl is thread-safe; the table is this thread's.
  void adopt(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }
  void wake() {
    const std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }

  void run() {
    epoll_event events[kMaxEvents];
    std::vector<char> buf(64 * 1024);
    while (!gStop) {
      const int n = ::epoll_wait(ep_, events, kMaxEvents, -1);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake_) continue;  // gStop is checked by the loop
        Conn& c = conns_[fd];
        c.fd = fd;
        if (!serve(c, buf)) {
          ::close(fd);
          conns_.erase(fd);
        }
      }
    }
  }

 private:
  bool serve(Conn& c, std::vector<char>& buf) {
    if (!flush(c)) return false;
    while (!c.readBlocked) {
      const ssize_t r = ::recv(c.fd, buf.data(), buf.size(), 0);
      if (r == 0) return false;
      if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.in.append(buf.data(), static_cast<std::size_t>(r));
      answer(c);
      if (!flush(c)) return false;
      if (c.out.size() - c.sent > kMaxOut) c.readBlocked = true;
    }
    return true;
  }

  static void answer(Conn& c) {
    std::size_t at = 0;
    while (c.in.size() - at >= game::kFrameHeaderBytes) {
      std::uint32_t length = 0;
      std::memcpy(&length, c.in.data() + at, 4);  // little-endian hosts only, as the bench
      if (length == 0 || length > game::kMaxClientFrame) {
        c.in.clear();
        return;
      }
      if (c.in.size() - at < 4 + length) break;
      const auto type = static_cast<game::MessageType>(static_cast<std::uint8_t>(c.in[at + 4]));
      const std::size_t frame = 4 + length;
      if (type == game::MessageType::Hello) {
        const std::uint32_t id = ++gSessions;  // one read: another thread may count meanwhile
        (void)game::encode(c.out, game::Welcome{id, id, 60, 60, -1000, 1000, 100});
      } else if (type == game::MessageType::Ping && length == 9) {
        std::uint64_t t = 0;
        std::memcpy(&t, c.in.data() + at + 5, 8);
        (void)game::encode(c.out, game::Pong{t, 0});  // the bots' RTT; one a second each
      } else if (frame >= game::kFrameHeaderBytes + 2) {
        if (type == game::MessageType::Move) gMoves.fetch_add(1, std::memory_order_relaxed);
        const std::string text(frame - game::kFrameHeaderBytes - 2, 'e');
        (void)game::encode(c.out, game::Notice{text});
      }
      at += frame;
    }
    c.in.erase(0, at);
  }

  static bool flush(Conn& c) {
    while (c.sent < c.out.size()) {
      const ssize_t w = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.sent += static_cast<std::size_t>(w);
    }
    c.out.clear();
    c.sent = 0;
    c.readBlocked = false;
    return true;
  }

  int ep_, wake_;
  std::unordered_map<int, Conn> conns_;
};

}  // namespace

int main(int argc, char** argv) {
  unsigned threads = 2;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--threads") == 0) threads = static_cast<unsigned>(std::max(1, std::atoi(argv[i + 1])));
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = [](int) { gStop = 1; };
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);

  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int on = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 4096) != 0) {
    std::perror("sessions_echo: bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);

  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> running;
  for (unsigned t = 0; t < threads; ++t) workers.push_back(std::make_unique<Worker>());
  for (auto& w : workers) running.emplace_back([&w] { w->run(); });

  std::printf("listening %u\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  const int lep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.fd = lfd;
  ::epoll_ctl(lep, EPOLL_CTL_ADD, lfd, &lev);
  std::size_t next = 0;
  while (!gStop) {
    epoll_event ev{};
    // A line a second: the bench takes the rate over the seconds it chooses.
    if (::epoll_wait(lep, &ev, 1, 1000) > 0) {
      for (;;) {
        const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        workers[next++ % workers.size()]->adopt(fd);
      }
    }
    std::printf("moves %llu\n", static_cast<unsigned long long>(gMoves.load()));
    std::fflush(stdout);
  }
  for (auto& w : workers) w->wake();
  for (auto& t : running) t.join();
  ::close(lep);
  ::close(lfd);
  return 0;
}
