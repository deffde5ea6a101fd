// The game protocol's tables (names, numbers, layouts) and the frame splitter.
// Parsers and encoders: game_protocol_client.cpp, game_protocol_server.cpp.
#include "gamesrv/game_protocol.hpp"

#include "game_protocol_bytes.hpp"

namespace gamesrv::game {
namespace {

constexpr NamedValue kClientTypes[] = {
    {"HELLO", 0x01}, {"MOVE", 0x02}, {"ATTACK", 0x03}, {"CHAT", 0x04}, {"PING", 0x05}, {"BYE", 0x06},
};
constexpr NamedValue kServerTypes[] = {
    {"WELCOME", 0x81}, {"STATE", 0x82}, {"LEAVE", 0x83},  {"CHAT", 0x84}, {"HIT", 0x85},
    {"DEATH", 0x86},   {"PONG", 0x87},  {"NOTICE", 0x88}, {"KICK", 0x89}, {"ERROR", 0x8A},
};
constexpr NamedValue kErrorCodes[] = {
    {"bad_frame", 1},        {"frame_too_long", 2}, {"unknown_type", 3},  {"bad_payload", 4},
    {"not_hello_first", 5},  {"hello_twice", 6},    {"bad_version", 7},   {"bad_ticket", 8},
    {"ticket_expired", 9},   {"bad_utf8", 10},      {"bad_coordinates", 11}, {"rate_limited", 12},
    {"server_full", 13},     {"draining", 14},      {"hello_timeout", 15},   {"owned_elsewhere", 16},
};
constexpr NamedValue kKickReasons[] = {
    {"replaced", 1}, {"too_slow", 2}, {"operator", 3},     {"draining", 4},
    {"idle", 5},     {"rate_limited", 6}, {"shutdown", 7},
};
constexpr NamedValue kConstants[] = {
    {"lengthBytes", kLengthBytes},
    {"frameHeaderBytes", kFrameHeaderBytes},
    {"maxClientFrame", kMaxClientFrame},
    {"maxServerFrame", kMaxServerFrame},
    {"protocolVersion", kProtocolVersion},
    {"minChatBytes", kMinChatBytes},
    {"maxChatBytes", kMaxChatBytes},
    {"helloTimeoutMs", kHelloTimeoutMs},
    {"entryBytes", kEntryBytes},
    {"cellHeaderBytes", kCellHeaderBytes},
    {"stateHeaderBytes", kStateHeaderBytes},
};

// Offsets from the first payload byte; CELL and ENTRY from the block's first byte.
constexpr FieldLayout kHello[] = {{"version", 0, 2, "u16"}, {"ticketLen", 2, 2, "u16"}, {"ticket", 4, 0, "bytes"}};
constexpr FieldLayout kMove[] = {{"x", 0, 8, "f64"}, {"y", 8, 8, "f64"}, {"clientSeq", 16, 4, "u32"}};
constexpr FieldLayout kAttack[] = {{"targetPlayerId", 0, 4, "u32"}};
constexpr FieldLayout kChat[] = {{"len", 0, 2, "u16"}, {"text", 2, 0, "bytes"}};
constexpr FieldLayout kPing[] = {{"t", 0, 8, "u64"}};
constexpr FieldLayout kWelcome[] = {
    {"sessionId", 0, 4, "u32"},      {"playerId", 4, 4, "u32"}, {"tickRateHz", 8, 2, "u16"},
    {"replicationHz", 10, 2, "u16"}, {"worldMin", 12, 8, "f64"}, {"worldMax", 20, 8, "f64"},
    {"aoiRadius", 28, 8, "f64"},
};
constexpr FieldLayout kState[] = {
    {"tick", 0, 8, "u64"}, {"lastClientSeq", 8, 4, "u32"}, {"cellCount", 12, 2, "u16"}, {"cells", 14, 0, "blocks"}};
constexpr FieldLayout kCell[] = {{"cx", 0, 4, "i32"}, {"cy", 4, 4, "i32"}, {"count", 8, 2, "u16"}, {"entries", 10, 0, "blocks"}};
constexpr FieldLayout kEntry[] = {{"playerId", 0, 4, "u32"}, {"x", 4, 4, "f32"}, {"y", 8, 4, "f32"}, {"hp", 12, 4, "i32"}};
constexpr FieldLayout kLeave[] = {{"count", 0, 2, "u16"}, {"playerIds", 2, 0, "bytes"}};
constexpr FieldLayout kServerChat[] = {{"fromPlayerId", 0, 4, "u32"}, {"len", 4, 2, "u16"}, {"text", 6, 0, "bytes"}};
constexpr FieldLayout kHit[] = {
    {"attacker", 0, 4, "u32"}, {"target", 4, 4, "u32"}, {"damage", 8, 4, "i32"}, {"hpAfter", 12, 4, "i32"}};
constexpr FieldLayout kDeath[] = {{"killer", 0, 4, "u32"}, {"victim", 4, 4, "u32"}};
constexpr FieldLayout kPong[] = {{"t", 0, 8, "u64"}, {"serverTimeUs", 8, 8, "u64"}};
constexpr FieldLayout kNotice[] = {{"len", 0, 2, "u16"}, {"text", 2, 0, "bytes"}};
constexpr FieldLayout kKick[] = {{"reason", 0, 1, "u8"}, {"len", 1, 2, "u16"}, {"text", 3, 0, "bytes"}};
constexpr FieldLayout kError[] = {{"code", 0, 2, "u16"}, {"len", 2, 2, "u16"}, {"text", 4, 0, "bytes"}};

constexpr MessageLayout kLayouts[] = {
    {"HELLO", 0x01, kHello},   {"MOVE", 0x02, kMove},     {"ATTACK", 0x03, kAttack}, {"CHAT", 0x04, kChat},
    {"PING", 0x05, kPing},     {"BYE", 0x06, {}},         {"WELCOME", 0x81, kWelcome}, {"STATE", 0x82, kState},
    {"CELL", 0, kCell},        {"ENTRY", 0, kEntry},      {"LEAVE", 0x83, kLeave},   {"CHAT", 0x84, kServerChat},
    {"HIT", 0x85, kHit},       {"DEATH", 0x86, kDeath},   {"PONG", 0x87, kPong},     {"NOTICE", 0x88, kNotice},
    {"KICK", 0x89, kKick},     {"ERROR", 0x8A, kError},
};

const char* nameIn(std::span<const NamedValue> table, std::uint32_t value) noexcept {
  for (const NamedValue& nv : table)
    if (nv.value == value) return nv.name.data();  // the literals are NUL-terminated
  return "unknown";
}

}  // namespace

std::span<const NamedValue> clientMessageTypes() noexcept { return kClientTypes; }
std::span<const NamedValue> serverMessageTypes() noexcept { return kServerTypes; }
std::span<const NamedValue> errorCodes() noexcept { return kErrorCodes; }
std::span<const NamedValue> kickReasons() noexcept { return kKickReasons; }
std::span<const NamedValue> protocolConstants() noexcept { return kConstants; }
std::span<const MessageLayout> gameProtocolLayouts() noexcept { return kLayouts; }

const char* toString(MessageType t) noexcept {
  const auto v = static_cast<std::uint8_t>(t);
  return nameIn(isClientType(v) ? std::span<const NamedValue>(kClientTypes) : kServerTypes, v);
}

const char* toString(ErrorCode c) noexcept {
  return c == ErrorCode::None ? "none" : nameIn(kErrorCodes, static_cast<std::uint16_t>(c));
}

const char* toString(KickReason r) noexcept { return nameIn(kKickReasons, static_cast<std::uint8_t>(r)); }

FrameSplit splitFrame(Bytes buffer, std::uint32_t maxLength) noexcept {
  FrameSplit s;
  if (buffer.size() < kLengthBytes) {
    s.frameBytes = kFrameHeaderBytes;
    return s;
  }
  const auto length = static_cast<std::uint32_t>(detail::Reader(buffer.first(kLengthBytes)).u32());
  if (length == 0 || length > maxLength) {
    s.status = FrameSplit::Status::Error;
    s.error = length == 0 ? ErrorCode::BadFrame : ErrorCode::FrameTooLong;
    return s;
  }
  const std::size_t total = kLengthBytes + static_cast<std::size_t>(length);
  s.frameBytes = total;
  if (buffer.size() < total) return s;
  s.status = FrameSplit::Status::Frame;
  s.type = buffer[kLengthBytes];
  s.payload = buffer.subspan(kFrameHeaderBytes, length - 1);
  return s;
}

}  // namespace gamesrv::game
