#include "gamesrv/ticket.hpp"

#include <array>

#include "gamesrv/platform/hmac.hpp"

namespace gamesrv {
namespace {

static_assert(kTicketMacBytes == platform::kHmacSha256Bytes);

// 0..63 for a base64url character, -1 otherwise.
constexpr std::array<std::int8_t, 256> kDecode = [] {
  std::array<std::int8_t, 256> t{};
  t.fill(-1);
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (std::size_t i = 0; i < alphabet.size(); ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}();

template <typename T>
T readLe(const std::uint8_t* p) noexcept {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}

// Every byte is compared whatever the first difference: the time says nothing about
// how much of a forged MAC was right.
bool sameBytes(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
  if (a.size() != b.size()) return false;
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<std::uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace

std::optional<std::vector<std::uint8_t>> decodeBase64Url(std::string_view text) {
  // A lone last character carries 6 bits: no whole byte.
  if (text.size() % 4 == 1) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = kDecode[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  // Canonical: the bits left over (2 or 4) are zero, so no two spellings decode alike.
  if (acc != 0) return std::nullopt;
  return out;
}

const char* toString(TicketStatus s) noexcept {
  switch (s) {
    case TicketStatus::Ok:
      return "ok";
    case TicketStatus::BadTicket:
      return "bad_ticket";
    case TicketStatus::Expired:
      return "ticket_expired";
  }
  return "bad_ticket";
}

TicketVerifier::TicketVerifier(std::span<const std::uint8_t> secret) : secret_(secret.begin(), secret.end()) {}

TicketCheck TicketVerifier::verify(std::string_view ticket, std::uint64_t nowUnixSec) const {
  TicketCheck bad;
  if (ticket.size() > kMaxTicketChars) return bad;
  const std::size_t dot = ticket.find('.');
  if (dot == std::string_view::npos) return bad;
  const std::string_view payloadText = ticket.substr(0, dot);
  const std::string_view macText = ticket.substr(dot + 1);
  if (macText.size() != base64UrlLength(kTicketMacBytes)) return bad;
  const auto payload = decodeBase64Url(payloadText);
  const auto mac = decodeBase64Url(macText);
  if (!payload || !mac) return bad;

  platform::HmacSha256 expected{};
  if (!platform::hmacSha256(secret_, *payload, expected)) return bad;
  if (!sameBytes(expected, *mac)) return bad;

  // Genuine from here on: what follows refuses tickets of another format or key.
  const std::vector<std::uint8_t>& p = *payload;
  if (p.size() < kTicketFixedBytes + 1 || p.size() > kTicketFixedBytes + kMaxTicketNameBytes) return bad;
  if (p[0] != kTicketVersion || p[1] != kTicketKeyId) return bad;
  TicketCheck check;
  check.claims.playerId = readLe<std::uint32_t>(p.data() + 2);
  check.claims.expiresAt = readLe<std::uint64_t>(p.data() + 6);
  if (check.claims.playerId == 0) return bad;
  check.claims.name.assign(reinterpret_cast<const char*>(p.data()) + kTicketFixedBytes, p.size() - kTicketFixedBytes);
  check.status = nowUnixSec < check.claims.expiresAt ? TicketStatus::Ok : TicketStatus::Expired;
  return check;
}

}  // namespace gamesrv
