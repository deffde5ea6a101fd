// GameListener over TCP and epoll: accept, read, write, close (see game_listener.hpp);
// what the bytes mean and every limit are the core's (gamesrv/game_sessions.hpp).
//
// Edge-triggered on the completion port's threads. The listener keeps its own epoll set
// (the listening socket, a timerfd and every session socket, all EPOLLET; sessions
// watch EPOLLIN|EPOLLOUT|EPOLLRDHUP from accept on, so no epoll_ctl is ever needed to
// wait for writability), and associates that epoll fd with the CompletionPort, which
// arms it one-shot and level-checked (completion_port.hpp): the port's threads
// (IocpWorkers, gs-iocp-N) get a packet when the set has ready sockets. The thread that
// gets it harvests the ready events (epoll_wait, timeout 0), re-arms the set at once, so
// that another port thread can harvest the next edges in parallel, and serves what it
// harvested. So the port's threads do all the work, with the port's concurrency limit,
// and each socket is edge-triggered as the issue asks. (Registering every socket with
// the port itself would have been level-triggered one-shot: an epoll_ctl per read.)
//
// - Edges may reach two threads for one session. Each session has `pending` (event bits)
//   and `busy`: a thread ORs its bits into pending and serves only if it wins busy; the
//   one serving loops until pending is empty after it lets go of busy (the classic
//   hand-off: with sequentially consistent operations no bit is left behind). So one
//   session is served by one thread at a time and reads run until EAGAIN, as edge
//   triggering requires.
// - A send() from any thread reaches a socket through the core's wake(): the session's
//   bits, and a packet posted to the port for it unless a thread is serving it already.
//   A full port queue puts the session on a retry list the timer serves (no inline I/O on
//   a caller's thread, so the handler never runs on the replication thread).
// - Writes: sendmsg (writev with MSG_NOSIGNAL) over the core's queued buffers until
//   EAGAIN, then the next EPOLLOUT edge resumes.
// - Lifetime: the table (core) and a serving thread share each session; its fd is closed
//   by its destructor, once, after the last owner lets go, and is removed from the epoll
//   set and shut down when the session ends, so the peer sees the end at once.
// - stop(): the ServerGate (connection.hpp) waits for dispatches in progress; only then
//   are sockets and the epoll set closed. Nothing spins: the port's threads block in the
//   port, the timer is the only periodic wake-up (sweepInterval, for deadlines).
//
// Past the ~400-line guide on purpose: accept, read, write, timers and stop all rest on
// the serve hand-off above, and split in two each half would have to restate it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "gamesrv/connection.hpp"
#include "gamesrv/game_sessions.hpp"
#include "gamesrv/platform/game_listener.hpp"

namespace gamesrv {
namespace {

constexpr std::uint32_t kRead = 1, kWritable = 2, kCheck = 4;
// The completion key's low half: 0 the epoll harvest, kBatchId the wakeMany() list, else a
// session id (the core counts ids up from 1; it would take 4 billion sessions in one run
// to reach this one).
constexpr std::uint32_t kBatchId = 0xffffffffu;
constexpr std::size_t kBatchPosts = 2;
constexpr std::size_t kBatchChunk = 64;  // sessions taken from the list at a time
constexpr std::uint64_t kListenerData = 1ull << 32, kTimerData = 2ull << 32;
constexpr int kMaxEvents = 64;
constexpr std::size_t kMaxSlices = 64;
constexpr std::size_t kReadBytes = 64 * 1024;

std::atomic<std::uint32_t> gNextInstance{1};

struct PosixGameSession final : GameSession {
  explicit PosixGameSession(int f) : fd(f) {}
  ~PosixGameSession() override { ::close(fd); }
  std::int64_t rttUs() const override {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
    return info.tcpi_rtt;  // µs, smoothed (RFC 6298)
  }
  const int fd;
  std::atomic<std::uint32_t> pending{0};
  std::atomic<bool> busy{false};
  bool writeBlocked = false;  // only the thread holding busy
};

std::string osError(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

std::string remoteOf(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (a.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(a);
    ::inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    port = ntohs(in.sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
  ::inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
  return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6.sin6_port));
}

// One frame, if the socket takes it now (a refusal, a farewell): never waits.
void sendNow(int fd, const GameFrame& frame) {
  iovec iov[kMaxSlices];
  std::size_t n = 0;
  for (const GameBuffer& b : frame.parts())
    if (n < kMaxSlices) iov[n++] = iovec{const_cast<std::byte*>(b.data), b.len};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = n;
  if (n > 0) (void)::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

class PosixGameListener final : public GameListener, public GameSessions::Io {
 public:
  PosixGameListener(GameSessions& sessions, GameListenerConfig config)
      : core_(sessions), config_(std::move(config)),
        base_(std::uint64_t{config_.keyTag} << 56 | std::uint64_t{gNextInstance.fetch_add(1) & 0xffffff} << 32) {}
  ~PosixGameListener() override { stop(); }

  GameListenResult start() override;
  void stop() override;
  bool dispatch(const CompletionPacket& packet) override;
  std::uint16_t boundPort() const override { return boundPort_.load(std::memory_order_acquire); }
  void wake(GameSession& s) override;
  void wakeRead(GameSession& s) override;
  bool wakeMany(std::span<const std::uint32_t> ids) override;

 private:
  using Session = std::shared_ptr<PosixGameSession>;
  Session lookup(std::uint32_t id) const { return std::static_pointer_cast<PosixGameSession>(core_.find(id)); }
  void harvest();
  void acceptReady();
  void shedBacklog();
  void onTimer();
  void serve(const Session& s, std::uint32_t bits);
  void serveOnce(PosixGameSession& s, std::uint32_t bits);
  bool readAll(PosixGameSession& s);  // false: the session ended
  void post(PosixGameSession& s, std::uint32_t bits);  // serve `s` with `bits` on an I/O thread
  void serveBatch();  // serves the sessions wakeMany() listed, until none is left
  bool flush(PosixGameSession& s);    // false: the session ended
  void closeNow(PosixGameSession& s, GameCloseInfo why);
  void cleanup();

  GameSessions& core_;
  const GameListenerConfig config_;
  const std::uint64_t base_;  // keyTag and this listener's instance; the low 32 bits: session id (0: the epoll set)
  ServerGate gate_;
  // Set by start() before the gate runs; closed by stop() after it has drained.
  int listenFd_ = -1, epfd_ = -1, timerFd_ = -1;
  std::atomic<std::uint16_t> boundPort_{0};
  std::mutex acceptMu_;  // held by the one thread accepting
  int reserveFd_ = -1;   // guarded by acceptMu_: given up to shed the backlog at EMFILE
  std::mutex sweepMu_;   // held by the one thread sweeping
  std::mutex batchMu_;
  std::vector<std::uint32_t> batch_;  // guarded by batchMu_: sessions wakeMany() asked to serve
  std::mutex retryMu_;
  std::vector<std::uint32_t> retry_;  // guarded by retryMu_: sessions whose wake the port refused
};

GameListenResult PosixGameListener::start() {
  std::lock_guard lock(gate_.mutex());
  GameListenResult r;
  if (gate_.state() != ServerGate::State::Created) {
    r.error = "the game listener was already started (or stopped); make a new one";
    return r;
  }
  if (config_.completionPort == nullptr) {
    r.error = "GameListenerConfig.completionPort is not set";
    return r;
  }
  sockaddr_storage addr{};
  socklen_t addrLen;
  auto& in4 = reinterpret_cast<sockaddr_in&>(addr);
  auto& in6 = reinterpret_cast<sockaddr_in6&>(addr);
  if (::inet_pton(AF_INET, config_.host.c_str(), &in4.sin_addr) == 1) {
    in4.sin_family = AF_INET;
    in4.sin_port = htons(config_.port);
    addrLen = sizeof in4;
  } else if (::inet_pton(AF_INET6, config_.host.c_str(), &in6.sin6_addr) == 1) {
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(config_.port);
    addrLen = sizeof in6;
  } else {
    r.error = "game host '" + config_.host + "' is not an IPv4 or IPv6 address";
    return r;
  }
  auto fail = [&](std::string why) {
    cleanup();
    r.error = std::move(why);
    return r;
  };
  listenFd_ = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0) return fail(osError("socket", errno));
  const int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listenFd_, reinterpret_cast<const sockaddr*>(&addr), addrLen) != 0)
    return fail(osError(("bind " + config_.host + ":" + std::to_string(config_.port)).c_str(), errno));
  if (::listen(listenFd_, SOMAXCONN) != 0) return fail(osError("listen", errno));
  sockaddr_storage bound{};
  socklen_t boundLen = sizeof bound;
  if (::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&bound), &boundLen) != 0) return fail(osError("getsockname", errno));
  const std::uint16_t port = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(bound).sin_port
                                                              : reinterpret_cast<sockaddr_in6&>(bound).sin6_port);
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return fail(osError("epoll_create1", errno));
  timerFd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timerFd_ < 0) return fail(osError("timerfd_create", errno));
  const auto every = std::chrono::duration_cast<Nanos>(core_.sweepInterval()).count();
  itimerspec its{};
  its.it_interval.tv_sec = static_cast<time_t>(every / 1000000000);
  its.it_interval.tv_nsec = static_cast<long>(every % 1000000000);
  its.it_value = its.it_interval;
  if (::timerfd_settime(timerFd_, 0, &its, nullptr) != 0) return fail(osError("timerfd_settime", errno));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = kListenerData;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, listenFd_, &ev) != 0) return fail(osError("epoll_ctl(listener)", errno));
  ev.data.u64 = kTimerData;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, timerFd_, &ev) != 0) return fail(osError("epoll_ctl(timer)", errno));
  reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  core_.attach(this);
  const PortStatus ps = config_.completionPort->associate(epfd_, base_, IoEvents::Readable);
  if (ps != PortStatus::Ok) {
    core_.attach(nullptr);
    return fail(std::string("the completion port refused the game listener: ") + toString(ps));
  }
  boundPort_.store(port, std::memory_order_release);
  gate_.setRunning();
  r.ok = true;
  r.boundPort = port;
  return r;
}

void PosixGameListener::cleanup() {
  for (int* fd : {&listenFd_, &timerFd_, &epfd_, &reserveFd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void PosixGameListener::stop() {
  ServerGate::Lock lock(gate_.mutex());
  if (!gate_.beginStop(lock)) return;
  lock.unlock();
  core_.attach(nullptr);  // returns once no wake() is in progress
  config_.completionPort->disassociate(epfd_);
  for (const auto& s : core_.snapshot()) {
    auto& ps = static_cast<PosixGameSession&>(*s);
    sendNow(ps.fd, core_.farewell(ps));
    closeNow(ps, GameCloseInfo{GameCloseKind::Stopped, static_cast<std::uint16_t>(game_wire::KickReason::Shutdown)});
  }
  cleanup();
  lock.lock();
  gate_.finishStop(lock);
}

void PosixGameListener::wake(GameSession& gs) { post(static_cast<PosixGameSession&>(gs), kCheck); }

void PosixGameListener::wakeRead(GameSession& gs) { post(static_cast<PosixGameSession&>(gs), kCheck | kRead); }

void PosixGameListener::post(PosixGameSession& s, std::uint32_t bits) {
  s.pending.fetch_or(bits);
  if (s.busy.load()) return;  // the thread serving it sees the bit before it lets go
  if (config_.completionPort->post(base_ | s.id) == PortStatus::QueueFull) {
    std::lock_guard lock(retryMu_);
    retry_.push_back(s.id);
  }
}

bool PosixGameListener::wakeMany(std::span<const std::uint32_t> ids) {
  if (ids.empty()) return true;
  {
    std::lock_guard lock(batchMu_);
    batch_.insert(batch_.end(), ids.begin(), ids.end());
  }
  // Two I/O threads (the default iocpThreads) share the list; a refused post leaves it to
  // the sweep timer (onTimer).
  for (std::size_t i = 0; i < std::min<std::size_t>(ids.size(), kBatchPosts); ++i)
    if (config_.completionPort->post(base_ | kBatchId) != PortStatus::Ok) break;
  return true;
}

void PosixGameListener::serveBatch() {
  std::vector<std::uint32_t> ids;
  for (;;) {
    {
      std::lock_guard lock(batchMu_);
      if (batch_.empty()) return;
      const std::size_t n = std::min(batch_.size(), kBatchChunk);
      ids.assign(batch_.end() - static_cast<std::ptrdiff_t>(n), batch_.end());
      batch_.resize(batch_.size() - n);
    }
    for (const std::uint32_t id : ids)
      if (const Session s = lookup(id)) serve(s, kCheck);
  }
}

bool PosixGameListener::dispatch(const CompletionPacket& packet) {
  if ((packet.key & ~std::uint64_t{0xffffffff}) != base_) return false;
  if (packet.kind == CompletionKind::Quit) return true;
  {
    std::lock_guard lock(gate_.mutex());
    if (!gate_.running()) return true;
    gate_.enterLocked();
  }
  ServerGate::Dispatch inside(gate_);
  const auto id = static_cast<std::uint32_t>(packet.key);
  if (id == 0) {
    harvest();
  } else if (id == kBatchId) {
    serveBatch();
  } else if (const Session s = lookup(id)) {
    serve(s, 0);
  }
  return true;
}

void PosixGameListener::harvest() {
  epoll_event events[kMaxEvents];
  int n;
  do {
    n = ::epoll_wait(epfd_, events, kMaxEvents, 0);
  } while (n < 0 && errno == EINTR);
  config_.completionPort->rearm(epfd_, base_, IoEvents::Readable);  // the next edges may go to another thread
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events[i];
    if (ev.data.u64 == kListenerData) {
      acceptReady();
    } else if (ev.data.u64 == kTimerData) {
      onTimer();
    } else if (const Session s = lookup(static_cast<std::uint32_t>(ev.data.u64))) {
      std::uint32_t bits = 0;
      if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) bits |= kRead;
      if (ev.events & EPOLLOUT) bits |= kWritable;
      serve(s, bits);
    }
  }
}

void PosixGameListener::acceptReady() {
  std::lock_guard accepting(acceptMu_);
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = ::accept4(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) shedBacklog();
      return;  // EAGAIN: drained (edge-triggered: the next connection brings a new edge)
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (config_.socketSendBuffer > 0) {
      const int bytes = static_cast<int>(config_.socketSendBuffer);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    }
    const auto s = std::make_shared<PosixGameSession>(fd);
    const auto admission = core_.admit(s, remoteOf(addr));
    if (admission != GameSessions::Admission::Accepted) {
      sendNow(fd, GameSessions::refusal(admission));
      continue;  // s's destructor closes fd
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = s->id;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) closeNow(*s, GameCloseInfo{GameCloseKind::IoError, 0});
  }
}

// Out of file descriptors: the backlog would never drain and no new edge would come.
// Give up the spare fd, accept and close what waits, then take the spare back (libuv).
// Requires: acceptMu_ held.
void PosixGameListener::shedBacklog() {
  if (reserveFd_ < 0) return;
  ::close(reserveFd_);
  for (;;) {
    const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break;
    }
    ::close(fd);
  }
  reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void PosixGameListener::onTimer() {
  std::uint64_t expirations;
  while (::read(timerFd_, &expirations, sizeof expirations) > 0) {
  }
  std::unique_lock sweeping(sweepMu_, std::try_to_lock);
  if (!sweeping.owns_lock()) return;
  core_.sweep(SteadyClock::now());
  std::vector<std::uint32_t> again;
  {
    std::lock_guard lock(retryMu_);
    again.swap(retry_);
  }
  for (const std::uint32_t id : again)
    if (const Session s = lookup(id)) serve(s, kCheck);
  serveBatch();  // what a refused batch post left
}

void PosixGameListener::serve(const Session& s, std::uint32_t bits) {
  s->pending.fetch_or(bits);
  if (s->busy.exchange(true)) return;  // its server will see the bits
  for (;;) {
    serveOnce(*s, s->pending.exchange(0));
    s->busy.store(false);
    if (s->pending.load() == 0 || s->busy.exchange(true)) return;
  }
}

void PosixGameListener::serveOnce(PosixGameSession& s, std::uint32_t bits) {
  if (s.finished.load(std::memory_order_acquire)) return;
  if ((bits & kRead) && !readAll(s)) return;
  if (bits & kWritable) s.writeBlocked = false;
  if (!s.writeBlocked && !flush(s)) return;
  if (core_.closeDue(s, SteadyClock::now())) closeNow(s, core_.closeInfo(s));
}

bool PosixGameListener::readAll(PosixGameSession& s) {
  thread_local std::byte buf[kReadBytes];
  for (;;) {
    if (!GameSessions::readable(s)) return true;  // resumeReading() reads again
    const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n > 0) {
      core_.received(s, std::span<const std::byte>(buf, static_cast<std::size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    const bool reset = n == 0 || errno == ECONNRESET;
    closeNow(s, GameCloseInfo{reset ? GameCloseKind::PeerClosed : GameCloseKind::IoError, 0});
    return false;
  }
}

bool PosixGameListener::flush(PosixGameSession& s) {
  GameIoSlice slices[kMaxSlices];
  iovec iov[kMaxSlices];
  for (;;) {
    const std::size_t n = core_.gather(s, slices);
    if (n == 0) return true;
    for (std::size_t i = 0; i < n; ++i) iov[i] = iovec{const_cast<std::byte*>(slices[i].data), slices[i].len};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    const ssize_t w = ::sendmsg(s.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    const int err = errno;
    core_.wrote(s, w > 0 ? static_cast<std::size_t>(w) : 0);
    if (w >= 0 || err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      s.writeBlocked = true;  // the next EPOLLOUT edge resumes
      return true;
    }
    const bool reset = err == EPIPE || err == ECONNRESET;
    closeNow(s, GameCloseInfo{reset ? GameCloseKind::PeerClosed : GameCloseKind::IoError, 0});
    return false;
  }
}

void PosixGameListener::closeNow(PosixGameSession& s, GameCloseInfo why) {
  if (s.finished.load(std::memory_order_acquire)) return;
  if (s.state.load(std::memory_order_acquire) == GameSessionState::Closing) {
    const GameCloseInfo planned = core_.closeInfo(s);
    if (planned.kind != GameCloseKind::PeerClosed) why = planned;  // the end was decided before the peer's
  }
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, s.fd, nullptr);
  ::shutdown(s.fd, SHUT_RDWR);
  core_.finish(s, why);
}

}  // namespace

std::unique_ptr<GameListener> GameListener::create(GameSessions& sessions, GameListenerConfig config) {
  return std::make_unique<PosixGameListener>(sessions, std::move(config));
}

}  // namespace gamesrv
