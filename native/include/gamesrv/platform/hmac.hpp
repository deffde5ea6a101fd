// HMAC-SHA256, from the platform's cryptography (never hand-written): OpenSSL on POSIX
// (the Node addon resolves it from node's own OpenSSL at load time; the standalone
// native tests link libcrypto), BCrypt on Windows. Used by the ticket verifier
// (gamesrv/ticket.hpp).
//
// Thread safety: safe from any thread; no state is kept between calls.
#pragma once
#include <array>
#include <cstdint>
#include <span>

namespace gamesrv::platform {

inline constexpr std::size_t kHmacSha256Bytes = 32;
using HmacSha256 = std::array<std::uint8_t, kHmacSha256Bytes>;

// HMAC-SHA256(key, data) into `out`; false if the library or OS call failed (out is then
// unspecified). An empty key is a valid HMAC key.
bool hmacSha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data, HmacSha256& out) noexcept;

}  // namespace gamesrv::platform
