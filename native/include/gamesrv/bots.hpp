// Bots: the load generator (`gamesrv bots`, issue 14 item 7). Each bot is one game
// session speaking docs/PROTOCOL.md section 3 through the codec (gamesrv/game_protocol.hpp):
// HELLO with its ticket -> WELCOME -> MOVE at `rateHz` (a random walk inside the WELCOME's
// world), PING every second, a CHAT now and then, BYE at the end.
//
// This file is the portable part: the per-bot state machine (bytes in, bytes out, a due
// time), the shared statistics, and runBots(), which drives a BotDriver (the OS part:
// sockets and threads, gamesrv/platform/bot_driver.hpp) and reports once a second.
//
// Move -> observed latency. A STATE shows positions, not sequence numbers, so a move is
// recognised by where it went: every position a bot sends is a float (f32) value sent as
// f64, so the server's f32 ENTRY echoes it bit for bit, and a bot never sends the same
// (x, y) twice in a row. The movers and the observers share one process, so each bot keeps
// its last kMoveSlots sends (exact f32 x, f32 y, send time) in a table the others read.
// When a bot's STATE lists another bot at a position still unobserved in that bot's table,
// the latency now - sendTime is recorded and the slot is marked observed (once: by the
// first neighbour to see it). Moves nobody saw (no neighbour, or superseded before a
// replication) are simply not counted. To give every bot neighbours, bots start in a square
// around the world's centre sized for about kStartDensity bots per AOI cell.
//
// Times are gamesrv::nowNs() (clock.hpp). RTT: PING.t is that clock in ns; PONG echoes it; RTT = now - t.
//
// Thread safety: a Bot is used by one thread at a time (its driver thread). BotStats and
// the move table (BotFleet::observe) are safe from any thread. runBots() blocks its caller.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "gamesrv/game_protocol.hpp"
#include "gamesrv/histogram.hpp"

namespace gamesrv {

struct BotsConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7777;
  std::uint32_t count = 0;         // bots; tickets.size() must equal it
  double rateHz = 10;              // MOVEs per second per bot (with flood: only sizes a step)
  bool flood = false;              // MOVEs as fast as the connection takes them: the send buffer
                                   // is topped up to sendLimitBytes every kFloodRefillNs
  double durationS = 10;           // from start() to BYE
  std::uint32_t threads = 2;       // driver threads
  std::uint32_t firstPlayerId = 0; // bot i is player firstPlayerId + i (its ticket's)
  std::vector<std::string> tickets;
  double chatEveryS = 5;           // mean seconds between a bot's CHATs (0: never)
  std::size_t sendLimitBytes = 64 * 1024;  // a bot's unsent bytes over this: nothing new is queued
  std::uint64_t seed = 1;
};

inline constexpr std::uint32_t kMaxBots = 100'000;
inline constexpr std::uint32_t kMaxBotThreads = 64;
inline constexpr double kMaxBotRateHz = 1000;
inline constexpr std::size_t kMoveSlots = 8;
inline constexpr double kStartDensity = 4;  // bots per AOI cell at the start
inline constexpr std::uint64_t kPingIntervalNs = 1'000'000'000;
// Flood mode's refill period. The buffer it refills (sendLimitBytes, 64 KiB: thousands of
// MOVEs) lasts far longer than this at any rate a server reads, so the socket never runs
// dry and the sends are paced by the server alone (the writes follow EPOLLOUT).
inline constexpr std::uint64_t kFloodRefillNs = 1'000'000;

// Empty when usable, else why not.
std::string validate(const BotsConfig& c);

struct BotsSummary {
  double elapsedS = 0;
  std::uint32_t bots = 0;
  std::uint64_t connected = 0;      // WELCOMEs received
  std::uint64_t live = 0;           // sessions open now (after WELCOME, before close)
  std::uint64_t failed = 0;         // no WELCOME: connect failed, refused, or closed first
  std::uint64_t dropped = 0;        // closed by the server after WELCOME, before the end
  std::uint64_t movesSent = 0;
  std::uint64_t movesDeferred = 0;  // due while the send buffer was over its limit
  std::uint64_t chatsSent = 0;
  std::uint64_t pingsSent = 0;
  std::uint64_t framesReceived = 0;
  std::uint64_t bytesReceived = 0;
  std::uint64_t statesReceived = 0;
  std::uint64_t errorsReceived = 0;  // ERROR frames
  std::uint64_t kicksReceived = 0;   // KICK frames
  std::string lastProblem;           // the last ERROR/KICK/connect failure, for humans
  HistogramSummary rttUs;            // PING -> PONG, microseconds
  HistogramSummary moveObservedUs;   // MOVE -> a neighbour's STATE shows it, microseconds
};

class BotStats {
 public:
  std::atomic<std::uint64_t> connected{0}, live{0}, failed{0}, dropped{0};
  std::atomic<std::uint64_t> movesSent{0}, movesDeferred{0}, chatsSent{0}, pingsSent{0};
  std::atomic<std::uint64_t> framesReceived{0}, bytesReceived{0}, statesReceived{0};
  std::atomic<std::uint64_t> errorsReceived{0}, kicksReceived{0};
  Histogram rttNs;
  Histogram moveObservedNs;

  void problem(std::string text);
  BotsSummary summary(double elapsedS, std::uint32_t bots) const;

 private:
  mutable std::mutex problemMu_;
  std::string lastProblem_;
};

class BotFleet;

class Bot {
 public:
  enum class Phase : std::uint8_t { Idle, Connecting, LoggingIn, Playing, Leaving, Closed };

  Bot(BotFleet& fleet, std::uint32_t index);

  // The socket connected: HELLO is queued.
  void connected(std::uint64_t nowNs);
  // The connection ended (or never started). `why` for humans when it was not ours.
  void closed(std::string_view why);
  // Bytes from the socket; frames are split and handled. False: close the connection
  // (the stream cannot be framed, or the server said ERROR/KICK).
  bool received(const std::uint8_t* data, std::size_t n, std::uint64_t nowNs);
  // Does what is due at `nowNs` (MOVE, PING, CHAT); returns the next due time.
  std::uint64_t tick(std::uint64_t nowNs);
  // The end of the run: BYE is queued; the driver flushes, then closes.
  void finish();

  // Bytes to send: the driver writes a prefix, then consumed(n).
  std::string_view pending() const noexcept { return {out_.data() + sent_, out_.size() - sent_}; }
  void consumed(std::size_t n);

  Phase phase() const noexcept { return phase_; }
  void setConnecting() noexcept { phase_ = Phase::Connecting; }
  std::uint32_t index() const noexcept { return index_; }

 private:
  friend class BotFleet;
  bool handle(std::uint8_t type, game::Bytes payload, std::uint64_t nowNs);  // false: close
  void onWelcome(const game::Welcome& w, std::uint64_t nowNs);
  void sendMove(std::uint64_t nowNs);
  double random01();

  BotFleet& fleet_;
  const std::uint32_t index_;
  Phase phase_ = Phase::Idle;
  std::string in_;
  std::size_t inStart_ = 0;
  std::string out_;
  std::size_t sent_ = 0;
  std::uint64_t rng_;
  std::uint32_t playerId_ = 0;
  std::uint32_t seq_ = 0;
  float x_ = 0, y_ = 0;
  double heading_ = 0;
  double worldMin_ = 0, worldMax_ = 0, step_ = 0;
  std::uint64_t nextMoveNs_ = 0, nextPingNs_ = 0, nextChatNs_ = 0;
  game::State state_;  // reused by parseState
};

// All bots of a run, the statistics and the move table.
class BotFleet {
 public:
  explicit BotFleet(BotsConfig config);
  ~BotFleet();

  const BotsConfig& config() const noexcept { return config_; }
  std::size_t size() const noexcept { return bots_.size(); }
  Bot& bot(std::size_t i) noexcept { return *bots_[i]; }
  BotStats& stats() noexcept { return stats_; }

  // The move table (see the header comment).
  void moved(std::uint32_t playerId, float x, float y, std::uint64_t nowNs);
  void observe(std::uint32_t observerId, std::uint32_t playerId, float x, float y, std::uint64_t nowNs);

 private:
  struct MoveSlot {
    float x = 0, y = 0;
    std::uint64_t sentNs = 0;  // 0: observed or empty
  };
  struct MoveRing {
    std::mutex mu;
    std::atomic<std::uint32_t> unobserved{0};
    MoveSlot slots[kMoveSlots];
    std::size_t next = 0;
  };
  MoveRing* ringOf(std::uint32_t playerId) noexcept;

  BotsConfig config_;
  BotStats stats_;
  std::vector<std::unique_ptr<Bot>> bots_;
  std::unique_ptr<MoveRing[]> rings_;
};

using BotsProgress = std::function<void(const BotsSummary&)>;

struct BotsResult {
  bool ok = false;
  std::string error;  // when !ok: invalid config (validate()), or the driver could not start
  BotsSummary summary;
};

// Runs the bots for config.durationS (or until `stop`, or until every bot has failed or
// been dropped: checked once a second), calling `progress` about once a second from the
// calling thread; blocks until every bot has said BYE and closed (or the linger passed).
BotsResult runBots(const BotsConfig& config, const BotsProgress& progress, std::stop_token stop);

}  // namespace gamesrv
