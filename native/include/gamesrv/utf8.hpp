// UTF-8 validation for text that arrives from the network (game CHAT, NOTICE, KICK, ERROR).
//
// Valid means well-formed per RFC 3629 / Unicode table 3-7: no overlong forms (C0, C1, E0
// 80..9F, F0 80..8F), no UTF-16 surrogates (ED A0..BF), nothing above U+10FFFF (F4 90.., F5..FF),
// no stray or missing continuation bytes. NUL (U+0000) is a valid character.
//
// Thread safety: pure.
#pragma once
#include <string_view>

namespace gamesrv {

bool isValidUtf8(std::string_view bytes) noexcept;

}  // namespace gamesrv
