// replayJournal({dataDir, maxPlayers, worldSize, chatLogCapacity}): rebuilds a World from a
// data directory's journal off the JS thread, without an engine (`gamesrv replay`).
#pragma once
#include <napi.h>

namespace gamesrv::addon {

void registerJournal(Napi::Env env, Napi::Object exports);

}  // namespace gamesrv::addon
