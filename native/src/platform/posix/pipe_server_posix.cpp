// PipeServer's backend over AF_UNIX SOCK_SEQPACKET: accept, read, write, close. See
// pipe.hpp for the contract; what is answered, and the counting, is the portable
// PipeSession's (gamesrv/pipe_session.hpp). The notes here say how the OS side is kept.
//
// - Server state: the gate's mutex (base Impl) guards the connection table. stop() flips
//   the gate to Stopping, waits for dispatches to drain, and only then touches sockets,
//   so no fd is closed while a port thread uses it and no handler runs after stop() returns.
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
// - Deferred replies (pipe.hpp): `pending` is the connection's reply order. A deferred
//   reply takes its place there as a slot; the replies after it wait behind it. While the
//   front of `pending` is a slot not yet filled, the connection is not armed at all: no
//   further request is read, so at most one read's frames (maxFramesPerWakeup) have
//   replies outstanding. Stopping the reading, rather than answering on and queueing,
//   keeps the bound without a second limit, and a client that pipelines is served a whole
//   read at a time. Whoever fills the slot calls deliverLater(), which writes what is due
//   under `ioMu`, counted in the gate like a dispatch, and arms the connection again;
//   `armed` tells it whether a port thread will do that instead.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "gamesrv/pipe_session.hpp"
#include "pipe_posix.hpp"

namespace gamesrv {
namespace {

using posix_pipe::connectError;
using posix_pipe::fillAddress;
using posix_pipe::kRecvBufferBytes;
using posix_pipe::osError;

constexpr int kMaxAcceptsPerWakeup = 64;
constexpr std::size_t kMaxBatch = 16;  // frames read per call (caps maxFramesPerWakeup)

struct Connection {
  Connection(int f, std::uint64_t k) : fd(f), key(k) {}
  ~Connection() { ::close(fd); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A reply not yet written: its frame, or (`later` set) a deferred one not yet taken.
  struct Reply {
    PipeFrame frame;
    std::shared_ptr<PipeReplySlot> later;
    bool deferred = false;  // the handler deferred it (counted as dropped if never written)
  };

  const int fd;
  const CompletionKey key;
  std::mutex ioMu;            // held by the one thread serving this connection
  std::deque<Reply> pending;  // guarded by ioMu: replies not yet written, in request order
  bool armed = true;          // guarded by ioMu: a packet for it can come (set on every arm)
};

struct PosixPipeServer final : PipeServer::Impl {
  using Impl::Impl;
  ~PosixPipeServer() override = default;

  PipeResult start() override;
  void stop() override;
  bool dispatch(const CompletionPacket& packet) override;
  bool deliverLater(CompletionKey key) override;

  PipeResult claimPath(const sockaddr_un& addr);
  void acceptReady();
  void shedBacklog();
  void serve(Connection& conn);
  enum class SendOutcome { Sent, Full, Broken };  // Broken: the connection was closed
  SendOutcome sendFrame(Connection& conn, const PipeFrame& frame);
  // Reads nothing, writes what waits (up to a deferred reply not yet filled); false if the
  // connection broke.
  bool flushPending(Connection& conn);
  // Arms the connection for what it waits for next: nothing while a deferred reply is due.
  void armNext(Connection& conn);
  // Requires: conn.ioMu held (by the caller, who serves it).
  void closeConnection(Connection& conn, bool ioError);
  void refuse(int fd, const PipeFrame& refusal);

  std::unordered_map<CompletionKey, std::shared_ptr<Connection>> conns_;  // guarded by gate.mutex()
  // Set by start() under the gate's mutex before it runs; read-only until stop() has drained.
  int listenFd_ = -1;
  std::mutex acceptMu_;  // held by the one thread accepting (see ioMu on Connection)
  int reserveFd_ = -1;   // guarded by acceptMu_: a spare fd, given up to refuse connections at EMFILE
  CompletionKey listenerKey_ = 0;
  dev_t boundDev_ = 0;
  ino_t boundIno_ = 0;
};

}  // namespace

std::shared_ptr<PipeServer::Impl> PipeServer::Impl::create(PipeServerConfig config, PipeHandler handler) {
  return std::make_shared<PosixPipeServer>(std::move(config), std::move(handler));
}

PipeResult PosixPipeServer::claimPath(const sockaddr_un& addr) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    const int err = errno;
    return pipeFailure(err == EACCES ? PipeError::PermissionDenied : PipeError::System, osError(("stat " + path).c_str(), err));
  }
  if (!S_ISSOCK(st.st_mode))
    return pipeFailure(PipeError::InvalidPath, path + " exists and is not a socket; it is left alone");
  const int probe = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return pipeFailure(PipeError::System, osError("socket", errno));
  const int r = ::connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = r == 0 ? 0 : errno;
  ::close(probe);
  if (r == 0 || err == EAGAIN || err == EPROTOTYPE)  // accepted, backlog full, or a listener of another type
    return pipeFailure(PipeError::AddressInUse, "address in use: a live server answers on " + path);
  if (err != ECONNREFUSED && err != ENOENT) return connectError(path, err);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)  // stale: its server is gone
    return pipeFailure(PipeError::PermissionDenied, osError(("remove stale socket " + path).c_str(), errno));
  return {};
}

PipeResult PosixPipeServer::start() {
  std::lock_guard lock(gate.mutex());
  if (gate.state() != ServerGate::State::Created)
    return pipeFailure(PipeError::System, gate.state() == ServerGate::State::Stopped ? "the pipe server was stopped; make a new one"
                                                               : "the pipe server was already started");
  if (config.port == nullptr) return pipeFailure(PipeError::System, "PipeServerConfig.port is not set");
  sockaddr_un addr;
  PipeResult res;
  if (!fillAddress(path, addr, res)) return res;
  if (res = claimPath(addr); !res.ok()) return res;

  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return pipeFailure(PipeError::System, osError("socket", errno));
  auto fail = [&](PipeResult r, bool unlinkPath) {
    ::close(fd);
    if (unlinkPath) ::unlink(path.c_str());
    return r;
  };
  // Linux creates the socket file with the socket inode's mode (minus umask): 0600 from
  // the first instant, without touching the process-wide umask.
  if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0) return fail(pipeFailure(PipeError::System, osError("fchmod", errno)), false);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    if (err == EADDRINUSE)
      return fail(pipeFailure(PipeError::AddressInUse, "address in use: " + path + " was taken while starting"), false);
    const PipeError e = err == EACCES ? PipeError::PermissionDenied
                        : (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG) ? PipeError::InvalidPath
                                                                                   : PipeError::System;
    return fail(pipeFailure(e, osError(("bind " + path).c_str(), err)), false);
  }
  struct stat st{};
  if (::chmod(path.c_str(), S_IRUSR | S_IWUSR) != 0 || ::lstat(path.c_str(), &st) != 0)
    return fail(pipeFailure(PipeError::System, osError(("chmod/stat " + path).c_str(), errno)), true);
  if (!S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0600 || st.st_uid != ::geteuid()) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(pipeFailure(PipeError::PermissionDenied, path + " has mode " + mode + " (expected 0600, owner-only)"), true);
  }
  if (::listen(fd, SOMAXCONN) != 0) return fail(pipeFailure(PipeError::System, osError("listen", errno)), true);
  listenerKey_ = keyOf(nextId());
  const PortStatus ps = config.port->associate(fd, listenerKey_, IoEvents::Readable);
  if (ps != PortStatus::Ok)
    return fail(pipeFailure(ps == PortStatus::Closed ? PipeError::Closed : PipeError::System,
                        std::string("the completion port refused the listener: ") + toString(ps)),
                true);
  listenFd_ = fd;
  reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  boundDev_ = st.st_dev;
  boundIno_ = st.st_ino;
  gate.setRunning();
  return {};
}

void PosixPipeServer::stop() {
  ServerGate::Lock lock(gate.mutex());
  if (!gate.beginStop(lock)) return;
  auto conns = std::move(conns_);
  conns_.clear();
  lock.unlock();

  CompletionPort& port = *config.port;
  for (auto& [key, conn] : conns) {
    port.disassociate(conn->fd);
    ::shutdown(conn->fd, SHUT_RDWR);  // the peer sees end-of-stream now, whoever still holds conn
  }
  counters.closeAll();
  conns.clear();
  port.disassociate(listenFd_);
  ::close(listenFd_);
  if (reserveFd_ >= 0) ::close(reserveFd_);
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0 && st.st_dev == boundDev_ && st.st_ino == boundIno_) ::unlink(path.c_str());

  lock.lock();
  listenFd_ = -1;
  reserveFd_ = -1;
  gate.finishStop(lock);
}

bool PosixPipeServer::dispatch(const CompletionPacket& packet) {
  if (!ours(packet.key)) return false;
  if (packet.kind != CompletionKind::Io) return true;
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(gate.mutex());
    if (!gate.running()) return true;
    if (packet.key != listenerKey_) {
      const auto it = conns_.find(packet.key);
      if (it == conns_.end()) return true;  // closed meanwhile: a stale packet
      conn = it->second;
    }
    gate.enterLocked();
  }
  ServerGate::Dispatch inside(gate);
  if (conn) {
    std::lock_guard io(conn->ioMu);
    conn->armed = false;
    serve(*conn);
  } else {
    std::lock_guard accepting(acceptMu_);
    acceptReady();
  }
  return true;
}

void PosixPipeServer::refuse(int fd, const PipeFrame& refusal) {
  counters.refused();  // before the peer can see the refusal
  (void)::send(fd, refusal.data(), refusal.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::close(fd);
}

void PosixPipeServer::acceptReady() {
  const uid_t me = ::geteuid();
  for (int i = 0; i < kMaxAcceptsPerWakeup; ++i) {
    const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        shedBacklog();
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        counters.ioError();
      }
      break;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || (cred.uid != me && cred.uid != 0)) {
      PipeFrame refusal;
      PipeSession::otherUserRefusal(refusal);
      refuse(fd, refusal);
      continue;
    }
    if (!counters.tryAdmit(config.maxClients)) {
      PipeFrame refusal;
      PipeSession::busyRefusal(config.maxClients, refusal);
      refuse(fd, refusal);
      continue;
    }
    const CompletionKey key = keyOf(nextId());
    {
      std::lock_guard lock(gate.mutex());
      conns_.emplace(key, std::make_shared<Connection>(fd, key));
    }
    // stop() cannot run between the insert and this: it waits for this dispatch.
    if (config.port->associate(fd, key, IoEvents::Readable) != PortStatus::Ok) {
      std::lock_guard relock(gate.mutex());
      conns_.erase(key);  // closes fd
      counters.closed(true);
    }
  }
  config.port->rearm(listenFd_, listenerKey_, IoEvents::Readable);
}

// Out of file descriptors: the backlog would keep the listener readable and the port
// would spin on it. Give up the spare fd, accept and close what waits (counted as
// refused: the clients see end-of-stream), then take the spare back (libuv's trick).
// Requires: acceptMu_ held.
void PosixPipeServer::shedBacklog() {
  counters.ioError();
  if (reserveFd_ < 0) return;
  ::close(reserveFd_);
  for (;;) {
    const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break;
    }
    ::close(fd);
    counters.refused();
  }
  reserveFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void PosixPipeServer::closeConnection(Connection& conn, bool ioError) {
  std::shared_ptr<Connection> owned;  // the caller still holds one: the fd closes after its serve()
  {
    std::lock_guard lock(gate.mutex());
    const auto it = conns_.find(conn.key);
    if (it == conns_.end()) return;
    owned = std::move(it->second);
    conns_.erase(it);
  }
  // Deferred replies already given go with the connection; those still to come find it
  // gone and are counted by PipeLaterReply::send().
  for (Connection::Reply& r : conn.pending)
    if (r.deferred && (!r.later || r.later->takeFrame(r.frame))) session.laterDropped();
  conn.pending.clear();
  config.port->disassociate(conn.fd);
  counters.closed(ioError);
}

PosixPipeServer::SendOutcome PosixPipeServer::sendFrame(Connection& conn, const PipeFrame& frame) {
  // Counted first, so that a peer holding the reply finds it in the stats; undone if not sent.
  counters.frameOut(frame.size());
  for (;;) {
    if (::send(conn.fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return SendOutcome::Sent;
    if (errno != EINTR) break;
  }
  const int err = errno;
  counters.unsent(frame.size());
  if (err == EAGAIN || err == EWOULDBLOCK) return SendOutcome::Full;
  closeConnection(conn, err != EPIPE && err != ECONNRESET);
  return SendOutcome::Broken;
}

bool PosixPipeServer::deliverLater(CompletionKey key) {
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(gate.mutex());
    const auto found = gate.running() ? conns_.find(key) : conns_.end();
    if (found == conns_.end()) return false;
    conn = found->second;
    gate.enterLocked();
  }
  ServerGate::Dispatch inside(gate);
  std::lock_guard io(conn->ioMu);
  // Armed: a port thread serves it next and writes the reply then (flushPending()).
  if (conn->armed) return true;
  if (flushPending(*conn)) armNext(*conn);  // else broken: closeConnection() counted what it dropped
  return true;
}

void PosixPipeServer::armNext(Connection& conn) {
  conn.armed = conn.pending.empty() || !conn.pending.front().later;
  // Level-checked at arm time: what is still readable (or writable) comes back as a new packet.
  if (conn.armed) config.port->rearm(conn.fd, conn.key, conn.pending.empty() ? IoEvents::Readable : IoEvents::Writable);
}

bool PosixPipeServer::flushPending(Connection& conn) {
  while (!conn.pending.empty()) {
    Connection::Reply& next = conn.pending.front();
    if (next.later) {
      if (!next.later->takeFrame(next.frame)) return true;  // its turn comes with deliverLater()
      next.later.reset();
    }
    switch (sendFrame(conn, next.frame)) {
      case SendOutcome::Sent: conn.pending.pop_front(); break;
      case SendOutcome::Full: return true;
      case SendOutcome::Broken: return false;
    }
  }
  return true;
}

void PosixPipeServer::serve(Connection& conn) {
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
    bool behindLater = false;
    for (int i = 0; i < n; ++i) {
      const std::size_t length = msgs[i].msg_len;
      // 0: end-of-stream. (A zero-length SEQPACKET message reads the same; it is taken as a close.)
      if (length == 0) {
        closeConnection(conn, false);
        return;
      }
      counters.frameIn(length);
      std::shared_ptr<PipeReplySlot> later = session.answer(*this, conn.key, in[i], length, out);
      if (later) {
        conn.pending.push_back(Connection::Reply{{}, std::move(later), true});
        behindLater = true;
        continue;
      }
      // Once one reply waits, the later ones queue behind it (order is part of the contract).
      const SendOutcome sent = conn.pending.empty() ? sendFrame(conn, out) : SendOutcome::Full;
      if (sent == SendOutcome::Broken) return;
      if (sent == SendOutcome::Full) {
        conn.pending.push_back(Connection::Reply{out, nullptr});
        if (!behindLater) counters.deferredWrite();  // waits for the peer's buffer, not for a deferred reply
      }
    }
    if (!flushPending(conn)) return;  // deferred replies filled at once (a refusal) go now
  }
  armNext(conn);
}

}  // namespace gamesrv
