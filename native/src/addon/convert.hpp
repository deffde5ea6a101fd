// Plain C++ results -> JS values. Runs on the JS thread only.
#pragma once
#include <napi.h>

#include <string>
#include <string_view>

#include "gamesrv/engine.hpp"

namespace gamesrv::addon {

Napi::Object toJs(Napi::Env env, const TaskInfo& t);
Napi::Object toJs(Napi::Env env, const Player& p);
Napi::Object toJs(Napi::Env env, const StopReport& r);

// Appends the UTF-8 form of UTF-16 code units (lone surrogates become U+FFFD).
void appendUtf8(std::string& out, std::u16string_view in);

}  // namespace gamesrv::addon
