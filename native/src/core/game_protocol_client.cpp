// Client -> server messages: the parsers the server runs on every frame (untrusted input)
// and the encoders clients (tests, the fuzz corpus, the bots) use.
#include <cmath>

#include "game_protocol_bytes.hpp"
#include "gamesrv/game_protocol.hpp"
#include "gamesrv/utf8.hpp"

namespace gamesrv::game {

using detail::Reader;
using detail::Writer;

ErrorCode parseHello(Bytes payload, Hello& out) noexcept {
  Reader r(payload);
  const std::uint16_t version = r.u16();
  if (!r.ok()) return ErrorCode::BadPayload;
  if (version != kProtocolVersion) return ErrorCode::BadVersion;
  const std::uint16_t ticketLen = r.u16();
  const std::string_view ticket = r.text(ticketLen);
  if (!r.done()) return ErrorCode::BadPayload;
  for (char c : ticket)
    if (c < 0x21 || c > 0x7E) return ErrorCode::BadTicket;
  out.version = version;
  out.ticket = ticket;
  return ErrorCode::None;
}

ErrorCode parseMove(Bytes payload, const WorldBounds& world, Move& out) noexcept {
  Reader r(payload);
  const double x = r.f64();
  const double y = r.f64();
  const std::uint32_t seq = r.u32();
  if (!r.done()) return ErrorCode::BadPayload;
  // Written so that NaN fails too: every comparison with NaN is false.
  const auto inside = [&](double v) { return v >= world.min && v <= world.max; };
  if (!std::isfinite(x) || !std::isfinite(y) || !inside(x) || !inside(y)) return ErrorCode::BadCoordinates;
  out = Move{x, y, seq};
  return ErrorCode::None;
}

ErrorCode parseAttack(Bytes payload, Attack& out) noexcept {
  Reader r(payload);
  const std::uint32_t target = r.u32();
  if (!r.done()) return ErrorCode::BadPayload;
  out.targetPlayerId = target;
  return ErrorCode::None;
}

ErrorCode parseChat(Bytes payload, Chat& out) noexcept {
  Reader r(payload);
  const std::uint16_t len = r.u16();
  const std::string_view text = r.text(len);
  if (!r.done() || len < kMinChatBytes || len > kMaxChatBytes) return ErrorCode::BadPayload;
  if (!isValidUtf8(text)) return ErrorCode::BadUtf8;
  out.text = text;
  return ErrorCode::None;
}

ErrorCode parsePing(Bytes payload, Ping& out) noexcept {
  Reader r(payload);
  const std::uint64_t t = r.u64();
  if (!r.done()) return ErrorCode::BadPayload;
  out.t = t;
  return ErrorCode::None;
}

ErrorCode parseBye(Bytes payload, Bye&) noexcept { return payload.empty() ? ErrorCode::None : ErrorCode::BadPayload; }

namespace {
template <class M, class Parse>
ErrorCode parseInto(ClientMessage& out, Parse parse) noexcept {
  M m;
  const ErrorCode e = parse(m);
  if (e == ErrorCode::None) out = m;
  return e;
}
}  // namespace

ErrorCode parseClientMessage(std::uint8_t type, Bytes payload, const WorldBounds& world, ClientMessage& out) noexcept {
  switch (static_cast<MessageType>(type)) {
    case MessageType::Hello: return parseInto<Hello>(out, [&](Hello& m) { return parseHello(payload, m); });
    case MessageType::Move: return parseInto<Move>(out, [&](Move& m) { return parseMove(payload, world, m); });
    case MessageType::Attack: return parseInto<Attack>(out, [&](Attack& m) { return parseAttack(payload, m); });
    case MessageType::Chat: return parseInto<Chat>(out, [&](Chat& m) { return parseChat(payload, m); });
    case MessageType::Ping: return parseInto<Ping>(out, [&](Ping& m) { return parsePing(payload, m); });
    case MessageType::Bye: return parseInto<Bye>(out, [&](Bye& m) { return parseBye(payload, m); });
    default: return ErrorCode::UnknownType;
  }
}

bool encode(std::string& out, const Hello& m) {
  if (m.ticket.size() > 0xFFFF) return false;
  Writer w(nullptr);
  if (!detail::beginFrame(out, MessageType::Hello, kHelloFixedBytes + m.ticket.size(), kMaxClientFrame, w)) return false;
  w.u16(m.version);
  w.u16(static_cast<std::uint16_t>(m.ticket.size()));
  w.bytes(m.ticket);
  return true;
}

bool encode(std::string& out, const Move& m) {
  Writer w(nullptr);
  if (!detail::beginFrame(out, MessageType::Move, kMoveBytes, kMaxClientFrame, w)) return false;
  w.f64(m.x);
  w.f64(m.y);
  w.u32(m.clientSeq);
  return true;
}

bool encode(std::string& out, const Attack& m) {
  Writer w(nullptr);
  if (!detail::beginFrame(out, MessageType::Attack, kAttackBytes, kMaxClientFrame, w)) return false;
  w.u32(m.targetPlayerId);
  return true;
}

bool encode(std::string& out, const Chat& m) {
  if (m.text.size() > 0xFFFF) return false;
  Writer w(nullptr);
  if (!detail::beginFrame(out, MessageType::Chat, kChatFixedBytes + m.text.size(), kMaxClientFrame, w)) return false;
  w.u16(static_cast<std::uint16_t>(m.text.size()));
  w.bytes(m.text);
  return true;
}

bool encode(std::string& out, const Ping& m) {
  Writer w(nullptr);
  if (!detail::beginFrame(out, MessageType::Ping, kPingBytes, kMaxClientFrame, w)) return false;
  w.u64(m.t);
  return true;
}

bool encode(std::string& out, const Bye&) {
  Writer w(nullptr);
  return detail::beginFrame(out, MessageType::Bye, kByeBytes, kMaxClientFrame, w);
}

}  // namespace gamesrv::game
