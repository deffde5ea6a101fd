#include "gamesrv/pipe_protocol.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

#include "gamesrv/game_event.hpp"

namespace gamesrv {
namespace {

// Explicit little-endian access: the frame's byte order does not depend on the host's.
std::uint32_t loadLe32(const std::uint8_t* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

void storeLe32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}

constexpr PipeMessageType kAllTypes[] = {
    PipeMessageType::PlayerLogin, PipeMessageType::PlayerLogout, PipeMessageType::PlayerMove,
    PipeMessageType::ServerStatus, PipeMessageType::Shutdown,    PipeMessageType::Ack,
    PipeMessageType::StatusReply,  PipeMessageType::Error,
};

// Quotes a payload fragment for an error message: printable ASCII kept, the rest \xNN, cut at 40 bytes.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  const std::size_t n = std::min<std::size_t>(s.size(), 40);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  out += s.size() > n ? "\"..." : "\"";
  return out;
}

PlayerPayloadResult payloadError(std::string detail) {
  PlayerPayloadResult r;
  r.error = PipeError::BadPayload;
  r.detail = std::move(detail);
  return r;
}

// player-id = 1*10DIGIT, value <= 2^32-1. Returns an error text, or empty on success.
std::string parsePlayerId(std::string_view s, std::uint32_t& out) {
  if (s.empty()) return "player id is missing";
  for (char c : s)
    if (c < '0' || c > '9') return "player id " + quoted(s) + " is not a decimal number";
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end != s.data() + s.size()) return "player id " + quoted(s) + " does not fit in 32 bits";
  return {};
}

}  // namespace

const char* toString(PipeMessageType t) noexcept {
  switch (t) {
    case PipeMessageType::PlayerLogin: return "PLAYER_LOGIN";
    case PipeMessageType::PlayerLogout: return "PLAYER_LOGOUT";
    case PipeMessageType::PlayerMove: return "PLAYER_MOVE";
    case PipeMessageType::ServerStatus: return "SERVER_STATUS";
    case PipeMessageType::Shutdown: return "SHUTDOWN";
    case PipeMessageType::Ack: return "ACK";
    case PipeMessageType::StatusReply: return "STATUS_REPLY";
    case PipeMessageType::Error: return "ERROR";
  }
  return "UNKNOWN";
}

std::optional<PipeMessageType> pipeMessageTypeOf(std::uint32_t raw) noexcept {
  for (PipeMessageType t : kAllTypes)
    if (static_cast<std::uint32_t>(t) == raw) return t;
  return std::nullopt;
}

std::optional<PipeMessageType> parsePipeMessageType(std::string_view name) noexcept {
  for (PipeMessageType t : kAllTypes)
    if (name == toString(t)) return t;
  return std::nullopt;
}

const char* toString(PipeError e) noexcept {
  switch (e) {
    case PipeError::None: return "none";
    case PipeError::BadLength: return "bad_length";
    case PipeError::BadSize: return "bad_size";
    case PipeError::UnknownType: return "unknown_type";
    case PipeError::BadPadding: return "bad_padding";
    case PipeError::BadPayload: return "bad_payload";
    case PipeError::TooLarge: return "too_large";
    case PipeError::AddressInUse: return "address_in_use";
    case PipeError::NoServer: return "no_server";
    case PipeError::PermissionDenied: return "permission_denied";
    case PipeError::InvalidPath: return "invalid_path";
    case PipeError::NotConnected: return "not_connected";
    case PipeError::Timeout: return "timeout";
    case PipeError::Closed: return "closed";
    case PipeError::ServerBusy: return "server_busy";
    case PipeError::System: return "system";
    case PipeError::Count: break;
  }
  return "unknown";
}

PipeError encodePipeFrameInto(PipeMessageType type, std::string_view data,
                              std::span<std::uint8_t, kPipeFrameBytes> out) noexcept {
  if (data.size() > kPipeDataCapacity) return PipeError::TooLarge;
  std::uint8_t* p = out.data();
  storeLe32(p, static_cast<std::uint32_t>(type));
  storeLe32(p + 4, static_cast<std::uint32_t>(data.size()));
  if (!data.empty()) std::memcpy(p + kPipeHeaderBytes, data.data(), data.size());
  std::memset(p + kPipeHeaderBytes + data.size(), 0, kPipeDataCapacity - data.size());
  return PipeError::None;
}

PipeEncodeResult encodePipeFrame(PipeMessageType type, std::string_view data) {
  PipeEncodeResult r;
  r.error = encodePipeFrameInto(type, data, r.frame);
  if (!r.ok())
    r.detail = "data is " + std::to_string(data.size()) + " bytes, at most " + std::to_string(kPipeDataCapacity) +
               " fit in a frame";
  return r;
}

PipeDecodeResult decodePipeFrame(const void* bytes, std::size_t length) {
  PipeDecodeResult r;
  if (length != kPipeFrameBytes) {
    r.error = PipeError::BadLength;
    r.detail = "frame is " + std::to_string(length) + " bytes, expected " + std::to_string(kPipeFrameBytes);
    if (length >= 4) r.rawType = loadLe32(static_cast<const std::uint8_t*>(bytes));
    return r;
  }
  const auto* p = static_cast<const std::uint8_t*>(bytes);
  r.rawType = loadLe32(p);
  const std::uint32_t size = loadLe32(p + 4);
  if (size > kPipeDataCapacity) {
    r.error = PipeError::BadSize;
    r.detail = "dataSize is " + std::to_string(size) + ", at most " + std::to_string(kPipeDataCapacity);
    return r;
  }
  const auto type = pipeMessageTypeOf(r.rawType);
  if (!type) {
    r.error = PipeError::UnknownType;
    r.detail = "unknown message type " + std::to_string(r.rawType);
    return r;
  }
  const std::uint8_t* data = p + kPipeHeaderBytes;
  static constexpr std::uint8_t kZeros[kPipeDataCapacity] = {};
  const bool padded = std::memcmp(data + size, kZeros, kPipeDataCapacity - size) == 0;  // the fast path
  for (std::size_t i = size; !padded && i < kPipeDataCapacity; ++i) {
    if (data[i] != 0) {
      r.error = PipeError::BadPadding;
      r.detail = "non-zero byte at data offset " + std::to_string(i) + " after dataSize " + std::to_string(size) +
                 " (padding must be zero)";
      return r;
    }
  }
  r.message.type = *type;
  r.message.data.assign(reinterpret_cast<const char*>(data), size);
  return r;
}

PlayerPayloadResult parsePlayerPayload(PipeMessageType type, std::string_view data) {
  if (!carriesPlayerPayload(type))
    return payloadError(std::string(toString(type)) + " carries no player payload");
  const std::size_t colon = data.find(':');
  const std::string_view idText = data.substr(0, colon);
  PlayerPayloadResult r;
  if (std::string err = parsePlayerId(idText, r.payload.playerId); !err.empty())
    return payloadError(std::string(toString(type)) + ": " + err + " (expected " +
                        (type == PipeMessageType::PlayerLogin   ? "\"<playerId>\" or \"<playerId>:<name>\")"
                         : type == PipeMessageType::PlayerMove ? "\"<playerId>:<x>,<y>\")"
                                                                : "\"<playerId>\")"));
  const bool hasRest = colon != std::string_view::npos;
  const std::string_view rest = hasRest ? data.substr(colon + 1) : std::string_view{};
  switch (type) {
    case PipeMessageType::PlayerLogout:
      if (hasRest) return payloadError("PLAYER_LOGOUT: unexpected " + quoted(data.substr(colon)) + " after the player id");
      break;
    case PipeMessageType::PlayerLogin:
      if (!hasRest) break;
      if (rest.empty()) return payloadError("PLAYER_LOGIN: empty name after ':'");
      for (char c : rest) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) return payloadError("PLAYER_LOGIN: control character in name " + quoted(rest));
      }
      r.payload.name.assign(rest);
      break;
    case PipeMessageType::PlayerMove: {
      if (!hasRest) return payloadError("PLAYER_MOVE: missing \":<x>,<y>\" after the player id");
      const std::size_t comma = rest.find(',');
      if (comma == std::string_view::npos) return payloadError("PLAYER_MOVE: position " + quoted(rest) + " is not \"x,y\"");
      if (!parseCoordinate(rest.substr(0, comma), r.payload.x) || !parseCoordinate(rest.substr(comma + 1), r.payload.y))
        return payloadError("PLAYER_MOVE: position " + quoted(rest) + " is not two finite decimal numbers \"x,y\"");
      r.payload.position.assign(rest);
      break;
    }
    default: break;
  }
  return r;
}

std::string formatLoginPayload(std::uint32_t playerId, std::string_view name) {
  std::string s = std::to_string(playerId);
  if (!name.empty()) {
    s += ':';
    s += name;
  }
  return s;
}

std::string formatLogoutPayload(std::uint32_t playerId) { return std::to_string(playerId); }

std::string formatMovePayload(std::uint32_t playerId, double x, double y) {
  char buf[80];
  char* p = buf;
  char* const end = buf + sizeof buf;
  p = std::to_chars(p, end, playerId).ptr;
  *p++ = ':';
  p = std::to_chars(p, end, x).ptr;
  *p++ = ',';
  p = std::to_chars(p, end, y).ptr;
  return std::string(buf, p);
}

}  // namespace gamesrv
