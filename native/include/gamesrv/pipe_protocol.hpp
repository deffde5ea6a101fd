// The inter-server pipe protocol (seed 4.3.1's InterServerMessage), as bytes on the wire.
//
// Frame: exactly 1,032 bytes, one frame per message (the transport is message-mode:
// AF_UNIX SOCK_SEQPACKET on POSIX, a PIPE_TYPE_MESSAGE named pipe on Win32).
//
//   offset  size  field
//   0       4     messageType   u32, little-endian
//   4       4     dataSize      u32, little-endian, 0..1024
//   8       1024  data          dataSize bytes of payload, then NUL padding
//
// Message types. Requests (client -> server): PLAYER_LOGIN=1, PLAYER_LOGOUT=2,
// PLAYER_MOVE=3, SERVER_STATUS=4, SHUTDOWN=5. Replies (server -> client), one per request,
// in order: ACK=6 (data: short text, "ACK" by default), STATUS_REPLY=7 (data: a small JSON
// object, answers SERVER_STATUS), ERROR=0xFFFF (data: a readable reason). The seed echoed
// the request's type in its replies; ours are distinct so that a reply can never be
// mistaken for a request.
//
// Validation (decodePipeFrame), in this order, each with its own error:
//   BadLength    the message is not exactly 1,032 bytes ("frame is N bytes, expected 1032")
//   BadSize      dataSize > 1024
//   UnknownType  messageType is none of the above
//   BadPadding   a non-zero byte after the first dataSize bytes of data. Rejected, not
//                ignored: our encoder always zero-fills, so non-zero padding means the
//                sender's dataSize and data disagree (the seed's defect 7 in reverse).
// Data is binary-safe within dataSize (a NUL inside it is data), but the player payloads
// below reject control characters.
//
// Player payloads (the frame has no player field, so it travels in data). Grammar:
//   login    = player-id [ ":" name ]       PLAYER_LOGIN
//   logout   = player-id                    PLAYER_LOGOUT
//   move     = player-id ":" x "," y        PLAYER_MOVE
//   player-id = 1*10DIGIT                   decimal, 0..4294967295, no sign, no spaces
//   name      = 1*(any byte >= 0x20 except 0x7F)   (UTF-8 passes through; ":" allowed)
//   x, y      = decimal number              e.g. "12", "-3.5", "1e3"; finite; no spaces,
//                                           no "+", no hex, no inf/nan
// The world, not the protocol, decides whether a position is inside the map.
// Encoding refuses data longer than 1,024 bytes (TooLarge): nothing is ever truncated or
// silently sent empty (seed defect 7).
//
// Thread safety: every function here is pure (no shared state).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace gamesrv {

inline constexpr std::size_t kPipeHeaderBytes = 8;
inline constexpr std::size_t kPipeDataCapacity = 1024;
inline constexpr std::size_t kPipeFrameBytes = kPipeHeaderBytes + kPipeDataCapacity;
static_assert(kPipeFrameBytes == 1032, "the seed's InterServerMessage is 1,032 bytes");

enum class PipeMessageType : std::uint32_t {
  PlayerLogin = 1,
  PlayerLogout = 2,
  PlayerMove = 3,
  ServerStatus = 4,
  Shutdown = 5,
  Ack = 6,
  StatusReply = 7,
  Error = 0xFFFF,
};
const char* toString(PipeMessageType t) noexcept;  // "PLAYER_LOGIN", ..., "ACK", "STATUS_REPLY", "ERROR"
std::optional<PipeMessageType> pipeMessageTypeOf(std::uint32_t raw) noexcept;  // nullopt: unknown
std::optional<PipeMessageType> parsePipeMessageType(std::string_view name) noexcept;  // "PLAYER_MOVE" -> PlayerMove
constexpr bool isPipeRequest(PipeMessageType t) noexcept {
  return t >= PipeMessageType::PlayerLogin && t <= PipeMessageType::Shutdown;
}
constexpr bool carriesPlayerPayload(PipeMessageType t) noexcept {
  return t >= PipeMessageType::PlayerLogin && t <= PipeMessageType::PlayerMove;
}

// One error model for the codec and both ends of the pipe; toString gives a stable code.
enum class PipeError : std::uint8_t {
  None = 0,
  // A frame or payload (the server answers these with an ERROR reply).
  BadLength,     // not exactly kPipeFrameBytes
  BadSize,       // dataSize > 1024
  UnknownType,   // messageType unknown, or a reply type sent as a request
  BadPadding,    // non-zero byte after dataSize
  BadPayload,    // player payload does not follow the grammar
  TooLarge,      // encode: data > 1024 bytes
  // Transport.
  AddressInUse,      // a live server already answers on the path
  NoServer,          // nothing listens on the path (missing file, or connection refused)
  PermissionDenied,  // the path's mode or owner forbids access
  InvalidPath,       // empty, too long for the OS, or exists and is not a socket
  NotConnected,      // client: no connection (never connected, closed, or broken by a timeout)
  Timeout,
  Closed,            // the peer closed the connection (EOF), or the server is stopped
  ServerBusy,        // the server is at maxClients
  System,            // any other OS failure; detail names the call and errno
  Count
};
inline constexpr std::size_t kPipeErrorCount = static_cast<std::size_t>(PipeError::Count);
const char* toString(PipeError e) noexcept;  // "bad_length", "address_in_use", ...

// A decoded frame: a request, or a reply.
struct PipeMessage {
  PipeMessageType type = PipeMessageType::Ack;
  std::string data;  // exactly dataSize bytes
};

using PipeFrame = std::array<std::uint8_t, kPipeFrameBytes>;

// Writes the frame for (type, data) into `out`: header, data, zero padding. No allocation.
// TooLarge if data.size() > 1024 (out is then left untouched).
PipeError encodePipeFrameInto(PipeMessageType type, std::string_view data, std::span<std::uint8_t, kPipeFrameBytes> out) noexcept;

struct PipeEncodeResult {
  PipeError error = PipeError::None;
  std::string detail;  // why, when error != None
  PipeFrame frame{};
  bool ok() const noexcept { return error == PipeError::None; }
};
PipeEncodeResult encodePipeFrame(PipeMessageType type, std::string_view data);

struct PipeDecodeResult {
  PipeError error = PipeError::None;  // None, BadLength, BadSize, UnknownType or BadPadding
  std::string detail;
  std::uint32_t rawType = 0;  // the messageType field as read (when length allowed reading it)
  PipeMessage message;        // valid when ok()
  bool ok() const noexcept { return error == PipeError::None; }
};
PipeDecodeResult decodePipeFrame(const void* bytes, std::size_t length);

// What a LOGIN / LOGOUT / MOVE payload says.
struct PlayerPayload {
  std::uint32_t playerId = 0;
  std::string name;      // LOGIN: empty when absent
  std::string position;  // MOVE: the "x,y" text as sent
  double x = 0;          // MOVE: parsed
  double y = 0;
};

struct PlayerPayloadResult {
  PipeError error = PipeError::None;  // None or BadPayload (also for a type without a player payload)
  std::string detail;
  PlayerPayload payload;
  bool ok() const noexcept { return error == PipeError::None; }
};
PlayerPayloadResult parsePlayerPayload(PipeMessageType type, std::string_view data);

// The inverse, for clients: "<id>", "<id>:<name>", "<id>:<x>,<y>" (x, y shortest round-trip text).
std::string formatLoginPayload(std::uint32_t playerId, std::string_view name = {});
std::string formatLogoutPayload(std::uint32_t playerId);
std::string formatMovePayload(std::uint32_t playerId, double x, double y);

}  // namespace gamesrv
