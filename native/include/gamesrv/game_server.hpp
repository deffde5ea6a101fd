// GameServer: what the TCP game port means to the game (issue 14). It sits between the
// transport (GameSessions: frames, limits, send queues; GameListener: the OS part) and
// the engine (the event queue, the World, the game loop's ticks):
//
// - HELLO: version, then the ticket (TicketVerifier; with auth "none", the ticket text is
//   "<playerId>" or "<playerId>:<name>", for local testing only) binds the session to its
//   player; a second live session of the same player replaces the first (KICK replaced).
//   WELCOME answers at once; the player's LOGIN goes through the event queue like every
//   other event, with the session as its origin (GameEvent::session). Draining: ERROR
//   draining. With a database (hooks.admit set), the player's owner lease comes first
//   (issue 16): the session waits in a pending login (its reads paused, frames already
//   read kept, at most kMaxPreLoginFrames) while a pool thread takes the lease and loads the
//   player's stored row; then WELCOME and LOGIN, or ERROR owned_elsewhere / draining /
//   server_full (the store failed).
// - MOVE, ATTACK, CHAT become World events through the same queue (so accepted ==
//   processed includes them); a full queue answers ERROR rate_limited ("server busy"),
//   nothing is half-applied. PING is answered with PONG on the I/O thread. BYE, a close or
//   a kick logs the player out (unless a newer session replaced it).
// - The event thread reports every applied event (onApplied): the AOI grid follows logins,
//   moves, hp and logouts of every player (whatever the event's source). The event thread
//   does not wait for a replication round: it stages each grid change (a GridOp, with the
//   session's clientSeq for a MOVE) and the next round applies the staged changes in order
//   before it serializes, so a STATE shows a move and its clientSeq together or neither.
//   Staging is bounded (kMaxStagedGridOps): past it the event thread applies what is
//   staged itself, under the grid's lock (a stalled or paused game loop). ATTACK sends HIT
//   (and DEATH when the target's hp reaches 0) to the attacker's and the target's sessions;
//   CHAT is delivered at the next replication to the sessions whose 3x3 neighbourhood holds
//   the speaker.
// - Replication (onTick, on one game-loop thread, every tickRate/replicationHz ticks):
//   the grid serializes each changed cell once (AoiGrid::replicate), and every session gets
//   LEAVE (reliable) and STATE (droppable: a STATE still queued when the next one is built
//   is dropped and the viewer invalidated, so the next carries the whole 3x3) built from
//   shared blocks behind its own small header (tick, lastClientSeq).
//
// Thread safety: configure()/sessions()/shutdown() are called by the engine's transitions;
// the GameSessionHandler callbacks by the transport's I/O threads; onApplied() by the event
// thread; onTick() by game-loop threads; the operations (kick, broadcast, drain, list,
// stats) from any thread.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gamesrv/aoi_grid.hpp"
#include "gamesrv/event_processor.hpp"
#include "gamesrv/game_sessions.hpp"
#include "gamesrv/histogram.hpp"
#include "gamesrv/striped_counter.hpp"
#include "gamesrv/ticket.hpp"
#include "gamesrv/world.hpp"

namespace gamesrv {

enum class GameAuth : std::uint8_t { Ticket, None };

struct GameServerConfig {
  bool enabled = false;  // open the game port
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port
  GameAuth auth = GameAuth::Ticket;
  std::vector<std::uint8_t> ticketSecret;  // required with GameAuth::Ticket
  double aoiRadius = 100;
  double replicationHz = 0;  // 0: the tick rate
  std::int32_t attackDamage = 10;
  GameSessionsConfig sessions;
};

// What became of a login that waited for its player's lease (GameServerHooks::admit).
enum class LoginAdmission : std::uint8_t {
  Admitted,        // the lease is this server's and the World holds the stored row
  OwnedElsewhere,  // another server kept the lease past the wait
  Unavailable,     // the store failed, or no pool thread took the work
  Cancelled,       // the server drains or stops
};
using LoginAdmitted = std::function<void(LoginAdmission outcome, std::string why)>;

struct GameServerHooks {
  // Leaves the event as it was unless it returns Ok (a full queue: it is tried again).
  std::function<EnqueueResult(GameEvent&&)> enqueue;
  // Optional. Called on an I/O thread for each accepted ticket: false admits the player at
  // once (nothing to wait for, `done` dropped); true means `done` is called exactly once,
  // later, from another thread. Never blocks.
  std::function<bool(std::uint32_t playerId, LoginAdmitted done)> admit;
};

// Frames a pending login keeps (sent after HELLO, before WELCOME); past it ERROR rate_limited.
inline constexpr std::size_t kMaxPreLoginFrames = 64;

// A session's inputs held while the event queue is full (its reads paused meanwhile): one
// socket read's worth at most, so this bound is only reached by a listener that does not
// pause reads; past it an input is refused (ERROR rate_limited "server busy").
inline constexpr std::size_t kMaxHeldInputs = 8192;

struct GameSessionRow {
  GameSessionInfo transport;
  std::uint32_t playerId = 0;  // 0 before HELLO
};

struct GameServerStats {
  bool enabled = false;
  std::uint16_t port = 0;
  bool draining = false;
  GameSessionStats transport;
  std::uint64_t hellos = 0, helloRefused = 0, replaced = 0, inputs = 0, inputsRefused = 0;
  std::uint64_t inputsHeld = 0;  // inputs that waited for room in the event queue (then taken)
  std::uint64_t replications = 0, stateFrames = 0, leaveFrames = 0, chatsDelivered = 0;
  std::uint64_t replicationBytes = 0;  // CELL bytes handed to sessions (shared blocks counted per session)
  HistogramSummary replicationNs;       // one replication: serialize + hand to every session (wall)
  HistogramSummary replicationCpuNs;    // the same, the replicating thread's CPU time
};

class GameServer final : public GameSessionHandler {
 public:
  GameServer(GameServerHooks hooks, const WorldConfig& world);
  ~GameServer() override;
  GameServer(const GameServer&) = delete;
  GameServer& operator=(const GameServer&) = delete;

  // Before a run: a fresh session table, grid and limits. Throws std::invalid_argument.
  // `world` gives the grid the players already online.
  void configure(const GameServerConfig& config, double tickRateHz, const World& world);
  GameSessions* sessions() noexcept;  // null when the port is off
  void setBoundPort(std::uint16_t port) noexcept { boundPort_.store(port, std::memory_order_relaxed); }
  void shutdown();  // after the listener stopped: forget the run's sessions

  // Event thread: `e` was processed with outcome `why`.
  void onApplied(const GameEvent& e, InvalidReason why, const World& world);
  // Game-loop threads: tick `tick` ran.
  void onTick(std::uint64_t tick);

  // Operations.
  std::vector<GameSessionRow> list(std::size_t offset, std::size_t limit) const;
  bool kick(std::uint32_t sessionId, std::string_view text);
  std::size_t broadcast(std::string_view text);
  // Stop admitting (HELLO answers ERROR draining), NOTICE every session with `notice`.
  void beginDrain(std::string_view notice);
  std::size_t live() const;      // sessions open now
  // Waits until no session is open (true) or `timeout` passes (false).
  bool waitNoSessions(std::chrono::milliseconds timeout) const;
  void kickAll(game::KickReason reason, std::string_view text);
  GameServerStats stats() const;

  // GameSessionHandler (transport I/O threads).
  bool onOpen(std::uint32_t sessionId, const std::string& remote) override;
  void onFrame(GameSession& transportSession, std::uint8_t type, std::span<const std::byte> payload) override;
  void onClose(std::uint32_t sessionId, GameCloseInfo why) override;
  void onStateDropped(std::uint32_t sessionId) override;

 private:
  struct Session {
    std::uint32_t id = 0;
    // The transport's session (set by onOpen, then constant). Weak: a GameSession must not
    // outlive its listener and completion port (the Windows one unregisters itself from
    // the port when destroyed), so only the listener's references keep it.
    std::weak_ptr<GameSession> link;
    std::uint32_t playerId = 0;          // written under GameServer::mu_ before `hello`, then constant
    std::atomic<bool> hello{false};      // written under GameServer::mu_ (release); read without it (acquire)
    bool replaced = false;               // guarded by GameServer::mu_
    std::atomic<std::uint32_t> lastClientSeq{0};  // the replicating thread's (AoiGrid::viewOf)
    AoiViewer viewer;                    // the replicating thread's
    std::deque<GameEvent> held;          // guarded by GameServer::heldMu_: waiting for queue room
    // `held` is not empty. Changed under heldMu_; the session's reader (the only one adding
    // inputs) reads it without the lock: false means its input may go straight to the queue.
    std::atomic<bool> holding{false};
    // A pending login (hooks.admit): set by hello() before the hook, cleared by completeHello()
    // under admitMu after it handed on preLogin.
    std::atomic<bool> admitting{false};
    std::mutex admitMu;
    std::vector<std::pair<std::uint8_t, std::vector<std::byte>>> preLogin;  // guarded by admitMu
  };
  struct PendingChat {
    std::uint32_t from = 0;
    std::string text;
  };
  // A change of the grid, staged by the event thread for the next replication round.
  struct GridOp {
    enum class Kind : std::uint8_t { Add, Remove, Move, SetHp };
    Kind kind = Kind::Move;
    std::uint32_t playerId = 0;
    std::int32_t hp = 0;
    std::uint32_t session = 0;    // Move from a session: its id, else 0
    std::uint32_t clientSeq = 0;  // and the input it acknowledges (AoiGrid::viewOf)
    double x = 0;
    double y = 0;
  };
  // Staged changes past this are applied by the event thread itself (a bound on memory
  // when the game loop does not tick: paused, stalled).
  static constexpr std::size_t kMaxStagedGridOps = std::size_t{1} << 16;

  std::shared_ptr<Session> find(std::uint32_t sessionId) const;
  void hello(const std::shared_ptr<Session>& s, std::span<const std::byte> payload);
  // A live session's frame (or a pending login's kept one).
  void dispatch(const std::shared_ptr<Session>& s, std::uint8_t type, std::span<const std::byte> payload);
  // WELCOME and LOGIN for a session whose HELLO was accepted.
  void welcome(const std::shared_ptr<Session>& s, std::uint32_t playerId, std::string name);
  // Any thread: the end of a pending login.
  void completeHello(const std::weak_ptr<Session>& weak, std::uint32_t playerId, std::string name, LoginAdmission outcome,
                     const std::string& why);
  void input(const std::shared_ptr<Session>& s, GameEvent&& e);
  void refuseInput(const std::shared_ptr<Session>& s);  // ERROR rate_limited, the session kept
  // Game-loop thread: hands held inputs to the queue, oldest session first, while it takes
  // them; a session whose held inputs are all taken reads again.
  void retryHeld();
  void refuse(std::uint32_t sessionId, game::ErrorCode code, std::string_view text);  // ERROR + close
  void sendTo(std::uint32_t playerId, const GameFrame& frame);  // to the player's live session, if any
  void replicate(std::uint64_t tick);       // timed: replicateRound and the hand-over
  void replicateRound(std::uint64_t tick);
  void stage(GridOp&& op);                   // event thread
  // Requires: gridMu_ held. Applies every staged change, in order.
  void applyStagedLocked();

  const GameServerHooks hooks_;
  const game::WorldBounds bounds_;

  GameServerConfig config_;  // set by configure(), read-only while a run lasts
  double tickRateHz_ = 60;
  std::uint64_t ticksPerReplication_ = 1;
  std::optional<TicketVerifier> tickets_;
  // The run's transport. Replaced only by configure(), while no I/O, event or loop thread
  // of a run is up; the operations (any thread) take their reference under opsMu_.
  std::shared_ptr<GameSessions> transport_;
  mutable std::mutex opsMu_;
  std::shared_ptr<GameSessions> ops() const;
  std::atomic<std::uint16_t> boundPort_{0};
  std::atomic<bool> draining_{false};
  std::atomic<std::uint64_t> lastReplicatedTick_{0};

  mutable std::mutex mu_;  // the session maps
  mutable std::condition_variable noSessions_;  // notified when sessions_ becomes empty
  std::unordered_map<std::uint32_t, std::shared_ptr<Session>> sessions_;  // guarded by mu_
  std::unordered_map<std::uint32_t, std::uint32_t> byPlayer_;             // guarded by mu_: player -> live session

  std::mutex heldMu_;  // every Session::held, and the sessions that have some
  std::deque<std::shared_ptr<Session>> heldSessions_;  // guarded by heldMu_: oldest first
  std::atomic<bool> anyHeld_{false};                   // heldSessions_ is not empty

  // Lock order: gridMu_, then stageMu_. The event thread takes stageMu_ alone (briefly),
  // or both in that order when it applies the staged changes itself.
  std::mutex gridMu_;  // the grid, held by a replication round
  std::unique_ptr<AoiGrid> grid_;            // guarded by gridMu_
  std::vector<GridOp> applying_;             // guarded by gridMu_: the staged batch being applied, reused
  std::vector<PendingChat> roundChats_;      // guarded by gridMu_: the chats this round delivers
  std::mutex stageMu_;
  std::vector<GridOp> staged_;               // guarded by stageMu_: in the order applied
  std::vector<PendingChat> chats_;           // guarded by stageMu_: waiting for the next round
  std::vector<std::shared_ptr<Session>> replicating_;  // replicate()'s, reused
  AoiCollected collected_;                             // replicate()'s, reused
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> viewersByCell_;  // replicate()'s, reused

  std::atomic<std::uint64_t> hellos_{0}, helloRefused_{0}, replacedCount_{0}, inputsRefused_{0}, inputsHeld_{0};
  StripedCounter inputs_;  // every I/O thread adds one per input
  std::atomic<std::uint64_t> replications_{0}, stateFrames_{0}, leaveFrames_{0}, chatsDelivered_{0}, replicationBytes_{0};
  Histogram replicationNs_;
  Histogram replicationCpuNs_;
};

}  // namespace gamesrv
