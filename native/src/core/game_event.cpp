#include "gamesrv/game_event.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace gamesrv {

namespace {
constexpr std::array<const char*, kEventTypeCount> kTypeNames = {
    "PLAYER_LOGIN", "PLAYER_LOGOUT", "PLAYER_MOVE", "PLAYER_ATTACK", "PLAYER_CHAT"};
constexpr std::array<const char*, kInvalidReasonCount> kReasonNames = {
    "none",      "bad_coordinates", "unknown_target", "target_offline", "bad_attack", "attacker_offline",
    "already_online", "not_online", "bad_chat",       "world_full"};
}  // namespace

const char* toString(EventType t) noexcept {
  const auto i = static_cast<std::size_t>(t);
  return i < kTypeNames.size() ? kTypeNames[i] : "UNKNOWN";
}

std::optional<EventType> parseEventType(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kTypeNames.size(); ++i) {
    if (s == kTypeNames[i]) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

const char* toString(InvalidReason r) noexcept {
  const auto i = static_cast<std::size_t>(r);
  return i < kReasonNames.size() ? kReasonNames[i] : "unknown";
}

bool parseCoordinate(std::string_view s, double& out) noexcept {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, std::chars_format::general);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(out);
}

bool parseCoordinatePair(std::string_view s, double& x, double& y) noexcept {
  const std::size_t comma = s.find(',');
  return comma != std::string_view::npos && parseCoordinate(s.substr(0, comma), x) && parseCoordinate(s.substr(comma + 1), y);
}

}  // namespace gamesrv
