// GameListener over Winsock overlapped I/O on the IOCP itself: AcceptEx, WSARecv, WSASend
// (see game_listener.hpp); what the bytes mean and every limit are the core's
// (gamesrv/game_sessions.hpp). The Win32 pipe server (pipe_server_win32.cpp) is the model.
//
// - Keys: the listener's base (keyTag, instance) | session id; id 0 is the listening
//   socket (its AcceptEx completions) and the sweep timer's posted packets. A session's
//   I/O completions carry its key and point at one of its two OVERLAPPEDs (receive,
//   send); a posted packet with its key is a wake() from the core.
// - Accepts: kAccepts AcceptEx calls are outstanding at all times, each on its own slot
//   (pre-made socket, address buffer, OVERLAPPED). A completed one is admitted to the
//   core (SO_UPDATE_ACCEPT_CONTEXT, TCP_NODELAY, SO_SNDBUF, associated with the port),
//   and the slot issues the next AcceptEx at once. A slot whose AcceptEx could not be
//   issued is retried by the timer.
// - Per session, one WSARecv is outstanding (into the session's own buffer; its
//   completion feeds GameSessions::received() and issues the next) unless the core paused
//   its reading (input back-pressure): then none until resumeReading()'s wake, and at most one
//   WSASend, of the core's queued buffers as a gather (WSABUF array). The core's buffers
//   must outlive the send: wrote() runs when it completes, and a session closed while a
//   send is in flight (a kick past its grace) is finished (the core frees its queue)
//   only after that send's completion arrived (CancelIoEx makes it come at once).
// - One thread at a time serves a session: its `ioMu` is held while a completion or a
//   wake is handled (the pipe server's rule). A pending operation holds a reference to
//   its session (keepRecv / keepSend), dropped when its packet is seen, so the OVERLAPPED
//   and buffer live as long as the kernel may touch them, and after the port read them.
// - Counting: outstanding_ is the number of operations issued whose packet has not been
//   seen by dispatch() (accepts included). stop(): the gate waits for dispatches in
//   progress; new completions are then only counted, not handled; the timer is stopped,
//   the listening socket closed (cancelling the accepts), every session gets its
//   farewell (if no send is in flight), is shut down and its I/O cancelled; stop() then
//   waits until outstanding_ is 0 (every cancelled completion came through the port's
//   threads, which the owner stops after the listener) and only then finishes the
//   sessions (onClose, Stopped) and frees the accept slots. If the port's threads do not
//   deliver within kStopWaitMs, what the OS may still write to is leaked on purpose.
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "gamesrv/connection.hpp"
#include "gamesrv/game_sessions.hpp"
#include "gamesrv/platform/game_listener.hpp"
#include "win32_support.hpp"

namespace gamesrv {
namespace {

using platform::win32::describeError;

constexpr std::size_t kMaxSlices = 64;
constexpr DWORD kRecvBytes = 16 * 1024;
constexpr std::size_t kAccepts = 4;
constexpr DWORD kAddrBytes = sizeof(sockaddr_storage) + 16;  // AcceptEx's rule: 16 bytes more than the largest address
constexpr auto kStopWait = std::chrono::seconds(5);

std::atomic<std::uint32_t> gNextInstance{1};

std::string wsaFailure(const std::string& what, int err) { return describeError(what, static_cast<DWORD>(err)); }

// Winsock, once per process (never cleaned up: sockets may live until exit).
int winsockStarted() {
  static const int rc = [] {
    WSADATA data;
    return ::WSAStartup(MAKEWORD(2, 2), &data);
  }();
  return rc;
}

bool peerGone(int err) {
  return err == WSAECONNRESET || err == WSAECONNABORTED || err == WSAESHUTDOWN || err == WSAENETRESET ||
         err == ERROR_NETNAME_DELETED || err == ERROR_CONNECTION_ABORTED || err == ERROR_OPERATION_ABORTED;
}

std::string addressText(const sockaddr* a) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (a != nullptr && a->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(a);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  if (a == nullptr) return text;
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(a);
  ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(v4->sin_port));
}

// One frame, if the socket takes it now (a refusal, a farewell): the socket is
// non-blocking, so this never waits.
void sendNow(SOCKET sock, const GameFrame& frame) {
  std::array<WSABUF, kMaxSlices> bufs{};
  DWORD n = 0;
  for (const GameBuffer& b : frame.parts()) {
    if (n == bufs.size()) break;
    bufs[n].buf = reinterpret_cast<char*>(const_cast<std::byte*>(b.data));
    bufs[n].len = static_cast<ULONG>(b.len);
    ++n;
  }
  DWORD sent = 0;
  if (n > 0) (void)::WSASend(sock, bufs.data(), n, &sent, 0, nullptr, nullptr);
}

enum class OpKind : std::uint8_t { Accept, Recv, Send };

// An overlapped operation: the OVERLAPPED first, so that a packet's pointer is the Op's.
struct Op {
  OVERLAPPED ov;
  OpKind kind;
  void* owner;  // the AcceptSlot or the WinGameSession
};

struct WinGameSession final : GameSession {
  WinGameSession(SOCKET s, CompletionPort& p) : sock(s), port(p) {
    recvOp.kind = OpKind::Recv;
    recvOp.owner = this;
    sendOp.kind = OpKind::Send;
    sendOp.owner = this;
  }
  ~WinGameSession() override {
    if (associated) port.disassociate(static_cast<NativeHandle>(sock));
    ::closesocket(sock);
  }
  const SOCKET sock;
  CompletionPort& port;
  bool associated = false;  // set once, before any I/O is issued
  std::mutex ioMu;          // held by the one thread serving this session; guards the rest
  Op recvOp{}, sendOp{};
  std::shared_ptr<WinGameSession> keepRecv, keepSend;  // set while that operation is in flight
  bool closed = false;          // closeNow() ran (shut down; finished now or when the send completes)
  bool recvParked = false;      // reading paused (GameSessions::pauseReading): no WSARecv outstanding
  bool finishPending = false;   // closed with a send in flight: finish with finishWhy when it completes
  GameCloseInfo finishWhy;
  std::array<WSABUF, kMaxSlices> sendBufs{};
  std::unique_ptr<char[]> recvBuf = std::make_unique<char[]>(kRecvBytes);
};

struct AcceptSlot {
  AcceptSlot() {
    op.kind = OpKind::Accept;
    op.owner = this;
  }
  Op op{};
  SOCKET sock = INVALID_SOCKET;  // the socket AcceptEx accepts into
  bool inFlight = false;         // guarded by the listener's acceptMu_
  char addrs[2 * kAddrBytes];
};

class Win32GameListener final : public GameListener, public GameSessions::Io {
 public:
  Win32GameListener(GameSessions& sessions, GameListenerConfig config)
      : core_(sessions), config_(std::move(config)),
        base_(std::uint64_t{config_.keyTag} << 56 | std::uint64_t{gNextInstance.fetch_add(1) & 0xffffff} << 32) {}
  ~Win32GameListener() override { stop(); }

  GameListenResult start() override;
  void stop() override;
  bool dispatch(const CompletionPacket& packet) override;
  std::uint16_t boundPort() const override { return boundPort_.load(std::memory_order_acquire); }
  void wake(GameSession& s) override;

 private:
  using Session = std::shared_ptr<WinGameSession>;
  Session lookup(std::uint32_t id) const { return std::static_pointer_cast<WinGameSession>(core_.find(id)); }
  static void CALLBACK timerFired(PTP_CALLBACK_INSTANCE, PVOID self, PTP_TIMER);
  void onTimer();
  void completed(Op& op);  // an I/O packet while running; requires: counted in the gate
  void dropped(Op& op);    // an I/O packet after stop began: only let go of its memory
  bool issueAccept(AcceptSlot& slot);  // requires: acceptMu_ held
  void accepted(AcceptSlot& slot);
  void admitSocket(SOCKET sock, std::string remote);
  // The rest require: s.ioMu held.
  void startRecv(const Session& s);
  void recvDone(const Session& s);
  void flush(const Session& s);
  void sendDone(const Session& s);
  void serve(const Session& s);
  void closeNow(WinGameSession& s, GameCloseInfo why);
  void opStarted();
  void opDone();
  void cleanup();

  GameSessions& core_;
  const GameListenerConfig config_;
  const std::uint64_t base_;
  ServerGate gate_;
  SOCKET listen_ = INVALID_SOCKET;  // set by start(), closed by stop()
  bool listenAssociated_ = false;
  PTP_TIMER timer_ = nullptr;
  std::atomic<std::uint16_t> boundPort_{0};
  std::mutex acceptMu_;
  std::vector<std::unique_ptr<AcceptSlot>> slots_;  // fixed after start()
  std::mutex sweepMu_;  // held by the one thread sweeping
  std::mutex retryMu_;
  std::vector<std::uint32_t> retry_;  // guarded by retryMu_: sessions whose wake the port refused
  std::mutex opsMu_;
  std::condition_variable opsDone_;
  std::size_t outstanding_ = 0;  // guarded by opsMu_
};

GameListenResult Win32GameListener::start() {
  std::lock_guard lock(gate_.mutex());
  GameListenResult r;
  auto fail = [&](std::string why) {
    if (gate_.state() == ServerGate::State::Created) cleanup();  // only what this call made
    r.error = std::move(why);
    return r;
  };
  if (gate_.state() != ServerGate::State::Created) return fail("the game listener was already started (or stopped); make a new one");
  if (config_.completionPort == nullptr) return fail("GameListenerConfig.completionPort is not set");
  if (const int rc = winsockStarted(); rc != 0) return fail(wsaFailure("WSAStartup", rc));
  sockaddr_storage addr{};
  int addrLen = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, config_.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(config_.port);
    addrLen = sizeof *v4;
  } else if (::inet_pton(AF_INET6, config_.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(config_.port);
    addrLen = sizeof *v6;
  } else {
    return fail("game host '" + config_.host + "' is not an IPv4 or IPv6 address");
  }
  listen_ = ::WSASocketW(addr.ss_family, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (listen_ == INVALID_SOCKET) return fail(wsaFailure("WSASocketW", ::WSAGetLastError()));
  const BOOL exclusive = TRUE;  // Windows' SO_REUSEADDR would let another socket take the port
  ::setsockopt(listen_, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<const char*>(&exclusive), sizeof exclusive);
  if (::bind(listen_, reinterpret_cast<const sockaddr*>(&addr), addrLen) != 0)
    return fail(wsaFailure("bind " + config_.host + ":" + std::to_string(config_.port), ::WSAGetLastError()));
  if (::listen(listen_, SOMAXCONN) != 0) return fail(wsaFailure("listen", ::WSAGetLastError()));
  sockaddr_storage bound{};
  int boundLen = sizeof bound;
  if (::getsockname(listen_, reinterpret_cast<sockaddr*>(&bound), &boundLen) != 0)
    return fail(wsaFailure("getsockname", ::WSAGetLastError()));
  const std::uint16_t port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                                               : reinterpret_cast<sockaddr_in&>(bound).sin_port);
  const PortStatus ps = config_.completionPort->associate(static_cast<NativeHandle>(listen_), base_, IoEvents::Readable);
  if (ps != PortStatus::Ok) return fail(std::string("the completion port refused the game listener: ") + toString(ps));
  listenAssociated_ = true;
  timer_ = ::CreateThreadpoolTimer(&Win32GameListener::timerFired, this, nullptr);
  if (timer_ == nullptr) return fail(describeError("CreateThreadpoolTimer", ::GetLastError()));
  core_.attach(this);
  gate_.setRunning();
  {
    std::lock_guard accepting(acceptMu_);
    for (std::size_t i = 0; i < kAccepts; ++i) {
      slots_.push_back(std::make_unique<AcceptSlot>());
      issueAccept(*slots_.back());
    }
  }
  const auto every = std::chrono::duration_cast<std::chrono::milliseconds>(core_.sweepInterval()).count();
  LARGE_INTEGER due;
  due.QuadPart = -static_cast<LONGLONG>(every) * 10000;  // relative, in 100 ns units
  FILETIME ft;
  ft.dwLowDateTime = static_cast<DWORD>(due.LowPart);
  ft.dwHighDateTime = static_cast<DWORD>(due.HighPart);
  ::SetThreadpoolTimer(timer_, &ft, static_cast<DWORD>(every), 0);
  boundPort_.store(port, std::memory_order_release);
  r.ok = true;
  r.boundPort = port;
  return r;
}

// Only what start() made before it failed (nothing is in flight then), or, from stop(),
// the listening socket once every accept has completed.
void Win32GameListener::cleanup() {
  if (timer_ != nullptr) {
    ::SetThreadpoolTimer(timer_, nullptr, 0, 0);
    ::WaitForThreadpoolTimerCallbacks(timer_, TRUE);
    ::CloseThreadpoolTimer(timer_);
    timer_ = nullptr;
  }
  if (listen_ != INVALID_SOCKET) {
    if (listenAssociated_) config_.completionPort->disassociate(static_cast<NativeHandle>(listen_));
    ::closesocket(listen_);
  }
  listenAssociated_ = false;
  listen_ = INVALID_SOCKET;
}

void Win32GameListener::stop() {
  ServerGate::Lock lock(gate_.mutex());
  if (!gate_.beginStop(lock)) return;
  lock.unlock();
  // No dispatch handles anything from here on: completions are only counted (dropped()).
  core_.attach(nullptr);  // returns once no wake() is in progress
  if (timer_ != nullptr) {
    ::SetThreadpoolTimer(timer_, nullptr, 0, 0);
    ::WaitForThreadpoolTimerCallbacks(timer_, TRUE);
    ::CloseThreadpoolTimer(timer_);
    timer_ = nullptr;
  }
  ::CancelIoEx(reinterpret_cast<HANDLE>(listen_), nullptr);  // every AcceptEx
  std::vector<Session> all;
  for (const auto& gs : core_.snapshot()) all.push_back(std::static_pointer_cast<WinGameSession>(gs));
  for (const Session& s : all) {
    std::lock_guard io(s->ioMu);
    if (!s->closed) {
      if (!s->keepSend) sendNow(s->sock, core_.farewell(*s));
      s->closed = true;
      ::shutdown(s->sock, SD_BOTH);
    }
    ::CancelIoEx(reinterpret_cast<HANDLE>(s->sock), nullptr);
  }
  bool allDone;
  {
    std::unique_lock ops(opsMu_);
    allDone = opsDone_.wait_for(ops, kStopWait, [&] { return outstanding_ == 0; });
  }
  for (const Session& s : all) {
    std::lock_guard io(s->ioMu);
    if (s->keepSend) {
      // Its send never completed (the port's threads did not deliver it): the OS may still
      // read the queued buffers, so they are kept, and the session too.
      std::lock_guard out(s->outMu);
      new std::deque<GameSession::Queued>(std::move(s->queue));  // deliberately leaked
      s->queue.clear();
      s->queuedDroppable.store(0, std::memory_order_relaxed);
    }
    const GameCloseInfo why = s->finishPending
                                  ? s->finishWhy
                                  : GameCloseInfo{GameCloseKind::Stopped, static_cast<std::uint16_t>(game_wire::KickReason::Shutdown)};
    s->finishPending = false;
    core_.finish(*s, why);
  }
  all.clear();
  if (allDone) {
    for (auto& slot : slots_)
      if (slot->sock != INVALID_SOCKET) ::closesocket(slot->sock);
    slots_.clear();
    cleanup();
  } else {
    for (auto& slot : slots_) (void)slot.release();  // deliberately leaked: an AcceptEx may still write to it
    slots_.clear();
    cleanup();  // the listening socket: its accepts were cancelled; only their slots' memory stays
  }
  lock.lock();
  gate_.finishStop(lock);
}

void CALLBACK Win32GameListener::timerFired(PTP_CALLBACK_INSTANCE, PVOID self, PTP_TIMER) {
  auto* l = static_cast<Win32GameListener*>(self);
  (void)l->config_.completionPort->post(l->base_);  // a full queue: the next tick sweeps
}

void Win32GameListener::wake(GameSession& gs) {
  if (config_.completionPort->post(base_ | gs.id) == PortStatus::QueueFull) {
    std::lock_guard lock(retryMu_);
    retry_.push_back(gs.id);
  }
}

void Win32GameListener::opStarted() {
  std::lock_guard lock(opsMu_);
  ++outstanding_;
}

void Win32GameListener::opDone() {
  std::lock_guard lock(opsMu_);
  if (--outstanding_ == 0) opsDone_.notify_all();
}

bool Win32GameListener::dispatch(const CompletionPacket& packet) {
  if ((packet.key & ~std::uint64_t{0xffffffff}) != base_) return false;
  if (packet.kind == CompletionKind::Quit) return true;
  Op* op = packet.kind == CompletionKind::Io ? static_cast<Op*>(static_cast<void*>(packet.ptr)) : nullptr;
  if (packet.kind == CompletionKind::Io && op == nullptr) return true;
  {
    std::unique_lock lock(gate_.mutex());
    if (!gate_.running()) {
      lock.unlock();
      if (op != nullptr) dropped(*op);
      return true;
    }
    gate_.enterLocked();
  }
  {
    ServerGate::Dispatch inside(gate_);
    if (op != nullptr) {
      completed(*op);
    } else if (const auto id = static_cast<std::uint32_t>(packet.key); id == 0) {
      onTimer();
    } else if (const Session s = lookup(id)) {
      std::lock_guard io(s->ioMu);
      serve(s);
    }
  }
  if (op != nullptr) opDone();
  return true;
}

void Win32GameListener::dropped(Op& op) {
  if (op.kind == OpKind::Accept) {
    std::lock_guard accepting(acceptMu_);
    static_cast<AcceptSlot*>(op.owner)->inFlight = false;
  } else {
    auto& s = *static_cast<WinGameSession*>(op.owner);
    Session keep;
    {
      std::lock_guard io(s.ioMu);
      keep = std::move(op.kind == OpKind::Recv ? s.keepRecv : s.keepSend);
    }
    keep.reset();  // may free the session: before the count says so
  }
  opDone();
}

void Win32GameListener::completed(Op& op) {
  if (op.kind == OpKind::Accept) {
    accepted(*static_cast<AcceptSlot*>(op.owner));
    return;
  }
  auto& s = *static_cast<WinGameSession*>(op.owner);
  Session keep;
  {
    std::lock_guard io(s.ioMu);
    if (op.kind == OpKind::Recv) {
      keep = std::move(s.keepRecv);
      recvDone(keep);
    } else {
      keep = std::move(s.keepSend);
      sendDone(keep);
    }
  }
}

void Win32GameListener::onTimer() {
  std::unique_lock sweeping(sweepMu_, std::try_to_lock);
  if (!sweeping.owns_lock()) return;
  core_.sweep(SteadyClock::now());
  {
    std::lock_guard accepting(acceptMu_);
    for (auto& slot : slots_)
      if (!slot->inFlight) issueAccept(*slot);  // one that could not be issued before
  }
  std::vector<std::uint32_t> again;
  {
    std::lock_guard lock(retryMu_);
    again.swap(retry_);
  }
  for (const std::uint32_t id : again) {
    if (const Session s = lookup(id)) {
      std::lock_guard io(s->ioMu);
      serve(s);
    }
  }
}

bool Win32GameListener::issueAccept(AcceptSlot& slot) {
  sockaddr_storage local{};
  int localLen = sizeof local;
  if (::getsockname(listen_, reinterpret_cast<sockaddr*>(&local), &localLen) != 0) return false;
  slot.sock = ::WSASocketW(local.ss_family, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (slot.sock == INVALID_SOCKET) return false;
  slot.op.ov = OVERLAPPED{};
  slot.inFlight = true;
  opStarted();
  DWORD received = 0;
  if (::AcceptEx(listen_, slot.sock, slot.addrs, 0, kAddrBytes, kAddrBytes, &received, &slot.op.ov)) return true;  // its packet still comes
  const int err = ::WSAGetLastError();
  if (err == ERROR_IO_PENDING) return true;
  slot.inFlight = false;
  opDone();
  ::closesocket(slot.sock);
  slot.sock = INVALID_SOCKET;
  return false;
}

void Win32GameListener::accepted(AcceptSlot& slot) {
  SOCKET sock;
  std::string remote;
  {
    std::lock_guard accepting(acceptMu_);
    slot.inFlight = false;
    sock = slot.sock;
    slot.sock = INVALID_SOCKET;
    DWORD bytes = 0, flags = 0;
    bool ok = ::WSAGetOverlappedResult(listen_, &slot.op.ov, &bytes, FALSE, &flags) != FALSE;
    if (ok) {
      ok = ::setsockopt(sock, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, reinterpret_cast<const char*>(&listen_), sizeof listen_) == 0;
      sockaddr *local = nullptr, *peer = nullptr;
      int localLen = 0, peerLen = 0;
      ::GetAcceptExSockaddrs(slot.addrs, 0, kAddrBytes, kAddrBytes, &local, &localLen, &peer, &peerLen);
      remote = addressText(peer);
    }
    if (!ok) {
      ::closesocket(sock);  // the client left before it was accepted
      sock = INVALID_SOCKET;
    }
    issueAccept(slot);  // the next connection may complete while this one is admitted
  }
  if (sock != INVALID_SOCKET) admitSocket(sock, std::move(remote));
}

void Win32GameListener::admitSocket(SOCKET sock, std::string remote) {
  u_long nonBlocking = 1;  // for sendNow(); overlapped operations are not affected
  ::ioctlsocket(sock, FIONBIO, &nonBlocking);
  const BOOL noDelay = TRUE;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&noDelay), sizeof noDelay);
  if (config_.socketSendBuffer > 0) {
    const int bytes = static_cast<int>(config_.socketSendBuffer);
    ::setsockopt(sock, SOL_SOCKET, SO_SNDBUF, reinterpret_cast<const char*>(&bytes), sizeof bytes);
  }
  const auto s = std::make_shared<WinGameSession>(sock, *config_.completionPort);
  const auto admission = core_.admit(s, std::move(remote));
  if (admission != GameSessions::Admission::Accepted) {
    sendNow(sock, GameSessions::refusal(admission));
    return;  // s's destructor closes the socket
  }
  std::lock_guard io(s->ioMu);
  const PortStatus ps = config_.completionPort->associate(static_cast<NativeHandle>(sock), base_ | s->id, IoEvents::Readable);
  if (ps != PortStatus::Ok) {
    closeNow(*s, GameCloseInfo{GameCloseKind::IoError, 0});
    return;
  }
  s->associated = true;
  startRecv(s);
  serve(s);
}

void Win32GameListener::startRecv(const Session& s) {
  if (s->closed) return;
  s->recvOp.ov = OVERLAPPED{};
  WSABUF buf{kRecvBytes, s->recvBuf.get()};
  DWORD flags = 0;
  s->keepRecv = s;
  opStarted();
  if (::WSARecv(s->sock, &buf, 1, nullptr, &flags, &s->recvOp.ov, nullptr) == 0) return;  // its packet still comes
  const int err = ::WSAGetLastError();
  if (err == WSA_IO_PENDING) return;
  s->keepRecv.reset();
  opDone();
  closeNow(*s, GameCloseInfo{peerGone(err) ? GameCloseKind::PeerClosed : GameCloseKind::IoError, 0});
}

void Win32GameListener::recvDone(const Session& s) {
  DWORD bytes = 0, flags = 0;
  const bool ok = ::WSAGetOverlappedResult(s->sock, &s->recvOp.ov, &bytes, FALSE, &flags) != FALSE;
  const int err = ok ? 0 : ::WSAGetLastError();
  if (s->closed || s->finished.load(std::memory_order_acquire)) return;
  if (!ok || bytes == 0) {
    closeNow(*s, GameCloseInfo{!ok && !peerGone(err) ? GameCloseKind::IoError : GameCloseKind::PeerClosed, 0});
    return;
  }
  core_.received(*s, std::span<const std::byte>(reinterpret_cast<const std::byte*>(s->recvBuf.get()), bytes));
  // Paused (its inputs wait for room in the event queue): no next WSARecv until
  // resumeReading() wakes it (serve() issues it then); the OS keeps what arrives.
  if (GameSessions::readable(*s)) {
    startRecv(s);
  } else {
    s->recvParked = true;
  }
  serve(s);
}

void Win32GameListener::flush(const Session& s) {
  std::array<GameIoSlice, kMaxSlices> slices;
  const std::size_t n = core_.gather(*s, slices);
  if (n == 0) return;
  for (std::size_t i = 0; i < n; ++i) {
    s->sendBufs[i].buf = reinterpret_cast<char*>(const_cast<std::byte*>(slices[i].data));
    s->sendBufs[i].len = static_cast<ULONG>(slices[i].len);
  }
  s->sendOp.ov = OVERLAPPED{};
  s->keepSend = s;
  opStarted();
  if (::WSASend(s->sock, s->sendBufs.data(), static_cast<DWORD>(n), nullptr, 0, &s->sendOp.ov, nullptr) == 0) return;
  const int err = ::WSAGetLastError();
  if (err == WSA_IO_PENDING) return;  // the peer is not reading fast enough: wrote() when it completes
  s->keepSend.reset();
  opDone();
  core_.wrote(*s, 0);
  closeNow(*s, GameCloseInfo{peerGone(err) ? GameCloseKind::PeerClosed : GameCloseKind::IoError, 0});
}

void Win32GameListener::sendDone(const Session& s) {
  DWORD bytes = 0, flags = 0;
  const bool ok = ::WSAGetOverlappedResult(s->sock, &s->sendOp.ov, &bytes, FALSE, &flags) != FALSE;
  const int err = ok ? 0 : ::WSAGetLastError();
  core_.wrote(*s, bytes);
  if (s->finishPending) {  // closed while this send was in flight: its buffers may go now
    s->finishPending = false;
    core_.finish(*s, s->finishWhy);
    return;
  }
  if (s->closed || s->finished.load(std::memory_order_acquire)) return;
  if (!ok) {
    closeNow(*s, GameCloseInfo{peerGone(err) ? GameCloseKind::PeerClosed : GameCloseKind::IoError, 0});
    return;
  }
  serve(s);
}

void Win32GameListener::serve(const Session& s) {
  if (s->closed || s->finished.load(std::memory_order_acquire)) return;
  if (s->recvParked && GameSessions::readable(*s)) {  // resumed: read again
    s->recvParked = false;
    startRecv(s);
    if (s->closed) return;
  }
  if (!s->keepSend) flush(s);
  if (!s->closed && core_.closeDue(*s, SteadyClock::now())) closeNow(*s, core_.closeInfo(*s));
}

void Win32GameListener::closeNow(WinGameSession& s, GameCloseInfo why) {
  if (s.closed || s.finished.load(std::memory_order_acquire)) return;
  if (s.state.load(std::memory_order_acquire) == GameSessionState::Closing) {
    const GameCloseInfo planned = core_.closeInfo(s);
    if (planned.kind != GameCloseKind::PeerClosed) why = planned;  // the end was decided before the peer's
  }
  s.closed = true;
  ::shutdown(s.sock, SD_BOTH);
  if (s.keepRecv || s.keepSend) ::CancelIoEx(reinterpret_cast<HANDLE>(s.sock), nullptr);
  if (s.keepSend) {
    s.finishPending = true;
    s.finishWhy = why;
    return;
  }
  core_.finish(s, why);
}

}  // namespace

std::unique_ptr<GameListener> GameListener::create(GameSessions& sessions, GameListenerConfig config) {
  return std::make_unique<Win32GameListener>(sessions, std::move(config));
}

}  // namespace gamesrv
