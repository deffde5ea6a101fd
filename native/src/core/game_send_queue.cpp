// GameSessions' outbound side (see gamesrv/game_sessions.hpp): frames of shared buffers,
// the byte-bounded send queue with its droppable frames, kicks and ERROR-and-close, and
// what the listener writes (gather/wrote). Locks: as game_sessions.cpp says.
#include <algorithm>
#include <cstring>

#include "gamesrv/game_sessions.hpp"

namespace gamesrv {
namespace {

void putU16(std::byte* p, std::uint16_t v) {
  p[0] = std::byte(v & 0xff);
  p[1] = std::byte(v >> 8);
}
void putU32(std::byte* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::byte((v >> (8 * i)) & 0xff);
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
  // The blocks' vector becomes the frame's parts (no second vector a frame): the header
  // goes in front, empty blocks go.
  std::erase_if(blocks, [](const GameBuffer& b) { return b.len == 0; });
  blocks.insert(blocks.begin(), GameBuffer{buf, buf.get(), game_wire::kLengthBytes + 1 + head.size()});
  f.parts_ = std::move(blocks);
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

// --- outbound ----------------------------------------------------------------------

void GameSessions::enqueueLocked(GameSession& s, GameFrame frame, bool droppable) {
  const std::size_t n = frame.bytes();
  if (s.queue.empty()) {
    if (!s.emptiedByDrops) s.waitingSinceNs = steadyNs(SteadyClock::now());
    s.emptiedByDrops = false;
  }
  s.queuedBytes += n;
  queuedTotal_.fetch_add(n, std::memory_order_relaxed);
  s.queue.push_back(GameSession::Queued{std::move(frame), droppable});
  if (droppable) s.queuedDroppable.store(s.queuedDroppable.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
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
  if (dropped > 0 && s.queue.empty()) s.emptiedByDrops = true;
  if (dropped > 0) s.queuedDroppable.store(s.queuedDroppable.load(std::memory_order_relaxed) - static_cast<std::uint32_t>(dropped), std::memory_order_relaxed);
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
  const auto s = find(id);
  return s && send(*s, std::move(frame), droppable);
}

bool GameSessions::send(GameSession& session, GameFrame frame, bool droppable) {
  if (frame.bytes() <= game_wire::kLengthBytes || frame.bytes() > game_wire::kLengthBytes + game_wire::kMaxServerFrame)
    return false;
  GameSession* const s = &session;
  const std::uint32_t id = s->id;
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
  return s ? dropStates(*s) : 0;
}

std::size_t GameSessions::dropStates(GameSession& session) {
  GameSession* const s = &session;
  // Nothing droppable queued (the common case: the last STATE was written): no lock.
  if (s->queuedDroppable.load(std::memory_order_relaxed) == 0) return 0;
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

bool GameSessions::pauseReading(std::uint32_t id) {
  const auto s = find(id);
  if (!s) return false;
  s->readPaused.store(true, std::memory_order_release);
  return true;
}

bool GameSessions::resumeReading(std::uint32_t id) {
  const auto s = find(id);
  if (!s) return false;
  if (s->readPaused.exchange(false, std::memory_order_acq_rel)) {
    std::lock_guard lock(ioMu_);
    if (io_ != nullptr) io_->wakeRead(*s);  // what arrived meanwhile raised no new edge
  }
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
  if (n > 0) {
    s.waitingSinceNs = steadyNs(SteadyClock::now());  // progress: the stall clock restarts
    s.emptiedByDrops = false;
  }
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
    if (front.droppable) s.queuedDroppable.store(s.queuedDroppable.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
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

}  // namespace gamesrv
