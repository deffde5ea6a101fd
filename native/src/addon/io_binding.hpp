#pragma once
#include <napi.h>

namespace gamesrv::addon {
void registerIo(Napi::Env env, Napi::Object exports);
}
