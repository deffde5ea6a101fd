// Little-endian put/get for the game protocol's fixed-width fields (docs/PROTOCOL.md):
// u16, u32, i32, u64, f32, f64. Byte by byte, so the result is the same on any host;
// compilers turn each into one load or store on little-endian machines.
//
// The caller owns bounds: `p` must have room for the field's size.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>

namespace gamesrv::wire {

inline void putU16(std::byte* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::byte>(v);
  p[1] = static_cast<std::byte>(v >> 8);
}

inline void putU32(std::byte* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}

inline void putU64(std::byte* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}

inline void putI32(std::byte* p, std::int32_t v) noexcept { putU32(p, static_cast<std::uint32_t>(v)); }
inline void putF32(std::byte* p, float v) noexcept { putU32(p, std::bit_cast<std::uint32_t>(v)); }
inline void putF64(std::byte* p, double v) noexcept { putU64(p, std::bit_cast<std::uint64_t>(v)); }

inline std::uint16_t getU16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) | (std::to_integer<unsigned>(p[1]) << 8));
}

inline std::uint32_t getU32(const std::byte* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::to_integer<std::uint32_t>(p[i]) << (8 * i);
  return v;
}

inline std::uint64_t getU64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::to_integer<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

inline std::int32_t getI32(const std::byte* p) noexcept { return static_cast<std::int32_t>(getU32(p)); }
inline float getF32(const std::byte* p) noexcept { return std::bit_cast<float>(getU32(p)); }
inline double getF64(const std::byte* p) noexcept { return std::bit_cast<double>(getU64(p)); }

}  // namespace gamesrv::wire
