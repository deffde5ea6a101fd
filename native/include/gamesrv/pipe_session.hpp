// The portable half of the inter-server pipe (pipe.hpp): everything but the OS calls.
// native/src/platform/*/pipe_server_*.cpp accept, read, write and close; this decides what
// is answered and counts it. native/src/platform/*/pipe_client_*.cpp connect, send and
// receive; PipeClient's request logic is portable too
// (native/src/core/pipe_session.cpp).
//
// - PipeSession: one message in, one reply frame out. Decode -> validate -> dispatch to
//   the handler -> encode; every failure becomes an ERROR frame with a stable code, and
//   is counted by class. Never throws. A handler that defers its reply (pipe.hpp,
//   "Deferred replies") leaves a PipeReplySlot instead: the backend queues it in the
//   connection's reply order, and PipeLaterReply::send() fills it later and calls the
//   backend's deliverLater().
// - PipeServer::Impl: the state every backend shares (config, the handler's session, the
//   gate and the connection counters) and stats(); each backend derives from it.
// - PipeClient::Impl: the transport a backend gives the portable client.
//
// A repository test (test/platform-seam.test.ts) fails if the names of this file's
// request handling appear under native/src/platform/.
//
// Thread safety: PipeSession::answer() may run on many threads at once (the handler is
// called concurrently, as pipe.hpp says); stats() too.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "gamesrv/clock.hpp"
#include "gamesrv/connection.hpp"
#include "gamesrv/histogram.hpp"
#include "gamesrv/pipe.hpp"

namespace gamesrv {

inline PipeResult pipeFailure(PipeError e, std::string detail) { return PipeResult{e, std::move(detail)}; }
PipeReplyResult pipeReplyFailure(PipeError e, std::string detail);

// One deferred reply, shared by its PipeLaterReply and the connection's reply queue.
// Lock order: the connection's I/O lock, then `mu`; send() takes `mu` alone, and calls
// deliverLater() (which takes the I/O lock) only after releasing it.
struct PipeReplySlot {
  PipeReplySlot(std::weak_ptr<PipeServer::Impl> s, CompletionKey k) : server(std::move(s)), key(k) {}

  // The reply, into `out`, once it is there (true). Requires: the connection's I/O lock.
  bool takeFrame(PipeFrame& out);

  const std::weak_ptr<PipeServer::Impl> server;
  const CompletionKey key;  // the connection's
  std::mutex mu;
  // Guarded by mu. handlerReturned: answer() is over, so send() must call deliverLater()
  // (before it, the handler's own thread holds the I/O lock and answer() takes the frame).
  // orphaned: answer() did not queue the slot (the handler threw, or also replied at once).
  // taken: takeFrame() gave the frame to the backend, which then writes it or counts it dropped.
  bool handlerReturned = false;
  bool orphaned = false;
  bool filled = false;
  bool taken = false;
  PipeFrame frame{};
};

class PipeSession {
 public:
  explicit PipeSession(PipeHandler handler) : handler_(std::move(handler)) {}

  // `length` is the whole message's; `in` holds its first bytes (all of it when it is no
  // longer than a frame; decoding reads no further than the type when the length is wrong).
  // Returns null when `out` holds the reply; else the handler deferred it: the slot goes
  // into the connection's reply queue (it may already be filled, see takeFrame()).
  // `server` and `key` name the connection, for the deferred reply to find it again.
  std::shared_ptr<PipeReplySlot> answer(PipeServer::Impl& server, CompletionKey key, const std::uint8_t* in,
                                        std::uint64_t length, PipeFrame& out);
  // A deferred reply as a frame (a reply that does not fit becomes a handler_failed ERROR).
  void encodeLater(const PipeReply& reply, PipeFrame& out);
  void laterDropped() noexcept { laterDropped_.fetch_add(1, std::memory_order_relaxed); }
  // The ERROR frame a connection over the limit gets before it is closed.
  static void busyRefusal(std::size_t maxClients, PipeFrame& out);
  // The ERROR frame a peer running as another user gets before it is closed.
  static void otherUserRefusal(PipeFrame& out);

  // The request counters and the handler's timing, into `s` (the rest is the caller's).
  void fill(PipeServerStats& s) const;

 private:
  void answerError(PipeError cls, const std::string& reason, PipeFrame& out);
  void encodeReply(const PipeReply& reply, PipeFrame& out);

  const PipeHandler handler_;
  std::atomic<std::uint64_t> badLength_{0}, badSize_{0}, unknownType_{0}, badPadding_{0}, badPayload_{0};
  std::atomic<std::uint64_t> handlerFailed_{0}, later_{0}, laterDropped_{0};
  std::atomic<std::uint64_t> byType_[5] = {};
  Histogram handlerNs_;
};

// What each backend's server shares; the backend derives from it (pipe_server_*.cpp)
// and PipeServer forwards to it (native/src/core/pipe_server.cpp).
struct PipeServer::Impl : std::enable_shared_from_this<PipeServer::Impl> {
  Impl(PipeServerConfig c, PipeHandler h);
  virtual ~Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Made by the backend: the one definition of this in each platform's pipe_server_*.cpp.
  static std::shared_ptr<Impl> create(PipeServerConfig config, PipeHandler handler);

  virtual PipeResult start() = 0;
  virtual void stop() = 0;
  virtual bool dispatch(const CompletionPacket& packet) = 0;
  // A deferred reply of connection `key` was filled (called from any thread, never with
  // that connection's I/O lock held): write what is due on it, in order, and serve it
  // again. False: the connection or the server is gone (the caller counts the reply
  // dropped). A reply that was due but could not be written (the connection broke) is
  // counted dropped by the backend.
  virtual bool deliverLater(CompletionKey key) = 0;
  PipeServerStats stats() const;

  // The completion key of the connection (or listener) numbered `id`: keyTag on top.
  CompletionKey keyOf(std::uint64_t id) const noexcept;
  bool ours(CompletionKey key) const noexcept;
  static std::uint64_t idOf(CompletionKey key) noexcept;
  static std::uint64_t nextId() noexcept;  // process-wide, never reused

  PipeServerConfig config;
  const std::string path;  // config.path, or defaultPipePath("main")
  PipeSession session;
  ServerGate gate;
  ConnectionCounters counters;
};

// What each backend's client provides (pipe_client_*.cpp); the request logic is in
// native/src/core/pipe_session.cpp. Failures close the connection where pipe.hpp says.
struct PipeClient::Impl {
  virtual ~Impl() = default;
  static std::unique_ptr<Impl> create();

  virtual PipeResult connect(const std::string& path, std::chrono::milliseconds timeout) = 0;
  virtual bool open() const noexcept = 0;
  virtual void close() noexcept = 0;
  virtual PipeResult send(const std::uint8_t* bytes, std::size_t size, TimePoint deadline) = 0;
  // blockFor > 0: a hint that the request was just sent, so one blocking read of that
  // long may serve (a backend may ignore it); the deadline still rules.
  virtual PipeReplyResult receive(TimePoint deadline, std::chrono::milliseconds blockFor) = 0;
};

// The client's reading of a frame: the reply, or a malformed-reply failure.
PipeReplyResult pipeReplyOf(const std::uint8_t* bytes, std::size_t length);
// The server closed the connection; `last` (length 0: none) is a frame it sent before,
// whose ERROR text may say why (ServerBusy for a refusal over the limit, else Closed).
PipeResult pipeClosedByServer(const std::uint8_t* last, std::size_t length);

}  // namespace gamesrv
