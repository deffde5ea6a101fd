// Reading a data directory's journal off the JS thread, without an engine (`gamesrv replay`):
// replayJournal({dataDir, maxPlayers, worldSize, chatLogCapacity}) rebuilds the World;
// verifyJournal({same}) rebuilds it and compares the World hashes the server recorded
// (gamesrv/world_hashes.hpp); readJournal({dataDir, afterSeq, maxEvents}) pages through the
// events as POST /v1/events takes them (`replay --to`).
#pragma once
#include <napi.h>

namespace gamesrv::addon {

void registerJournal(Napi::Env env, Napi::Object exports);

}  // namespace gamesrv::addon
