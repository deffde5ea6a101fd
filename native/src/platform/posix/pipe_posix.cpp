// PipeServer / PipeClient over AF_UNIX SOCK_SEQPACKET. See pipe.hpp for the contract;
// the notes here say how it is kept.
//
// - Server state: `mu_` guards the state machine, the connection table and `inFlight_`
//   (dispatch() calls past the state check). stop() flips the state to Stopping, waits
//   for inFlight_ to drain, and only then touches sockets, so no fd is closed while a
//   port thread uses it and no handler runs after stop() returns.
// - Each connection is armed one-shot: at most one packet for it is in flight. Its
//   `ioMu` is held while a thread serves it; it is never contended in practice, but it
//   orders the hand-over of `pending` between threads in a way the sanitizers can see
//   (the real hand-over goes through epoll in the kernel).
// - A Connection closes its fd in its destructor: the table and the serving thread share
//   it, so the fd outlives every use, and is disassociated from the port before the close.
// - Completion keys: keyTag in the top byte, then a process-wide counter (never reused),
//   so a stale packet for a closed connection finds nothing and is dropped.
// - Sockets are non-blocking on the server; a reply the peer has no room for waits in
//   `pending` while the connection is armed for Writable only (no reading meanwhile).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <system_error>
#include <unordered_map>

#include "gamesrv/clock.hpp"
#include "gamesrv/pipe.hpp"

namespace gamesrv {
namespace {

constexpr int kKeyShift = 56;
constexpr std::uint64_t kIdMask = (std::uint64_t{1} << kKeyShift) - 1;
constexpr int kMaxAcceptsPerWakeup = 64;
constexpr std::size_t kRecvBufferBytes = kPipeFrameBytes + 1;  // one more, to see oversized messages
constexpr std::size_t kMaxBatch = 16;  // frames read per call (caps maxFramesPerWakeup)
const std::string kServerBusy = "server busy: ";  // the ERROR text a connection over maxClients gets

std::atomic<std::uint64_t> gNextId{1};

std::string osError(const char* what, int err) {
  return std::string(what) + ": " + std::generic_category().message(err);
}

PipeResult failure(PipeError e, std::string detail) { return PipeResult{e, std::move(detail)}; }

bool fillAddress(const std::string& path, sockaddr_un& addr, PipeResult& error) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path || path.find('\0') != std::string::npos) {
    error = failure(PipeError::InvalidPath, "socket path \"" + path + "\" is empty, contains NUL or is longer than " +
                                                std::to_string(sizeof addr.sun_path - 1) + " bytes");
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}

// Errors of connect() on a unix socket path, as the client and the stale-socket probe see them.
PipeResult connectError(const std::string& path, int err) {
  switch (err) {
    case ENOENT:
    case ECONNREFUSED: return failure(PipeError::NoServer, "no server listens on " + path + " (" + osError("connect", err) + ")");
    case EACCES:
    case EPERM: return failure(PipeError::PermissionDenied, osError(("connect to " + path).c_str(), err));
    case EPROTOTYPE:
    case ENOTDIR: return failure(PipeError::InvalidPath, path + " is not a SOCK_SEQPACKET socket (" + osError("connect", err) + ")");
    case EAGAIN:
    case EINPROGRESS: return failure(PipeError::Timeout, "the server on " + path + " did not accept in time (backlog full)");
    default: return failure(PipeError::System, osError(("connect to " + path).c_str(), err));
  }
}

// Waits for `events` on fd until the deadline; false on timeout. EINTR restarts with the time left.
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

struct Connection {
  Connection(int f, std::uint64_t k) : fd(f), key(k) {}
  ~Connection() { ::close(fd); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const int fd;
  const CompletionKey key;
  std::mutex ioMu;                // held by the one thread serving this connection
  std::deque<PipeFrame> pending;  // guarded by ioMu: replies the peer had no room for
};

// Set while a thread runs a dispatch() of a server: lets stop() called from a handler
// skip waiting for its own call.
thread_local const void* tlsDispatching = nullptr;

}  // namespace

std::string defaultPipePath(std::string_view name) {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/gamesrv-" + std::string(name) + ".sock";
  return "/tmp/gamesrv-" + std::to_string(::geteuid()) + "-" + std::string(name) + ".sock";
}

// --- server ------------------------------------------------------------------------

struct PipeServer::Impl {
  Impl(PipeServerConfig c, PipeHandler h) : config(std::move(c)), handler(std::move(h)) {
    path = config.path.empty() ? defaultPipePath("main") : config.path;
    if (config.maxFramesPerWakeup == 0) config.maxFramesPerWakeup = 1;
  }

  PipeResult start();
  void stop();
  bool dispatch(const CompletionPacket& packet);
  PipeServerStats stats() const;

  CompletionKey keyOf(std::uint64_t id) const { return std::uint64_t{config.keyTag} << kKeyShift | (id & kIdMask); }
  PipeResult claimPath(const sockaddr_un& addr);
  void acceptReady();
  void shedBacklog();
  void serve(Connection& conn);
  enum class SendOutcome { Sent, Full, Broken };  // Broken: the connection was closed
  SendOutcome sendFrame(Connection& conn, const PipeFrame& frame);
  // Reads nothing, writes what waits; false if the connection broke.
  bool flushPending(Connection& conn);
  void answer(const Connection& conn, const std::uint8_t* in, std::size_t length, PipeFrame& out);
  void answerError(PipeError cls, const std::string& reason, PipeFrame& out);
  void closeConnection(const Connection& conn, bool ioError);
  void refuse(int fd, const char* reason);

  enum class State { Created, Running, Stopping, Stopped };

  PipeServerConfig config;
  const PipeHandler handler;
  std::string path;  // fixed before start()

  mutable std::mutex mu_;
  std::condition_variable changed_;  // inFlight_ or state_ changed
  State state_ = State::Created;     // guarded by mu_
  std::size_t inFlight_ = 0;         // guarded by mu_
  std::unordered_map<CompletionKey, std::shared_ptr<Connection>> conns_;  // guarded by mu_
  std::size_t peakActive_ = 0;       // guarded by mu_
  // Set by start() under mu_ before the state becomes Running; read-only until stop() has drained.
  int listenFd_ = -1;
  std::mutex acceptMu_;  // held by the one thread accepting (see ioMu on Connection)
  int reserveFd_ = -1;   // guarded by acceptMu_: a spare fd, given up to refuse connections at EMFILE
  CompletionKey listenerKey_ = 0;
  dev_t boundDev_ = 0;
  ino_t boundIno_ = 0;

  std::atomic<std::uint64_t> accepted_{0}, refused_{0}, closed_{0}, framesIn_{0}, framesOut_{0};
  std::atomic<std::uint64_t> bytesIn_{0}, bytesOut_{0}, deferredWrites_{0};
  std::atomic<std::uint64_t> badLength_{0}, badSize_{0}, unknownType_{0}, badPadding_{0}, badPayload_{0};
  std::atomic<std::uint64_t> handlerFailed_{0}, ioErrors_{0};
  std::atomic<std::uint64_t> byType_[5] = {};
  Histogram handlerNs_;
};

PipeResult PipeServer::Impl::claimPath(const sockaddr_un& addr) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    const int err = errno;
    return failure(err == EACCES ? PipeError::PermissionDenied : PipeError::System, osError(("stat " + path).c_str(), err));
  }
  if (!S_ISSOCK(st.st_mode))
    return failure(PipeError::InvalidPath, path + " exists and is not a socket; it is left alone");
  const int probe = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return failure(PipeError::System, osError("socket", errno));
  const int r = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = r == 0 ? 0 : errno;
  ::close(probe);
  if (r == 0 || err == EAGAIN || err == EPROTOTYPE)  // accepted, backlog full, or a listener of another type
    return failure(PipeError::AddressInUse, "address in use: a live server answers on " + path);
  if (err != ECONNREFUSED && err != ENOENT) return connectError(path, err);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)  // stale: its server is gone
    return failure(PipeError::PermissionDenied, osError(("remove stale socket " + path).c_str(), errno));
  return {};
}

PipeResult PipeServer::Impl::start() {
  std::lock_guard lock(mu_);
  if (state_ != State::Created)
    return failure(PipeError::System, state_ == State::Stopped ? "the pipe server was stopped; make a new one"
                                                               : "the pipe server was already started");
  if (config.port == nullptr) return failure(PipeError::System, "PipeServerConfig.port is not set");
  sockaddr_un addr;
  PipeResult res;
  if (!fillAddress(path, addr, res)) return res;
  if (res = claimPath(addr); !res.ok()) return res;

  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return failure(PipeError::System, osError("socket", errno));
  auto fail = [&](PipeResult r, bool unlinkPath) {
    ::close(fd);
    if (unlinkPath) ::unlink(path.c_str());
    return r;
  };
  // Linux creates the socket file with the socket inode's mode (minus umask): 0600 from
  // the first instant, without touching the process-wide umask.
  if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0) return fail(failure(PipeError::System, osError("fchmod", errno)), false);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    if (err == EADDRINUSE)
      return fail(failure(PipeError::AddressInUse, "address in use: " + path + " was taken while starting"), false);
    const PipeError e = err == EACCES ? PipeError::PermissionDenied
                        : (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG) ? PipeError::InvalidPath
                                                                                   : PipeError::System;
    return fail(failure(e, osError(("bind " + path).c_str(), err)), false);
  }
  struct stat st{};
  if (::chmod(path.c_str(), S_IRUSR | S_IWUSR) != 0 || ::lstat(path.c_str(), &st) != 0)
    return fail(failure(PipeError::System, osError(("chmod/stat " + path).c_str(), errno)), true);
  if (!S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0600 || st.st_uid != ::geteuid()) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(failure(PipeError::PermissionDenied, path + " has mode " + mode + " (expected 0600, owner-only)"), true);
  }
  if (::listen(fd, SOMAXCONN) != 0) return fail(failure(PipeError::System, osError("listen", errno)), true);
  listenerKey_ = keyOf(gNextId.fetch_add(1, std::memory_order_relaxed));
  const PortStatus ps = config.port->associate(fd, listenerKey_, IoEvents::Readable);
  if (ps != PortStatus::Ok)
    return fail(failure(ps == PortStatus::Closed ? PipeError::Closed : PipeError::System,
                        std::string("the completion port refused the listener: ") + toString(ps)),
                true);
  listenFd_ = fd;
  reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  boundDev_ = st.st_dev;
  boundIno_ = st.st_ino;
  state_ = State::Running;
  return {};
}

void PipeServer::Impl::stop() {
  std::unique_lock lock(mu_);
  const bool fromHandler = tlsDispatching == this;
  if (state_ == State::Created) {
    state_ = State::Stopped;
    return;
  }
  if (state_ != State::Running) {  // stopped, or another thread is stopping it
    if (!fromHandler) changed_.wait(lock, [&] { return state_ == State::Stopped; });
    return;
  }
  state_ = State::Stopping;
  const std::size_t self = fromHandler ? 1 : 0;
  changed_.wait(lock, [&] { return inFlight_ <= self; });
  auto conns = std::move(conns_);
  conns_.clear();
  lock.unlock();

  CompletionPort& port = *config.port;
  for (auto& [key, conn] : conns) {
    port.disassociate(conn->fd);
    ::shutdown(conn->fd, SHUT_RDWR);  // the peer sees end-of-stream now, whoever still holds conn
  }
  closed_.fetch_add(conns.size(), std::memory_order_relaxed);
  conns.clear();
  port.disassociate(listenFd_);
  ::close(listenFd_);
  if (reserveFd_ >= 0) ::close(reserveFd_);
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0 && st.st_dev == boundDev_ && st.st_ino == boundIno_) ::unlink(path.c_str());

  lock.lock();
  listenFd_ = -1;
  reserveFd_ = -1;
  state_ = State::Stopped;
  changed_.notify_all();
}

bool PipeServer::Impl::dispatch(const CompletionPacket& packet) {
  if (packet.key >> kKeyShift != config.keyTag) return false;
  if (packet.kind != CompletionKind::Io) return true;
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::Running) return true;
    if (packet.key != listenerKey_) {
      const auto it = conns_.find(packet.key);
      if (it == conns_.end()) return true;  // closed meanwhile: a stale packet
      conn = it->second;
    }
    ++inFlight_;
  }
  const void* const outer = tlsDispatching;
  tlsDispatching = this;
  if (conn) {
    std::lock_guard io(conn->ioMu);
    serve(*conn);
  } else {
    std::lock_guard accepting(acceptMu_);
    acceptReady();
  }
  tlsDispatching = outer;
  std::lock_guard lock(mu_);
  --inFlight_;
  if (state_ == State::Stopping) changed_.notify_all();  // stop() waits for 0, or 1 from a handler
  return true;
}

void PipeServer::Impl::refuse(int fd, const char* reason) {
  refused_.fetch_add(1, std::memory_order_relaxed);  // before the peer can see the refusal
  PipeFrame frame;
  encodePipeFrameInto(PipeMessageType::Error, reason, frame);
  (void)::send(fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::close(fd);
}

void PipeServer::Impl::acceptReady() {
  const uid_t me = ::geteuid();
  for (int i = 0; i < kMaxAcceptsPerWakeup; ++i) {
    const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        shedBacklog();
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        ioErrors_.fetch_add(1, std::memory_order_relaxed);
      }
      break;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || (cred.uid != me && cred.uid != 0)) {
      refuse(fd, "refused: the peer runs as another user");
      continue;
    }
    std::unique_lock lock(mu_);
    if (conns_.size() >= config.maxClients) {
      lock.unlock();
      refuse(fd, (kServerBusy + std::to_string(config.maxClients) + " clients already connected").c_str());
      continue;
    }
    const CompletionKey key = keyOf(gNextId.fetch_add(1, std::memory_order_relaxed));
    conns_.emplace(key, std::make_shared<Connection>(fd, key));
    peakActive_ = std::max(peakActive_, conns_.size());
    lock.unlock();
    accepted_.fetch_add(1, std::memory_order_relaxed);
    // stop() cannot run between the insert and this: it waits for this dispatch.
    if (config.port->associate(fd, key, IoEvents::Readable) != PortStatus::Ok) {
      std::lock_guard relock(mu_);
      conns_.erase(key);  // closes fd
      closed_.fetch_add(1, std::memory_order_relaxed);
      ioErrors_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  config.port->rearm(listenFd_, listenerKey_, IoEvents::Readable);
}

// Out of file descriptors: the backlog would keep the listener readable and the port
// would spin on it. Give up the spare fd, accept and close what waits (counted as
// refused: the clients see end-of-stream), then take the spare back (libuv's trick).
// Requires: acceptMu_ held.
void PipeServer::Impl::shedBacklog() {
  ioErrors_.fetch_add(1, std::memory_order_relaxed);
  if (reserveFd_ < 0) return;
  ::close(reserveFd_);
  for (;;) {
    const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break;
    }
    ::close(fd);
    refused_.fetch_add(1, std::memory_order_relaxed);
  }
  reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void PipeServer::Impl::closeConnection(const Connection& conn, bool ioError) {
  std::shared_ptr<Connection> owned;  // the caller still holds one: the fd closes after its serve()
  {
    std::lock_guard lock(mu_);
    const auto it = conns_.find(conn.key);
    if (it == conns_.end()) return;
    owned = std::move(it->second);
    conns_.erase(it);
  }
  config.port->disassociate(conn.fd);
  closed_.fetch_add(1, std::memory_order_relaxed);
  if (ioError) ioErrors_.fetch_add(1, std::memory_order_relaxed);
}

void PipeServer::Impl::answerError(PipeError cls, const std::string& reason, PipeFrame& out) {
  std::atomic<std::uint64_t>* counter = nullptr;
  switch (cls) {
    case PipeError::BadLength: counter = &badLength_; break;
    case PipeError::BadSize: counter = &badSize_; break;
    case PipeError::UnknownType: counter = &unknownType_; break;
    case PipeError::BadPadding: counter = &badPadding_; break;
    case PipeError::BadPayload: counter = &badPayload_; break;
    default: counter = &handlerFailed_; break;
  }
  counter->fetch_add(1, std::memory_order_relaxed);
  // A stable code first ("bad_length: ..."), then the reason; handler failures read "handler_failed".
  const std::string text = std::string(cls == PipeError::System ? "handler_failed" : toString(cls)) + ": " + reason;
  encodePipeFrameInto(PipeMessageType::Error, std::string_view(text).substr(0, kPipeDataCapacity), out);
}

void PipeServer::Impl::answer(const Connection& conn, const std::uint8_t* in, std::size_t length, PipeFrame& out) {
  PipeDecodeResult decoded = decodePipeFrame(in, length);
  if (!decoded.ok()) return answerError(decoded.error, decoded.detail, out);
  const PipeMessageType type = decoded.message.type;
  if (!isPipeRequest(type))
    return answerError(PipeError::UnknownType,
                       "message type " + std::to_string(decoded.rawType) + " (" + toString(type) +
                           ") is a reply type; requests are 1..5",
                       out);
  PipeRequest request{type, std::move(decoded.message.data), std::nullopt, conn.key & kIdMask};
  if (carriesPlayerPayload(type)) {
    PlayerPayloadResult parsed = parsePlayerPayload(type, request.data);
    if (!parsed.ok()) return answerError(PipeError::BadPayload, parsed.detail, out);
    request.player = std::move(parsed.payload);
  }
  byType_[static_cast<std::size_t>(type) - 1].fetch_add(1, std::memory_order_relaxed);
  PipeReply reply;
  const std::uint64_t t0 = nowNs();
  try {
    reply = handler(request);
  } catch (const std::exception& e) {
    handlerNs_.record(nowNs() - t0);
    return answerError(PipeError::System, std::string("the handler failed: ") + e.what(), out);
  } catch (...) {
    handlerNs_.record(nowNs() - t0);
    return answerError(PipeError::System, "the handler failed with a non-standard exception", out);
  }
  handlerNs_.record(nowNs() - t0);
  if (!pipeMessageTypeOf(static_cast<std::uint32_t>(reply.type)))
    return answerError(PipeError::System,
                       "the handler replied with unknown type " + std::to_string(static_cast<std::uint32_t>(reply.type)), out);
  if (encodePipeFrameInto(reply.type, reply.data, out) != PipeError::None)
    return answerError(PipeError::System,
                       "the handler's reply is " + std::to_string(reply.data.size()) + " bytes, at most " +
                           std::to_string(kPipeDataCapacity) + " fit in a frame",
                       out);
}

PipeServer::Impl::SendOutcome PipeServer::Impl::sendFrame(Connection& conn, const PipeFrame& frame) {
  // Counted first, so that a peer holding the reply finds it in the stats; undone if not sent.
  framesOut_.fetch_add(1, std::memory_order_relaxed);
  bytesOut_.fetch_add(frame.size(), std::memory_order_relaxed);
  for (;;) {
    if (::send(conn.fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return SendOutcome::Sent;
    if (errno != EINTR) break;
  }
  const int err = errno;
  framesOut_.fetch_sub(1, std::memory_order_relaxed);
  bytesOut_.fetch_sub(frame.size(), std::memory_order_relaxed);
  if (err == EAGAIN || err == EWOULDBLOCK) return SendOutcome::Full;
  closeConnection(conn, err != EPIPE && err != ECONNRESET);
  return SendOutcome::Broken;
}

bool PipeServer::Impl::flushPending(Connection& conn) {
  while (!conn.pending.empty()) {
    switch (sendFrame(conn, conn.pending.front())) {
      case SendOutcome::Sent: conn.pending.pop_front(); break;
      case SendOutcome::Full: return true;
      case SendOutcome::Broken: return false;
    }
  }
  return true;
}

void PipeServer::Impl::serve(Connection& conn) {
  // Per-thread buffers: frames are read and answered without allocating for them.
  thread_local std::uint8_t in[kMaxBatch][kRecvBufferBytes];
  thread_local PipeFrame out;
  if (!flushPending(conn)) return;
  if (conn.pending.empty()) {
    // One call takes every frame already queued (up to the batch): no trailing EAGAIN read.
    // MSG_TRUNC: msg_len is the real length of an oversized message, which is dropped whole.
    mmsghdr msgs[kMaxBatch];
    iovec iov[kMaxBatch];
    const std::size_t want = std::min(config.maxFramesPerWakeup, kMaxBatch);
    for (std::size_t i = 0; i < want; ++i) {
      iov[i] = iovec{in[i], kRecvBufferBytes};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n;
    do {
      n = ::recvmmsg(conn.fd, msgs, static_cast<unsigned>(want), MSG_DONTWAIT | MSG_TRUNC, nullptr);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      closeConnection(conn, errno != ECONNRESET);
      return;
    }
    for (int i = 0; i < n; ++i) {
      const std::size_t length = msgs[i].msg_len;
      // 0: end-of-stream. (A zero-length SEQPACKET message reads the same; it is taken as a close.)
      if (length == 0) {
        closeConnection(conn, false);
        return;
      }
      framesIn_.fetch_add(1, std::memory_order_relaxed);
      bytesIn_.fetch_add(length, std::memory_order_relaxed);
      answer(conn, in[i], length, out);
      // Once one reply waits, the later ones queue behind it (order is part of the contract).
      const SendOutcome sent = conn.pending.empty() ? sendFrame(conn, out) : SendOutcome::Full;
      if (sent == SendOutcome::Broken) return;
      if (sent == SendOutcome::Full) {
        conn.pending.push_back(out);
        deferredWrites_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  // Level-checked at arm time: what is still readable (or writable) comes back as a new packet.
  config.port->rearm(conn.fd, conn.key, conn.pending.empty() ? IoEvents::Readable : IoEvents::Writable);
}

PipeServerStats PipeServer::Impl::stats() const {
  PipeServerStats s;
  {
    std::lock_guard lock(mu_);
    s.running = state_ == State::Running;
    s.active = conns_.size();
    s.peakActive = peakActive_;
  }
  s.path = path;
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  s.accepted = get(accepted_);
  s.refused = get(refused_);
  s.closed = get(closed_);
  s.framesIn = get(framesIn_);
  s.framesOut = get(framesOut_);
  s.bytesIn = get(bytesIn_);
  s.bytesOut = get(bytesOut_);
  s.deferredWrites = get(deferredWrites_);
  for (std::size_t i = 0; i < 5; ++i) s.requestsByType[i] = get(byType_[i]);
  s.errors.badLength = get(badLength_);
  s.errors.badSize = get(badSize_);
  s.errors.unknownType = get(unknownType_);
  s.errors.badPadding = get(badPadding_);
  s.errors.badPayload = get(badPayload_);
  s.errors.handlerFailed = get(handlerFailed_);
  s.errors.io = get(ioErrors_);
  s.handlerNs = handlerNs_.summary();
  return s;
}

PipeServer::PipeServer(PipeServerConfig config, PipeHandler handler)
    : impl_(std::make_shared<Impl>(std::move(config), std::move(handler))) {}
PipeServer::~PipeServer() { impl_->stop(); }
PipeResult PipeServer::start() { return impl_->start(); }
void PipeServer::stop() { impl_->stop(); }
PipeDispatcher PipeServer::dispatcher() const {
  return [impl = impl_](const CompletionPacket& packet) { return impl->dispatch(packet); };
}
const std::string& PipeServer::path() const noexcept { return impl_->path; }
PipeServerStats PipeServer::stats() const { return impl_->stats(); }

// --- client ------------------------------------------------------------------------

struct PipeClient::Impl {
  int fd = -1;
  void close() noexcept {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  PipeResult closedByServer();
  PipeResult send(const std::uint8_t* bytes, std::size_t size, TimePoint deadline);
  // blockFor > 0: the first read blocks up to blockFor (SO_RCVTIMEO, set only when it
  // changes): one syscall for the common request/response. The deadline still rules.
  PipeReplyResult receive(TimePoint deadline, std::chrono::milliseconds blockFor = {});
  std::chrono::milliseconds rcvTimeout{-1};  // SO_RCVTIMEO now set on fd (-1: unknown)
};

namespace {
PipeReplyResult replyFailure(PipeError e, std::string detail) {
  PipeReplyResult r;
  r.error = e;
  r.detail = std::move(detail);
  return r;
}
}  // namespace

PipeResult PipeClient::Impl::send(const std::uint8_t* bytes, std::size_t size, TimePoint deadline) {
  if (fd < 0) return failure(PipeError::NotConnected, "not connected");
  for (;;) {
    const ssize_t w = ::send(fd, bytes, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w >= 0) return {};
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      int waitErr = 0;
      if (!waitFd(fd, POLLOUT, deadline, waitErr)) {
        close();
        return failure(PipeError::Timeout, "the server did not take the request in time; connection closed");
      }
      if (waitErr == 0) continue;
      close();
      return failure(PipeError::System, osError("ppoll", waitErr));
    }
    if (err == EPIPE || err == ECONNRESET) return closedByServer();
    close();
    return failure(err == EMSGSIZE ? PipeError::TooLarge : PipeError::System, osError("send", err));
  }
}

// The server hung up; an ERROR frame it sent before (e.g. "server busy") says why.
PipeResult PipeClient::Impl::closedByServer() {
  std::uint8_t buf[kRecvBufferBytes];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
  // A pending ECONNRESET (the server closed with our request unread) is reported, and
  // cleared, before the frames still queued: read once more.
  if (n < 0 && errno == ECONNRESET) n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
  close();
  if (n > 0) {
    const PipeDecodeResult d = decodePipeFrame(buf, static_cast<std::size_t>(n));
    if (d.ok() && d.message.type == PipeMessageType::Error) {
      const bool busy = d.message.data.rfind(kServerBusy, 0) == 0;
      return failure(busy ? PipeError::ServerBusy : PipeError::Closed, "the server closed the connection: " + d.message.data);
    }
  }
  return failure(PipeError::Closed, "the server closed the connection");
}

PipeReplyResult PipeClient::Impl::receive(TimePoint deadline, std::chrono::milliseconds blockFor) {
  if (fd < 0) return replyFailure(PipeError::NotConnected, "not connected");
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
    if (n > 0) {
      PipeDecodeResult d = decodePipeFrame(buf, static_cast<std::size_t>(n));
      if (!d.ok()) return replyFailure(d.error, "malformed reply: " + d.detail);
      PipeReplyResult r;
      r.reply = std::move(d.message);
      return r;
    }
    if (n == 0) {
      close();
      return replyFailure(PipeError::Closed, "the server closed the connection");
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == ECONNRESET) {
      PipeResult closed = closedByServer();
      return replyFailure(closed.error, std::move(closed.detail));
    }
    if (err != EAGAIN && err != EWOULDBLOCK) {
      close();
      return replyFailure(PipeError::System, osError("recv", err));
    }
    int waitErr = 0;
    if (!waitFd(fd, POLLIN, deadline, waitErr)) {
      close();
      return replyFailure(PipeError::Timeout, "no reply in time; connection closed");
    }
    if (waitErr != 0) {
      close();
      return replyFailure(PipeError::System, osError("ppoll", waitErr));
    }
  }
}

PipeClient::PipeClient() : impl_(std::make_unique<Impl>()) {}
PipeClient::~PipeClient() { close(); }
PipeClient::PipeClient(PipeClient&&) noexcept = default;
PipeClient& PipeClient::operator=(PipeClient&& other) noexcept {
  if (this != &other) {
    close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

PipeResult PipeClient::connect(const std::string& path, std::chrono::milliseconds timeout) {
  if (!impl_) impl_ = std::make_unique<Impl>();
  impl_->close();
  sockaddr_un addr;
  PipeResult res;
  if (!fillAddress(path, addr, res)) return res;
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return failure(PipeError::System, osError("socket", errno));
  // A blocking unix connect waits for room in the server's backlog for up to SO_SNDTIMEO.
  const auto ms = std::max<std::chrono::milliseconds::rep>(timeout.count(), 1);
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    return connectError(path, err);
  }
  impl_->fd = fd;
  impl_->rcvTimeout = std::chrono::milliseconds{-1};
  return {};
}

PipeReplyResult PipeClient::request(PipeMessageType type, std::string_view data, std::chrono::milliseconds timeout) {
  PipeFrame frame;
  if (encodePipeFrameInto(type, data, frame) != PipeError::None)
    return replyFailure(PipeError::TooLarge, "data is " + std::to_string(data.size()) + " bytes, at most " +
                                                 std::to_string(kPipeDataCapacity) + " fit in a frame; nothing sent");
  if (!connected()) return replyFailure(PipeError::NotConnected, "not connected");
  const TimePoint start = SteadyClock::now();
  const TimePoint deadline = start + timeout;
  if (PipeResult sent = impl_->send(frame.data(), frame.size(), deadline); !sent.ok())
    return replyFailure(sent.error, std::move(sent.detail));
  // Sent at once (the usual case): wait for the reply in one blocking read of `timeout`,
  // which ends within a millisecond of the deadline. Else wait the time left, by ppoll.
  const bool sentAtOnce = SteadyClock::now() - start < std::chrono::milliseconds(1);
  PipeReplyResult r = impl_->receive(deadline, sentAtOnce ? timeout : std::chrono::milliseconds{});
  // The refusal a full server sends on accept is no reply to this request: one outcome,
  // however the request raced with it.
  if (r.ok() && r.reply.type == PipeMessageType::Error && r.reply.data.rfind(kServerBusy, 0) == 0) {
    impl_->close();
    return replyFailure(PipeError::ServerBusy, "the server closed the connection: " + r.reply.data);
  }
  return r;
}

PipeResult PipeClient::sendRaw(std::span<const std::uint8_t> bytes, std::chrono::milliseconds timeout) {
  if (!connected()) return failure(PipeError::NotConnected, "not connected");
  return impl_->send(bytes.data(), bytes.size(), SteadyClock::now() + timeout);
}

PipeReplyResult PipeClient::receive(std::chrono::milliseconds timeout) {
  if (!connected()) return replyFailure(PipeError::NotConnected, "not connected");
  return impl_->receive(SteadyClock::now() + timeout);
}

bool PipeClient::connected() const noexcept { return impl_ && impl_->fd >= 0; }

void PipeClient::close() noexcept {
  if (impl_) impl_->close();
}

}  // namespace gamesrv
