// The game protocol's names, numbers and layouts (gamesrv/game_protocol.hpp), exported once
// at load as binding.gameProtocol; test/game-protocol.test.ts checks docs/PROTOCOL.md against it.
#pragma once
#include <napi.h>

namespace gamesrv::addon {
Napi::Object gameProtocolConstants(Napi::Env env);
}
