#include "gamesrv/utf8.hpp"

#include <cstddef>
#include <cstdint>

namespace gamesrv {

bool isValidUtf8(std::string_view bytes) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  auto continuation = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return i < n && s[i] >= lo && s[i] <= hi;
  };
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = s[i];
    if (c < 0x80) {
      ++i;
    } else if (c < 0xC2) {  // a continuation byte first, or an overlong 2-byte form
      return false;
    } else if (c < 0xE0) {
      if (!continuation(i + 1)) return false;
      i += 2;
    } else if (c < 0xF0) {
      const unsigned lo = c == 0xE0 ? 0xA0 : 0x80;  // E0 80..9F: overlong
      const unsigned hi = c == 0xED ? 0x9F : 0xBF;  // ED A0..BF: surrogates
      if (!continuation(i + 1, lo, hi) || !continuation(i + 2)) return false;
      i += 3;
    } else if (c < 0xF5) {
      const unsigned lo = c == 0xF0 ? 0x90 : 0x80;  // F0 80..8F: overlong
      const unsigned hi = c == 0xF4 ? 0x8F : 0xBF;  // F4 90..: above U+10FFFF
      if (!continuation(i + 1, lo, hi) || !continuation(i + 2) || !continuation(i + 3)) return false;
      i += 4;
    } else {  // F5..FF: above U+10FFFF or never valid
      return false;
    }
  }
  return true;
}

}  // namespace gamesrv
