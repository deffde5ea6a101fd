// Bots: the per-bot protocol state machine, the move table and runBots() (see bots.hpp).
#include "gamesrv/bots.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <numbers>

#include "gamesrv/clock.hpp"
#include "gamesrv/platform/bot_driver.hpp"

namespace gamesrv {
namespace {

constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kCompactBytes = 64 * 1024;  // buffer prefixes past this are erased
constexpr std::uint32_t kLingerMs = 2000;          // BYE's time to leave at the end

std::uint64_t splitmix(std::uint64_t& s) noexcept {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The float nearest `v` that lies inside [lo, hi] (both finite, lo < hi).
float floatInside(double v, double lo, double hi) noexcept {
  float f = static_cast<float>(std::clamp(v, lo, hi));
  while (static_cast<double>(f) < lo) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  while (static_cast<double>(f) > hi) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

}  // namespace

std::string validate(const BotsConfig& c) {
  if (c.host.empty()) return "host is empty";
  if (c.port == 0) return "port must be 1..65535";
  if (c.count < 1 || c.count > kMaxBots) return "count must be 1.." + std::to_string(kMaxBots);
  if (c.tickets.size() != c.count) return "tickets must hold one ticket per bot";
  if (!(c.rateHz > 0 && c.rateHz <= kMaxBotRateHz)) return "rateHz must be in (0, " + std::to_string(static_cast<int>(kMaxBotRateHz)) + "]";
  if (!(c.durationS > 0 && c.durationS <= 86'400)) return "durationS must be in (0, 86400]";
  if (c.threads < 1 || c.threads > kMaxBotThreads) return "threads must be 1.." + std::to_string(kMaxBotThreads);
  if (std::uint64_t{c.firstPlayerId} + c.count - 1 > std::numeric_limits<std::uint32_t>::max()) return "player ids pass 2^32 - 1";
  if (!(c.chatEveryS >= 0) || !std::isfinite(c.chatEveryS)) return "chatEveryS must be >= 0";
  std::string scratch;
  for (std::size_t i = 0; i < c.tickets.size(); ++i) {
    scratch.clear();
    if (!game::encode(scratch, game::Hello{game::kProtocolVersion, c.tickets[i]})) return "ticket " + std::to_string(i) + " does not fit a HELLO";
  }
  return {};
}

void BotStats::problem(std::string text) {
  std::lock_guard lock(problemMu_);
  lastProblem_ = std::move(text);
}

BotsSummary BotStats::summary(double elapsedS, std::uint32_t bots) const {
  BotsSummary s;
  s.elapsedS = elapsedS;
  s.bots = bots;
  s.connected = connected.load();
  s.live = live.load();
  s.failed = failed.load();
  s.dropped = dropped.load();
  s.movesSent = movesSent.load();
  s.movesDeferred = movesDeferred.load();
  s.chatsSent = chatsSent.load();
  s.pingsSent = pingsSent.load();
  s.framesReceived = framesReceived.load();
  s.bytesReceived = bytesReceived.load();
  s.statesReceived = statesReceived.load();
  s.errorsReceived = errorsReceived.load();
  s.kicksReceived = kicksReceived.load();
  {
    std::lock_guard lock(problemMu_);
    s.lastProblem = lastProblem_;
  }
  s.rttUs = rttNs.summary(1e-3);
  s.moveObservedUs = moveObservedNs.summary(1e-3);
  return s;
}

// --- Bot

Bot::Bot(BotFleet& fleet, std::uint32_t index)
    : fleet_(fleet), index_(index), rng_(fleet.config().seed * 0x2545F4914F6CDD1Dull + index) {}

double Bot::random01() { return static_cast<double>(splitmix(rng_) >> 11) * 0x1.0p-53; }

void Bot::connected(std::uint64_t) {
  phase_ = Phase::LoggingIn;
  (void)game::encode(out_, game::Hello{game::kProtocolVersion, fleet_.config().tickets[index_]});  // validate() checked it fits
}

void Bot::closed(std::string_view why) {
  if (phase_ == Phase::Closed) return;
  BotStats& st = fleet_.stats();
  if (playerId_ != 0) {
    st.live.fetch_sub(1);
    if (phase_ != Phase::Leaving) st.dropped.fetch_add(1);
  } else {
    st.failed.fetch_add(1);
  }
  if (phase_ != Phase::Leaving && !why.empty()) st.problem("bot " + std::to_string(index_) + ": " + std::string(why));
  phase_ = Phase::Closed;
}

bool Bot::received(const std::uint8_t* data, std::size_t n, std::uint64_t nowNs) {
  BotStats& st = fleet_.stats();
  st.bytesReceived.fetch_add(n, std::memory_order_relaxed);
  in_.append(reinterpret_cast<const char*>(data), n);
  bool keep = true;
  while (keep) {
    const game::Bytes rest{reinterpret_cast<const std::uint8_t*>(in_.data()) + inStart_, in_.size() - inStart_};
    const game::FrameSplit f = game::splitFrame(rest, game::kMaxServerFrame);
    if (f.status == game::FrameSplit::Status::NeedMore) break;
    if (f.status == game::FrameSplit::Status::Error) {
      st.problem(std::string("unframeable stream: ") + game::toString(f.error));
      return false;
    }
    st.framesReceived.fetch_add(1, std::memory_order_relaxed);
    keep = handle(f.type, f.payload, nowNs);
    inStart_ += f.frameBytes;
  }
  if (inStart_ == in_.size()) {
    in_.clear();
    inStart_ = 0;
  } else if (inStart_ > kCompactBytes) {
    in_.erase(0, inStart_);
    inStart_ = 0;
  }
  return keep;
}

bool Bot::handle(std::uint8_t type, game::Bytes payload, std::uint64_t nowNs) {
  BotStats& st = fleet_.stats();
  switch (static_cast<game::MessageType>(type)) {
    case game::MessageType::Welcome: {
      game::Welcome w;
      if (game::parseWelcome(payload, w) != game::ErrorCode::None || phase_ != Phase::LoggingIn) return true;
      onWelcome(w, nowNs);
      return true;
    }
    case game::MessageType::State: {
      st.statesReceived.fetch_add(1, std::memory_order_relaxed);
      if (game::parseState(payload, state_) != game::ErrorCode::None) return true;
      for (const game::Entry& e : state_.entries)
        if (e.playerId != playerId_) fleet_.observe(playerId_, e.playerId, e.x, e.y, nowNs);
      return true;
    }
    case game::MessageType::Pong: {
      game::Pong p;
      if (game::parsePong(payload, p) == game::ErrorCode::None && p.t <= nowNs) st.rttNs.record(nowNs - p.t);
      return true;
    }
    case game::MessageType::Kick: {
      st.kicksReceived.fetch_add(1);
      game::Kick k;
      if (game::parseKick(payload, k) == game::ErrorCode::None)
        st.problem("bot " + std::to_string(index_) + ": KICK " + game::toString(k.reason) + ": " + std::string(k.text));
      return false;
    }
    case game::MessageType::Error: {
      st.errorsReceived.fetch_add(1);
      game::ServerError e;
      if (game::parseServerError(payload, e) != game::ErrorCode::None) return false;
      st.problem("bot " + std::to_string(index_) + ": ERROR " + game::toString(e.code) + ": " + std::string(e.text));
      return e.code == game::ErrorCode::RateLimited;  // its first offences keep the connection
    }
    default:
      return true;  // LEAVE, CHAT, HIT, DEATH, NOTICE: nothing to measure
  }
}

void Bot::onWelcome(const game::Welcome& w, std::uint64_t nowNs) {
  BotStats& st = fleet_.stats();
  playerId_ = w.playerId;
  phase_ = Phase::Playing;
  st.connected.fetch_add(1);
  st.live.fetch_add(1);
  const BotsConfig& c = fleet_.config();
  worldMin_ = w.worldMin;
  worldMax_ = w.worldMax;
  const double span = w.worldMax - w.worldMin;
  const double aoi = w.aoiRadius > 0 ? w.aoiRadius : span;
  // A square around the centre with about kStartDensity bots per cell, at most the world.
  const double side = std::min(span, aoi * std::sqrt(static_cast<double>(c.count) / kStartDensity));
  const double centre = (w.worldMin + w.worldMax) / 2;
  x_ = floatInside(centre + (random01() - 0.5) * side, worldMin_, worldMax_);
  y_ = floatInside(centre + (random01() - 0.5) * side, worldMin_, worldMax_);
  heading_ = random01() * 2 * std::numbers::pi;
  step_ = aoi / 2 / c.rateHz;  // half a cell per second
  const auto period = static_cast<std::uint64_t>(1e9 / c.rateHz);
  nextMoveNs_ = nowNs + static_cast<std::uint64_t>(random01() * static_cast<double>(period));
  nextPingNs_ = nowNs + static_cast<std::uint64_t>(random01() * kPingIntervalNs);
  nextChatNs_ = c.chatEveryS > 0 ? nowNs + static_cast<std::uint64_t>(random01() * c.chatEveryS * 2e9) : kNever;
}

void Bot::sendMove(std::uint64_t nowNs) {
  heading_ += (random01() - 0.5);
  double nx = x_ + std::cos(heading_) * step_;
  double ny = y_ + std::sin(heading_) * step_;
  if (nx < worldMin_ || nx > worldMax_ || ny < worldMin_ || ny > worldMax_) heading_ += std::numbers::pi;
  float fx = floatInside(nx, worldMin_, worldMax_);
  const float fy = floatInside(ny, worldMin_, worldMax_);
  if (fx == x_ && fy == y_) fx = floatInside(static_cast<double>(std::nextafter(fx, fx > worldMin_ ? -1e30f : 1e30f)), worldMin_, worldMax_);
  x_ = fx;
  y_ = fy;
  if (!game::encode(out_, game::Move{fx, fy, ++seq_})) return;
  fleet_.moved(playerId_, fx, fy, nowNs);
  fleet_.stats().movesSent.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t Bot::tick(std::uint64_t nowNs) {
  if (phase_ != Phase::Playing) return kNever;
  const BotsConfig& c = fleet_.config();
  BotStats& st = fleet_.stats();
  const auto period = static_cast<std::uint64_t>(1e9 / c.rateHz);
  // The send buffer's bound: over it, what falls due is skipped (MOVEs counted as deferred).
  const bool full = pending().size() > c.sendLimitBytes;
  if (c.flood) {
    while (pending().size() <= c.sendLimitBytes) sendMove(nowNs);
    nextMoveNs_ = nowNs + kFloodRefillNs;
  } else if (nextMoveNs_ <= nowNs) {
    if (full) st.movesDeferred.fetch_add(1, std::memory_order_relaxed);
    else sendMove(nowNs);
    nextMoveNs_ += period;
    if (nextMoveNs_ <= nowNs) nextMoveNs_ = nowNs + period;  // late: no burst to catch up
  }
  if (nextPingNs_ <= nowNs) {
    if (!full) {
      (void)game::encode(out_, game::Ping{nowNs});
      st.pingsSent.fetch_add(1, std::memory_order_relaxed);
    }
    nextPingNs_ = nowNs + kPingIntervalNs;
  }
  if (nextChatNs_ <= nowNs) {
    const std::string text = "bot " + std::to_string(index_) + " says hi";
    if (!full && game::encode(out_, game::Chat{text})) st.chatsSent.fetch_add(1, std::memory_order_relaxed);
    nextChatNs_ = nowNs + static_cast<std::uint64_t>(-std::log(1 - random01()) * c.chatEveryS * 1e9) + 1;
  }
  return std::min({nextMoveNs_, nextPingNs_, nextChatNs_});
}

void Bot::finish() {
  if (phase_ == Phase::Playing) (void)game::encode(out_, game::Bye{});
  if (phase_ != Phase::Closed) phase_ = Phase::Leaving;
}

void Bot::consumed(std::size_t n) {
  sent_ += n;
  if (sent_ == out_.size()) {
    out_.clear();
    sent_ = 0;
  } else if (sent_ > kCompactBytes) {
    out_.erase(0, sent_);
    sent_ = 0;
  }
}

// --- BotFleet

BotFleet::BotFleet(BotsConfig config) : config_(std::move(config)), rings_(new MoveRing[config_.count]) {
  bots_.reserve(config_.count);
  for (std::uint32_t i = 0; i < config_.count; ++i) bots_.push_back(std::make_unique<Bot>(*this, i));
}

BotFleet::~BotFleet() = default;

BotFleet::MoveRing* BotFleet::ringOf(std::uint32_t playerId) noexcept {
  if (playerId < config_.firstPlayerId || playerId - config_.firstPlayerId >= config_.count) return nullptr;
  return &rings_[playerId - config_.firstPlayerId];
}

void BotFleet::moved(std::uint32_t playerId, float x, float y, std::uint64_t nowNs) {
  MoveRing* r = ringOf(playerId);
  if (r == nullptr) return;
  std::lock_guard lock(r->mu);
  MoveSlot& s = r->slots[r->next];
  if (s.sentNs != 0) r->unobserved.fetch_sub(1, std::memory_order_relaxed);
  s = MoveSlot{x, y, nowNs};
  r->next = (r->next + 1) % kMoveSlots;
  r->unobserved.fetch_add(1, std::memory_order_relaxed);
}

void BotFleet::observe(std::uint32_t, std::uint32_t playerId, float x, float y, std::uint64_t nowNs) {
  MoveRing* r = ringOf(playerId);
  if (r == nullptr || r->unobserved.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard lock(r->mu);
  for (MoveSlot& s : r->slots) {
    if (s.sentNs == 0 || s.x != x || s.y != y) continue;
    if (nowNs >= s.sentNs) stats_.moveObservedNs.record(nowNs - s.sentNs);
    s.sentNs = 0;
    r->unobserved.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
}

// --- runBots

BotsResult runBots(const BotsConfig& config, const BotsProgress& progress, std::stop_token stop) {
  BotsResult result;
  result.error = validate(config);
  if (!result.error.empty()) return result;
  BotFleet fleet(config);
  std::unique_ptr<BotDriver> driver = BotDriver::create(fleet);
  const std::uint64_t start = nowNs();
  result.error = driver->start();
  if (!result.error.empty()) return result;
  const std::uint64_t end = start + static_cast<std::uint64_t>(config.durationS * 1e9);
  std::mutex mu;
  std::condition_variable_any cv;
  const auto elapsed = [&] { return static_cast<double>(nowNs() - start) / 1e9; };
  for (std::uint64_t next = start + 1'000'000'000;; next += 1'000'000'000) {
    const std::uint64_t until = std::min(next, end);
    std::unique_lock lock(mu);
    if (cv.wait_until(lock, stop, fromNs(until), [] { return false; }) || stop.stop_requested()) break;
    lock.unlock();
    if (until >= end) break;
    const BotStats& st = fleet.stats();
    if (st.failed.load() + st.dropped.load() == config.count) break;  // nobody left to run
    if (progress) progress(st.summary(elapsed(), config.count));
  }
  const double ranS = elapsed();
  driver->finish(kLingerMs);
  result.ok = true;
  result.summary = fleet.stats().summary(ranS, config.count);
  return result;
}

}  // namespace gamesrv
