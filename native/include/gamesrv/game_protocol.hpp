// The game protocol (TCP port, issue 14): framing, message layouts, error codes, kick
// reasons; a frame splitter, a parser and an encoder for every message of both directions.
// docs/PROTOCOL.md ("Game protocol (TCP)") describes it for client authors; its tables are
// checked against gameProtocolLayouts() and the name tables below by
// test/game-protocol.test.ts, and native/test/test_game_protocol.cpp checks those tables
// against the codec, so a layout is written once (here and in game_protocol*.cpp).
//
// Frame: u32 length (type byte + payload, >= 1), u8 type, length - 1 payload bytes.
// Everything little-endian (f32/f64: IEEE-754 little-endian) whatever the host.
//
// Parsers take the payload (after the type byte) and return ErrorCode::None or the code
// the server answers with. Their string_view fields point into that payload: copy them
// before the buffer is reused. Encoders append one whole frame to `out` and return false,
// leaving `out` as it was, only when the message cannot be expressed (a length over its
// u16 field, or a frame over its direction's maximum); they never validate content, so
// tests can encode what a parser must refuse.
//
// Thread safety: every function is pure (no shared state); the tables are immutable.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gamesrv::game {

using Bytes = std::span<const std::uint8_t>;

inline constexpr std::size_t kLengthBytes = 4;       // the u32 length prefix
inline constexpr std::size_t kFrameHeaderBytes = 5;  // length prefix + type byte
inline constexpr std::uint32_t kMaxClientFrame = 1024;      // max `length`, client -> server
inline constexpr std::uint32_t kMaxServerFrame = 16u << 20;  // max `length`, server -> client
inline constexpr std::uint16_t kProtocolVersion = 1;
inline constexpr std::size_t kMinChatBytes = 1;
inline constexpr std::size_t kMaxChatBytes = 512;     // client CHAT text, in bytes
inline constexpr std::uint32_t kHelloTimeoutMs = 5000;  // connect -> HELLO, else ERROR hello_timeout

// Payload sizes: exact for fixed messages, the fixed part before the variable bytes otherwise.
inline constexpr std::size_t kHelloFixedBytes = 4;  // version, ticketLen
inline constexpr std::size_t kMoveBytes = 20;
inline constexpr std::size_t kAttackBytes = 4;
inline constexpr std::size_t kChatFixedBytes = 2;
inline constexpr std::size_t kPingBytes = 8;
inline constexpr std::size_t kByeBytes = 0;
inline constexpr std::size_t kWelcomeBytes = 36;
inline constexpr std::size_t kStateHeaderBytes = 14;  // before the CELL blocks
inline constexpr std::size_t kCellHeaderBytes = 10;   // before the ENTRYs
inline constexpr std::size_t kEntryBytes = 16;
inline constexpr std::size_t kLeaveFixedBytes = 2;
inline constexpr std::size_t kServerChatFixedBytes = 6;
inline constexpr std::size_t kHitBytes = 16;
inline constexpr std::size_t kDeathBytes = 8;
inline constexpr std::size_t kPongBytes = 16;
inline constexpr std::size_t kNoticeFixedBytes = 2;
inline constexpr std::size_t kKickFixedBytes = 3;
inline constexpr std::size_t kErrorFixedBytes = 4;

enum class MessageType : std::uint8_t {
  // client -> server
  Hello = 0x01,
  Move = 0x02,
  Attack = 0x03,
  Chat = 0x04,
  Ping = 0x05,
  Bye = 0x06,
  // server -> client
  Welcome = 0x81,
  State = 0x82,
  Leave = 0x83,
  ServerChat = 0x84,  // named "CHAT" on the wire and in the docs
  Hit = 0x85,
  Death = 0x86,
  Pong = 0x87,
  Notice = 0x88,
  Kick = 0x89,
  Error = 0x8A,
};
constexpr bool isClientType(std::uint8_t t) noexcept { return t >= 0x01 && t <= 0x06; }
constexpr bool isServerType(std::uint8_t t) noexcept { return t >= 0x81 && t <= 0x8A; }
const char* toString(MessageType t) noexcept;  // "HELLO", ..., "CHAT" (both), ..., "ERROR"

// ERROR codes (u16 on the wire). Every ERROR is followed by a close, except rate_limited
// for first offences.
enum class ErrorCode : std::uint16_t {
  None = 0,  // not on the wire: a parser's "ok"
  BadFrame = 1,
  FrameTooLong = 2,
  UnknownType = 3,
  BadPayload = 4,
  NotHelloFirst = 5,
  HelloTwice = 6,
  BadVersion = 7,
  BadTicket = 8,
  TicketExpired = 9,
  BadUtf8 = 10,
  BadCoordinates = 11,
  RateLimited = 12,
  ServerFull = 13,
  Draining = 14,
  HelloTimeout = 15,
  OwnedElsewhere = 16,
};
const char* toString(ErrorCode c) noexcept;  // "bad_frame", ...; "none"; "unknown" for others

enum class KickReason : std::uint8_t {
  Replaced = 1,
  TooSlow = 2,
  Operator = 3,
  Draining = 4,
  Idle = 5,
  RateLimited = 6,
  Shutdown = 7,
};
const char* toString(KickReason r) noexcept;  // "replaced", ...; "unknown" for others

// --- the one table of names and numbers (the addon exports it; the docs are checked against it)
struct NamedValue {
  std::string_view name;
  std::uint32_t value;
};
std::span<const NamedValue> clientMessageTypes() noexcept;
std::span<const NamedValue> serverMessageTypes() noexcept;
std::span<const NamedValue> errorCodes() noexcept;   // without None
std::span<const NamedValue> kickReasons() noexcept;
std::span<const NamedValue> protocolConstants() noexcept;  // "maxClientFrame", ...

struct FieldLayout {
  std::string_view name;
  std::uint32_t offset;  // from the first payload byte (frame offset 5), or the block's start
  std::uint32_t size;    // 0: variable (the bytes a preceding length field counts)
  std::string_view type;  // "u8", "u16", "u32", "u64", "i32", "f32", "f64", "bytes", "blocks"
};
struct MessageLayout {
  std::string_view name;  // "HELLO", ...; "CELL" and "ENTRY" for the STATE blocks
  std::uint8_t type;      // 0 for the blocks
  std::span<const FieldLayout> fields;
};
std::span<const MessageLayout> gameProtocolLayouts() noexcept;

// --- framing
struct FrameSplit {
  enum class Status : std::uint8_t { NeedMore, Frame, Error };
  Status status = Status::NeedMore;
  ErrorCode error = ErrorCode::None;  // Error: BadFrame (length 0) or FrameTooLong
  std::uint8_t type = 0;              // Frame
  Bytes payload;                      // Frame: length - 1 bytes inside the input
  // Frame: bytes to consume. NeedMore: the whole frame's size when the length is known,
  // else kFrameHeaderBytes (the least any frame takes).
  std::size_t frameBytes = 0;
};
// Looks at the start of `buffer` only; never reads past its end. `maxLength` is
// kMaxClientFrame on the server, kMaxServerFrame on a client. An error is decided as soon
// as the 4 length bytes are in: the rest of the stream cannot be framed after it.
FrameSplit splitFrame(Bytes buffer, std::uint32_t maxLength) noexcept;

// --- client -> server
struct Hello {
  std::uint16_t version = kProtocolVersion;
  std::string_view ticket;  // printable ASCII (0x21..0x7E); may be empty (--game-auth none)
};
struct Move {
  double x = 0;
  double y = 0;
  std::uint32_t clientSeq = 0;
};
struct Attack {
  std::uint32_t targetPlayerId = 0;
};
struct Chat {
  std::string_view text;  // 1..512 bytes of valid UTF-8
};
struct Ping {
  std::uint64_t t = 0;
};
struct Bye {};
using ClientMessage = std::variant<Hello, Move, Attack, Chat, Ping, Bye>;

struct WorldBounds {  // the square world: both axes in [min, max]
  double min = 0;
  double max = 0;
};

// bad_payload (sizes), bad_version (checked before the rest of the layout, which the
// version defines), bad_ticket (a byte outside 0x21..0x7E).
ErrorCode parseHello(Bytes payload, Hello& out) noexcept;
// bad_payload; bad_coordinates: x or y non-finite or outside `world`.
ErrorCode parseMove(Bytes payload, const WorldBounds& world, Move& out) noexcept;
ErrorCode parseAttack(Bytes payload, Attack& out) noexcept;
// bad_payload (sizes; text empty or over 512 bytes); bad_utf8.
ErrorCode parseChat(Bytes payload, Chat& out) noexcept;
ErrorCode parsePing(Bytes payload, Ping& out) noexcept;
ErrorCode parseBye(Bytes payload, Bye& out) noexcept;
// Dispatches on `type`: unknown_type for anything but 0x01..0x06.
ErrorCode parseClientMessage(std::uint8_t type, Bytes payload, const WorldBounds& world, ClientMessage& out) noexcept;

[[nodiscard]] bool encode(std::string& out, const Hello& m);
[[nodiscard]] bool encode(std::string& out, const Move& m);
[[nodiscard]] bool encode(std::string& out, const Attack& m);
[[nodiscard]] bool encode(std::string& out, const Chat& m);
[[nodiscard]] bool encode(std::string& out, const Ping& m);
[[nodiscard]] bool encode(std::string& out, const Bye& m);

// --- server -> client
struct Welcome {
  std::uint32_t sessionId = 0;
  std::uint32_t playerId = 0;
  std::uint16_t tickRateHz = 0;
  std::uint16_t replicationHz = 0;
  double worldMin = 0;
  double worldMax = 0;
  double aoiRadius = 0;
};
struct Entry {
  std::uint32_t playerId = 0;
  float x = 0;
  float y = 0;
  std::int32_t hp = 0;
};
struct StateHeader {
  std::uint64_t tick = 0;
  std::uint32_t lastClientSeq = 0;
  std::uint16_t cellCount = 0;
};
struct CellRef {  // one CELL block of a parsed STATE: entries[first, first + count)
  std::int32_t cx = 0;
  std::int32_t cy = 0;
  std::size_t first = 0;
  std::size_t count = 0;
};
struct State {  // a parsed STATE; parseState reuses the vectors' capacity
  StateHeader header;
  std::vector<CellRef> cells;
  std::vector<Entry> entries;
};
struct Leave {
  std::vector<std::uint32_t> playerIds;
};
struct ServerChat {
  std::uint32_t fromPlayerId = 0;
  std::string_view text;
};
struct Hit {
  std::uint32_t attacker = 0;
  std::uint32_t target = 0;
  std::int32_t damage = 0;
  std::int32_t hpAfter = 0;
};
struct Death {
  std::uint32_t killer = 0;
  std::uint32_t victim = 0;
};
struct Pong {
  std::uint64_t t = 0;
  std::uint64_t serverTimeUs = 0;
};
struct Notice {
  std::string_view text;
};
struct Kick {
  KickReason reason = KickReason::Operator;  // unknown values are kept as sent
  std::string_view text;
};
struct ServerError {
  ErrorCode code = ErrorCode::None;  // unknown values are kept as sent
  std::string_view text;
};
using ServerMessage = std::variant<Welcome, State, Leave, ServerChat, Hit, Death, Pong, Notice, Kick, ServerError>;

// STATE is a header frame whose length covers the CELL blocks sent after it (shared,
// pre-serialized buffers): cellBytes is their total size.
[[nodiscard]] bool encodeStateHeader(std::string& out, const StateHeader& h, std::size_t cellBytes);
// One CELL block (not a frame): i32 cx, i32 cy, u16 count, count ENTRYs.
[[nodiscard]] bool encodeCell(std::string& out, std::int32_t cx, std::int32_t cy, std::span<const Entry> entries);
inline constexpr std::size_t cellBlockBytes(std::size_t entries) noexcept {
  return kCellHeaderBytes + entries * kEntryBytes;
}
[[nodiscard]] bool encode(std::string& out, const Welcome& m);
[[nodiscard]] bool encode(std::string& out, const State& m);  // header + its cells in one frame
[[nodiscard]] bool encode(std::string& out, const Leave& m);
[[nodiscard]] bool encode(std::string& out, const ServerChat& m);
[[nodiscard]] bool encode(std::string& out, const Hit& m);
[[nodiscard]] bool encode(std::string& out, const Death& m);
[[nodiscard]] bool encode(std::string& out, const Pong& m);
[[nodiscard]] bool encode(std::string& out, const Notice& m);
[[nodiscard]] bool encode(std::string& out, const Kick& m);
[[nodiscard]] bool encode(std::string& out, const ServerError& m);

// Server payload parsers (bots, tests): bad_payload on any size mismatch, bad_utf8 on text.
ErrorCode parseWelcome(Bytes payload, Welcome& out) noexcept;
ErrorCode parseState(Bytes payload, State& out);
ErrorCode parseLeave(Bytes payload, Leave& out);
ErrorCode parseServerChat(Bytes payload, ServerChat& out) noexcept;
ErrorCode parseHit(Bytes payload, Hit& out) noexcept;
ErrorCode parseDeath(Bytes payload, Death& out) noexcept;
ErrorCode parsePong(Bytes payload, Pong& out) noexcept;
ErrorCode parseNotice(Bytes payload, Notice& out) noexcept;
ErrorCode parseKick(Bytes payload, Kick& out) noexcept;
ErrorCode parseServerError(Bytes payload, ServerError& out) noexcept;
// Dispatches on `type`: unknown_type for anything but 0x81..0x8A.
ErrorCode parseServerMessage(std::uint8_t type, Bytes payload, ServerMessage& out);

inline Bytes asBytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace gamesrv::game
