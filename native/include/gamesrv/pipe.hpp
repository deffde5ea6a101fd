// PipeServer / PipeClient: the inter-server pipe (seed 4.3.1), message-mode, many clients
// at once, its I/O driven by a CompletionPort. Frames and payloads: pipe_protocol.hpp.
// POSIX: AF_UNIX SOCK_SEQPACKET (native/src/platform/posix/pipe_{server,client}_posix.cpp).
// Win32: a PIPE_TYPE_MESSAGE named pipe, overlapped I/O on the completion port
// (native/src/platform/win32/pipe_{server,client}_win32.cpp). What is answered, and the
// counting, is the same on both: gamesrv/pipe_session.hpp. No OS header is included here.
//
// Server
// - start() binds `path` (owner-only: mode 0600, checked before listening; a socket file
//   the OS made wider is an error), associates the listener with the port and returns.
//   A socket file already at `path` is replaced only if nothing answers on it (stale);
//   a live server there makes start() fail with AddressInUse. A file at `path` that is
//   not a socket is never removed (InvalidPath).
// - The port's threads do the work: whoever drains the port (IocpWorkers, typically)
//   passes every packet to dispatcher(), which accepts connections, reads frames, calls
//   the handler, writes the reply and re-arms. Each connection has at most one packet
//   in flight (one-shot arming), so one connection's requests are handled in order, one
//   at a time; different connections run in parallel.
// - Every request frame gets exactly one reply frame, in order. A bad frame (wrong length,
//   dataSize > 1024, unknown or reply type, non-zero padding) or a bad player payload gets
//   an ERROR reply with the reason; the connection and the server go on. The handler sees
//   only valid requests; LOGIN/LOGOUT/MOVE arrive with their payload parsed.
// - A handler that throws, or returns data over 1024 bytes, turns into an ERROR reply.
// - Deferred replies: a handler may take the request and answer later, from any thread
//   (e.g. when a journal commit completes), so that no port thread waits for it:
//   `PipeLaterReply later = request.deferReply();` hand `later` on, `return PipeReply::later();`,
//   then `later.send(reply)` once. The connection is served on meanwhile, but its replies
//   keep request order: replies to requests read after a deferred one wait behind it, and
//   no further request of that connection is read until every reply due is sent. So at
//   most maxFramesPerWakeup replies (POSIX: the frames of one read; Win32: one) are
//   outstanding per connection. A reply whose connection closed meanwhile (or whose
//   server stopped) is dropped and counted (laterDropped); a PipeLaterReply destroyed
//   unsent answers ERROR "handler_failed: ..." so that the client is never left waiting.
// - maxClients: a connection beyond it receives one ERROR frame ("server busy: ...") and
//   is closed. So is a peer running as another user (SO_PEERCRED; root is let in), should
//   the file mode ever let one connect. Out of file descriptors, waiting connections are
//   accepted and closed at once rather than left to spin the port (counted as refused).
// - stop(): prompt whatever the clients do (seed defect 6). It waits for handler calls in
//   progress to return (handlers must be short), then disassociates and shuts down every
//   connection (clients see end-of-stream), closes the listener and removes the socket
//   file (only if it is still the one this server bound). Packets still queued on the
//   port for this server are ignored afterwards. Idempotent; the destructor calls it.
//   It may be called from the handler itself (e.g. on SHUTDOWN): it then does not wait
//   for that one call; the reply to it is lost with its connection.
// - Keys: the server's completion keys have `keyTag` in their top byte; dispatcher()
//   returns false for a packet that is not this server's (so a port can be shared).
//
// Client: a blocking, single-connection client for a worker thread or a CLI. A request
// whose reply does not come in time closes the connection (a late reply must never be
// taken for the next request's), so the caller reconnects.
//
// Thread safety. PipeServer: start(), stop(), stats() and the dispatcher are safe from
// any thread; the handler is called from several threads at once (never twice at once
// for one connection). The dispatcher keeps the server's state alive, so a packet that
// reaches it after the PipeServer is gone is ignored safely. PipeClient: one thread at
// a time (not synchronized); distinct clients are independent.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "gamesrv/histogram.hpp"
#include "gamesrv/pipe_protocol.hpp"
#include "gamesrv/platform/completion_port.hpp"

namespace gamesrv {

// Where a server named `name` listens by default. POSIX: $XDG_RUNTIME_DIR/gamesrv-<name>.sock
// when XDG_RUNTIME_DIR is set to an absolute path, else /tmp/gamesrv-<uid>-<name>.sock.
// Win32: \\.\pipe\gamesrv-<name>.
std::string defaultPipePath(std::string_view name);

struct PipeReply {
  PipeMessageType type = PipeMessageType::Ack;
  std::string data = "ACK";
  bool deferred = false;  // later(): the reply comes through the request's PipeLaterReply

  static PipeReply ack(std::string text = "ACK") { return {PipeMessageType::Ack, std::move(text)}; }
  static PipeReply status(std::string json) { return {PipeMessageType::StatusReply, std::move(json)}; }
  static PipeReply error(std::string reason) { return {PipeMessageType::Error, std::move(reason)}; }
  // What a handler that took request.deferReply() returns.
  static PipeReply later() { return {PipeMessageType::Ack, std::string(), true}; }
};

struct PipeReplySlot;  // gamesrv/pipe_session.hpp

// The right to answer one request later (see "Deferred replies" above). Move-only; send()
// from any thread, once. Destroyed unsent, it answers an ERROR (handler_failed).
class PipeLaterReply {
 public:
  PipeLaterReply() = default;
  explicit PipeLaterReply(std::shared_ptr<PipeReplySlot> slot) noexcept : slot_(std::move(slot)) {}
  PipeLaterReply(PipeLaterReply&&) noexcept = default;
  PipeLaterReply& operator=(PipeLaterReply&& other) noexcept;
  PipeLaterReply(const PipeLaterReply&) = delete;
  PipeLaterReply& operator=(const PipeLaterReply&) = delete;
  ~PipeLaterReply();

  // True: the reply is handed to its connection, to be written in order (should the
  // connection break first, it is dropped and counted then). False: nothing to send it to
  // (already sent, empty, or the connection or server is gone: dropped, counted).
  bool send(const PipeReply& reply);
  explicit operator bool() const noexcept { return slot_ != nullptr; }

 private:
  std::shared_ptr<PipeReplySlot> slot_;
};

// What the server lends a handler call so that it may defer its reply (pipe_session.cpp).
class PipeDeferral {
 public:
  virtual PipeLaterReply take() = 0;

 protected:
  ~PipeDeferral() = default;
};

// A request as the handler sees it.
struct PipeRequest {
  PipeMessageType type = PipeMessageType::ServerStatus;  // always a request type (1..5)
  std::string data;
  std::optional<PlayerPayload> player;  // set for LOGIN / LOGOUT / MOVE (already validated)
  std::uint64_t connectionId = 0;       // stable for the connection's life, never reused
  PipeDeferral* deferral = nullptr;     // set by the server for the handler call only

  // Takes the right to answer later; the handler then returns PipeReply::later(). Once per
  // request; throws std::logic_error when called twice or on a request no server made.
  PipeLaterReply deferReply() const;
};

using PipeHandler = std::function<PipeReply(const PipeRequest&)>;
// Takes a packet from the port; false if the packet is not this server's.
using PipeDispatcher = std::function<bool(const CompletionPacket&)>;

struct PipeServerConfig {
  std::string path;                  // empty: defaultPipePath("main")
  std::size_t maxClients = 1024;
  CompletionPort* port = nullptr;    // required; must outlive the server
  std::uint8_t keyTag = 0x50;        // top byte of this server's completion keys; unique per port
  std::size_t maxFramesPerWakeup = 16;  // frames read (one call) and served per readiness packet; at most 16
};

struct PipeErrorCounts {
  std::uint64_t badLength = 0;
  std::uint64_t badSize = 0;
  std::uint64_t unknownType = 0;  // includes reply types sent as requests
  std::uint64_t badPadding = 0;
  std::uint64_t badPayload = 0;
  std::uint64_t handlerFailed = 0;  // handler threw, or its reply did not fit
  std::uint64_t io = 0;             // a connection ended by an OS error (not a clean EOF)
};

struct PipeServerStats {
  bool running = false;
  std::string path;
  std::uint64_t accepted = 0;     // connections accepted and served
  std::uint64_t refused = 0;      // closed at once: over maxClients, or another user
  std::uint64_t closed = 0;       // connections ended (EOF, error or stop)
  std::size_t active = 0;         // connections now
  std::size_t peakActive = 0;
  std::uint64_t framesIn = 0;     // messages read, valid or not
  std::uint64_t framesOut = 0;    // replies written
  std::uint64_t bytesIn = 0;
  std::uint64_t bytesOut = 0;
  std::uint64_t requestsByType[5] = {};  // valid requests, index = type - 1 (LOGIN..SHUTDOWN)
  PipeErrorCounts errors;
  std::uint64_t deferredWrites = 0;  // replies that waited for the peer to drain its buffer
  std::uint64_t laterReplies = 0;    // replies the handler deferred (PipeLaterReply)
  std::uint64_t laterDropped = 0;    // of those, dropped: their connection or server was gone
  HistogramSummary handlerNs;        // handler run time
};

struct PipeResult {
  PipeError error = PipeError::None;
  std::string detail;  // readable, names the path and the OS error when there is one
  bool ok() const noexcept { return error == PipeError::None; }
};

class PipeServer {
 public:
  PipeServer(PipeServerConfig config, PipeHandler handler);
  ~PipeServer();  // stop()
  PipeServer(const PipeServer&) = delete;
  PipeServer& operator=(const PipeServer&) = delete;

  PipeResult start();  // once; AddressInUse, InvalidPath, PermissionDenied, Closed (port), System
  void stop();
  PipeDispatcher dispatcher() const;
  const std::string& path() const noexcept;
  PipeServerStats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;  // shared with the dispatcher
};

struct PipeReplyResult {
  PipeError error = PipeError::None;  // None: a reply frame came (it may be an ERROR reply)
  std::string detail;
  PipeMessage reply;
  bool ok() const noexcept { return error == PipeError::None; }
};

class PipeClient {
 public:
  PipeClient();
  ~PipeClient();  // close()
  PipeClient(PipeClient&&) noexcept;
  PipeClient& operator=(PipeClient&&) noexcept;
  PipeClient(const PipeClient&) = delete;
  PipeClient& operator=(const PipeClient&) = delete;

  // NoServer, PermissionDenied, InvalidPath, Timeout (the server's backlog stayed full), System.
  PipeResult connect(const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // One frame out, one frame back. TooLarge (nothing sent), NotConnected, Timeout, Closed,
  // ServerBusy (the server refused this connection: over maxClients), BadLength/... (the
  // reply frame itself was malformed), System. An ERROR reply is a reply: ok(), type Error.
  PipeReplyResult request(PipeMessageType type, std::string_view data,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // For tests: sends `bytes` as one message, as is.
  PipeResult sendRaw(std::span<const std::uint8_t> bytes, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads the next frame (after sendRaw). Closed on end-of-stream.
  PipeReplyResult receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool connected() const noexcept;
  void close() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gamesrv
