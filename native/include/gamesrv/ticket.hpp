// Login tickets: what the control plane's POST /v1/tickets issues and a game session's
// HELLO carries (docs/PROTOCOL.md "Tickets" is the format's one description):
//
//   ticket  = base64url(payload) "." base64url(HMAC-SHA256(secret, payload))
//   payload = u8 version (1), u8 keyId (0), u32 playerId, u64 expiresAt (Unix seconds),
//             name (UTF-8, the rest: 1..kMaxTicketNameBytes bytes)       little-endian
//
// base64url without padding, canonical (unused trailing bits zero): one payload has one
// spelling. A ticket is valid while now < expiresAt. The verifier returns the player the
// ticket names: a session that presents it is that player's, whatever else it claims.
//
// Thread safety: a TicketVerifier is immutable after construction; verify() is safe from
// any number of threads at once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gamesrv {

inline constexpr std::uint8_t kTicketVersion = 1;
// The only key id so far: one secret. Rotation (several secrets, the newest signing)
// will give each secret an id; a verifier refuses ids it has no secret for.
inline constexpr std::uint8_t kTicketKeyId = 0;
// version, keyId, playerId, expiresAt.
inline constexpr std::size_t kTicketFixedBytes = 1 + 1 + 4 + 8;
// A player name is at most 64 characters (src/schemas/events.ts); 4 UTF-8 bytes each.
inline constexpr std::size_t kMaxTicketNameBytes = 64 * 4;
inline constexpr std::size_t kTicketMacBytes = 32;

// Characters of base64url (no padding) for n bytes.
constexpr std::size_t base64UrlLength(std::size_t n) noexcept { return (n * 4 + 2) / 3; }

// The longest ticket: a full name. HELLO's ticket field must hold it.
inline constexpr std::size_t kMaxTicketChars =
    base64UrlLength(kTicketFixedBytes + kMaxTicketNameBytes) + 1 + base64UrlLength(kTicketMacBytes);

// Strict base64url decoding (RFC 4648 §5, no padding, no whitespace, canonical trailing
// bits); nullopt for anything else.
std::optional<std::vector<std::uint8_t>> decodeBase64Url(std::string_view text);

enum class TicketStatus : std::uint8_t {
  Ok,
  BadTicket,  // malformed, forged, another key id or version, or the HMAC could not be computed
  Expired,    // genuine, but now >= expiresAt
};

// "ok", "bad_ticket", "ticket_expired": the game protocol's error names.
const char* toString(TicketStatus s) noexcept;

struct TicketClaims {
  std::uint32_t playerId = 0;
  std::uint64_t expiresAt = 0;  // Unix seconds
  std::string name;             // UTF-8 as the issuer wrote it
};

struct TicketCheck {
  TicketStatus status = TicketStatus::BadTicket;
  TicketClaims claims;  // meaningful only when status is Ok
};

class TicketVerifier {
 public:
  // The secret's bytes (the control plane's ticket secret as UTF-8 text).
  explicit TicketVerifier(std::span<const std::uint8_t> secret);

  // The signature is checked (in constant time) before anything the payload says is
  // believed, and the expiry only after: a forged ticket is bad_ticket, never expired.
  TicketCheck verify(std::string_view ticket, std::uint64_t nowUnixSec) const;

 private:
  std::vector<std::uint8_t> secret_;
};

}  // namespace gamesrv
