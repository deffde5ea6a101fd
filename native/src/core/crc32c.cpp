#include "gamesrv/crc32c.hpp"

#include <array>
#include <cstring>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define GS_CRC32C_X86 1
#include <nmmintrin.h>
#endif

namespace gamesrv {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78u;  // Castagnoli, reflected

using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables makeTables() {
  Tables t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t s = 1; s < 8; ++s)
    for (std::size_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
  return t;
}

constexpr Tables kTables = makeTables();

std::uint32_t portable(std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
  crc = ~crc;
  while (n >= 8) {
    // Byte by byte into the word, so the result does not depend on the host's byte order.
    const std::uint32_t lo = crc ^ (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
                                    std::uint32_t{p[3]} << 24);
    crc = kTables[7][lo & 0xFFu] ^ kTables[6][(lo >> 8) & 0xFFu] ^ kTables[5][(lo >> 16) & 0xFFu] ^
          kTables[4][lo >> 24] ^ kTables[3][p[4]] ^ kTables[2][p[5]] ^ kTables[1][p[6]] ^ kTables[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xFFu];
  return ~crc;
}

#ifdef GS_CRC32C_X86
__attribute__((target("sse4.2"))) std::uint32_t hardware(std::uint32_t crc, const std::uint8_t* p,
                                                         std::size_t n) noexcept {
  std::uint64_t c = ~crc;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);  // x86 is little-endian, as the CRC's byte order wants
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

bool detectHardware() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#endif

}  // namespace

bool crc32cUsesHardware() noexcept {
#ifdef GS_CRC32C_X86
  static const bool has = detectHardware();
  return has;
#else
  return false;
#endif
}

std::uint32_t crc32cExtend(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept {
#ifdef GS_CRC32C_X86
  if (crc32cUsesHardware()) return hardware(crc, data.data(), data.size());
#endif
  return portable(crc, data.data(), data.size());
}

std::uint32_t crc32cExtendPortableForTesting(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept {
  return portable(crc, data.data(), data.size());
}

}  // namespace gamesrv
