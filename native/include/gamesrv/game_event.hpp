// GameEvent: one player event as it travels through the EventProcessor.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gamesrv {

enum class EventType : std::uint8_t { PlayerLogin = 0, PlayerLogout, PlayerMove, PlayerAttack, PlayerChat };
inline constexpr std::size_t kEventTypeCount = 5;
const char* toString(EventType t) noexcept;  // "PLAYER_LOGIN", ...
std::optional<EventType> parseEventType(std::string_view s) noexcept;

// Why an accepted event could not change the World. Counted per reason, never dropped silently.
enum class InvalidReason : std::uint8_t {
  None = 0,
  BadCoordinates,     // MOVE payload is not "x,y" with finite numbers inside the world
  UnknownTarget,      // ATTACK target is not a known player
  TargetOffline,      // ATTACK target is known but not online
  BadAttack,          // ATTACK payload missing/invalid damage, or self-attack
  AttackerOffline,    // ATTACK / MOVE / CHAT by a player who is not online
  AlreadyOnline,      // LOGIN of an online player
  NotOnline,          // LOGOUT of an offline or unknown player
  BadChat,            // CHAT empty or too long
  WorldFull,          // LOGIN beyond maxPlayers
  Count
};
inline constexpr std::size_t kInvalidReasonCount = static_cast<std::size_t>(InvalidReason::Count);
const char* toString(InvalidReason r) noexcept;  // "bad_coordinates", ...

// A coordinate as docs/PROTOCOL.md's grammar has it: a finite decimal number, nothing else
// (no '+', spaces, hex, inf or nan). The one parser of "x,y" text: the World's MOVE events
// (from every source) and the pipe's MOVE payloads; the HTTP schema's pattern for
// PLAYER_MOVE is checked against it by test/coordinates.test.ts.
bool parseCoordinate(std::string_view s, double& out) noexcept;
// "x,y": two coordinates and one comma.
bool parseCoordinatePair(std::string_view s, double& x, double& y) noexcept;

struct GameEvent {
  EventType type = EventType::PlayerLogin;
  std::uint32_t playerId = 0;
  std::string text;        // LOGIN: name; MOVE: "x,y"; CHAT: message
  double num1 = 0;         // ATTACK: target id
  double num2 = 0;         // ATTACK: damage
  std::uint64_t seq = 0;   // assigned at enqueue
  // The game session the event came from (gamesrv/game_server.hpp), 0 for every other
  // source. A session's MOVE carries x, y in num1, num2 (no text) and its clientSeq.
  std::uint32_t session = 0;
  std::uint32_t clientSeq = 0;
  // Journal mode (gamesrv/durable_events.hpp): the event's journal sequence number and the
  // Unix ms its batch was accepted at, which the World uses instead of the clock at apply
  // time so that a replay rebuilds the same World. 0 for events that were not journaled.
  std::uint64_t journalSeq = 0;
  std::uint64_t atMs = 0;
};

}  // namespace gamesrv
