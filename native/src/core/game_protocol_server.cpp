// Server -> client messages: the encoders the server uses and the parsers clients (tests,
// the bots) use. STATE is special: its frame header is encoded apart from its CELL blocks,
// which are serialized once per replication tick and shared by every session that sees them.
#include "game_protocol_bytes.hpp"
#include "gamesrv/game_protocol.hpp"
#include "gamesrv/utf8.hpp"

namespace gamesrv::game {

using detail::Reader;
using detail::Writer;

namespace {

bool encodeText(std::string& out, MessageType type, std::size_t fixedBytes, std::string_view text,
                Writer& w) {
  if (text.size() > 0xFFFF) return false;
  return detail::beginFrame(out, type, fixedBytes + text.size(), kMaxServerFrame, w);
}

// u16 len, len bytes of valid UTF-8, nothing after.
ErrorCode readText(Reader& r, std::string_view& out) noexcept {
  const std::uint16_t len = r.u16();
  const std::string_view text = r.text(len);
  if (!r.done()) return ErrorCode::BadPayload;
  if (!isValidUtf8(text)) return ErrorCode::BadUtf8;
  out = text;
  return ErrorCode::None;
}

}  // namespace

bool encodeStateHeader(std::string& out, const StateHeader& h, std::size_t cellBytes) {
  if (cellBytes >= kMaxServerFrame - kStateHeaderBytes) return false;  // length <= kMaxServerFrame
  const std::size_t at = out.size();
  out.resize(at + kFrameHeaderBytes + kStateHeaderBytes);  // the cells follow in buffers of their own
  Writer w(out.data() + at);
  w.u32(static_cast<std::uint32_t>(1 + kStateHeaderBytes + cellBytes));
  w.u8(static_cast<std::uint8_t>(MessageType::State));
  w.u64(h.tick);
  w.u32(h.lastClientSeq);
  w.u16(h.cellCount);
  return true;
}

bool encodeCell(std::string& out, std::int32_t cx, std::int32_t cy, std::span<const Entry> entries) {
  if (entries.size() > 0xFFFF) return false;
  const std::size_t at = out.size();
  out.resize(at + cellBlockBytes(entries.size()));
  Writer w(out.data() + at);
  w.i32(cx);
  w.i32(cy);
  w.u16(static_cast<std::uint16_t>(entries.size()));
  for (const Entry& e : entries) {
    w.u32(e.playerId);
    w.f32(e.x);
    w.f32(e.y);
    w.i32(e.hp);
  }
  return true;
}

bool encode(std::string& out, const State& m) {
  if (m.cells.size() > 0xFFFF) return false;
  std::string cells;
  for (const CellRef& c : m.cells) {
    if (c.first > m.entries.size() || c.count > m.entries.size() - c.first) return false;
    if (!encodeCell(cells, c.cx, c.cy, std::span<const Entry>(m.entries).subspan(c.first, c.count))) return false;
  }
  StateHeader h = m.header;
  h.cellCount = static_cast<std::uint16_t>(m.cells.size());
  if (!encodeStateHeader(out, h, cells.size())) return false;
  out += cells;
  return true;
}

bool encode(std::string& out, const Welcome& m) {
  Writer w(nullptr);
  if (!detail::beginFrame(out, MessageType::Welcome, kWelcomeBytes, kMaxServerFrame, w)) return false;
  w.u32(m.sessionId);
  w.u32(m.playerId);
  w.u16(m.tickRateHz);
  w.u16(m.replicationHz);
  w.f64(m.worldMin);
  w.f64(m.worldMax);
  w.f64(m.aoiRadius);
  return true;
}

bool encode(std::string& out, const Leave& m) {
  if (m.playerIds.size() > 0xFFFF) return false;
  Writer w(nullptr);
  if (!detail::beginFrame(out, MessageType::Leave, kLeaveFixedBytes + 4 * m.playerIds.size(), kMaxServerFrame, w))
    return false;
  w.u16(static_cast<std::uint16_t>(m.playerIds.size()));
  for (std::uint32_t id : m.playerIds) w.u32(id);
  return true;
}

bool encode(std::string& out, const ServerChat& m) {
  Writer w(nullptr);
  if (!encodeText(out, MessageType::ServerChat, kServerChatFixedBytes, m.text, w)) return false;
  w.u32(m.fromPlayerId);
  w.u16(static_cast<std::uint16_t>(m.text.size()));
  w.bytes(m.text);
  return true;
}

bool encode(std::string& out, const Hit& m) {
  Writer w(nullptr);
  if (!detail::beginFrame(out, MessageType::Hit, kHitBytes, kMaxServerFrame, w)) return false;
  w.u32(m.attacker);
  w.u32(m.target);
  w.i32(m.damage);
  w.i32(m.hpAfter);
  return true;
}

bool encode(std::string& out, const Death& m) {
  Writer w(nullptr);
  if (!detail::beginFrame(out, MessageType::Death, kDeathBytes, kMaxServerFrame, w)) return false;
  w.u32(m.killer);
  w.u32(m.victim);
  return true;
}

bool encode(std::string& out, const Pong& m) {
  Writer w(nullptr);
  if (!detail::beginFrame(out, MessageType::Pong, kPongBytes, kMaxServerFrame, w)) return false;
  w.u64(m.t);
  w.u64(m.serverTimeUs);
  return true;
}

bool encode(std::string& out, const Notice& m) {
  Writer w(nullptr);
  if (!encodeText(out, MessageType::Notice, kNoticeFixedBytes, m.text, w)) return false;
  w.u16(static_cast<std::uint16_t>(m.text.size()));
  w.bytes(m.text);
  return true;
}

bool encode(std::string& out, const Kick& m) {
  Writer w(nullptr);
  if (!encodeText(out, MessageType::Kick, kKickFixedBytes, m.text, w)) return false;
  w.u8(static_cast<std::uint8_t>(m.reason));
  w.u16(static_cast<std::uint16_t>(m.text.size()));
  w.bytes(m.text);
  return true;
}

bool encode(std::string& out, const ServerError& m) {
  Writer w(nullptr);
  if (!encodeText(out, MessageType::Error, kErrorFixedBytes, m.text, w)) return false;
  w.u16(static_cast<std::uint16_t>(m.code));
  w.u16(static_cast<std::uint16_t>(m.text.size()));
  w.bytes(m.text);
  return true;
}

ErrorCode parseWelcome(Bytes payload, Welcome& out) noexcept {
  Reader r(payload);
  Welcome m;
  m.sessionId = r.u32();
  m.playerId = r.u32();
  m.tickRateHz = r.u16();
  m.replicationHz = r.u16();
  m.worldMin = r.f64();
  m.worldMax = r.f64();
  m.aoiRadius = r.f64();
  if (!r.done()) return ErrorCode::BadPayload;
  out = m;
  return ErrorCode::None;
}

ErrorCode parseState(Bytes payload, State& out) {
  Reader r(payload);
  out.header.tick = r.u64();
  out.header.lastClientSeq = r.u32();
  out.header.cellCount = r.u16();
  out.cells.clear();
  out.entries.clear();
  if (!r.ok()) return ErrorCode::BadPayload;
  // Each cell takes at least its header: a count the bytes cannot hold is refused before
  // anything is reserved for it.
  if (r.left() / kCellHeaderBytes < out.header.cellCount) return ErrorCode::BadPayload;
  out.cells.reserve(out.header.cellCount);
  for (std::size_t i = 0; i < out.header.cellCount; ++i) {
    CellRef c;
    c.cx = r.i32();
    c.cy = r.i32();
    c.count = r.u16();
    c.first = out.entries.size();
    if (!r.ok() || r.left() / kEntryBytes < c.count) return ErrorCode::BadPayload;
    for (std::size_t k = 0; k < c.count; ++k) {
      Entry e;
      e.playerId = r.u32();
      e.x = r.f32();
      e.y = r.f32();
      e.hp = r.i32();
      out.entries.push_back(e);
    }
    out.cells.push_back(c);
  }
  return r.done() ? ErrorCode::None : ErrorCode::BadPayload;
}

ErrorCode parseLeave(Bytes payload, Leave& out) {
  Reader r(payload);
  const std::uint16_t count = r.u16();
  if (!r.ok() || r.left() != std::size_t{4} * count) return ErrorCode::BadPayload;
  out.playerIds.clear();
  out.playerIds.reserve(count);
  for (std::size_t i = 0; i < count; ++i) out.playerIds.push_back(r.u32());
  return ErrorCode::None;
}

ErrorCode parseServerChat(Bytes payload, ServerChat& out) noexcept {
  Reader r(payload);
  const std::uint32_t from = r.u32();
  std::string_view text;
  if (const ErrorCode e = readText(r, text); e != ErrorCode::None) return e;
  out = ServerChat{from, text};
  return ErrorCode::None;
}

ErrorCode parseHit(Bytes payload, Hit& out) noexcept {
  Reader r(payload);
  Hit m;
  m.attacker = r.u32();
  m.target = r.u32();
  m.damage = r.i32();
  m.hpAfter = r.i32();
  if (!r.done()) return ErrorCode::BadPayload;
  out = m;
  return ErrorCode::None;
}

ErrorCode parseDeath(Bytes payload, Death& out) noexcept {
  Reader r(payload);
  Death m;
  m.killer = r.u32();
  m.victim = r.u32();
  if (!r.done()) return ErrorCode::BadPayload;
  out = m;
  return ErrorCode::None;
}

ErrorCode parsePong(Bytes payload, Pong& out) noexcept {
  Reader r(payload);
  Pong m;
  m.t = r.u64();
  m.serverTimeUs = r.u64();
  if (!r.done()) return ErrorCode::BadPayload;
  out = m;
  return ErrorCode::None;
}

ErrorCode parseNotice(Bytes payload, Notice& out) noexcept {
  Reader r(payload);
  return readText(r, out.text);
}

ErrorCode parseKick(Bytes payload, Kick& out) noexcept {
  Reader r(payload);
  const auto reason = static_cast<KickReason>(r.u8());
  std::string_view text;
  if (const ErrorCode e = readText(r, text); e != ErrorCode::None) return e;
  out = Kick{reason, text};
  return ErrorCode::None;
}

ErrorCode parseServerError(Bytes payload, ServerError& out) noexcept {
  Reader r(payload);
  const auto code = static_cast<ErrorCode>(r.u16());
  std::string_view text;
  if (const ErrorCode e = readText(r, text); e != ErrorCode::None) return e;
  out = ServerError{code, text};
  return ErrorCode::None;
}

namespace {
template <class M, class Parse>
ErrorCode parseInto(ServerMessage& out, Parse parse) {
  M m;
  const ErrorCode e = parse(m);
  if (e == ErrorCode::None) out = std::move(m);
  return e;
}
}  // namespace

ErrorCode parseServerMessage(std::uint8_t type, Bytes payload, ServerMessage& out) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::Welcome: return parseInto<Welcome>(out, [&](Welcome& m) { return parseWelcome(payload, m); });
    case MessageType::State: return parseInto<State>(out, [&](State& m) { return parseState(payload, m); });
    case MessageType::Leave: return parseInto<Leave>(out, [&](Leave& m) { return parseLeave(payload, m); });
    case MessageType::ServerChat:
      return parseInto<ServerChat>(out, [&](ServerChat& m) { return parseServerChat(payload, m); });
    case MessageType::Hit: return parseInto<Hit>(out, [&](Hit& m) { return parseHit(payload, m); });
    case MessageType::Death: return parseInto<Death>(out, [&](Death& m) { return parseDeath(payload, m); });
    case MessageType::Pong: return parseInto<Pong>(out, [&](Pong& m) { return parsePong(payload, m); });
    case MessageType::Notice: return parseInto<Notice>(out, [&](Notice& m) { return parseNotice(payload, m); });
    case MessageType::Kick: return parseInto<Kick>(out, [&](Kick& m) { return parseKick(payload, m); });
    case MessageType::Error:
      return parseInto<ServerError>(out, [&](ServerError& m) { return parseServerError(payload, m); });
    default: return ErrorCode::UnknownType;
  }
}

}  // namespace gamesrv::game
