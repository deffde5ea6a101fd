// GameSessions: see gamesrv/game_sessions.hpp. Lock order: tableMu_ is never held while
// a session's outMu is taken, nor the other way round; ioMu_ is taken last (around the
// listener's wake(), which only posts to the completion port). The handler is called
// with none of them held.
#include "gamesrv/game_sessions.hpp"

#include <algorithm>
#include <cstring>

namespace gamesrv {
namespace {

void putU16(std::byte* p, std::uint16_t v) {
  p[0] = std::byte(v & 0xff);
  p[1] = std::byte(v >> 8);
}
void putU32(std::byte* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::byte((v >> (8 * i)) & 0xff);
}
std::uint32_t getU32(const std::byte* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(std::to_integer<std::uint8_t>(p[i])) << (8 * i);
  return v;
}

std::shared_ptr<std::byte[]> header(std::uint8_t type, std::size_t frameLength, std::span<const std::byte> head) {
  auto buf = std::make_shared_for_overwrite<std::byte[]>(game_wire::kLengthBytes + 1 + head.size());
  putU32(buf.get(), static_cast<std::uint32_t>(frameLength));
  buf[game_wire::kLengthBytes] = std::byte(type);
  if (!head.empty()) std::memcpy(buf.get() + game_wire::kLengthBytes + 1, head.data(), head.size());
  return buf;
}

// ERROR and KICK: a code, a u16 length and UTF-8 text (cut to fit a u16).
GameFrame withText(std::uint8_t type, std::span<const std::byte> code, std::string_view text) {
  const std::size_t n = std::min<std::size_t>(text.size(), 0xffff);
  std::vector<std::byte> payload(code.size() + 2 + n);
  std::memcpy(payload.data(), code.data(), code.size());
  putU16(payload.data() + code.size(), static_cast<std::uint16_t>(n));
  std::memcpy(payload.data() + code.size() + 2, text.data(), n);
  return GameFrame::copyOf(type, payload);
}

std::int64_t steadyNs(TimePoint t) { return std::chrono::duration_cast<Nanos>(t.time_since_epoch()).count(); }

}  // namespace

GameFrame GameFrame::copyOf(std::uint8_t type, std::span<const std::byte> payload) {
  GameFrame f;
  auto buf = header(type, 1 + payload.size(), payload);
  f.bytes_ = game_wire::kLengthBytes + 1 + payload.size();
  f.parts_.push_back(GameBuffer{buf, buf.get(), f.bytes_});
  return f;
}

GameFrame GameFrame::gather(std::uint8_t type, std::span<const std::byte> head, std::vector<GameBuffer> blocks) {
  std::size_t length = 1 + head.size();
  for (const GameBuffer& b : blocks) length += b.len;
  GameFrame f;
  auto buf = header(type, length, head);
  f.parts_.reserve(1 + blocks.size());
  f.parts_.push_back(GameBuffer{buf, buf.get(), game_wire::kLengthBytes + 1 + head.size()});
  for (GameBuffer& b : blocks)
    if (b.len > 0) f.parts_.push_back(std::move(b));
  f.bytes_ = game_wire::kLengthBytes + length;
  return f;
}

GameFrame GameFrame::error(game_wire::ErrorCode code, std::string_view text) {
  std::byte c[2];
  putU16(c, static_cast<std::uint16_t>(code));
  return withText(game_wire::kTypeError, c, text);
}

GameFrame GameFrame::kick(game_wire::KickReason reason, std::string_view text) {
  const std::byte r[1] = {std::byte(static_cast<std::uint8_t>(reason))};
  return withText(game_wire::kTypeKick, r, text);
}

GameSessions::GameSessions(GameSessionsConfig config, GameSessionHandler& handler)
    : config_(std::move(config)), handler_(handler) {}

void GameSessions::attach(Io* io) {
  std::lock_guard lock(ioMu_);
  io_ = io;
}

void GameSessions::wakeIo(GameSession& s) {
  std::lock_guard lock(ioMu_);
  if (io_ != nullptr) io_->wake(s);
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
  s.lastInputNs.store(steadyNs(SteadyClock::now()), std::memory_order_relaxed);
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
      frame(s, std::span(done).subspan(H));
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
    frame(s, data.subspan(H, length));
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

void GameSessions::frame(GameSession& s, std::span<const std::byte> bytes) {
  s.framesIn.fetch_add(1, std::memory_order_relaxed);
  counters_.frameIn(game_wire::kLengthBytes + bytes.size());
  if (!rateAllows(s, SteadyClock::now())) {
    rateLimited_.fetch_add(1, std::memory_order_relaxed);
    if (++s.offences >= config_.rateOffencesToKick) {
      kickSession(s, game_wire::KickReason::RateLimited, "too many messages");
    } else {
      error(s, game_wire::ErrorCode::RateLimited, "message rate over the limit", false);
    }
    return;
  }
  handler_.onFrame(s.id, std::to_integer<std::uint8_t>(bytes[0]), bytes.subspan(1));
}

// --- outbound ----------------------------------------------------------------------

void GameSessions::enqueueLocked(GameSession& s, GameFrame frame, bool droppable) {
  const std::size_t n = frame.bytes();
  s.queuedBytes += n;
  queuedTotal_.fetch_add(n, std::memory_order_relaxed);
  s.queue.push_back(GameSession::Queued{std::move(frame), droppable});
  queueAtSend_.record(s.queuedBytes);
}

bool GameSessions::scheduleLocked(GameSession& s) {
  if (s.flushScheduled) return false;
  s.flushScheduled = true;
  return true;
}

std::size_t GameSessions::dropStatesLocked(GameSession& s) {
  std::size_t dropped = 0;
  const std::size_t keep = std::max<std::size_t>(s.gathered, (s.frontPart > 0 || s.partOffset > 0) ? 1 : 0);
  auto first = s.queue.begin() + static_cast<std::ptrdiff_t>(std::min(keep, s.queue.size()));
  auto out = first;
  for (auto it = first; it != s.queue.end(); ++it) {
    if (it->droppable) {
      s.queuedBytes -= it->frame.bytes();
      queuedTotal_.fetch_sub(it->frame.bytes(), std::memory_order_relaxed);
      ++dropped;
    } else {
      if (out != it) *out = std::move(*it);
      ++out;
    }
  }
  s.queue.erase(out, s.queue.end());
  return dropped;
}

bool GameSessions::closeWithLocked(GameSession& s, GameFrame last, GameCloseInfo why, TimePoint closeAt) {
  if (s.state.load(std::memory_order_acquire) == GameSessionState::Closing) return false;
  s.state.store(GameSessionState::Closing, std::memory_order_release);
  s.closeInfo = why;
  s.closeAt = closeAt;
  if (last.bytes() > 0) enqueueLocked(s, std::move(last), false);
  return true;
}

void GameSessions::closeWith(GameSession& s, GameFrame last, GameCloseInfo why) {
  bool wake;
  {
    std::lock_guard lock(s.outMu);
    if (!closeWithLocked(s, std::move(last), why, SteadyClock::now() + config_.closeGrace)) return;
    wake = true;
    s.flushScheduled = true;
  }
  if (why.kind == GameCloseKind::Kick) kicks_[why.code % kicks_.size()].fetch_add(1, std::memory_order_relaxed);
  if (why.kind == GameCloseKind::Error) errors_[why.code % errors_.size()].fetch_add(1, std::memory_order_relaxed);
  if (wake) wakeIo(s);
}

void GameSessions::error(GameSession& s, game_wire::ErrorCode code, std::string_view text, bool close) {
  const auto c = static_cast<std::uint16_t>(code);
  if (close) return closeWith(s, GameFrame::error(code, text), GameCloseInfo{GameCloseKind::Error, c});
  errors_[c % errors_.size()].fetch_add(1, std::memory_order_relaxed);
  bool wake;
  {
    std::lock_guard lock(s.outMu);
    if (s.state.load(std::memory_order_acquire) == GameSessionState::Closing) return;
    enqueueLocked(s, GameFrame::error(code, text), false);
    wake = scheduleLocked(s);
  }
  if (wake) wakeIo(s);
}

void GameSessions::kickSession(GameSession& s, game_wire::KickReason reason, std::string_view text) {
  closeWith(s, GameFrame::kick(reason, text), GameCloseInfo{GameCloseKind::Kick, static_cast<std::uint16_t>(reason)});
}

bool GameSessions::send(std::uint32_t id, GameFrame frame, bool droppable) {
  if (frame.bytes() <= game_wire::kLengthBytes || frame.bytes() > game_wire::kLengthBytes + game_wire::kMaxServerFrame)
    return false;
  const auto s = find(id);
  if (!s) return false;
  bool wake = false, tooSlow = false;
  std::size_t dropped = 0;
  {
    std::lock_guard lock(s->outMu);
    if (s->state.load(std::memory_order_acquire) == GameSessionState::Closing) return false;
    if (droppable && s->queuedBytes + frame.bytes() > config_.sendSoftLimit) dropped = dropStatesLocked(*s);
    if (s->queuedBytes + frame.bytes() > config_.sendHardLimit) {
      tooSlow = true;
    } else {
      enqueueLocked(*s, std::move(frame), droppable);
      wake = scheduleLocked(*s);
    }
  }
  if (dropped > 0) {
    s->droppedStates.fetch_add(dropped, std::memory_order_relaxed);
    dropped_.fetch_add(dropped, std::memory_order_relaxed);
    handler_.onStateDropped(id);
  }
  if (tooSlow) {
    kickSession(*s, game_wire::KickReason::TooSlow, "send queue over its limit");
    return false;
  }
  if (wake) wakeIo(*s);
  return true;
}

std::size_t GameSessions::dropStates(std::uint32_t id) {
  const auto s = find(id);
  if (!s) return 0;
  std::size_t dropped = 0;
  {
    std::lock_guard lock(s->outMu);
    dropped = dropStatesLocked(*s);
  }
  if (dropped > 0) {
    s->droppedStates.fetch_add(dropped, std::memory_order_relaxed);
    dropped_.fetch_add(dropped, std::memory_order_relaxed);
  }
  return dropped;
}

std::size_t GameSessions::broadcast(const GameFrame& frame, bool droppable) {
  std::size_t n = 0;
  for (const auto& s : snapshot())
    if (send(s->id, frame, droppable)) ++n;
  return n;
}

bool GameSessions::kick(std::uint32_t id, game_wire::KickReason reason, std::string_view text) {
  const auto s = find(id);
  if (!s || s->state.load(std::memory_order_acquire) == GameSessionState::Closing) return false;
  kickSession(*s, reason, text);
  return true;
}

bool GameSessions::close(std::uint32_t id) {
  const auto s = find(id);
  if (!s) return false;
  {
    std::lock_guard lock(s->outMu);
    if (!closeWithLocked(*s, GameFrame{}, GameCloseInfo{GameCloseKind::Closed, 0}, SteadyClock::now())) return false;
    s->flushScheduled = true;
  }
  wakeIo(*s);
  return true;
}

bool GameSessions::markLive(std::uint32_t id) {
  const auto s = find(id);
  if (!s) return false;
  auto expected = GameSessionState::AwaitingHello;
  return s->state.compare_exchange_strong(expected, GameSessionState::Live, std::memory_order_acq_rel);
}

std::size_t GameSessions::gather(GameSession& s, std::span<GameIoSlice> out) {
  std::lock_guard lock(s.outMu);
  std::size_t n = 0, frames = 0;
  std::size_t part = s.frontPart, offset = s.partOffset;
  for (auto it = s.queue.begin(); it != s.queue.end() && n < out.size(); ++it, ++frames) {
    const auto& parts = it->frame.parts();
    for (; part < parts.size() && n < out.size(); ++part, offset = 0)
      out[n++] = GameIoSlice{parts[part].data + offset, parts[part].len - offset};
    part = 0;
  }
  s.gathered = frames;
  if (n == 0) s.flushScheduled = false;
  return n;
}

void GameSessions::wrote(GameSession& s, std::size_t n) {
  s.bytesOut.fetch_add(n, std::memory_order_relaxed);
  std::lock_guard lock(s.outMu);
  s.gathered = 0;
  while (n > 0 && !s.queue.empty()) {
    GameSession::Queued& front = s.queue.front();
    const auto& parts = front.frame.parts();
    const std::size_t left = parts[s.frontPart].len - s.partOffset;
    if (n < left) {
      s.partOffset += n;
      break;
    }
    n -= left;
    s.partOffset = 0;
    if (++s.frontPart < parts.size()) continue;
    const std::size_t bytes = front.frame.bytes();
    s.frontPart = 0;
    s.queuedBytes -= bytes;
    queuedTotal_.fetch_sub(bytes, std::memory_order_relaxed);
    s.framesOut.fetch_add(1, std::memory_order_relaxed);
    counters_.frameOut(bytes);
    s.queue.pop_front();
  }
}

bool GameSessions::closeDue(GameSession& s, TimePoint now) {
  std::lock_guard lock(s.outMu);
  return s.state.load(std::memory_order_acquire) == GameSessionState::Closing && (s.queue.empty() || now >= s.closeAt);
}

GameCloseInfo GameSessions::closeInfo(GameSession& s) {
  std::lock_guard lock(s.outMu);
  return s.closeInfo;
}

GameFrame GameSessions::farewell(GameSession& s) {
  {
    std::lock_guard lock(s.outMu);
    if (s.frontPart > 0 || s.partOffset > 0) return {};
  }
  kicks_[static_cast<std::size_t>(game_wire::KickReason::Shutdown)].fetch_add(1, std::memory_order_relaxed);
  return GameFrame::kick(game_wire::KickReason::Shutdown, "server shutting down");
}

// --- timers and reports --------------------------------------------------------------

std::chrono::milliseconds GameSessions::sweepInterval() const noexcept {
  auto shortest = std::min(config_.helloTimeout, config_.closeGrace);
  if (config_.idleTimeout.count() > 0) shortest = std::min(shortest, config_.idleTimeout);
  return std::clamp(shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
}

void GameSessions::sweep(TimePoint now) {
  const std::int64_t nowNs = steadyNs(now);
  for (const auto& s : snapshot()) {
    switch (s->state.load(std::memory_order_acquire)) {
      case GameSessionState::AwaitingHello:
        if (now - s->connectedAt >= config_.helloTimeout) error(*s, game_wire::ErrorCode::HelloTimeout, "no HELLO in time", true);
        break;
      case GameSessionState::Live:
        if (config_.idleTimeout.count() > 0 &&
            nowNs - s->lastInputNs.load(std::memory_order_relaxed) >= Nanos(config_.idleTimeout).count())
          kickSession(*s, game_wire::KickReason::Idle, "idle");
        break;
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
