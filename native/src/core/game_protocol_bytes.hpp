// Little-endian reading and writing for the game protocol's codec (game_protocol_*.cpp).
// Bytes are assembled by shifts, so the order is the wire's whatever the host's, and no
// unaligned or type-punned access happens (floats go through std::bit_cast).
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "gamesrv/game_protocol.hpp"

namespace gamesrv::game::detail {

// A cursor over a payload: every read checks the bytes left; one short read makes ok() false
// for good and returns zeros.
class Reader {
 public:
  explicit Reader(Bytes b) noexcept : p_(b.data()), left_(b.size()) {}

  std::uint64_t le(std::size_t n) noexcept {
    if (!ok_ || left_ < n) {
      ok_ = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p_[i]) << (8 * i);
    p_ += n;
    left_ -= n;
    return v;
  }
  std::uint8_t u8() noexcept { return static_cast<std::uint8_t>(le(1)); }
  std::uint16_t u16() noexcept { return static_cast<std::uint16_t>(le(2)); }
  std::uint32_t u32() noexcept { return static_cast<std::uint32_t>(le(4)); }
  std::uint64_t u64() noexcept { return le(8); }
  std::int32_t i32() noexcept { return std::bit_cast<std::int32_t>(u32()); }
  float f32() noexcept { return std::bit_cast<float>(u32()); }
  double f64() noexcept { return std::bit_cast<double>(u64()); }
  std::string_view text(std::size_t n) noexcept {
    if (!ok_ || left_ < n) {
      ok_ = false;
      return {};
    }
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    left_ -= n;
    return s;
  }
  bool ok() const noexcept { return ok_; }
  std::size_t left() const noexcept { return left_; }
  // Every byte read, none left over: the payload's size was exactly its layout's.
  bool done() const noexcept { return ok_ && left_ == 0; }

 private:
  const std::uint8_t* p_;
  std::size_t left_;
  bool ok_ = true;
};

// Writes into bytes already reserved in a std::string (see Frame below).
class Writer {
 public:
  explicit Writer(char* p) noexcept : p_(p) {}
  void le(std::uint64_t v, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) p_[i] = static_cast<char>(static_cast<std::uint8_t>(v >> (8 * i)));
    p_ += n;
  }
  void u8(std::uint8_t v) noexcept { le(v, 1); }
  void u16(std::uint16_t v) noexcept { le(v, 2); }
  void u32(std::uint32_t v) noexcept { le(v, 4); }
  void u64(std::uint64_t v) noexcept { le(v, 8); }
  void i32(std::int32_t v) noexcept { u32(std::bit_cast<std::uint32_t>(v)); }
  void f32(float v) noexcept { u32(std::bit_cast<std::uint32_t>(v)); }
  void f64(double v) noexcept { u64(std::bit_cast<std::uint64_t>(v)); }
  void bytes(std::string_view s) noexcept {
    if (!s.empty()) std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }

 private:
  char* p_;
};

// Appends a frame header (length, type) for `payloadBytes` of payload to `out` and returns
// a Writer for the payload, or nothing when length would exceed `maxLength`.
inline bool beginFrame(std::string& out, MessageType type, std::size_t payloadBytes, std::uint32_t maxLength,
                       Writer& w) {
  if (payloadBytes >= maxLength) return false;  // length = payloadBytes + 1 <= maxLength
  const std::size_t at = out.size();
  out.resize(at + kFrameHeaderBytes + payloadBytes);
  Writer h(out.data() + at);
  h.u32(static_cast<std::uint32_t>(payloadBytes + 1));
  h.u8(static_cast<std::uint8_t>(type));
  w = Writer(out.data() + at + kFrameHeaderBytes);
  return true;
}

}  // namespace gamesrv::game::detail
