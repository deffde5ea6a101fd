// runBots / cancelBots and the bots' limits (gamesrv/bots.hpp) for `gamesrv bots`
// (src/bots.ts) and test/bots.test.ts.
#pragma once
#include <napi.h>

namespace gamesrv::addon {

void registerBots(Napi::Env env, Napi::Object exports);

}  // namespace gamesrv::addon
