// GameSessions: the portable core of the TCP game port's transport (issue 14, items 1
// and 5). It knows frames (u32 length + type byte, then the payload) but not payloads:
// a GameSessionHandler above it (the game protocol's codec and glue) gets whole frames.
// The OS part (platform/game_listener.hpp; posix: epoll edge-triggered) accepts, reads
// into received(), writes what gather() hands out and closes; every policy is here:
//
// - The session table: id (u32, never reused by one GameSessions), remote address,
//   connectedAt, bytes and frames in/out, send-queue bytes, dropped states, state
//   (AwaitingHello -> Live -> Closing). The handler calls markLive() once it has
//   accepted a HELLO; a session still AwaitingHello after helloTimeout gets ERROR
//   hello_timeout and is closed.
// - Inbound framing: a length of 0 is ERROR bad_frame, a length over maxClientFrame is
//   ERROR frame_too_long; both close. Only an incomplete frame is buffered (at most one
//   max frame), and only while it is incomplete.
// - A token bucket per session (rate/s, burst): a frame over it is not delivered and
//   gets ERROR rate_limited; the rateOffencesToKick-th offence is KICK rate_limited.
// - Idle: a Live session that sends nothing for idleTimeout is KICK idle.
// - maxSessions: a connection over it gets ERROR server_full and is closed; after
//   stopAccepting(), ERROR draining.
// - The send queue, in bytes, of reference-counted buffers (a frame is several: a header
//   and shared blocks, written with one gather write). Droppable frames (STATE): while
//   the queue is over sendSoftLimit, droppable frames queued and not yet started are
//   dropped, counted, and onStateDropped() tells the handler (so that replication sends
//   full state next); a frame partly written is never dropped. Past sendHardLimit the
//   session is kicked too_slow, and so is one whose socket took no byte of a non-empty
//   queue for sendStallTimeout (a peer that stopped reading).
// - Kick: the KICK frame is queued (past any limit) and the session is closed once it
//   is flushed, or after closeGrace. ERROR-and-close works the same way.
//
// Thread safety: the public API (send, broadcast, kick, close, markLive, sessions, stats,
// stopAccepting, count) is safe from any thread, the handler's callbacks included. The
// handler is called without any lock of this class held: onFrame() on an I/O thread,
// never twice at once for one session; onOpen() on the accepting I/O thread; onClose()
// exactly once per session whose onOpen() returned true. The transport section is for the
// listener: received()/gather()/wrote() for one session are called by one thread at a time.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gamesrv/clock.hpp"
#include "gamesrv/connection.hpp"
#include "gamesrv/game_protocol.hpp"
#include "gamesrv/histogram.hpp"

namespace gamesrv {

// The protocol's framing facts the transport needs, from the one definition
// (gamesrv/game_protocol.hpp).
namespace game_wire {
inline constexpr std::size_t kLengthBytes = game::kLengthBytes;  // u32 length (type byte + payload)
inline constexpr std::uint32_t kMaxClientFrame = game::kMaxClientFrame;
inline constexpr std::uint32_t kMaxServerFrame = game::kMaxServerFrame;
inline constexpr std::uint8_t kTypeKick = static_cast<std::uint8_t>(game::MessageType::Kick);
inline constexpr std::uint8_t kTypeError = static_cast<std::uint8_t>(game::MessageType::Error);
using ErrorCode = game::ErrorCode;
using KickReason = game::KickReason;
inline constexpr std::size_t kErrorCodeSlots = static_cast<std::size_t>(game::ErrorCode::OwnedElsewhere) + 1;  // codes 1..16
inline constexpr std::size_t kKickReasonSlots = static_cast<std::size_t>(game::KickReason::Shutdown) + 1;   // reasons 1..7
}  // namespace game_wire

// A steady-clock instant as nanoseconds, for the per-session clocks kept in atomics.
inline std::int64_t steadyNs(TimePoint t) noexcept { return std::chrono::duration_cast<Nanos>(t.time_since_epoch()).count(); }

// One piece of a frame's bytes, kept alive by `owner` (shared between sessions).
struct GameBuffer {
  std::shared_ptr<const void> owner;
  const std::byte* data = nullptr;
  std::size_t len = 0;
};

// A whole frame, header included, as the buffers a gather write sends in order.
class GameFrame {
 public:
  GameFrame() = default;
  // One owned buffer: u32 length, type, payload (copied).
  static GameFrame copyOf(std::uint8_t type, std::span<const std::byte> payload);
  // An owned header (u32 length, type, `head` copied) followed by shared blocks.
  static GameFrame gather(std::uint8_t type, std::span<const std::byte> head, std::vector<GameBuffer> blocks);
  static GameFrame error(game_wire::ErrorCode code, std::string_view text);
  static GameFrame kick(game_wire::KickReason reason, std::string_view text);

  std::size_t bytes() const noexcept { return bytes_; }
  const std::vector<GameBuffer>& parts() const noexcept { return parts_; }

 private:
  std::vector<GameBuffer> parts_;
  std::size_t bytes_ = 0;
};

enum class GameSessionState : std::uint8_t { AwaitingHello, Live, Closing };
constexpr const char* toString(GameSessionState s) noexcept {
  switch (s) {
    case GameSessionState::AwaitingHello: return "awaiting-hello";
    case GameSessionState::Live: return "live";
    case GameSessionState::Closing: return "closing";
  }
  return "unknown";
}

// Why a session ended. code: the ERROR code (Error) or KICK reason (Kick), else 0.
enum class GameCloseKind : std::uint8_t { PeerClosed, IoError, Error, Kick, Closed, Stopped };
inline constexpr std::size_t kGameCloseKinds = 6;
struct GameCloseInfo {
  GameCloseKind kind = GameCloseKind::PeerClosed;
  std::uint16_t code = 0;
};

struct GameSession;

class GameSessionHandler {
 public:
  virtual ~GameSessionHandler() = default;
  // False refuses the connection (closed at once; no onClose follows).
  virtual bool onOpen(std::uint32_t sessionId, const std::string& remote) = 0;
  // `s` is the session (its id, and the handler's context set by onOpen()).
  virtual void onFrame(GameSession& s, std::uint8_t type, std::span<const std::byte> payload) = 0;
  virtual void onClose(std::uint32_t sessionId, GameCloseInfo why) = 0;
  // Queued droppable frames were dropped: the next one should carry full state.
  virtual void onStateDropped(std::uint32_t sessionId) = 0;
};

struct GameSessionsConfig {
  std::size_t maxSessions = 10000;
  std::uint32_t maxClientFrame = game_wire::kMaxClientFrame;
  double messageRate = 60;  // frames per second, sustained
  double messageBurst = 120;     // the addon passes twice messageRate (sessionMessageRate)
  std::uint32_t rateOffencesToKick = 10;
  std::chrono::milliseconds helloTimeout{game::kHelloTimeoutMs};
  std::chrono::milliseconds idleTimeout{60000};  // 0: never
  std::chrono::milliseconds closeGrace{1000};   // a kicked session's KICK gets this long to flush
  std::size_t sendSoftLimit = 256 * 1024;
  std::size_t sendHardLimit = 1024 * 1024;
  // A Live session with bytes queued that the socket has taken none of for this long
  // (the peer stopped reading; superseded STATEs alone never fill the queue) is kicked
  // too_slow. 0: never.
  std::chrono::milliseconds sendStallTimeout{10000};
};

struct GameSessionInfo {
  std::uint32_t id = 0;
  std::string remote;
  std::uint64_t connectedAtUnixMs = 0;
  std::uint64_t bytesIn = 0, bytesOut = 0, framesIn = 0, framesOut = 0;
  std::size_t sendQueueBytes = 0;
  std::uint64_t droppedStates = 0;
  std::int64_t rttUs = -1;  // the kernel's smoothed round-trip time; -1: the platform does not say
  GameSessionState state = GameSessionState::AwaitingHello;
};

struct GameSessionStats {
  ConnectionCounts connections;  // accepted, refused, closed, active, frames and bytes in/out
  std::array<std::uint64_t, kGameCloseKinds> closesByKind{};
  std::array<std::uint64_t, game_wire::kErrorCodeSlots> errorsSent{};   // by ERROR code
  std::array<std::uint64_t, game_wire::kKickReasonSlots> kicksSent{};   // by KICK reason
  std::uint64_t droppedStates = 0;
  std::uint64_t rateLimited = 0;   // frames refused by the token bucket
  std::size_t sendQueueBytes = 0;  // queued now, every session
  HistogramSummary sendQueueBytesAtSend;  // a session's queue after each send
  bool accepting = true;
};

// One connection. The listener derives from it to hold the socket (closed by its
// destructor, once, when the last owner lets go); the fields are the core's.
struct GameSession {
  GameSession() = default;
  virtual ~GameSession() = default;
  // The connection's smoothed round-trip time as the OS measures it (µs), or -1 when the
  // platform does not report one. Called from any thread while the session is listed.
  virtual std::int64_t rttUs() const { return -1; }
  GameSession(const GameSession&) = delete;
  GameSession& operator=(const GameSession&) = delete;

  struct Queued {
    GameFrame frame;
    bool droppable = false;
  };

  std::uint32_t id = 0;                // set by admit(), then constant
  std::string remote;                  // set by admit(), then constant
  std::uint64_t connectedAtUnixMs = 0; // set by admit(), then constant
  TimePoint connectedAt{};             // set by admit(), then constant
  std::atomic<GameSessionState> state{GameSessionState::AwaitingHello};
  std::atomic<bool> finished{false};   // finish() ran: removed from the table
  std::atomic<std::int64_t> lastInputNs{0};
  std::atomic<bool> readPaused{false};  // pauseReading(): the listener reads nothing more
  std::atomic<std::uint64_t> bytesIn{0}, bytesOut{0}, framesIn{0}, framesOut{0}, droppedStates{0};
  // Droppable frames in `queue` (changed under outMu). Read without the lock by the one
  // thread that queues droppable frames (the replicating one): zero means there is
  // nothing to drop, and only that thread could make it non-zero.
  std::atomic<std::uint32_t> queuedDroppable{0};
  // The handler's own state for the session: set by its onOpen() (before any frame), then
  // constant; onFrame() reads it without a lookup.
  std::shared_ptr<void> handlerContext;

  // The reader's (one thread at a time): the incomplete frame, the token bucket.
  std::vector<std::byte> inbound;
  double tokens = 0;
  TimePoint refilledAt{};
  std::uint32_t offences = 0;

  std::mutex outMu;
  std::deque<Queued> queue;            // guarded by outMu
  std::size_t queuedBytes = 0;         // guarded by outMu
  std::size_t frontPart = 0, partOffset = 0;  // guarded by outMu: progress in queue.front()
  std::size_t gathered = 0;            // guarded by outMu: frames handed to a write in progress
  bool flushScheduled = false;         // guarded by outMu: a writer will look at the queue
  TimePoint closeAt{};                 // guarded by outMu: Closing: close by then at the latest
  std::int64_t waitingSinceNs = 0;     // guarded by outMu: the queue non-empty and no byte written since
  // Guarded by outMu: the queue was emptied by dropping superseded frames, not by writing
  // them, so the next frame goes on waiting from waitingSinceNs (a reader that takes
  // nothing while each round supersedes its STATE is stalled, not fresh every round).
  bool emptiedByDrops = false;
  GameCloseInfo closeInfo;             // guarded by outMu: Closing: why
};

struct GameIoSlice {
  const std::byte* data = nullptr;
  std::size_t len = 0;
};

class GameSessions {
 public:
  // What the listener does for the core: serve `s` on an I/O thread soon (flush its
  // queue, close it if it is due). Safe from any thread; never runs the handler inline.
  class Io {
   public:
    virtual ~Io() = default;
    virtual void wake(GameSession& s) = 0;
    // As wake(), and read the socket too: reading was resumed (resumeReading()). A listener
    // that never pauses its reads may leave this as wake().
    virtual void wakeRead(GameSession& s) { wake(s); }
    // As wake() for each of these sessions (ids; some may have closed since), in as few
    // hand-overs to the I/O threads as it can. False: not supported, wake() each instead.
    virtual bool wakeMany(std::span<const std::uint32_t> /*ids*/) { return false; }
  };

  // While one lives on a thread, that thread's sends to these sessions wake the I/O
  // threads once, at its end (Io::wakeMany), instead of once a session: the replicating
  // thread hands thousands of STATEs over without a hand-over each. Not nestable.
  class WakeBatch {
   public:
    explicit WakeBatch(GameSessions& sessions);
    ~WakeBatch();
    WakeBatch(const WakeBatch&) = delete;
    WakeBatch& operator=(const WakeBatch&) = delete;

   private:
    friend class GameSessions;
    GameSessions& sessions_;
    std::vector<std::uint32_t> ids_;
  };

  GameSessions(GameSessionsConfig config, GameSessionHandler& handler);
  GameSessions(const GameSessions&) = delete;
  GameSessions& operator=(const GameSessions&) = delete;

  const GameSessionsConfig& config() const noexcept { return config_; }

  // False if there is no such open session (or it is closing).
  bool send(std::uint32_t id, GameFrame frame, bool droppable);
  bool send(GameSession& s, GameFrame frame, bool droppable);  // a session the caller holds
  std::size_t broadcast(const GameFrame& frame, bool droppable);  // sessions it was queued to
  // Drops the session's droppable frames not yet started (counted as dropped states);
  // returns how many. The handler is not called: the caller is the one superseding them.
  std::size_t dropStates(std::uint32_t id);
  std::size_t dropStates(GameSession& s);
  bool kick(std::uint32_t id, game_wire::KickReason reason, std::string_view text);
  bool close(std::uint32_t id);  // writes what is queued if it can, then closes
  bool markLive(std::uint32_t id);
  // Back-pressure: the handler cannot take this session's input now. The listener stops
  // reading it (what its last read brought is still delivered) until resumeReading(),
  // which has it read again. False if there is no such open session.
  bool pauseReading(std::uint32_t id);
  bool resumeReading(std::uint32_t id);
  std::vector<GameSessionInfo> sessions(std::size_t offset, std::size_t limit) const;  // by id
  GameSessionStats stats() const;
  void stopAccepting() noexcept { accepting_.store(false, std::memory_order_release); }
  std::size_t count() const;

  // --- for the listener --------------------------------------------------------------
  void attach(Io* io);  // nullptr detaches (stop); wake requests are then ignored
  enum class Admission : std::uint8_t { Accepted, ServerFull, Draining, Refused };
  // Registers `s` (id, remote, clocks) and asks the handler. Not Accepted: `s` is not
  // registered; refusal() is what to write to it before closing.
  Admission admit(const std::shared_ptr<GameSession>& s, std::string remote);
  static GameFrame refusal(Admission a);
  std::shared_ptr<GameSession> find(std::uint32_t id) const;
  std::vector<std::shared_ptr<GameSession>> snapshot() const;
  // Whether the listener should read `s` now (see pauseReading()).
  static bool readable(const GameSession& s) noexcept { return !s.readPaused.load(std::memory_order_acquire); }
  // Bytes read from the socket: framing, limits, the handler.
  void received(GameSession& s, std::span<const std::byte> bytes);
  // The next bytes to write, up to out.size() slices; 0 when the queue is empty (and then
  // nobody is scheduled to flush until the next send()).
  std::size_t gather(GameSession& s, std::span<GameIoSlice> out);
  void wrote(GameSession& s, std::size_t n);  // n bytes of what gather() gave were written
  // Closing, and flushed or past its grace: close it with closeInfo(s).
  bool closeDue(GameSession& s, TimePoint now);
  GameCloseInfo closeInfo(GameSession& s);
  // The listener closed (or is closing) the socket: forget `s` and tell the handler, once.
  void finish(GameSession& s, GameCloseInfo why);
  // What to write, best-effort, to a session the server is stopping under: KICK shutdown,
  // unless a frame is partly written (empty then: nothing may follow half a frame).
  GameFrame farewell(GameSession& s);
  // Timers: hello deadline, idle, grace. Called by the listener every sweepInterval().
  void sweep(TimePoint now);
  std::chrono::milliseconds sweepInterval() const noexcept;

 private:
  // One whole frame, received at `now` (one clock read a read, not a frame).
  void frame(GameSession& s, std::span<const std::byte> bytes, TimePoint now);
  bool rateAllows(GameSession& s, TimePoint now);
  // Queues `last` past any limit and starts closing. Requires: s.outMu held.
  bool closeWithLocked(GameSession& s, GameFrame last, GameCloseInfo why, TimePoint closeAt);
  void closeWith(GameSession& s, GameFrame last, GameCloseInfo why);
  void error(GameSession& s, game_wire::ErrorCode code, std::string_view text, bool close);
  void kickSession(GameSession& s, game_wire::KickReason reason, std::string_view text);
  // Requires: s.outMu held. Drops droppable frames not started; returns how many.
  std::size_t dropStatesLocked(GameSession& s);
  void enqueueLocked(GameSession& s, GameFrame frame, bool droppable);  // Requires: s.outMu held.
  bool scheduleLocked(GameSession& s);  // Requires: s.outMu held. True: call wakeIo(s).
  void wakeIo(GameSession& s);
  void wakeBatch(std::span<const std::uint32_t> ids);

  const GameSessionsConfig config_;
  GameSessionHandler& handler_;
  std::atomic<bool> accepting_{true};
  std::atomic<std::uint32_t> nextId_{1};

  mutable std::mutex tableMu_;
  std::map<std::uint32_t, std::shared_ptr<GameSession>> table_;  // guarded by tableMu_

  std::mutex ioMu_;   // held around io_->wake(), so that detaching waits for it
  Io* io_ = nullptr;  // guarded by ioMu_

  ConnectionCounters counters_;
  std::array<std::atomic<std::uint64_t>, kGameCloseKinds> closes_{};
  std::array<std::atomic<std::uint64_t>, game_wire::kErrorCodeSlots> errors_{};
  std::array<std::atomic<std::uint64_t>, game_wire::kKickReasonSlots> kicks_{};
  std::atomic<std::uint64_t> dropped_{0}, rateLimited_{0};
  std::atomic<std::size_t> queuedTotal_{0};
  Histogram queueAtSend_;
};

}  // namespace gamesrv
