// GameSessions: see gamesrv/game_sessions.hpp. This file: the table, admission, the
// inbound side (framing, the token bucket), timers and reports; the outbound side (frames,
// send queues, kicks) is game_send_queue.cpp. Lock order: tableMu_ is never held while a
// session's outMu is taken, nor the other way round; ioMu_ is taken last (around the
// listener's wake(), which only posts to the completion port). The handler is called
// with none of them held.
#include "gamesrv/game_sessions.hpp"

#include <algorithm>

namespace gamesrv {
namespace {

std::uint32_t getU32(const std::byte* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(std::to_integer<std::uint8_t>(p[i])) << (8 * i);
  return v;
}


}  // namespace

GameSessions::GameSessions(GameSessionsConfig config, GameSessionHandler& handler)
    : config_(std::move(config)), handler_(handler) {}

void GameSessions::attach(Io* io) {
  std::lock_guard lock(ioMu_);
  io_ = io;
}

namespace {
thread_local GameSessions::WakeBatch* tlWakeBatch = nullptr;
}

GameSessions::WakeBatch::WakeBatch(GameSessions& sessions) : sessions_(sessions) { tlWakeBatch = this; }

GameSessions::WakeBatch::~WakeBatch() {
  tlWakeBatch = nullptr;
  if (!ids_.empty()) sessions_.wakeBatch(ids_);
}

void GameSessions::wakeIo(GameSession& s) {
  if (tlWakeBatch != nullptr && &tlWakeBatch->sessions_ == this) {
    tlWakeBatch->ids_.push_back(s.id);
    return;
  }
  std::lock_guard lock(ioMu_);
  if (io_ != nullptr) io_->wake(s);
}

void GameSessions::wakeBatch(std::span<const std::uint32_t> ids) {
  {
    std::lock_guard lock(ioMu_);
    if (io_ == nullptr || io_->wakeMany(ids)) return;
  }
  for (const std::uint32_t id : ids) {
    const auto s = find(id);
    if (!s) continue;
    std::lock_guard lock(ioMu_);
    if (io_ != nullptr) io_->wake(*s);
  }
}

std::shared_ptr<GameSession> GameSessions::find(std::uint32_t id) const {
  std::lock_guard lock(tableMu_);
  const auto it = table_.find(id);
  return it == table_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<GameSession>> GameSessions::snapshot() const {
  std::lock_guard lock(tableMu_);
  std::vector<std::shared_ptr<GameSession>> all;
  all.reserve(table_.size());
  for (const auto& [id, s] : table_) all.push_back(s);
  return all;
}

std::size_t GameSessions::count() const {
  std::lock_guard lock(tableMu_);
  return table_.size();
}

GameSessions::Admission GameSessions::admit(const std::shared_ptr<GameSession>& s, std::string remote) {
  if (!accepting_.load(std::memory_order_acquire)) {
    counters_.refused();
    return Admission::Draining;
  }
  if (!counters_.tryAdmit(config_.maxSessions)) {
    counters_.refused();
    return Admission::ServerFull;
  }
  s->id = nextId_.fetch_add(1, std::memory_order_relaxed);
  s->remote = std::move(remote);
  s->connectedAtUnixMs = unixMs();
  s->connectedAt = SteadyClock::now();
  s->lastInputNs.store(steadyNs(s->connectedAt), std::memory_order_relaxed);
  s->tokens = config_.messageBurst;
  s->refilledAt = s->connectedAt;
  {
    std::lock_guard lock(tableMu_);
    table_.emplace(s->id, s);
  }
  if (handler_.onOpen(s->id, s->remote)) return Admission::Accepted;
  {
    std::lock_guard lock(tableMu_);
    table_.erase(s->id);
  }
  s->finished.store(true, std::memory_order_release);
  counters_.closed(false);
  counters_.refused();
  return Admission::Refused;
}

GameFrame GameSessions::refusal(Admission a) {
  switch (a) {
    case Admission::ServerFull: return GameFrame::error(game_wire::ErrorCode::ServerFull, "server full");
    case Admission::Draining: return GameFrame::error(game_wire::ErrorCode::Draining, "server draining");
    default: return {};
  }
}

void GameSessions::finish(GameSession& s, GameCloseInfo why) {
  if (s.finished.exchange(true, std::memory_order_acq_rel)) return;
  s.state.store(GameSessionState::Closing, std::memory_order_release);
  std::shared_ptr<GameSession> owned;  // the caller holds another: freed after it returns
  {
    std::lock_guard lock(tableMu_);
    const auto it = table_.find(s.id);
    if (it != table_.end()) {
      owned = std::move(it->second);
      table_.erase(it);
    }
  }
  {
    std::lock_guard lock(s.outMu);
    queuedTotal_.fetch_sub(s.queuedBytes, std::memory_order_relaxed);
    s.queue.clear();
    s.queuedDroppable.store(0, std::memory_order_relaxed);
    s.queuedBytes = 0;
    s.gathered = 0;
    s.closeInfo = why;
  }
  std::vector<std::byte>().swap(s.inbound);
  counters_.closed(why.kind == GameCloseKind::IoError);
  closes_[static_cast<std::size_t>(why.kind)].fetch_add(1, std::memory_order_relaxed);
  handler_.onClose(s.id, why);
}

// --- inbound -----------------------------------------------------------------------

void GameSessions::received(GameSession& s, std::span<const std::byte> data) {
  if (s.state.load(std::memory_order_acquire) == GameSessionState::Closing) return;
  const TimePoint now = SteadyClock::now();
  s.lastInputNs.store(steadyNs(now), std::memory_order_relaxed);
  s.bytesIn.fetch_add(data.size(), std::memory_order_relaxed);
  constexpr std::size_t H = game_wire::kLengthBytes;
  auto take = [&](std::size_t n) {
    s.inbound.insert(s.inbound.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    data = data.subspan(n);
  };
  auto lengthOk = [&](std::uint32_t length) {
    if (length == 0) {
      error(s, game_wire::ErrorCode::BadFrame, "frame length 0", true);
      return false;
    }
    if (length > config_.maxClientFrame) {
      error(s, game_wire::ErrorCode::FrameTooLong, "frame longer than " + std::to_string(config_.maxClientFrame), true);
      return false;
    }
    return true;
  };
  while (!data.empty() && s.state.load(std::memory_order_acquire) != GameSessionState::Closing) {
    if (!s.inbound.empty()) {  // finish the frame begun by an earlier read
      if (s.inbound.size() < H) {
        take(std::min(H - s.inbound.size(), data.size()));
        if (s.inbound.size() < H) break;
        if (!lengthOk(getU32(s.inbound.data()))) break;
      }
      const std::size_t whole = H + getU32(s.inbound.data());
      take(std::min(whole - s.inbound.size(), data.size()));
      if (s.inbound.size() < whole) break;
      std::vector<std::byte> done;
      done.swap(s.inbound);  // a session between frames holds no buffer
      frame(s, std::span(done).subspan(H), now);
      continue;
    }
    if (data.size() < H) {
      take(data.size());
      break;
    }
    const std::uint32_t length = getU32(data.data());
    if (!lengthOk(length)) break;
    if (data.size() < H + length) {
      s.inbound.reserve(H + length);
      take(data.size());
      break;
    }
    frame(s, data.subspan(H, length), now);
    data = data.subspan(H + length);
  }
  if (s.state.load(std::memory_order_acquire) == GameSessionState::Closing) std::vector<std::byte>().swap(s.inbound);
}

bool GameSessions::rateAllows(GameSession& s, TimePoint now) {
  const double seconds = std::chrono::duration<double>(now - s.refilledAt).count();
  s.refilledAt = now;
  s.tokens = std::min(config_.messageBurst, s.tokens + seconds * config_.messageRate);
  if (s.tokens >= 1) {
    s.tokens -= 1;
    return true;
  }
  return false;
}

void GameSessions::frame(GameSession& s, std::span<const std::byte> bytes, TimePoint now) {
  s.framesIn.fetch_add(1, std::memory_order_relaxed);
  counters_.frameIn(game_wire::kLengthBytes + bytes.size());
  if (!rateAllows(s, now)) {
    rateLimited_.fetch_add(1, std::memory_order_relaxed);
    if (++s.offences >= config_.rateOffencesToKick) {
      kickSession(s, game_wire::KickReason::RateLimited, "too many messages");
    } else {
      error(s, game_wire::ErrorCode::RateLimited, "message rate over the limit", false);
    }
    return;
  }
  handler_.onFrame(s, std::to_integer<std::uint8_t>(bytes[0]), bytes.subspan(1));
}

// --- timers and reports --------------------------------------------------------------

std::chrono::milliseconds GameSessions::sweepInterval() const noexcept {
  auto shortest = std::min(config_.helloTimeout, config_.closeGrace);
  if (config_.idleTimeout.count() > 0) shortest = std::min(shortest, config_.idleTimeout);
  if (config_.sendStallTimeout.count() > 0) shortest = std::min(shortest, config_.sendStallTimeout);
  return std::clamp(shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
}

void GameSessions::sweep(TimePoint now) {
  const std::int64_t nowNs = steadyNs(now);
  for (const auto& s : snapshot()) {
    switch (s->state.load(std::memory_order_acquire)) {
      case GameSessionState::AwaitingHello:
        if (now - s->connectedAt >= config_.helloTimeout) error(*s, game_wire::ErrorCode::HelloTimeout, "no HELLO in time", true);
        break;
      case GameSessionState::Live: {
        if (config_.idleTimeout.count() > 0 &&
            nowNs - s->lastInputNs.load(std::memory_order_relaxed) >= Nanos(config_.idleTimeout).count()) {
          kickSession(*s, game_wire::KickReason::Idle, "idle");
          break;
        }
        bool stalled = false;
        if (config_.sendStallTimeout.count() > 0) {
          std::lock_guard lock(s->outMu);
          stalled = !s->queue.empty() && nowNs - s->waitingSinceNs >= Nanos(config_.sendStallTimeout).count();
        }
        if (stalled) kickSession(*s, game_wire::KickReason::TooSlow, "not reading: nothing written for too long");
        break;
      }
      case GameSessionState::Closing:
        if (closeDue(*s, now)) wakeIo(*s);
        break;
    }
  }
}

std::vector<GameSessionInfo> GameSessions::sessions(std::size_t offset, std::size_t limit) const {
  std::vector<std::shared_ptr<GameSession>> page;
  {
    std::lock_guard lock(tableMu_);
    auto it = table_.begin();
    std::advance(it, std::min(offset, table_.size()));
    for (; it != table_.end() && page.size() < limit; ++it) page.push_back(it->second);
  }
  std::vector<GameSessionInfo> out;
  out.reserve(page.size());
  for (const auto& s : page) {
    GameSessionInfo i;
    i.id = s->id;
    i.remote = s->remote;
    i.connectedAtUnixMs = s->connectedAtUnixMs;
    i.bytesIn = s->bytesIn.load(std::memory_order_relaxed);
    i.bytesOut = s->bytesOut.load(std::memory_order_relaxed);
    i.framesIn = s->framesIn.load(std::memory_order_relaxed);
    i.framesOut = s->framesOut.load(std::memory_order_relaxed);
    i.droppedStates = s->droppedStates.load(std::memory_order_relaxed);
    i.state = s->state.load(std::memory_order_acquire);
    i.rttUs = s->rttUs();
    {
      std::lock_guard lock(s->outMu);
      i.sendQueueBytes = s->queuedBytes;
    }
    out.push_back(std::move(i));
  }
  return out;
}

GameSessionStats GameSessions::stats() const {
  GameSessionStats st;
  st.connections = counters_.read();
  for (std::size_t i = 0; i < closes_.size(); ++i) st.closesByKind[i] = closes_[i].load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < errors_.size(); ++i) st.errorsSent[i] = errors_[i].load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kicks_.size(); ++i) st.kicksSent[i] = kicks_[i].load(std::memory_order_relaxed);
  st.droppedStates = dropped_.load(std::memory_order_relaxed);
  st.rateLimited = rateLimited_.load(std::memory_order_relaxed);
  st.sendQueueBytes = queuedTotal_.load(std::memory_order_relaxed);
  st.sendQueueBytesAtSend = queueAtSend_.summary();
  st.accepting = accepting_.load(std::memory_order_acquire);
  return st;
}

}  // namespace gamesrv
